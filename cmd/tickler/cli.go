package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tickler-go/tickler"
)

// The subcommands that talk to a running server over its admin API
// (/admin/v1/): ls, get, rm, pause, resume, trigger, history. Each prints
// a table for people, or with -json the server's JSON, one object a line,
// for scripts.

// client is the admin API of one server.
type client struct {
	server string // base URL, without a trailing slash
	key    string
	http   *http.Client
	json   bool // -json
}

// clientFlags adds the flags every client subcommand takes to fs, and
// returns the client they describe once fs is parsed.
func clientFlags(fs *flag.FlagSet, getenv func(string) string) func() *client {
	server := getenv("TICKLER_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8283"
	}
	key := getenv("TICKLER_ADMIN_KEY")
	if key == "" {
		key = getenv("TICKLER_API_KEY")
	}
	c := &client{}
	fs.StringVar(&c.server, "server", server, "URL of the running tickler serve ($TICKLER_SERVER)")
	fs.StringVar(&c.key, "api-key", key, "its admin key ($TICKLER_ADMIN_KEY, else $TICKLER_API_KEY)")
	fs.BoolVar(&c.json, "json", false, "print JSON, one object a line, instead of a table")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on each request")
	return func() *client {
		c.server = strings.TrimSuffix(c.server, "/")
		c.http = &http.Client{Timeout: *timeout}
		return c
	}
}

// call sends a request to the admin API and decodes the JSON answer into
// v (if not nil). A non-2xx answer is an error with the server's detail.
func (c *client) call(ctx context.Context, method, path string, v any) error {
	var body io.Reader
	if method != http.MethodGet {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+"/admin/v1"+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var p struct {
			Detail json.RawMessage `json:"detail"`
		}
		detail := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &p) == nil && len(p.Detail) > 0 {
			var s string
			if json.Unmarshal(p.Detail, &s) == nil {
				detail = s
			} else {
				detail = string(p.Detail)
			}
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, detail)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(b, v)
}

// listed is a record of the admin API: a tickler.Record with the status
// and newest history entry the server adds. (tickler.Record decodes
// itself, so these two are read on their own.)
type listed struct {
	Record tickler.Record
	Status string
	Last   *historyLine
	Raw    json.RawMessage
}

func (l *listed) UnmarshalJSON(b []byte) error {
	var extra struct {
		Status string       `json:"status"`
		Last   *historyLine `json:"last"`
	}
	if err := json.Unmarshal(b, &extra); err != nil {
		return err
	}
	l.Status, l.Last, l.Raw = extra.Status, extra.Last, bytes.Clone(b)
	return json.Unmarshal(b, &l.Record)
}

// historyLine is a history entry of the admin API.
type historyLine struct {
	ID                 string  `json:"id"`
	ScheduledMessageID string  `json:"scheduled_message_id"`
	AgentID            string  `json:"agent_id"`
	Status             string  `json:"status"`
	Occurrence         *string `json:"occurrence"`
	SentAt             *string `json:"sent_at"`
	Attempts           int     `json:"attempts"`
	Error              string  `json:"error"`
	Triggered          bool    `json:"triggered"`
}

// parse parses a subcommand's flags, and takes positional arguments
// before or after them.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

func cmdList(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickler ls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newClient := clientFlags(fs, getenv)
	agent := fs.String("agent", "", "only this agent's schedules")
	paused := fs.Bool("paused", false, "only paused schedules")
	failing := fs.Bool("failing", false, "only schedules whose last delivery failed")
	dueBefore := fs.String("due-before", "", "only schedules due before this RFC 3339 time or duration from now (1h)")
	dueAfter := fs.String("due-after", "", "only schedules due after this RFC 3339 time or duration from now")
	limit := fs.Int("limit", 100, "at most this many schedules, 0 for all")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("ls: unexpected argument %q", rest[0])
	}
	c := newClient()
	q := url.Values{}
	if *agent != "" {
		q.Set("agent", *agent)
	}
	if *paused {
		q.Set("paused", "true")
	}
	if *failing {
		q.Set("failing", "true")
	}
	for name, v := range map[string]string{"due_before": *dueBefore, "due_after": *dueAfter} {
		if v == "" {
			continue
		}
		t, err := instant(v, time.Now())
		if err != nil {
			return fmt.Errorf("ls: -%s: %w", strings.ReplaceAll(name, "_", "-"), err)
		}
		q.Set(name, t.Format(time.RFC3339Nano))
	}
	ctx := context.Background()
	var tw *tabwriter.Writer
	if !c.json {
		tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tAGENT\tSTATUS\tNEXT\tSCHEDULE\tLAST\tNAME")
	}
	shown := 0
	var damaged []string
	for {
		page := struct {
			Schedules   []listed `json:"schedules"`
			HasNextPage bool     `json:"has_next_page"`
			Damaged     []string `json:"damaged"`
		}{}
		if err := c.call(ctx, http.MethodGet, "/schedules?"+q.Encode(), &page); err != nil {
			return err
		}
		damaged = append(damaged, page.Damaged...)
		for _, l := range page.Schedules {
			if *limit > 0 && shown == *limit {
				page.HasNextPage = false
				break
			}
			shown++
			if c.json {
				fmt.Fprintf(stdout, "%s\n", l.Raw)
				continue
			}
			r := l.Record
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.AgentID, l.Status, when(r.Next), describe(r.Schedule), last(l.Last), r.Name)
		}
		if !page.HasNextPage || len(page.Schedules) == 0 {
			break
		}
		q.Set("after", page.Schedules[len(page.Schedules)-1].Record.ID)
	}
	if tw != nil {
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(damaged) > 0 {
		fmt.Fprintf(stderr, "tickler: %d damaged records skipped: %s (tickler get ID says why; tickler rm ID removes one)\n", len(damaged), strings.Join(damaged, ", "))
	}
	return nil
}

