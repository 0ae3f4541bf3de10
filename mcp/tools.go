package mcp

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tickler-go/tickler"
)

// agentTools are the tools of one agent's endpoint: every call acts on the
// agent named by the URL, which no argument can change.
type agentTools struct {
	h     *handler
	agent string
}

func ptr[T any](v T) *T { return &v }

// toolSet lists the tools with their descriptions; add registers them on a
// server for one agent.
var toolSet = []struct {
	tool *sdk.Tool
	add  func(s *sdk.Server, t *sdk.Tool, a agentTools)
}{
	{&sdk.Tool{
		Name:  "schedule_message",
		Title: "Schedule a message to yourself",
		Description: "Schedule a message to yourself (this agent) for later: a reminder, a follow-up, a recurring check-in. " +
			"When it fires, its text is delivered to you as a new message, so write it as an instruction to your future self with the context you will need then. " +
			"Say when with exactly one of: in (a delay from now, such as 90m, 2h30m, 1d), at (a date-time), or cron (a recurring 5-field cron expression). " +
			"Add timezone (an IANA zone such as Europe/Paris) for a cron expression or a local date-time meant on a local wall clock; without it they are UTC. " +
			"Check a cron expression with next_fire_times before you commit to it. " +
			"Answers the schedule's id (keep it to cancel, pause or resume) and when it fires next, in UTC and in timezone.",
		InputSchema: scheduleSchema,
		Annotations: &sdk.ToolAnnotations{DestructiveHint: ptr(false), OpenWorldHint: ptr(false)},
	}, func(s *sdk.Server, t *sdk.Tool, a agentTools) { sdk.AddTool(s, t, a.schedule) }},
	{&sdk.Tool{
		Name:        "list_my_schedules",
		Title:       "List your schedules",
		Description: "List the schedules that will deliver messages to you, oldest first, one page at a time: each with its id, kind (one-time or recurring), cron expression, next fire time and messages. A one-time schedule disappears from the list once it has fired. If has_more is true, call again with after set to next_after.",
		InputSchema: listSchema,
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)},
	}, func(s *sdk.Server, t *sdk.Tool, a agentTools) { sdk.AddTool(s, t, a.list) }},
	{&sdk.Tool{
		Name:        "get_schedule",
		Title:       "Show one schedule",
		Description: "Show one of your schedules by id: its kind, cron expression, next fire time, whether it is paused, and its messages.",
		InputSchema: idSchema,
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)},
	}, func(s *sdk.Server, t *sdk.Tool, a agentTools) { sdk.AddTool(s, t, a.get) }},
	{&sdk.Tool{
		Name:        "cancel_schedule",
		Title:       "Cancel a schedule",
		Description: "Cancel one of your schedules by id: it is deleted and never fires again. This cannot be undone; to stop a recurring schedule for a while, use pause_schedule instead.",
		InputSchema: idSchema,
		Annotations: &sdk.ToolAnnotations{DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, func(s *sdk.Server, t *sdk.Tool, a agentTools) { sdk.AddTool(s, t, a.cancel) }},
	{&sdk.Tool{
		Name:        "pause_schedule",
		Title:       "Pause a schedule",
		Description: "Pause one of your schedules by id: it stops firing, and the occurrences that pass while it is paused are skipped, not delivered later. resume_schedule restarts it. Pausing a paused schedule changes nothing.",
		InputSchema: idSchema,
		Annotations: &sdk.ToolAnnotations{DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, func(s *sdk.Server, t *sdk.Tool, a agentTools) { sdk.AddTool(s, t, a.pause) }},
	{&sdk.Tool{
		Name:        "resume_schedule",
		Title:       "Resume a schedule",
		Description: "Resume one of your paused schedules by id. If it missed occurrences while paused, it fires once right away for all of them, then keeps its schedule. Resuming a schedule that is not paused changes nothing.",
		InputSchema: idSchema,
		Annotations: &sdk.ToolAnnotations{DestructiveHint: ptr(false), IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, func(s *sdk.Server, t *sdk.Tool, a agentTools) { sdk.AddTool(s, t, a.resume) }},
	{&sdk.Tool{
		Name:        "next_fire_times",
		Title:       "Preview a cron expression",
		Description: "Show when a 5-field cron expression would fire next (up to 20 times), in UTC and in timezone, without scheduling anything. Use it to check an expression before schedule_message, especially around daylight-saving changes: in a zone, a time the clocks skip fires at the end of the gap, and a time they repeat fires once, the first time.",
		InputSchema: previewSchema,
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)},
	}, func(s *sdk.Server, t *sdk.Tool, a agentTools) { sdk.AddTool(s, t, a.preview) }},
}

// schedule is schedule_message.
func (a agentTools) schedule(ctx context.Context, _ *sdk.CallToolRequest, in scheduleArgs) (*sdk.CallToolResult, scheduleInfo, error) {
	req, when, loc, err := a.createRequest(in)
	if err != nil {
		return nil, scheduleInfo{}, err
	}
	lim := a.h.limits
	unlock := lim.lock(a.agent)
	defer unlock()
	if err := lim.take(a.agent); err != nil {
		return nil, scheduleInfo{}, err
	}
	if err := lim.room(ctx, a.agent); err != nil {
		return nil, scheduleInfo{}, a.h.explain(err, "schedule_message", nil)
	}
	sm, err := a.h.s.Create(ctx, a.agent, req)
	if err != nil {
		return nil, scheduleInfo{}, a.h.explain(err, "schedule_message", func(field string) string {
			return scheduleField(field, in, when)
		})
	}
	return nil, a.h.info(sm, loc), nil
}

// createRequest turns the arguments into a request; when names the
// argument that said when ("in", "at" or "cron").
func (a agentTools) createRequest(in scheduleArgs) (req tickler.CreateRequest, when string, loc *time.Location, err error) {
	switch {
	case in.Text != "" && len(in.Messages) > 0:
		return req, "", nil, fmt.Errorf("give either `text` or `messages`, not both")
	case strings.TrimSpace(in.Text) != "":
		req.Messages = []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text(in.Text)}}
	case len(in.Messages) > 0:
		for i, m := range in.Messages {
			role := tickler.Role(strings.ToLower(strings.TrimSpace(m.Role)))
			switch role {
			case "":
				role = tickler.RoleUser
			case tickler.RoleUser, tickler.RoleSystem:
			default:
				return req, "", nil, fmt.Errorf("`messages[%d].role` must be user or system; got %q", i, m.Role)
			}
			req.Messages = append(req.Messages, tickler.Message{Role: role, Content: tickler.Text(m.Text)})
		}
	default:
		return req, "", nil, fmt.Errorf("`text` is required: the message to deliver to you when the schedule fires")
	}
	loc, err = loadZone(in.Timezone)
	if err != nil {
		return req, "", nil, err
	}
	var set []string
	for _, w := range []struct{ name, v string }{{"in", in.In}, {"at", in.At}, {"cron", in.Cron}} {
		if strings.TrimSpace(w.v) != "" {
			set = append(set, "`"+w.name+"`")
			when = w.name
		}
	}
	if len(set) != 1 {
		return req, "", nil, fmt.Errorf("give exactly one of `in` (a delay such as 90m), `at` (a date-time) or `cron` (a recurring 5-field expression); got %s",
			orNone(set))
	}
	switch when {
	case "in":
		d, err := parseIn(in.In)
		if err != nil {
			return req, "", nil, err
		}
		req.Schedule = tickler.At(a.h.o.clock.Now().Add(d))
	case "at":
		t, err := parseAt(in.At, loc)
		if err != nil {
			return req, "", nil, err
		}
		if loc == nil {
			loc = t.Location()
		}
		req.Schedule = tickler.At(t)
	case "cron":
		expr, err := cronExpr(in.Cron, loc)
		if err != nil {
			return req, "", nil, err
		}
		req.Schedule = tickler.Cron(expr)
	}
	return req, when, loc, nil
}

func orNone(set []string) string {
	if len(set) == 0 {
		return "none"
	}
	return strings.Join(set, " and ")
}

// scheduleField names a field of tickler's request in schedule_message's terms.
func scheduleField(field string, in scheduleArgs, when string) string {
	switch {
	case strings.HasPrefix(field, "schedule"):
		return when
	case in.Text != "" && strings.HasPrefix(field, "messages[0].content"):
		return "text"
	case field == "messages" && in.Text != "":
		return "text"
	case strings.HasPrefix(field, "messages["):
		i, rest, _ := strings.Cut(field, "]")
		if strings.HasPrefix(rest, ".content") {
			rest = ".text"
		}
		return i + "]" + rest
	}
	return field
}

func (a agentTools) list(ctx context.Context, _ *sdk.CallToolRequest, in listArgs) (*sdk.CallToolResult, listResult, error) {
	limit := in.Limit
	switch {
	case limit == 0:
		limit = defaultListLimit
	case limit < 1 || limit > maxListLimit:
		return nil, listResult{}, fmt.Errorf("`limit` must be between 1 and %d; got %d", maxListLimit, in.Limit)
	}
	p, err := a.h.s.List(ctx, a.agent, in.After, limit)
	if err != nil {
		return nil, listResult{}, a.h.explain(err, "list_my_schedules", nil)
	}
	res := listResult{Schedules: make([]scheduleInfo, len(p.ScheduledMessages)), HasMore: p.HasNextPage}
	for i, sm := range p.ScheduledMessages {
		res.Schedules[i] = a.h.info(sm, nil)
	}
	if p.HasNextPage && len(p.ScheduledMessages) > 0 {
		res.NextAfter = p.ScheduledMessages[len(p.ScheduledMessages)-1].ID
	}
	return nil, res, nil
}

func (a agentTools) get(ctx context.Context, _ *sdk.CallToolRequest, in idArgs) (*sdk.CallToolResult, scheduleInfo, error) {
	return a.byID(ctx, "get_schedule", in, a.h.s.Get)
}

func (a agentTools) pause(ctx context.Context, _ *sdk.CallToolRequest, in idArgs) (*sdk.CallToolResult, scheduleInfo, error) {
	return a.byID(ctx, "pause_schedule", in, a.h.s.Pause)
}

func (a agentTools) resume(ctx context.Context, _ *sdk.CallToolRequest, in idArgs) (*sdk.CallToolResult, scheduleInfo, error) {
	return a.byID(ctx, "resume_schedule", in, a.h.s.Resume)
}

func (a agentTools) byID(ctx context.Context, tool string, in idArgs,
	op func(ctx context.Context, agentID, id string) (*tickler.ScheduledMessage, error)) (*sdk.CallToolResult, scheduleInfo, error) {
	id := strings.TrimSpace(in.ID)
	if id == "" {
		return nil, scheduleInfo{}, fmt.Errorf("`id` is required: a schedule id from schedule_message or list_my_schedules")
	}
	sm, err := op(ctx, a.agent, id)
	if err != nil {
		return nil, scheduleInfo{}, a.h.explainID(err, tool, id)
	}
	return nil, a.h.info(sm, nil), nil
}

func (a agentTools) cancel(ctx context.Context, _ *sdk.CallToolRequest, in idArgs) (*sdk.CallToolResult, cancelResult, error) {
	id := strings.TrimSpace(in.ID)
	if id == "" {
		return nil, cancelResult{}, fmt.Errorf("`id` is required: a schedule id from schedule_message or list_my_schedules")
	}
	if err := a.h.s.Delete(ctx, a.agent, id); err != nil {
		return nil, cancelResult{}, a.h.explainID(err, "cancel_schedule", id)
	}
	return nil, cancelResult{ID: id, Cancelled: true}, nil
}

func (a agentTools) preview(ctx context.Context, _ *sdk.CallToolRequest, in previewArgs) (*sdk.CallToolResult, previewResult, error) {
	count := in.Count
	switch {
	case count == 0:
		count = defaultPreview
	case count < 1 || count > maxPreview:
		return nil, previewResult{}, fmt.Errorf("`count` must be between 1 and %d; got %d", maxPreview, in.Count)
	}
	loc, err := loadZone(in.Timezone)
	if err != nil {
		return nil, previewResult{}, err
	}
	expr, err := cronExpr(in.Cron, loc)
	if err != nil {
		return nil, previewResult{}, err
	}
	after := a.h.o.clock.Now()
	if s := strings.TrimSpace(in.After); s != "" {
		if after, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, previewResult{}, fmt.Errorf("`after` must be an RFC 3339 date-time such as 2026-03-01T09:00:00Z; got %q", in.After)
		}
	}
	times, err := occurrences(ctx, expr, after, count)
	if err != nil {
		return nil, previewResult{}, a.h.explain(err, "next_fire_times", func(string) string { return "cron" })
	}
	if loc == nil {
		loc = time.UTC
	}
	res := previewResult{Cron: strings.TrimSpace(in.Cron), Timezone: loc.String(), Times: make([]occurrence, len(times))}
	for i, t := range times {
		l := t.In(loc)
		res.Times[i] = occurrence{UTC: utc(t), Local: l.Format(time.RFC3339), Weekday: l.Weekday().String()}
	}
	return nil, res, nil
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// info shows a schedule; loc, when non-nil, is the zone to show its times
// in, and otherwise that of its cron expression, if any.
func (h *handler) info(sm *tickler.ScheduledMessage, loc *time.Location) scheduleInfo {
	si := scheduleInfo{ID: sm.ID, Kind: string(tickler.OneTime), Paused: sm.Paused}
	if sm.Schedule.CronExpression != "" {
		si.Kind = string(tickler.Recurring)
		expr, zone := splitCron(sm.Schedule.CronExpression)
		si.Cron = expr
		if loc == nil && zone != "" {
			loc, _ = time.LoadLocation(zone)
		}
	}
	if loc != nil {
		si.Timezone = loc.String()
	}
	if next := sm.NextScheduledTime; !next.IsZero() {
		si.NextUTC = utc(next)
		if loc != nil {
			si.NextLocal = next.In(loc).Format(time.RFC3339)
		}
		if d := next.Sub(h.o.clock.Now()).Round(time.Second); d > 0 {
			si.FiresIn = d.String()
		}
	}
	si.Messages = make([]messageInfo, len(sm.Message.Messages))
	for i, m := range sm.Message.Messages {
		si.Messages[i] = messageInfo{Role: string(m.Role), Text: textOf(m.Content)}
	}
	return si
}

// textOf renders a content as text; image parts show as [image].
func textOf(c tickler.Content) string {
	if c.Parts == nil {
		return c.Text
	}
	parts := make([]string, len(c.Parts))
	for i, p := range c.Parts {
		if p.Type == "image" {
			parts[i] = "[image]"
		} else {
			parts[i] = p.Text
		}
	}
	return strings.Join(parts, "\n")
}
