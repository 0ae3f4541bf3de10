package mcp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/httpapi"
	"github.com/tickler-go/tickler/mcp"
	"github.com/tickler-go/tickler/ticklertest"
)

func TestListsEveryToolWithASchemaAndDescription(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := e.cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if len(tool.Description) < 40 {
			t.Errorf("%s: description %q is too short to guide a model", tool.Name, tool.Description)
		}
		schema, _ := tool.InputSchema.(map[string]any)
		props, _ := schema["properties"].(map[string]any)
		if schema["type"] != "object" || len(props) == 0 {
			t.Errorf("%s: input schema %v, want an object with properties", tool.Name, tool.InputSchema)
		}
		for name, p := range props {
			if d, _ := p.(map[string]any)["description"].(string); d == "" {
				t.Errorf("%s: property %s has no description", tool.Name, name)
			}
		}
		if _, ok := props["agent_id"]; ok {
			t.Errorf("%s takes an agent_id: the agent must come from the URL", tool.Name)
		}
		if tool.OutputSchema == nil {
			t.Errorf("%s: no output schema", tool.Name)
		}
	}
	slices.Sort(names)
	want := []string{"cancel_schedule", "get_schedule", "list_my_schedules", "next_fire_times", "pause_schedule", "resume_schedule", "schedule_message"}
	if !slices.Equal(names, want) {
		t.Fatalf("tools %v, want %v", names, want)
	}
}

func TestScheduleInFiresOnceForTheSameAgentAndIsAnOrdinarySchedule(t *testing.T) {
	t.Parallel()
	e := setup(t)
	got := ok[info](t, e.cs, "schedule_message", args{"text": "check the deploy of PR 42", "in": "1h30m"})
	due := ticklertest.Epoch().Add(90 * time.Minute)
	if got.Kind != "one-time" || got.NextUTC != due.Format(time.RFC3339) || got.FiresIn != "1h30m0s" {
		t.Fatalf("answer %+v, want one-time at %v in 1h30m0s", got, due)
	}

	sm, err := e.b.Scheduler.Get(context.Background(), "agent-1", got.ID)
	if err != nil {
		t.Fatalf("the scheduler does not have %s: %v", got.ID, err)
	}
	if at := sm.Schedule.ScheduledAt; at == nil || *at != due.UnixMilli() {
		t.Fatalf("stored schedule %+v, want scheduled_at %d", sm.Schedule, due.UnixMilli())
	}

	// The Letta route lists it like any other.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/agents/agent-1/schedule", nil)
	req.Host = "localhost"
	httpapi.New(e.b.Scheduler).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), got.ID) {
		t.Fatalf("GET /v1/agents/agent-1/schedule = %d %s, want it to list %s", rec.Code, rec.Body, got.ID)
	}

	e.b.Advance(90*time.Minute - time.Second)
	if n := len(e.b.Recorder.Deliveries()); n != 0 {
		t.Fatalf("%d deliveries a second before it is due", n)
	}
	e.b.Advance(time.Second)
	ds := e.b.Recorder.Deliveries()
	if len(ds) != 1 || ds[0].AgentID != "agent-1" || ds[0].Message.Messages[0].Content.Text != "check the deploy of PR 42" ||
		ds[0].Message.Messages[0].Role != tickler.RoleUser {
		t.Fatalf("deliveries %+v, want the text once to agent-1 as a user message", ds)
	}
	e.b.Advance(24 * time.Hour)
	if n := len(e.b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("%d deliveries, want the one-time schedule once", n)
	}
	if msg := fails(t, e.cs, "get_schedule", args{"id": got.ID}); !strings.Contains(msg, "has fired") {
		t.Fatalf("get_schedule after firing: %q, want it to say one-time schedules are removed once fired", msg)
	}
}