// instant reads an RFC 3339 time or a duration from now.
func instant(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(d), nil
	}
	return time.Parse(time.RFC3339Nano, v)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func describe(s tickler.Schedule) string {
	if s.CronExpression != "" {
		return "cron " + s.CronExpression
	}
	if s.ScheduledAt != nil {
		return "at " + when(time.UnixMilli(*s.ScheduledAt))
	}
	return "-"
}

func last(h *historyLine) string {
	if h == nil {
		return "-"
	}
	s := h.Status
	if h.SentAt != nil {
		s += " " + *h.SentAt
	}
	return s
}

// oneID parses the flags of a subcommand about one schedule and returns
// its client and the id.
func oneID(name string, args []string, getenv func(string) string, stderr io.Writer, more func(fs *flag.FlagSet)) (*client, string, error) {
	fs := flag.NewFlagSet("tickler "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: tickler %s [flags] ID\n", name)
		fs.PrintDefaults()
	}
	newClient := clientFlags(fs, getenv)
	if more != nil {
		more(fs)
	}
	rest, err := parse(fs, args)
	if err != nil {
		return nil, "", err
	}
	if len(rest) != 1 {
		return nil, "", fmt.Errorf("usage: tickler %s [flags] ID", name)
	}
	return newClient(), rest[0], nil
}

func cmdGet(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, id, err := oneID("get", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	var l listed
	if err := c.call(context.Background(), http.MethodGet, "/schedules/"+url.PathEscape(id), &l); err != nil {
		return err
	}
	return printRecord(c, stdout, l)
}

// printRecord prints one record: its JSON, or its fields one a line.
func printRecord(c *client, stdout io.Writer, l listed) error {
	if c.json {
		_, err := fmt.Fprintf(stdout, "%s\n", l.Raw)
		return err
	}
	r := l.Record
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, f := range [][2]string{
		{"id", r.ID}, {"agent", r.AgentID}, {"name", r.Name}, {"status", l.Status},
		{"schedule", describe(r.Schedule)}, {"next", when(r.Next)}, {"paused at", when(r.PausedAt)},
		{"last delivery", last(l.Last)}, {"messages", fmt.Sprint(len(r.Message.Messages))},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	if l.Last != nil && l.Last.Error != "" {
		fmt.Fprintf(tw, "last error:\t%s\n", l.Last.Error)
	}
	return tw.Flush()
}

// cmdAct returns rm, pause, resume or trigger, which act on schedules by
// id.
func cmdAct(op string) func(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return func(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		c, id, err := oneID(op, args, getenv, stderr, nil)
		if err != nil {
			return err
		}
		ctx := context.Background()
		path := "/schedules/" + url.PathEscape(id)
		switch op {
		case "rm":
			if err := c.call(ctx, http.MethodDelete, path, nil); err != nil {
				return err
			}
			if c.json {
				fmt.Fprintf(stdout, "{\"id\":%q,\"deleted\":true}\n", id)
			} else {
				fmt.Fprintln(stdout, "deleted", id)
			}
			return nil
		case "trigger":
			var resp struct {
				IdempotencyKey string `json:"idempotency_key"`
			}
			if err := c.call(ctx, http.MethodPost, path+"/trigger", &resp); err != nil {
				return err
			}
			if c.json {
				fmt.Fprintf(stdout, "{\"id\":%q,\"idempotency_key\":%q}\n", id, resp.IdempotencyKey)
			} else {
				fmt.Fprintln(stdout, "triggered", id, "key", resp.IdempotencyKey)
			}
			return nil
		}
		var l listed
		if err := c.call(ctx, http.MethodPost, path+"/"+op, &l); err != nil {
			return err
		}
		return printRecord(c, stdout, l)
	}
}

func cmdHistory(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var limit *int
	c, id, err := oneID("history", args, getenv, stderr, func(fs *flag.FlagSet) {
		limit = fs.Int("limit", 20, "at most this many entries, newest first")
	})
	if err != nil {
		return err
	}
	if *limit < 1 {
		return errors.New("history: -limit must be at least 1")
	}
	var page struct {
		History []json.RawMessage `json:"history"`
	}
	if err := c.call(context.Background(), http.MethodGet, fmt.Sprintf("/schedules/%s/history?limit=%d", url.PathEscape(id), *limit), &page); err != nil {
		return err
	}
	if c.json {
		for _, h := range page.History {
			fmt.Fprintf(stdout, "%s\n", h)
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SENT\tOCCURRENCE\tSTATUS\tATTEMPTS\tERROR")
	for _, raw := range page.History {
		var h historyLine
		if err := json.Unmarshal(raw, &h); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", deref(h.SentAt), deref(h.Occurrence), h.Status, h.Attempts, h.Error)
	}
	return tw.Flush()
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
