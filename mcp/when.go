package mcp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file turns the words a model uses for time into instants and cron
// expressions: durations with days and weeks, local date-times in a zone,
// and 5-field cron expressions with a zone. Every error names the tool's
// own argument and shows a correct example.

// parseIn reads a positive duration such as "90m", "2h30m", "1d", "1w" or
// "1d12h": a sequence of whole or decimal numbers, each followed by one of
// the units w, d, h, m, s (a day is 24 hours, a week 7 days).
func parseIn(s string) (time.Duration, error) {
	bad := fmt.Errorf("`in` must be a positive duration like 90m, 2h30m, 1d or 1w (units w, d, h, m, s); got %q", s)
	str := strings.ReplaceAll(strings.TrimSpace(strings.ToLower(s)), " ", "")
	if str == "" {
		return 0, bad
	}
	if strings.HasPrefix(str, "-") {
		return 0, fmt.Errorf("`in` must be a positive duration like 90m, 2h30m, 1d or 1w; got %q, which is not in the future", s)
	}
	units := map[byte]time.Duration{'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}
	var total float64
	for str != "" {
		i := 0
		for i < len(str) && (str[i] >= '0' && str[i] <= '9' || str[i] == '.') {
			i++
		}
		if i == 0 || i == len(str) {
			return 0, bad
		}
		n, err := strconv.ParseFloat(str[:i], 64)
		unit, ok := units[str[i]]
		if err != nil || !ok {
			return 0, bad
		}
		total += n * float64(unit)
		str = str[i+1:]
	}
	// About 290 years is all a time.Duration holds; tickler's own bound
	// (year 2262) is checked when the schedule is created.
	if total >= float64(1<<63-1) {
		return 0, fmt.Errorf("`in` is too far in the future: %q", s)
	}
	d := time.Duration(total)
	if d <= 0 {
		return 0, fmt.Errorf("`in` must be a positive duration like 90m, 2h30m, 1d or 1w; got %q", s)
	}
	return d, nil
}

// localLayouts are the forms of a date-time without an offset that `at`
// accepts together with a timezone.
var localLayouts = []string{
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
}

// parseAt reads `at`: an RFC 3339 date-time with an offset or Z, or a
// local date-time in loc (which must then be set).
func parseAt(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range localLayouts {
		w, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if loc == nil {
			return time.Time{}, fmt.Errorf("`at` %q has no UTC offset: add one (2026-03-01T09:00:00+01:00, or Z for UTC) or give `timezone` (an IANA zone such as Europe/Paris) to read it as that zone's local time", s)
		}
		t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
		if !sameWall(t.In(loc), w) {
			return time.Time{}, fmt.Errorf("`at` %q does not exist in %s: the clocks skip it for a daylight-saving change; pick a time outside the gap", s, loc)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("`at` must be a date-time like 2026-03-01T09:00:00Z, 2026-03-01T09:00:00+01:00, or 2026-03-01T09:00 with `timezone`; got %q", s)
}

func sameWall(t, w time.Time) bool {
	return t.Year() == w.Year() && t.YearDay() == w.YearDay() && t.Hour() == w.Hour() && t.Minute() == w.Minute() && t.Second() == w.Second()
}

// loadZone reads `timezone`; "" returns nil.
func loadZone(name string) (*time.Location, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, nil
	}
	bad := fmt.Errorf("`timezone` must be an IANA time zone such as Europe/Paris, America/New_York or UTC; got %q", name)
	if name == "Local" {
		return nil, bad
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, bad
	}
	return loc, nil
}

// cronExpr checks a 5-field expression and returns it in tickler's form:
// with a "CRON_TZ=<zone> " prefix when a zone is given, so that it runs on
// that zone's wall clock under tickler's DST policy.
func cronExpr(expr string, loc *time.Location) (string, error) {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "CRON_TZ=") || strings.HasPrefix(expr, "TZ=") {
		return "", errors.New("`cron` takes only the 5 fields; give the zone in `timezone` instead of a CRON_TZ= prefix")
	}
	if n := len(strings.Fields(expr)); n != 5 {
		return "", fmt.Errorf("`cron` must have 5 fields (minute hour day-of-month month day-of-week), like \"0 9 * * 1-5\" for 09:00 on weekdays; got %d in %q", n, expr)
	}
	if loc == nil || loc == time.UTC {
		return expr, nil
	}
	return "CRON_TZ=" + loc.String() + " " + expr, nil
}

// splitCron splits a stored expression into its fields and its zone ("" for UTC).
func splitCron(stored string) (expr, zone string) {
	stored = strings.TrimSpace(stored)
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(stored, p); ok {
			zone, expr, _ = strings.Cut(rest, " ")
			return strings.TrimSpace(expr), zone
		}
	}
	return stored, ""
}
