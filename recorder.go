package tickler

import (
	"context"
	"fmt"
	"sync"
)

// The recorder: over a store that is a BatchAcker, the outcomes of
// occurrences are stored by one goroutine in batches, many per call (one
// fsync for a durable store), instead of one Ack per worker. A worker that
// delivered hands its pending ack to the recorder and is free for the next
// occurrence; the job stays in flight (its record is neither re-offered
// nor claimable twice) until the recorder has stored the ack and settled
// the job, exactly as a worker settles it after Store.Ack.

// maxAckBatch bounds the acks of one AckMany.
const maxAckBatch = 4096

// recorder is the queue of pending acks and its goroutine's signal.
type recorder struct {
	mu    sync.Mutex
	queue []*job // jobs whose retry.ack waits to be stored
	kick  chan struct{}
}

func newRecorder() *recorder { return &recorder{kick: make(chan struct{}, 1)} }

// add queues j, whose j.retry.ack is pending.
func (r *recorder) add(j *job) {
	r.mu.Lock()
	r.queue = append(r.queue, j)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// take returns up to maxAckBatch queued jobs, oldest first, reusing buf.
func (r *recorder) take(buf []*job) []*job {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(r.queue), maxAckBatch)
	buf = append(buf[:0], r.queue[:n]...)
	clear(r.queue[:n])
	r.queue = r.queue[n:]
	if len(r.queue) == 0 {
		r.queue = r.queue[:0:0] // let the backing array go after a burst
	}
	return buf
}

// runRecorder stores queued acks until r.kick is closed, which happens
// once no job is in flight (d.wg), so none is left queued.
func (d *dispatcher) runRecorder(r *recorder) {
	ctx := context.WithoutCancel(d.runCtx)
	var jobs []*job
	var params []AckParams
	for range r.kick {
		for {
			jobs = r.take(jobs)
			if len(jobs) == 0 {
				break
			}
			params = params[:0]
			for _, j := range jobs {
				params = append(params, j.retry.ack.params)
			}
			errs := d.cfg.batch.AckMany(ctx, params)
			if len(errs) != len(jobs) {
				// A store that breaks the contract: none counts as stored.
				err := fmt.Errorf("tickler: AckMany returned %d results for %d acks", len(errs), len(jobs))
				errs = make([]error, len(jobs))
				for i := range errs {
					errs[i] = err
				}
			}
			for i, j := range jobs {
				d.settle(j, d.acked(j, j.retry, j.retry.ack, errs[i]))
			}
			clear(jobs)
		}
	}
}