func TestScheduleAcceptsDaysAndWeeks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for in, d := range map[string]time.Duration{"1d": 24 * time.Hour, "1w": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "45s": 45 * time.Second, "1.5h": 90 * time.Minute} {
		got := ok[info](t, e.cs, "schedule_message", args{"text": "x", "in": in})
		if want := ticklertest.Epoch().Add(d).Format(time.RFC3339); got.NextUTC != want {
			t.Errorf("in %q: next %s, want %s", in, got.NextUTC, want)
		}
	}
}

func TestScheduleAtLocalTimeInAZone(t *testing.T) {
	t.Parallel()
	e := setup(t)
	got := ok[info](t, e.cs, "schedule_message", args{"text": "call mum", "at": "2026-03-01T09:00", "timezone": "Europe/Paris"})
	if got.NextUTC != "2026-03-01T08:00:00Z" || got.NextLocal != "2026-03-01T09:00:00+01:00" || got.Timezone != "Europe/Paris" {
		t.Fatalf("answer %+v, want 08:00Z, 09:00+01:00 in Europe/Paris", got)
	}
	got = ok[info](t, e.cs, "schedule_message", args{"text": "x", "at": "2026-01-02T10:00:00+05:30"})
	if got.NextUTC != "2026-01-02T04:30:00Z" {
		t.Fatalf("an offset date-time: next %s, want 04:30Z", got.NextUTC)
	}
}

