package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
)

// The cases of [tickler.CallbackOutbox], run for a store that implements
// it: a callback is written with its ack or not at all, claimed once per
// lease, retried, and finished into its history entry. They run on the
// real clock, since a shared store leases on its own.

var outboxTests = []subtest[tickler.CallbackOutbox]{
	{"WrittenWithTheAckOrNotAtAll", func(t *testing.T, o tickler.CallbackOutbox) { testOutboxAtomic(t, o.(tickler.Store), o) }},
	{"OutlivesItsRecord", func(t *testing.T, o tickler.CallbackOutbox) { testOutboxOutlivesRecord(t, o.(tickler.Store), o) }},
	{"ClaimedOncePerLease", func(t *testing.T, o tickler.CallbackOutbox) { testOutboxLease(t, o.(tickler.Store), o) }},
	{"RetryWaitsForItsNextAttempt", func(t *testing.T, o tickler.CallbackOutbox) { testOutboxRetry(t, o.(tickler.Store), o) }},
	{"FinishRecordsStatusInHistory", func(t *testing.T, o tickler.CallbackOutbox) { testOutboxFinish(t, o.(tickler.Store), o) }},
}

// Callback returns a callback of the record id, due now, whose payload is
// JSON with spacing that a store must keep byte for byte.
func Callback(cbID, id, outcomeID string) *tickler.Callback {
	key := tickler.IdempotencyKey(id, epoch)
	return &tickler.Callback{
		ID: cbID, ScheduledMessageID: id, OutcomeID: outcomeID,
		URL: "https://example.com/hook?x=" + cbID, Key: key,
		Payload:     []byte(fmt.Sprintf(`{"idempotency_key": %q, "status":"success", "note":"ünï <&>"}`, key)),
		NextAttempt: time.Now(),
	}
}

func claimCallbacks(t *testing.T, ob tickler.CallbackOutbox, lease time.Duration) []tickler.Callback {
	t.Helper()
	cbs, err := ob.ClaimCallbacks(ctx, tickler.ClaimCallbacksParams{Now: time.Now(), Limit: 100, Lease: lease})
	if err != nil {
		t.Fatalf("ClaimCallbacks: %v", err)
	}
	return cbs
}

func callbackIDs(cbs []tickler.Callback) []string {
	out := []string{}
	for _, c := range cbs {
		out = append(out, c.ID)
	}
	slices.Sort(out)
	return out
}

func outcome(id, rec string) *tickler.Outcome {
	return &tickler.Outcome{ID: id, ScheduledMessageID: rec, Occurrence: epoch, Status: tickler.StatusSuccess, Attempts: 1, SentAt: epoch}
}

func testOutboxAtomic(t *testing.T, s tickler.Store, ob tickler.CallbackOutbox) {
	mustCreate(t, s, Record("rec", "a", epoch))
	mustCreate(t, s, Record("trig", "a", epoch))
	// Refused acks write nothing.
	for _, a := range []tickler.AckParams{
		{ID: "rec", Version: 7, Next: epoch.Add(time.Hour), Callback: Callback("cb-conflict", "rec", "")},
		{ID: "rec", Version: 7, Callback: Callback("cb-conflict-remove", "rec", "")},
		{ID: "gone", Version: 1, Next: epoch.Add(time.Hour), Callback: Callback("cb-missing", "gone", "")},
		{ID: "gone", HistoryOnly: true, Callback: Callback("cb-missing-history", "gone", "")},
	} {
		if err := s.Ack(ctx, a); !errors.Is(err, tickler.ErrConflict) && !errors.Is(err, tickler.ErrNotFound) {
			t.Fatalf("Ack(%s, version %d) = %v, want a refusal", a.ID, a.Version, err)
		}
	}
	if got := claimCallbacks(t, ob, time.Hour); len(got) != 0 {
		t.Fatalf("refused acks wrote callbacks %v", callbackIDs(got))
	}
	// Acks that apply write theirs: advancing, with and without an
	// outcome, and history-only.
	want := Callback("cb-advance", "rec", "out-1")
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 1, Next: epoch.Add(time.Hour),
		Outcome: outcome("out-1", "rec"), HistoryLimit: 10, Callback: want})
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 2, Next: epoch.Add(2 * time.Hour), Callback: Callback("cb-no-history", "rec", "")})
	mustAck(t, s, tickler.AckParams{ID: "trig", HistoryOnly: true, Callback: Callback("cb-triggered", "trig", "")})
	// Written again (an ack retried after a failure it did not see): once.
	mustAck(t, s, tickler.AckParams{ID: "trig", HistoryOnly: true, Callback: Callback("cb-triggered", "trig", "")})
	got := claimCallbacks(t, ob, time.Hour)
	if ids := callbackIDs(got); !slices.Equal(ids, []string{"cb-advance", "cb-no-history", "cb-triggered"}) {
		t.Fatalf("claimed %v", ids)
	}
	for _, c := range got {
		if c.ID != want.ID {
			continue
		}
		if c.ScheduledMessageID != want.ScheduledMessageID || c.OutcomeID != want.OutcomeID || c.URL != want.URL ||
			c.Key != want.Key || string(c.Payload) != string(want.Payload) || c.Attempts != 0 {
			t.Fatalf("claimed %+v\nwant    %+v", c, *want)
		}
		if c.NextAttempt.Before(time.Now().Add(30 * time.Minute)) {
			t.Fatalf("claimed with a lease of an hour, due again at %v", c.NextAttempt)
		}
	}
}

