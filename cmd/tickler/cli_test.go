package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/memory"
)

// cli runs the binary's run with args and no environment, and returns
// what it printed and its error.
func cli(args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = run(args, func(string) string { return "" }, &out, &errb)
	return out.String(), errb.String(), err
}

func TestCLIManagesARunningServersSchedules(t *testing.T) {
	t.Parallel()
	const key, admin = "api-key", "admin-key"
	r := start(t, Config{APIKey: key, AdminKey: admin, Deliver: "log"})
	create := func(agent, body string) string {
		t.Helper()
		code, m := r.do(t, "POST", "/v1/agents/"+agent+"/schedule", key, body)
		if code != 201 {
			t.Fatalf("create: %d %v", code, m)
		}
		return m["id"].(string)
	}
	at := time.Now().Add(time.Hour).UnixMilli()
	one := create("agent-1", `{"messages":[{"role":"user","content":"later"}],"schedule":{"scheduled_at":`+jsonNumber(at)+`},"name":"later"}`)
	cron := create("agent-2", `{"messages":[{"role":"user","content":"daily"}],"schedule":{"cron_expression":"0 9 * * *","type":"recurring"}}`)
	flags := []string{"-server", r.url, "-api-key", admin}
	run := func(args ...string) string {
		t.Helper()
		out, errs, err := cli(append(args, flags...)...)
		if err != nil {
			t.Fatalf("tickler %s: %v\n%s", strings.Join(args, " "), err, errs)
		}
		return out
	}

	out := run("ls")
	if !strings.Contains(out, "ID") || !strings.Contains(out, one) || !strings.Contains(out, cron) || !strings.Contains(out, "cron 0 9 * * *") {
		t.Fatalf("ls:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(run("ls", "-json")), "\n")
	if len(lines) != 2 {
		t.Fatalf("ls -json: %q", lines)
	}
	var rec tickler.Record
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec.ID != one || rec.AgentID != "agent-1" || rec.Name != "later" {
		t.Fatalf("ls -json line: %+v, %v", rec, err)
	}
	if out := run("ls", "-agent", "agent-2"); strings.Contains(out, one) || !strings.Contains(out, cron) {
		t.Fatalf("ls -agent agent-2:\n%s", out)
	}
	if out := run("ls", "-due-before", "2h"); !strings.Contains(out, one) || strings.Contains(out, cron) && !strings.Contains(out, "09:00") {
		t.Fatalf("ls -due-before 2h:\n%s", out)
	}
	if out := run("pause", cron); !strings.Contains(out, "status:") || !strings.Contains(out, "paused") {
		t.Fatalf("pause:\n%s", out)
	}
	if out := run("ls", "-paused"); strings.Contains(out, one) || !strings.Contains(out, cron) {
		t.Fatalf("ls -paused:\n%s", out)
	}
	if out := run("resume", cron, "-json"); !strings.Contains(out, `"status":"scheduled"`) {
		t.Fatalf("resume -json:\n%s", out)
	}
	if out := run("trigger", cron); !strings.Contains(out, "triggered "+cron+" key "+cron+"@") {
		t.Fatalf("trigger:\n%s", out)
	}
	if out := run("history", cron); !strings.HasPrefix(out, "SENT") {
		t.Fatalf("history:\n%s", out)
	}
	if out := run("get", one); !strings.Contains(out, "agent:") || !strings.Contains(out, "agent-1") {
		t.Fatalf("get:\n%s", out)
	}

	// export through the server: the bolt file is the server's.
	out = run("export")
	if n := strings.Count(out, "\n"); n != 2 || !strings.Contains(out, `"history":[`) {
		t.Fatalf("export -server:\n%s", out)
	}
	if out := run("rm", one); !strings.Contains(out, "deleted "+one) {
		t.Fatalf("rm:\n%s", out)
	}
	if _, _, err := cli(append([]string{"get", one}, flags...)...); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("get after rm: %v", err)
	}
	if _, _, err := cli("ls", "-server", r.url, "-api-key", key); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("ls with the API key where the admin key is needed: %v", err)
	}
	// The page is served.
	if code, _ := r.do(t, "GET", "/admin/v1/counts", admin, ""); code != 200 {
		t.Fatalf("/admin/v1/counts: %d", code)
	}
}