func TestScheduleCronInAZoneRunsOnItsWallClock(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// 2026-01-01 is a Thursday: 09:00 in New York is 14:00 UTC.
	got := ok[info](t, e.cs, "schedule_message", args{"text": "stand-up", "cron": "0 9 * * 1-5", "timezone": "America/New_York"})
	if got.Kind != "recurring" || got.Cron != "0 9 * * 1-5" || got.NextUTC != "2026-01-01T14:00:00Z" || got.NextLocal != "2026-01-01T09:00:00-05:00" {
		t.Fatalf("answer %+v", got)
	}
	sm, err := e.b.Scheduler.Get(context.Background(), "agent-1", got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "CRON_TZ=America/New_York 0 9 * * 1-5"; sm.Schedule.CronExpression != want {
		t.Fatalf("stored %q, want %q", sm.Schedule.CronExpression, want)
	}
	e.b.Advance(7 * 24 * time.Hour) // Thu, Fri, then Mon to Wed
	if n := len(e.b.Recorder.Deliveries()); n != 5 {
		t.Fatalf("%d deliveries in a week from Thursday, want 5 (weekdays)", n)
	}
	// get_schedule shows the zone it runs in.
	if g := ok[info](t, e.cs, "get_schedule", args{"id": got.ID}); g.Timezone != "America/New_York" || g.NextLocal != "2026-01-08T09:00:00-05:00" {
		t.Fatalf("get_schedule %+v", g)
	}
}

func TestScheduleRejectsBadArgumentsWithToolErrorsAModelCanAct(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cases := []struct {
		args args
		want string
	}{
		{args{"text": "x", "in": "-5m"}, "`in` must be a positive duration like 90m"},
		{args{"text": "x", "in": "0m"}, "`in` must be a positive duration"},
		{args{"text": "x", "in": "5 parsecs"}, "`in` must be a positive duration"},
		{args{"text": "x", "in": "90"}, "units w, d, h, m, s"},
		{args{"text": "x"}, "exactly one of `in`"},
		{args{"text": "x", "in": "1h", "cron": "* * * * *"}, "got `in` and `cron`"},
		{args{"in": "1h"}, "`text` is required"},
		{args{"text": "x", "messages": []any{map[string]any{"text": "y"}}, "in": "1h"}, "either `text` or `messages`"},
		{args{"text": "x", "at": "2025-12-31T23:00:00Z"}, "`at` must be in the future; it is now 2026-01-01T00:00:00Z"},
		{args{"text": "x", "at": "2026-03-01T09:00"}, "has no UTC offset"},
		{args{"text": "x", "at": "tomorrow at 9"}, "`at` must be a date-time like"},
		{args{"text": "x", "at": "2026-03-08T02:30", "timezone": "America/New_York"}, "does not exist in America/New_York"},
		{args{"text": "x", "cron": "0 9 * *"}, "`cron` must have 5 fields"},
		{args{"text": "x", "cron": "@daily"}, "`cron` must have 5 fields"},
		{args{"text": "x", "cron": "61 * * * *"}, "`cron` is not a valid 5-field cron expression"},
		{args{"text": "x", "cron": "0 0 30 2 *"}, "never fires"},
		{args{"text": "x", "cron": "CRON_TZ=UTC 0 9 * * *"}, "give the zone in `timezone`"},
		{args{"text": "x", "cron": "0 9 * * *", "timezone": "Mars/Olympus_Mons"}, "`timezone` must be an IANA time zone"},
		{args{"messages": []any{map[string]any{"text": " "}}, "in": "1h"}, "`messages[0].text` must not be empty"},
		{args{"messages": []any{map[string]any{"role": "assistant", "text": "y"}}, "in": "1h"}, "role"},
		{args{"text": "x", "in": "1h", "agent_id": "agent-2"}, "agent_id"},
	}
	for _, c := range cases {
		if msg := fails(t, e.cs, "schedule_message", c.args); !strings.Contains(msg, c.want) {
			t.Errorf("schedule_message(%v): %q, want it to contain %q", c.args, msg, c.want)
		}
	}
	if n := len(e.stored("agent-1")); n != 0 {
		t.Fatalf("%d schedules stored by rejected calls", n)
	}
	if n := len(e.stored("agent-2")); n != 0 {
		t.Fatalf("%d schedules stored for agent-2", n)
	}
}

func TestTheAgentComesFromThePathOnly(t *testing.T) {
	t.Parallel()
	e := setup(t)
	mine := ok[info](t, e.cs, "schedule_message", args{"text": "mine", "cron": "0 9 * * *"})
	other := e.connect("agent-2", "")
	if p := ok[page](t, other, "list_my_schedules", args{}); len(p.Schedules) != 0 {
		t.Fatalf("agent-2 lists %+v", p.Schedules)
	}
	for _, tool := range []string{"get_schedule", "cancel_schedule", "pause_schedule", "resume_schedule"} {
		if msg := fails(t, other, tool, args{"id": mine.ID}); !strings.Contains(msg, "belongs to this agent") {
			t.Errorf("agent-2 %s(agent-1's id): %q", tool, msg)
		}
	}
	sm, err := e.b.Scheduler.Get(context.Background(), "agent-1", mine.ID)
	if err != nil || sm.Paused {
		t.Fatalf("agent-1's schedule after agent-2's calls: %+v, %v", sm, err)
	}
	e.b.Advance(9 * time.Hour)
	if ds := e.b.Recorder.Deliveries(); len(ds) != 1 || ds[0].AgentID != "agent-1" {
		t.Fatalf("deliveries %+v, want one to agent-1", ds)
	}
}

func TestListPagesWithAfterAndLimit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var ids []string
	for _, in := range []string{"1h", "2h", "3h"} {
		ids = append(ids, ok[info](t, e.cs, "schedule_message", args{"text": "t" + in, "in": in}).ID)
	}
	p := ok[page](t, e.cs, "list_my_schedules", args{"limit": 2})
	if len(p.Schedules) != 2 || !p.HasMore || p.NextAfter != ids[1] || p.Schedules[0].ID != ids[0] || p.Schedules[0].Messages[0].Text != "t1h" {
		t.Fatalf("first page %+v", p)
	}
	p = ok[page](t, e.cs, "list_my_schedules", args{"after": p.NextAfter, "limit": 2})
	if len(p.Schedules) != 1 || p.HasMore || p.Schedules[0].ID != ids[2] {
		t.Fatalf("second page %+v", p)
	}
	if p := ok[page](t, e.cs, "list_my_schedules", nil); len(p.Schedules) != 3 {
		t.Fatalf("default page has %d, want 3", len(p.Schedules))
	}
	if msg := fails(t, e.cs, "list_my_schedules", args{"limit": 500}); !strings.Contains(msg, "limit") {
		t.Fatalf("limit 500: %q", msg)
	}
}

