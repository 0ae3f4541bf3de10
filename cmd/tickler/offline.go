package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
)

// The subcommands that work on a store directly, with the server stopped
// (bolt lets one process at a time open its file): inspect, export and
// import. export also reads a running server, through its admin API.

// openOffline opens the store that -db names for inspect, export and
// import: a bolt file (refused quickly while a server holds it), or a
// PostgreSQL URL (the schema in TICKLER_DB_SCHEMA, default tickler,
// migrated first, as serve does). A PostgreSQL store needs no stopped
// server: the database serves many processes.
func openOffline(db string, getenv func(string) string) (tickler.Store, func() error, error) {
	if isPostgres(db) {
		schema := getenv("TICKLER_DB_SCHEMA")
		if schema == "" {
			schema = "tickler"
		}
		st, err := openStore(context.Background(), Config{DB: db, Schema: schema, Migrate: true}, slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, nil, err
		}
		return st.Store, st.close, nil
	}
	st, err := bolt.Open(db, bolt.WithLockTimeout(200*time.Millisecond))
	if errors.Is(err, bolt.ErrLocked) {
		return nil, nil, fmt.Errorf("%w\n(a running server holds it: stop it, or read it through the server: tickler ls, tickler export -server URL, or GET /admin/v1/backup)", err)
	}
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}

// adminStore asserts what inspect and export need of a store.
func adminStore(st tickler.Store) (tickler.AdminStore, error) {
	a, ok := st.(tickler.AdminStore)
	if !ok {
		return nil, fmt.Errorf("%T cannot list across agents: %w", st, tickler.ErrUnsupported)
	}
	return a, nil
}

// report is what inspect finds.
type report struct {
	Counts  tickler.Counts  `json:"counts"`
	NextDue *nextDue        `json:"next_due"`
	Damaged []damagedRecord `json:"damaged"`
}

type nextDue struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

type damagedRecord struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// inspect reads counts, the next occurrence and the damaged records of st.
func inspect(ctx context.Context, st tickler.Store) (report, error) {
	a, err := adminStore(st)
	if err != nil {
		return report{}, err
	}
	var rep report
	if rep.Counts, err = a.Counts(ctx); err != nil {
		return rep, err
	}
	// The first record of the due index, beside any damaged ones.
	res, err := st.Claim(ctx, tickler.ClaimParams{Until: time.UnixMilli(tickler.MaxScheduledAt), Limit: 1, Now: time.Now()})
	if err != nil && !errors.Is(err, tickler.ErrDamaged) {
		return rep, err
	}
	if len(res.Due) > 0 {
		rep.NextDue = &nextDue{ID: res.Due[0].ID, At: res.Due[0].At}
	}
	rep.Damaged = []damagedRecord{}
	for p := (tickler.ListAllParams{Limit: 1000}); ; {
		page, err := a.ListAll(ctx, p)
		if err != nil {
			return rep, err
		}
		for _, id := range page.Damaged {
			_, gerr := st.Get(ctx, "", id)
			d := damagedRecord{ID: id, Error: "its newest history entry cannot be decoded"}
			if gerr != nil {
				d.Error = gerr.Error()
			}
			rep.Damaged = append(rep.Damaged, d)
		}
		if !page.More || len(page.Records) == 0 {
			return rep, nil
		}
		p.After = page.Records[len(page.Records)-1].Record.ID
	}
}

func cmdInspect(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickler inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", getenv("TICKLER_DB"), "the store: a bolt file ($TICKLER_DB)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || fs.NArg() > 0 {
		return errors.New("usage: tickler inspect -db PATH [-json]")
	}
	st, closeStore, err := openOffline(*db, getenv)
	if err != nil {
		return err
	}
	defer closeStore()
	rep, err := inspect(context.Background(), st)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(rep); err != nil {
			return err
		}
	} else {
		c := rep.Counts
		fmt.Fprintf(stdout, "store:     %s\n", *db)
		fmt.Fprintf(stdout, "schedules: %d (scheduled %d, paused %d, failing %d, idle %d) of %d agents\n",
			c.Total, c.Scheduled, c.Paused, c.Failing, c.Idle, c.Agents)
		if rep.NextDue != nil {
			fmt.Fprintf(stdout, "next due:  %s  %s\n", when(rep.NextDue.At), rep.NextDue.ID)
		} else {
			fmt.Fprintln(stdout, "next due:  -")
		}
		fmt.Fprintf(stdout, "damaged:   %d\n", len(rep.Damaged))
		for _, d := range rep.Damaged {
			fmt.Fprintf(stdout, "  %s: %s\n", d.ID, d.Error)
		}
	}
	if n := len(rep.Damaged); n > 0 {
		return fmt.Errorf("%d damaged records (tickler rm ID against the running server, or bolt's Delete, removes one)", n)
	}
	return nil
}

