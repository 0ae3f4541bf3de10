package tickler

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ScheduleType tells a one-time schedule from a recurring one.
type ScheduleType string

// The schedule types of the contract.
const (
	OneTime   ScheduleType = "one-time"
	Recurring ScheduleType = "recurring"
)

// Schedule says when a scheduled message fires: once at ScheduledAt (Unix
// milliseconds), or at every match of CronExpression (standard 5-field cron,
// evaluated in UTC). Exactly one of the two is set. Type may be omitted for a
// one-time schedule and is required for a recurring one.
type Schedule struct {
	// ScheduledAt is the one-time instant in Unix milliseconds, or nil.
	ScheduledAt *int64 `json:"scheduled_at,omitempty"`
	// CronExpression is the recurring expression, or "".
	CronExpression string       `json:"cron_expression,omitempty"`
	Type           ScheduleType `json:"type,omitempty"`
}

// At returns a one-time schedule firing at t, truncated to the millisecond.
func At(t time.Time) Schedule {
	ms := t.UnixMilli()
	return Schedule{ScheduledAt: &ms, Type: OneTime}
}

// Cron returns a recurring schedule on a 5-field cron expression in UTC.
func Cron(expr string) Schedule {
	return Schedule{CronExpression: expr, Type: Recurring}
}

