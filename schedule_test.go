package tickler_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// firings creates a recurring schedule at from and returns its occurrences
// until until, fired through the scheduler on a mock clock.
func firings(t *testing.T, expr, from, until string) []time.Time {
	t.Helper()
	b := ticklertest.New(t)
	b.Jump(utc(from))
	b.Create("agent-1", "x", tickler.Cron(expr))
	b.AdvanceTo(utc(until))
	return occurrences(b.Recorder.Deliveries())
}

func TestTimeZonesAndDSTPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, expr, from, until string
		want                    []string
	}{
		{
			"no prefix is UTC", "30 2 * * *", "2026-03-07T12:00:00Z", "2026-03-09T12:00:00Z",
			[]string{"2026-03-08T02:30:00Z", "2026-03-09T02:30:00Z"},
		},
		{
			"New York spring-forward: a skipped time runs once right after the gap",
			"CRON_TZ=America/New_York 30 2 * * *", "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z",
			[]string{"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
		},
		{
			"New York fall-back: a repeated time runs once",
			"CRON_TZ=America/New_York 30 1 * * *", "2026-10-31T00:00:00Z", "2026-11-02T12:00:00Z",
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
		},
		{
			"New York fall-back: the repeated hour of a half-hourly job runs once",
			"CRON_TZ=America/New_York */30 * * * *", "2026-11-01T04:10:00Z", "2026-11-01T07:40:00Z",
			[]string{"2026-11-01T04:30:00Z", "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"},
		},
		{
			"New York spring-forward: an hourly job runs once at the end of the gap",
			"CRON_TZ=America/New_York 0 * * * *", "2026-03-08T05:30:00Z", "2026-03-08T08:30:00Z",
			[]string{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"},
		},
		{
			"London spring-forward",
			"CRON_TZ=Europe/London 30 1 * * *", "2026-03-28T00:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		},
		{
			"London fall-back",
			"CRON_TZ=Europe/London 30 1 * * *", "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		},
		{
			"London on a weekday field",
			"CRON_TZ=Europe/London 0 9 * * 1", "2026-03-27T00:00:00Z", "2026-04-07T00:00:00Z",
			[]string{"2026-03-30T08:00:00Z", "2026-04-06T08:00:00Z"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var want []time.Time
			for _, s := range c.want {
				want = append(want, utc(s))
			}
			if got := firings(t, c.expr, c.from, c.until); !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Fatalf("occurrences = %v\nwant          %v", got, want)
			}
		})
	}
}

func TestUnknownTimeZoneIsRejected(t *testing.T) {
	t.Parallel()
	b := ticklertest.New(t)
	_, err := b.Scheduler.Create(ctx, "agent-1", tickler.CreateRequest{Messages: userText("x"), Schedule: tickler.Cron("CRON_TZ=Mars/Olympus 0 9 * * *")})
	var ve *tickler.ValidationError
	if !errors.As(err, &ve) || ve.Field != "schedule.cron_expression" {
		t.Fatalf("err = %v, want a ValidationError on schedule.cron_expression", err)
	}
}