func TestPauseSkipsResumeFiresCancelDeletes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := ok[info](t, e.cs, "schedule_message", args{"text": "hourly", "cron": "0 * * * *"})
	p := ok[info](t, e.cs, "pause_schedule", args{"id": s.ID})
	if !p.Paused || p.NextUTC != "" {
		t.Fatalf("paused: %+v", p)
	}
	e.b.Advance(3 * time.Hour)
	if n := len(e.b.Recorder.Deliveries()); n != 0 {
		t.Fatalf("%d deliveries while paused", n)
	}
	r := ok[info](t, e.cs, "resume_schedule", args{"id": s.ID})
	if r.Paused || r.NextUTC == "" {
		t.Fatalf("resumed: %+v", r)
	}
	e.b.Advance(time.Second) // what it missed collapses into one delivery
	if n := len(e.b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("%d deliveries after resume, want 1 for the missed occurrences", n)
	}
	c := ok[struct {
		ID        string `json:"id"`
		Cancelled bool   `json:"cancelled"`
	}](t, e.cs, "cancel_schedule", args{"id": s.ID})
	if !c.Cancelled || c.ID != s.ID {
		t.Fatalf("cancel: %+v", c)
	}
	if _, err := e.b.Scheduler.Get(context.Background(), "agent-1", s.ID); !errors.Is(err, tickler.ErrNotFound) {
		t.Fatalf("Get after cancel: %v, want ErrNotFound", err)
	}
	e.b.Advance(5 * time.Hour)
	if n := len(e.b.Recorder.Deliveries()); n != 1 {
		t.Fatalf("%d deliveries after cancel, want still 1", n)
	}
	if msg := fails(t, e.cs, "cancel_schedule", args{"id": s.ID}); !strings.Contains(msg, "list_my_schedules") {
		t.Fatalf("second cancel: %q", msg)
	}
	if msg := fails(t, e.cs, "get_schedule", args{"id": ""}); !strings.Contains(msg, "`id` is required") {
		t.Fatalf("empty id: %q", msg)
	}
}

func TestNextFireTimesPreviewsWithTheSchedulersDSTPolicy(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// New York springs forward on 2026-03-08: 02:30 does not exist that
	// day and runs at 03:00 EDT, the end of the gap.
	got := ok[preview](t, e.cs, "next_fire_times", args{"cron": "30 2 * * *", "timezone": "America/New_York", "after": "2026-03-07T12:00:00Z", "count": 3})
	want := []string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"}
	if len(got.Times) != 3 || got.Timezone != "America/New_York" {
		t.Fatalf("preview %+v", got)
	}
	for i, w := range want {
		if got.Times[i].Local != w {
			t.Errorf("times[%d] = %+v, want local %s", i, got.Times[i], w)
		}
	}
	if got.Times[0].UTC != "2026-03-08T07:00:00Z" || got.Times[0].Weekday != "Sunday" {
		t.Errorf("times[0] = %+v", got.Times[0])
	}
	// From now by default, five by default, UTC by default.
	got = ok[preview](t, e.cs, "next_fire_times", args{"cron": "0 9 * * *"})
	if len(got.Times) != 5 || got.Times[0].UTC != "2026-01-01T09:00:00Z" || got.Timezone != "UTC" {
		t.Fatalf("default preview %+v", got)
	}
	if n := len(e.stored("agent-1")) + len(e.stored("preview")); n != 0 {
		t.Fatalf("previews stored %d schedules", n)
	}
	for _, c := range []struct {
		args args
		want string
	}{
		{args{"cron": "0 9 * * *", "count": 21}, "count"},
		{args{"cron": "0 25 * * *"}, "`cron` is not a valid"},
		{args{"cron": "0 9 * * *", "after": "yesterday"}, "`after` must be an RFC 3339"},
		{args{"cron": "0 9 * * *", "timezone": "Nowhere"}, "`timezone`"},
	} {
		if msg := fails(t, e.cs, "next_fire_times", c.args); !strings.Contains(msg, c.want) {
			t.Errorf("next_fire_times(%v): %q, want %q", c.args, msg, c.want)
		}
	}
}