func testOutboxOutlivesRecord(t *testing.T, s tickler.Store, ob tickler.CallbackOutbox) {
	mustCreate(t, s, Record("one", "a", epoch))
	mustCreate(t, s, Record("del", "a", epoch))
	// An ack that removes a one-time record keeps its callback.
	mustAck(t, s, tickler.AckParams{ID: "one", Version: 1, Callback: Callback("cb-one", "one", "")})
	mustAck(t, s, tickler.AckParams{ID: "del", Version: 1, Next: epoch.Add(time.Hour),
		Outcome: outcome("out-del", "del"), HistoryLimit: 10, Callback: Callback("cb-del", "del", "out-del")})
	if err := s.Delete(ctx, "", "del"); err != nil {
		t.Fatal(err)
	}
	got := claimCallbacks(t, ob, time.Hour)
	if ids := callbackIDs(got); !slices.Equal(ids, []string{"cb-del", "cb-one"}) {
		t.Fatalf("claimed %v after their records went", ids)
	}
	// Finishing one whose record is gone has no history to write to.
	for _, id := range []string{"cb-del", "cb-one"} {
		if err := ob.FinishCallback(ctx, tickler.FinishCallbackParams{ID: id, Sent: true, Attempts: 1, StatusCode: 200, Now: time.Now()}); err != nil {
			t.Fatalf("FinishCallback(%s): %v", id, err)
		}
	}
}

