package mcp

import (
	"encoding/json"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
)

// The tools' arguments. Field tags give each property's description, the
// one place a model reads how to fill it in; inputSchema adds what a tag
// cannot say (enums, bounds, defaults, examples).

type scheduleArgs struct {
	Text     string       `json:"text,omitempty" jsonschema:"The message delivered to you when the schedule fires, as a user message. Write it as an instruction to your future self, with the context you will need then (who asked, what to check, what to do). Give text or messages, not both."`
	Messages []messageArg `json:"messages,omitempty" jsonschema:"Several messages to deliver together, in order, instead of text."`
	In       string       `json:"in,omitempty" jsonschema:"When, as a delay from now: a positive duration made of numbers with units w (weeks), d (days), h, m, s, such as 90m, 2h30m, 1d or 1w. Fires once. Give exactly one of in, at, cron."`
	At       string       `json:"at,omitempty" jsonschema:"When, as a date-time: RFC 3339 with an offset (2026-03-01T09:00:00Z, 2026-03-01T09:00:00+01:00), or a local date-time without offset (2026-03-01T09:00) together with timezone. Must be in the future. Fires once. Give exactly one of in, at, cron."`
	Cron     string       `json:"cron,omitempty" jsonschema:"When, repeatedly: a standard 5-field cron expression (minute hour day-of-month month day-of-week), such as '0 9 * * 1-5' for 09:00 on weekdays or '*/30 * * * *' for every 30 minutes. Evaluated in timezone if given, else in UTC. Fires until cancelled. Give exactly one of in, at, cron."`
	Timezone string       `json:"timezone,omitempty" jsonschema:"An IANA time zone such as Europe/Paris or America/New_York: the wall clock a cron expression or a local at runs on, and the zone the answer shows times in. Defaults to UTC."`
}

type messageArg struct {
	Role string `json:"role,omitempty" jsonschema:"Who the message speaks as: user (the default) or system."`
	Text string `json:"text" jsonschema:"The message's text."`
}

type listArgs struct {
	After string `json:"after,omitempty" jsonschema:"The next_after value of the previous page, to get the page after it. Omit for the first page."`
	Limit int    `json:"limit,omitempty" jsonschema:"How many schedules to return, 1 to 100 (default 20)."`
}

type idArgs struct {
	ID string `json:"id" jsonschema:"The schedule's id, as schedule_message or list_my_schedules returned it."`
}

type previewArgs struct {
	Cron     string `json:"cron" jsonschema:"A standard 5-field cron expression (minute hour day-of-month month day-of-week), such as '0 9 * * 1-5'."`
	Timezone string `json:"timezone,omitempty" jsonschema:"An IANA time zone such as Europe/Paris to evaluate the expression in; defaults to UTC."`
	Count    int    `json:"count,omitempty" jsonschema:"How many occurrences to show, 1 to 20 (default 5)."`
	After    string `json:"after,omitempty" jsonschema:"Show occurrences after this RFC 3339 date-time instead of after now."`
}

// The tools' answers.

// scheduleInfo is one schedule as the tools show it.
type scheduleInfo struct {
	ID       string `json:"id" jsonschema:"The schedule's id: pass it to get_schedule, cancel_schedule, pause_schedule or resume_schedule."`
	Kind     string `json:"kind" jsonschema:"one-time or recurring."`
	Cron     string `json:"cron,omitempty" jsonschema:"The cron expression of a recurring schedule."`
	Timezone string `json:"timezone,omitempty" jsonschema:"The zone the times are shown in, and the zone a cron expression runs in."`
	// NextUTC is empty for a paused schedule.
	NextUTC   string        `json:"next_fire_time_utc,omitempty" jsonschema:"When it fires next, in UTC. Absent while paused."`
	NextLocal string        `json:"next_fire_time_local,omitempty" jsonschema:"When it fires next, in timezone."`
	FiresIn   string        `json:"fires_in,omitempty" jsonschema:"How long from now until it fires next."`
	Paused    bool          `json:"paused" jsonschema:"Whether it is paused (resume_schedule restarts it)."`
	Messages  []messageInfo `json:"messages" jsonschema:"What it delivers."`
}

type messageInfo struct {
	Role string `json:"role"`
	Text string `json:"text"`
}

type listResult struct {
	Schedules []scheduleInfo `json:"schedules"`
	HasMore   bool           `json:"has_more" jsonschema:"Whether more schedules follow; pass next_after as after to get them."`
	NextAfter string         `json:"next_after,omitempty" jsonschema:"The after value for the next page, when has_more."`
}

type cancelResult struct {
	ID        string `json:"id"`
	Cancelled bool   `json:"cancelled" jsonschema:"true: the schedule is deleted and will not fire again."`
}

type previewResult struct {
	Cron     string       `json:"cron"`
	Timezone string       `json:"timezone"`
	Times    []occurrence `json:"times" jsonschema:"The next occurrences, earliest first; fewer than count if the expression stops firing."`
}

type occurrence struct {
	UTC     string `json:"utc"`
	Local   string `json:"local" jsonschema:"The same instant in timezone."`
	Weekday string `json:"weekday" jsonschema:"The day of the week in timezone."`
}

// inputSchema infers T's schema and lets edit refine it.
func inputSchema[T any](edit func(props map[string]*jsonschema.Schema)) *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("mcp: schema of %T: %v", *new(T), err)) // a bug in this file
	}
	if edit != nil {
		edit(s.Properties)
	}
	return s
}

func bounds(s *jsonschema.Schema, lo, hi, def int) {
	l, h := float64(lo), float64(hi)
	s.Minimum, s.Maximum = &l, &h
	s.Default = json.RawMessage(fmt.Sprint(def))
}

var (
	scheduleSchema = inputSchema[scheduleArgs](func(p map[string]*jsonschema.Schema) {
		p["in"].Examples = []any{"90m", "2h30m", "1d", "1w"}
		p["at"].Examples = []any{"2026-03-01T09:00:00Z", "2026-03-01T09:00:00+01:00", "2026-03-01T09:00"}
		p["cron"].Examples = []any{"0 9 * * 1-5", "*/30 * * * *", "0 18 * * 5"}
		p["timezone"].Examples = []any{"Europe/Paris", "America/New_York", "UTC"}
		role := p["messages"].Items.Properties["role"]
		role.Enum = []any{"user", "system"}
		min := 1
		p["messages"].MinItems = &min
	})
	listSchema = inputSchema[listArgs](func(p map[string]*jsonschema.Schema) {
		bounds(p["limit"], 1, maxListLimit, defaultListLimit)
	})
	idSchema      = inputSchema[idArgs](nil)
	previewSchema = inputSchema[previewArgs](func(p map[string]*jsonschema.Schema) {
		bounds(p["count"], 1, maxPreview, defaultPreview)
		p["cron"].Examples = []any{"0 9 * * 1-5", "*/30 * * * *"}
	})
)

const (
	defaultListLimit = 20
	maxListLimit     = 100
	defaultPreview   = 5
	maxPreview       = 20
)
