package letta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/deliver/internal/httpx"
)

// run is the part of Letta's Run that the polling reads.
type run struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	StopReason *string `json:"stop_reason"`
}

// wait polls the run that the async POST answered until it ends.
func (l *Deliverer) wait(ctx context.Context, resp *httpx.Response) (tickler.Result, error) {
	var r run
	if resp.Truncated || json.Unmarshal(resp.Body, &r) != nil || r.ID == "" {
		return tickler.Result{}, errors.New("letta: the async answer is not a run with an id")
	}
	u := httpx.JoinPath(l.base, "v1", "runs", r.ID)
	body := resp.Body
	delay := l.poll
	for {
		switch r.Status {
		case "completed":
			res := tickler.Result{RunID: r.ID}
			if json.Valid(body) {
				res.Response = json.RawMessage(body)
			}
			return res, nil
		case "failed":
			return tickler.Result{RunID: r.ID}, fmt.Errorf("letta: run %s failed%s", r.ID, stopReason(r))
		case "cancelled":
			return tickler.Result{RunID: r.ID}, tickler.Permanent(fmt.Errorf("letta: run %s was cancelled%s", r.ID, stopReason(r)))
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return tickler.Result{RunID: r.ID}, fmt.Errorf("letta: waiting for run %s: %w", r.ID, ctx.Err())
		}
		delay = l.poll
		resp, err := l.do(ctx, http.MethodGet, u, nil)
		if ctx.Err() != nil {
			return tickler.Result{RunID: r.ID}, fmt.Errorf("letta: waiting for run %s: %w", r.ID, ctx.Err())
		}
		if err != nil {
			var pe *tickler.PermanentError
			if errors.As(err, &pe) {
				return tickler.Result{RunID: r.ID}, fmt.Errorf("letta: waiting for run %s: %w", r.ID, err)
			}
			var ra *tickler.RetryAfterError
			if errors.As(err, &ra) {
				delay = max(delay, ra.Delay)
			}
			continue // a transient failure: poll again
		}
		var next run
		if resp.Truncated || json.Unmarshal(resp.Body, &next) != nil {
			return tickler.Result{RunID: r.ID}, fmt.Errorf("letta: waiting for run %s: the answer is not a run", r.ID)
		}
		if next.ID == "" {
			next.ID = r.ID
		}
		r, body = next, resp.Body
	}
}

func stopReason(r run) string {
	if r.StopReason == nil || *r.StopReason == "" {
		return ""
	}
	return " (stop_reason " + *r.StopReason + ")"
}