// fill stores records of two agents with some history in st.
func fill(t *testing.T, st tickler.Store) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, agent := range []string{"a", "b", "a"} {
		at := base.Add(time.Duration(i) * time.Hour).UnixMilli()
		r := &tickler.Record{
			ID: "0195" + strings.Repeat(string(rune('0'+i)), 4) + "-0000-7000-8000-000000000000", AgentID: agent,
			Message:  tickler.MessageCreate{Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text("m <&> " + agent)}}},
			Schedule: tickler.Cron("0 * * * *"), Next: time.UnixMilli(at).UTC(),
			Retry: &tickler.RetryPolicy{MaxAttempts: 2, Base: time.Second},
		}
		if i == 2 {
			r.Schedule, r.PausedAt, r.Next = tickler.Schedule{ScheduledAt: &at, Type: tickler.OneTime}, base, time.Time{}
		}
		if err := st.Create(ctx, r, tickler.CreateParams{}); err != nil {
			t.Fatal(err)
		}
		for j := range i + 1 {
			o := &tickler.Outcome{ID: r.ID[:8] + "-h" + string(rune('0'+j)), ScheduledMessageID: r.ID, Status: tickler.StatusSuccess,
				Attempts: 1, Response: json.RawMessage(`{"ok":true}`), SentAt: base.Add(time.Duration(j) * time.Minute), Occurrence: base}
			if j == i {
				o.Status, o.Error, o.Response = tickler.StatusFailed, "boom", nil
			}
			if err := st.Ack(ctx, tickler.AckParams{ID: r.ID, Outcome: o, HistoryLimit: 100, HistoryOnly: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func export(t *testing.T, st tickler.Store) string {
	t.Helper()
	var b bytes.Buffer
	n, damaged, err := exportStore(context.Background(), st, &b)
	if err != nil || len(damaged) > 0 {
		t.Fatalf("export: %d, damaged %v, %v", n, damaged, err)
	}
	return b.String()
}

func TestExportImportMovesEveryRecordWithItsHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, err := bolt.Open(filepath.Join(t.TempDir(), "src.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fill(t, src)
	dump := export(t, src)
	if n := strings.Count(dump, "\n"); n != 3 || !strings.Contains(dump, `"paused_at":"2026-03-01T12:00:00Z"`) || !strings.Contains(dump, `"error":"boom"`) {
		t.Fatalf("export:\n%s", dump)
	}
	dst, err := bolt.Open(filepath.Join(t.TempDir(), "dst.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	for name, st := range map[string]tickler.Store{"bolt": dst, "memory": memory.New()} {
		created, skipped, err := importStore(ctx, st, strings.NewReader(dump), 100)
		if err != nil || created != 3 || skipped != 0 {
			t.Fatalf("%s: import: %d created, %d skipped, %v", name, created, skipped, err)
		}
		if again := export(t, st); again != dump {
			t.Fatalf("%s: export after import differs:\n%s\nwant\n%s", name, again, dump)
		}
		created, skipped, err = importStore(ctx, st, strings.NewReader(dump), 100)
		if err != nil || created != 0 || skipped != 3 {
			t.Fatalf("%s: a second import: %d created, %d skipped, %v", name, created, skipped, err)
		}
	}
	// A history limit keeps the newest.
	st := memory.New()
	if _, _, err := importStore(ctx, st, strings.NewReader(dump), 1); err != nil {
		t.Fatal(err)
	}
	h, err := st.History(ctx, tickler.HistoryParams{ID: "01952222-0000-7000-8000-000000000000", Limit: 10})
	if err != nil || len(h.Outcomes) != 1 || h.Outcomes[0].Error != "boom" {
		t.Fatalf("history with a limit of 1: %+v, %v", h.Outcomes, err)
	}
	if _, _, err := importStore(ctx, memory.New(), strings.NewReader("{\"id\":\"x\"}\n"), 100); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("import of a record without agent: %v", err)
	}
}

func TestInspectCountsAndNamesTheNextDue(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "t.db")
	st, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, st)
	// A store held by a server is named as such.
	if _, _, err := cli("inspect", "-db", path); err == nil || !strings.Contains(err.Error(), "running server holds it") {
		t.Fatalf("inspect of a held file: %v", err)
	}
	st.Close()
	out, _, err := cli("inspect", "-db", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"schedules: 3 (scheduled 0, paused 1, failing 2, idle 0) of 2 agents", "next due:  2026-03-01 12:00:00Z  01950000-", "damaged:   0"} {
		if !strings.Contains(out, want) {
			t.Fatalf("inspect lacks %q:\n%s", want, out)
		}
	}
	out, _, err = cli("export", "-db", path)
	if err != nil || strings.Count(out, "\n") != 3 {
		t.Fatalf("export -db: %v\n%s", err, out)
	}
	dumpPath := filepath.Join(t.TempDir(), "dump.jsonl")
	if _, _, err := cli("export", "-db", path, "-o", dumpPath); err != nil {
		t.Fatal(err)
	}
	newPath := filepath.Join(t.TempDir(), "new.db")
	if _, errs, err := cli("import", "-db", newPath, dumpPath); err != nil || !strings.Contains(errs, "imported 3 schedules") {
		t.Fatalf("import: %v\n%s", err, errs)
	}
	if again, _, err := cli("export", "-db", newPath); err != nil || again != out {
		t.Fatalf("export of the imported file differs (%v):\n%s\nwant\n%s", err, again, out)
	}
}