func testOutboxLease(t *testing.T, s tickler.Store, ob tickler.CallbackOutbox) {
	for i := range 5 {
		id := fmt.Sprintf("r%d", i)
		mustCreate(t, s, Record(id, "a", epoch))
		mustAck(t, s, tickler.AckParams{ID: id, Version: 1, Next: epoch.Add(time.Hour), Callback: Callback("cb-"+id, id, "")})
	}
	first, err := ob.ClaimCallbacks(ctx, tickler.ClaimCallbacksParams{Now: time.Now(), Limit: 3, Lease: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rest := claimCallbacks(t, ob, time.Hour)
	if len(first) != 3 || len(rest) != 2 {
		t.Fatalf("claims of limit 3 then 100 got %d then %d, want 3 then 2", len(first), len(rest))
	}
	if all := append(callbackIDs(first), callbackIDs(rest)...); len(slices.Compact(slices.Sorted(slices.Values(all)))) != 5 {
		t.Fatalf("claimed %v: one twice", all)
	}
	if again := claimCallbacks(t, ob, time.Hour); len(again) != 0 {
		t.Fatalf("claimed again within the lease: %v", callbackIDs(again))
	}

	// A short lease ends: whoever claims next gets the callback again,
	// as it was (the sender holding it may have died).
	mustCreate(t, s, Record("short", "a", epoch))
	mustAck(t, s, tickler.AckParams{ID: "short", Version: 1, Next: epoch.Add(time.Hour), Callback: Callback("cb-short", "short", "")})
	if got := claimCallbacks(t, ob, 50*time.Millisecond); !slices.Equal(callbackIDs(got), []string{"cb-short"}) {
		t.Fatalf("claimed %v, want [cb-short]", callbackIDs(got))
	}
	deadline := time.Now().Add(WaitTimeout)
	for {
		got := claimCallbacks(t, ob, time.Hour)
		if len(got) == 1 && got[0].ID == "cb-short" {
			break
		}
		if len(got) != 0 || time.Now().After(deadline) {
			t.Fatalf("after the lease ended, claimed %v, want [cb-short]", callbackIDs(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testOutboxRetry(t *testing.T, s tickler.Store, ob tickler.CallbackOutbox) {
	mustCreate(t, s, Record("rec", "a", epoch))
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 1, Next: epoch.Add(time.Hour), Callback: Callback("cb", "rec", "")})
	claimCallbacks(t, ob, time.Hour)
	now := time.Now()
	err := ob.FinishCallback(ctx, tickler.FinishCallbackParams{ID: "cb", Attempts: 1, StatusCode: 503, Err: "503",
		NextAttempt: now.Add(time.Hour), Now: now})
	if err != nil {
		t.Fatalf("FinishCallback(retry in an hour): %v", err)
	}
	if got := claimCallbacks(t, ob, time.Hour); len(got) != 0 {
		t.Fatalf("a retry due in an hour claimed now: %v", callbackIDs(got))
	}
	now = time.Now()
	err = ob.FinishCallback(ctx, tickler.FinishCallbackParams{ID: "cb", Attempts: 2, Err: "timeout", NextAttempt: now.Add(-time.Second), Now: now})
	if err != nil {
		t.Fatalf("FinishCallback(retry now): %v", err)
	}
	got := claimCallbacks(t, ob, time.Hour)
	if len(got) != 1 || got[0].ID != "cb" || got[0].Attempts != 2 {
		t.Fatalf("claimed %+v, want cb with 2 attempts", got)
	}
	if h := history(t, s, "rec", 0, 10); len(h.Outcomes) != 0 {
		t.Fatalf("a retry wrote history: %+v", h.Outcomes)
	}
}

func testOutboxFinish(t *testing.T, s tickler.Store, ob tickler.CallbackOutbox) {
	mustCreate(t, s, Record("rec", "a", epoch))
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 1, Next: epoch.Add(time.Hour),
		Outcome: outcome("out-1", "rec"), HistoryLimit: 10, Callback: Callback("cb-1", "rec", "out-1")})
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 2, Next: epoch.Add(2 * time.Hour),
		Outcome: outcome("out-2", "rec"), HistoryLimit: 10, Callback: Callback("cb-2", "rec", "out-2")})
	mustAck(t, s, tickler.AckParams{ID: "rec", Version: 3, Next: epoch.Add(3 * time.Hour),
		Outcome: outcome("out-3", "rec"), HistoryLimit: 10})
	claimCallbacks(t, ob, time.Hour)
	now := time.Now()
	if err := ob.FinishCallback(ctx, tickler.FinishCallbackParams{ID: "cb-1", Sent: true, Attempts: 2, StatusCode: 204, Now: now}); err != nil {
		t.Fatal(err)
	}
	if err := ob.FinishCallback(ctx, tickler.FinishCallbackParams{ID: "cb-2", Attempts: 4, StatusCode: 500, Err: "500 Internal Server Error", Now: now}); err != nil {
		t.Fatal(err)
	}
	want := map[string]*tickler.CallbackStatus{
		"out-1": {Status: tickler.CallbackSent, Attempts: 2, StatusCode: 204},
		"out-2": {Status: tickler.CallbackFailed, Attempts: 4, StatusCode: 500, Error: "500 Internal Server Error"},
		"out-3": nil,
	}
	h := history(t, s, "rec", 0, 10)
	if len(h.Outcomes) != 3 {
		t.Fatalf("history has %d entries, want 3", len(h.Outcomes))
	}
	for _, o := range h.Outcomes {
		if g, w := jsonOf(t, o.Callback), jsonOf(t, want[o.ID]); g != w {
			t.Fatalf("outcome %s: callback %s, want %s", o.ID, g, w)
		}
		if o.Status != tickler.StatusSuccess || o.Attempts != 1 || !o.Occurrence.Equal(epoch) {
			t.Fatalf("finishing changed the rest of outcome %s: %+v", o.ID, o)
		}
	}
	if got := claimCallbacks(t, ob, time.Hour); len(got) != 0 {
		t.Fatalf("finished callbacks still claimed: %v", callbackIDs(got))
	}
	for _, id := range []string{"cb-1", "cb-2", "never"} {
		if err := ob.FinishCallback(ctx, tickler.FinishCallbackParams{ID: id, Sent: true, Now: time.Now()}); !errors.Is(err, tickler.ErrNotFound) {
			t.Fatalf("FinishCallback(%s) again = %v, want ErrNotFound", id, err)
		}
	}
}