// exportLine is one line of "tickler export": a record, as
// [tickler.Record] encodes itself, with "history", its outcomes oldest
// first.
type exportLine struct {
	Record  tickler.Record
	History []tickler.Outcome
}

func (l exportLine) MarshalJSON() ([]byte, error) {
	rec, err := json.Marshal(l.Record)
	if err != nil {
		return nil, err
	}
	hist := l.History
	if hist == nil {
		hist = []tickler.Outcome{}
	}
	h, err := json.Marshal(struct {
		History []tickler.Outcome `json:"history"`
	}{hist})
	if err != nil {
		return nil, err
	}
	return append(append(bytes.TrimSuffix(rec, []byte("}")), ','), h[1:]...), nil
}

func (l *exportLine) UnmarshalJSON(b []byte) error {
	var h struct {
		History []tickler.Outcome `json:"history"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return err
	}
	l.History = h.History
	return json.Unmarshal(b, &l.Record)
}

// exportStore writes every record of st, with its history, as JSON
// lines, and returns how many it wrote and the damaged ones it skipped.
func exportStore(ctx context.Context, st tickler.Store, w io.Writer) (n int, damaged []string, err error) {
	a, err := adminStore(st)
	if err != nil {
		return 0, nil, err
	}
	enc := json.NewEncoder(w)
	for p := (tickler.ListAllParams{Limit: 1000}); ; {
		page, err := a.ListAll(ctx, p)
		if err != nil {
			return n, damaged, err
		}
		damaged = append(damaged, page.Damaged...)
		for _, rec := range page.Records {
			line := exportLine{Record: *rec.Record}
			for off := 0; ; {
				h, err := st.History(ctx, tickler.HistoryParams{ID: rec.Record.ID, Offset: off, Limit: 1000})
				if errors.Is(err, tickler.ErrNotFound) {
					break // deleted meanwhile
				}
				if err != nil {
					return n, damaged, err
				}
				line.History = append(line.History, h.Outcomes...)
				off += len(h.Outcomes)
				if !h.More || len(h.Outcomes) == 0 {
					break
				}
			}
			slices.Reverse(line.History)
			if err := enc.Encode(line); err != nil {
				return n, damaged, err
			}
			n++
		}
		if !page.More || len(page.Records) == 0 {
			return n, damaged, nil
		}
		p.After = page.Records[len(page.Records)-1].Record.ID
	}
}

// exportServer writes what exportStore writes, read from a running
// server's admin API.
func exportServer(ctx context.Context, c *client, w io.Writer) (n int, damaged []string, err error) {
	enc := json.NewEncoder(w)
	q := url.Values{"limit": {"1000"}}
	for {
		var page struct {
			Schedules   []listed `json:"schedules"`
			HasNextPage bool     `json:"has_next_page"`
			Damaged     []string `json:"damaged"`
		}
		if err := c.call(ctx, http.MethodGet, "/schedules?"+q.Encode(), &page); err != nil {
			return n, damaged, err
		}
		damaged = append(damaged, page.Damaged...)
		for _, l := range page.Schedules {
			line := exportLine{Record: l.Record}
			for off := 0; ; {
				var h struct {
					History     []tickler.Outcome `json:"history"`
					HasNextPage bool              `json:"has_next_page"`
				}
				err := c.call(ctx, http.MethodGet, fmt.Sprintf("/schedules/%s/history?limit=1000&offset=%d", url.PathEscape(l.Record.ID), off), &h)
				if err != nil {
					return n, damaged, err
				}
				for _, o := range h.History {
					if string(o.Response) == "null" {
						o.Response = nil
					}
					line.History = append(line.History, o)
				}
				off += len(h.History)
				if !h.HasNextPage || len(h.History) == 0 {
					break
				}
			}
			slices.Reverse(line.History)
			if err := enc.Encode(line); err != nil {
				return n, damaged, err
			}
			n++
		}
		if !page.HasNextPage || len(page.Schedules) == 0 {
			return n, damaged, nil
		}
		q.Set("after", page.Schedules[len(page.Schedules)-1].Record.ID)
	}
}

func cmdExport(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickler export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "read this store (a bolt file) directly, the server stopped")
	out := fs.String("o", "", "write to this file instead of standard output")
	newClient := clientFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("usage: tickler export (-db PATH | -server URL) [-o FILE]")
	}
	w := stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	ctx := context.Background()
	var n int
	var damaged []string
	var err error
	if *db != "" {
		st, closeStore, oerr := openOffline(*db, getenv)
		if oerr != nil {
			return oerr
		}
		defer closeStore()
		n, damaged, err = exportStore(ctx, st, bw)
	} else {
		n, damaged, err = exportServer(ctx, newClient(), bw)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "tickler: exported %d schedules\n", n)
	if len(damaged) > 0 {
		return fmt.Errorf("%d damaged records were not exported: %s", len(damaged), strings.Join(damaged, ", "))
	}
	return nil
}

// importStore creates each record of the JSON lines of r in st, with its
// history (the newest historyLimit outcomes), and returns how many it
// created and how many it skipped because their id was taken, so that an
// import cut short can be run again. It stops at the first line that does
// not decode or that the store refuses, naming it.
func importStore(ctx context.Context, st tickler.Store, r io.Reader, historyLimit int) (created, skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for lineNo := 1; sc.Scan(); lineNo++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l exportLine
		if err := json.Unmarshal(b, &l); err != nil {
			return created, skipped, fmt.Errorf("line %d: %w", lineNo, err)
		}
		rec := &l.Record
		if rec.ID == "" || rec.AgentID == "" || len(rec.Message.Messages) == 0 {
			return created, skipped, fmt.Errorf("line %d: a record needs an id, an agent_id and messages", lineNo)
		}
		err := st.Create(ctx, rec, tickler.CreateParams{})
		if errors.Is(err, tickler.ErrExists) {
			skipped++
			continue
		}
		if err != nil {
			return created, skipped, fmt.Errorf("line %d (%s): %w", lineNo, rec.ID, err)
		}
		hist := l.History
		if len(hist) > historyLimit {
			hist = hist[len(hist)-historyLimit:]
		}
		for i := range hist {
			if err := st.Ack(ctx, tickler.AckParams{ID: rec.ID, Outcome: &hist[i], HistoryLimit: historyLimit, HistoryOnly: true}); err != nil {
				return created, skipped, fmt.Errorf("line %d (%s): history: %w", lineNo, rec.ID, err)
			}
		}
		created++
	}
	return created, skipped, sc.Err()
}

func cmdImport(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickler import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", getenv("TICKLER_DB"), "the store to import into, the server stopped ($TICKLER_DB)")
	historyLimit := fs.Int("history-limit", tickler.DefaultHistoryLimit, "keep at most this many outcomes per schedule, as the server's history limit")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *db == "" || len(rest) > 1 {
		return errors.New("usage: tickler import -db PATH [FILE]  (JSON lines of tickler export; standard input without FILE)")
	}
	var in io.Reader = os.Stdin
	if len(rest) == 1 && rest[0] != "-" {
		f, err := os.Open(rest[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	st, closeStore, err := openOffline(*db, getenv)
	if err != nil {
		return err
	}
	created, skipped, err := importStore(context.Background(), st, in, max(*historyLimit, 0))
	if cerr := closeStore(); err == nil {
		err = cerr
	}
	fmt.Fprintf(stderr, "tickler: imported %d schedules, skipped %d whose id exists\n", created, skipped)
	return err
}
