package bolt_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/ticklertest"
)

// An occurrence acked with a callback keeps it across a restart: the
// store is closed between the ack and any send, and the reopened store
// hands the callback, with its occurrence's key, to the next claim.
func TestCallbackSurvivesReopenBetweenAckAndSend(t *testing.T) {
	t.Parallel()
	st := open(t)
	b := ticklertest.NewWith(t, ticklertest.Config{Store: st, Options: []tickler.Option{tickler.WithCallbackOutbox()}})
	sm, err := b.Scheduler.Create(ctx, "agent", tickler.CreateRequest{
		Messages: userText("hi"), Schedule: tickler.Cron("* * * * *"), CallbackURL: "https://example.com/hook",
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Advance(time.Minute)
	occ := ticklertest.Epoch().Add(time.Minute)
	stop(t, b)

	st = reopen(t, st)
	cbs, err := st.ClaimCallbacks(ctx, tickler.ClaimCallbacksParams{Now: occ.Add(time.Hour), Limit: 10, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	key := tickler.IdempotencyKey(sm.ID, occ)
	if len(cbs) != 1 || cbs[0].Key != key || cbs[0].URL != "https://example.com/hook" {
		t.Fatalf("claimed %+v after reopening, want one callback keyed %s", cbs, key)
	}
	var p tickler.CallbackPayload
	if err := json.Unmarshal(cbs[0].Payload, &p); err != nil || p.IdempotencyKey != key || p.Status != tickler.StatusSuccess || p.Attempts != 1 {
		t.Fatalf("payload %s (%v)", cbs[0].Payload, err)
	}
	if err := st.FinishCallback(ctx, tickler.FinishCallbackParams{ID: cbs[0].ID, Sent: true, Attempts: 1, StatusCode: 200, Now: occ.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h, err := st.History(ctx, tickler.HistoryParams{ID: sm.ID, Limit: 1})
	if err != nil || len(h.Outcomes) != 1 || h.Outcomes[0].Callback == nil || h.Outcomes[0].Callback.Status != tickler.CallbackSent {
		t.Fatalf("history after the callback was sent: %+v, %v", h.Outcomes, err)
	}
}