func TestMaxSchedulesStopsAModelInALoop(t *testing.T) {
	t.Parallel()
	e := setup(t, mcp.WithMaxSchedules(3), mcp.WithCreateRate(0, 0))
	var last info
	for range 3 {
		last = ok[info](t, e.cs, "schedule_message", args{"text": "x", "in": "1h"})
	}
	if msg := fails(t, e.cs, "schedule_message", args{"text": "x", "in": "1h"}); !strings.Contains(msg, "already has 3 schedules") {
		t.Fatalf("fourth: %q", msg)
	}
	ok[any](t, e.cs, "cancel_schedule", args{"id": last.ID})
	ok[info](t, e.cs, "schedule_message", args{"text": "x", "in": "1h"})
	if n := len(e.stored("agent-1")); n != 3 {
		t.Fatalf("%d stored, want 3", n)
	}
	// Another agent has its own count.
	other := e.connect("agent-2", "")
	ok[info](t, other, "schedule_message", args{"text": "x", "in": "1h"})
}

func TestCreateRateRefillsOnTheClock(t *testing.T) {
	t.Parallel()
	e := setup(t, mcp.WithCreateRate(2, time.Minute), mcp.WithMaxSchedules(0))
	ok[info](t, e.cs, "schedule_message", args{"text": "x", "in": "1h"})
	ok[info](t, e.cs, "schedule_message", args{"text": "x", "in": "1h"})
	if msg := fails(t, e.cs, "schedule_message", args{"text": "x", "in": "1h"}); !strings.Contains(msg, "at most 2 per 1m0s") || !strings.Contains(msg, "try again in 1m0s") {
		t.Fatalf("third call: %q", msg)
	}
	e.b.Advance(time.Minute)
	ok[info](t, e.cs, "schedule_message", args{"text": "x", "in": "1h"})
}

func TestTheSchedulersPerAgentLimitIsATooLError(t *testing.T) {
	t.Parallel()
	e := setupWith(t, []tickler.Option{tickler.WithMaxSchedulesPerAgent(1)}, mcp.WithMaxSchedules(0))
	ok[info](t, e.cs, "schedule_message", args{"text": "x", "in": "1h"})
	if msg := fails(t, e.cs, "schedule_message", args{"text": "x", "in": "1h"}); !strings.Contains(msg, "as many schedules as the scheduler allows") {
		t.Fatalf("over the scheduler's limit: %q", msg)
	}
}

func TestAPIKeyIsRequiredWhenSet(t *testing.T) {
	t.Parallel()
	e := serve(t, nil, mcp.WithAPIKey("secret"))
	for _, key := range []string{"", "wrong"} {
		if _, err := e.dial("agent-1", key); err == nil {
			t.Errorf("connected with key %q", key)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/mcp/agents/agent-1", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("no key: %d %v, want 401 with WWW-Authenticate: Bearer", resp.StatusCode, resp.Header)
	}
	cs := e.connect("agent-1", "secret")
	ok[info](t, cs, "schedule_message", args{"text": "x", "in": "1h"})
	if n := len(e.stored("agent-1")); n != 1 {
		t.Fatalf("%d stored with the key, want 1", n)
	}
}

func TestOtherPathsAre404(t *testing.T) {
	t.Parallel()
	e := serve(t, nil)
	for _, path := range []string{"/mcp", "/mcp/agents/", "/mcp/agents/a/b", "/v1/agents/a/schedule"} {
		resp, err := http.Post(e.srv.URL+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s = %d, want 404", path, resp.StatusCode)
		}
	}
}