// UnmarshalJSON decodes a schedule. scheduled_at is a JSON number that must
// be a whole number of milliseconds.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	var w struct {
		ScheduledAt    json.RawMessage `json:"scheduled_at"`
		CronExpression *string         `json:"cron_expression"`
		Type           ScheduleType    `json:"type"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Schedule{Type: w.Type}
	if w.CronExpression != nil {
		s.CronExpression = *w.CronExpression
		if s.CronExpression == "" {
			return invalid("schedule.cron_expression", "must not be empty")
		}
	}
	n, err := wholeNumber(w.ScheduledAt)
	if err != nil {
		return &ValidationError{Field: "schedule.scheduled_at", Reason: err.Error()}
	}
	s.ScheduledAt = n
	return nil
}

// MaxScheduledAt is the latest instant a schedule may fire at, in Unix
// milliseconds: 2262-01-01T00:00:00.000Z. Stores and the heap keep
// instants as Unix nanoseconds in an int64, which ends in April 2262; a
// one-time scheduled_at after it (or before 1970) is rejected at Create
// with a *[ValidationError] on "schedule.scheduled_at", and a cron
// expression whose next occurrence would be after it never fires again.
const MaxScheduledAt = 9214646400000

var maxInstant = time.UnixMilli(MaxScheduledAt).UTC()

// bounded ends a trigger at MaxScheduledAt.
type bounded struct{ t trigger }

func (b bounded) Next(t time.Time) time.Time {
	if n := b.t.Next(t); !n.After(maxInstant) {
		return n
	}
	return time.Time{}
}

// trigger computes occurrences: Next returns the first occurrence strictly
// after t, or the zero time when there is none. One-time and cron schedules
// are two implementations of it; the dispatcher knows no other.
type trigger = cron.Schedule

// once is the trigger of a one-time schedule.
type once time.Time

func (o once) Next(t time.Time) time.Time {
	if at := time.Time(o); t.Before(at) {
		return at
	}
	return time.Time{}
}

// cronParser accepts the standard five fields and nothing else (no seconds,
// no descriptors such as @every).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// parseCron parses a 5-field expression. Without a prefix it is evaluated
// in UTC, as Letta evaluates it. With a "CRON_TZ=Area/City " (or "TZ=")
// prefix it is evaluated on that zone's wall clock, under the DST policy of
// [zoned].
func parseCron(expr string) (_ trigger, err error) {
	// robfig/cron v3.0.1 panics on some inputs, such as "TZ=" (found by
	// FuzzCron); a bad expression must be an error, not a crash of the host.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cannot parse %q", expr)
		}
	}()
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return nil, err
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, errors.New("unsupported expression")
	}
	loc := spec.Location
	// Evaluated on UTC, the fields match wall-clock times with no
	// transitions in between; zoned maps them onto the real zone.
	spec.Location = time.UTC
	if !hasZonePrefix(expr) || loc == time.UTC {
		return spec, nil
	}
	return zoned{spec: spec, loc: loc}, nil
}

func hasZonePrefix(expr string) bool {
	expr = strings.TrimSpace(expr)
	return strings.HasPrefix(expr, "CRON_TZ=") || strings.HasPrefix(expr, "TZ=")
}

// zoned evaluates a cron expression on the wall clock of a time zone, with
// this DST policy:
//
//   - a wall-clock time skipped by a spring-forward transition runs once,
//     at the end of the gap (a job at 02:30 runs at 03:00 on the day New
//     York springs forward);
//   - a wall-clock time repeated by a fall-back transition runs once, at
//     its first instance (a job at 01:30 runs at 01:30 EDT, not again at
//     01:30 EST).
//
// It works on "wall times": instants whose UTC fields are the zone's local
// fields, on which robfig's matcher sees no transitions.
type zoned struct {
	spec *cron.SpecSchedule // with Location UTC
	loc  *time.Location
}

// wall returns t's local fields in z as a UTC instant.
func (z zoned) wall(t time.Time) time.Time {
	l := t.In(z.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

func (z zoned) Next(t time.Time) time.Time {
	w := z.wall(t)
	for range 1000 { // each round moves w forward; a real zone needs two
		w = z.spec.Next(w)
		if w.IsZero() {
			return w
		}
		if at := z.instant(w); at.After(t) {
			return at
		}
		// w's first instance is not after t: t is in the second pass of a
		// repeated hour, which does not run again.
	}
	return time.Time{}
}

// instant returns the first real instant whose wall time is w, or, if a
// spring-forward gap skips w, the end of that gap.
func (z zoned) instant(w time.Time) time.Time {
	_, before := w.Add(-48 * time.Hour).In(z.loc).Zone()
	_, after := w.Add(48 * time.Hour).In(z.loc).Zone()
	a := w.Add(-time.Duration(before) * time.Second)
	b := w.Add(-time.Duration(after) * time.Second)
	if b.Before(a) {
		a, b = b, a
	}
	for _, c := range []time.Time{a, b} {
		if z.wall(c).Equal(w) {
			return c.UTC()
		}
	}
	// In a gap: the first instant whose wall time is at or after w. Wall
	// time does not decrease across a gap, so bisect between a and b.
	for b.Sub(a) > time.Millisecond {
		m := a.Add(b.Sub(a) / 2).Truncate(time.Millisecond)
		if m.Equal(a) {
			break
		}
		if z.wall(m).Before(w) {
			a = m
		} else {
			b = m
		}
	}
	return b.UTC()
}

// compile checks the schedule's shape and returns its trigger. It does not
// check that the schedule fires after now; see [Schedule.first].
func (s Schedule) compile() (trigger, error) {
	hasAt, hasCron := s.ScheduledAt != nil, s.CronExpression != ""
	switch {
	case hasAt && hasCron:
		return nil, invalid("schedule", "set either scheduled_at or cron_expression, not both")
	case !hasAt && !hasCron:
		return nil, invalid("schedule", "one of scheduled_at or cron_expression is required")
	case hasAt:
		if s.Type != "" && s.Type != OneTime {
			return nil, invalid("schedule.type", `must be "one-time" (or absent) with scheduled_at, got %q`, string(s.Type))
		}
		if at := *s.ScheduledAt; at > MaxScheduledAt || at < 0 {
			return nil, invalid("schedule.scheduled_at", "must be between 1970-01-01T00:00:00.000Z and %s (Unix ms 0 to %d), got %d",
				maxInstant.Format(TimeLayout), int64(MaxScheduledAt), at)
		}
		return once(time.UnixMilli(*s.ScheduledAt).UTC()), nil
	default:
		if s.Type != Recurring {
			return nil, invalid("schedule.type", `must be "recurring" with cron_expression, got %q`, string(s.Type))
		}
		t, err := parseCron(s.CronExpression)
		if err != nil {
			return nil, invalid("schedule.cron_expression", "%v", err)
		}
		return bounded{t}, nil
	}
}

// first validates the schedule against now and returns its trigger and
// first occurrence.
func (s Schedule) first(now time.Time) (trigger, time.Time, error) {
	t, err := s.compile()
	if err != nil {
		return nil, time.Time{}, err
	}
	next := t.Next(now)
	if next.IsZero() {
		if s.ScheduledAt != nil {
			return nil, time.Time{}, &ValidationError{
				Field:  "schedule.scheduled_at",
				Reason: "must be after now (" + now.UTC().Format(TimeLayout) + ")",
				Err:    ErrScheduledInPast,
			}
		}
		return nil, time.Time{}, invalid("schedule.cron_expression", "%q never fires", s.CronExpression)
	}
	return t, next, nil
}

// nextAfter returns the occurrence that follows one that was due at occ and
// whose delivery started at started: the first occurrence after both, so
// that occurrences passed before a delivery started are covered by it, and
// those passed while it ran collapse into the one this returns.
func nextAfter(t trigger, occ, started time.Time) time.Time {
	if started.After(occ) {
		occ = started
	}
	return t.Next(occ)
}
