package suite

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/bolt"
	"github.com/tickler-go/tickler/memory"
)

// tickler runs through its public API with default options: New, Start,
// Create with tickler.At, Delete, Stop. The job id travels in the message
// text and comes back in the Delivery.
var ticklerMemoryFactory = Factory{
	Name:     "tickler-memory",
	Parallel: 1,
	Note:     "tickler.New(memory.New(), ...), Create(At(t)), Delete",
	New: func(env Env) (Lib, error) {
		return newTickler(env, memory.New(), nil)
	},
}

// With the bolt store every Create and Delete returns after an fsync, so
// one caller measures the disk; the suite adds and removes with 64 callers
// that share commits, as a server's requests would.
var ticklerBoltFactory = Factory{
	Name:     "tickler-bolt",
	Parallel: 64,
	Note:     "tickler.New(bolt.Open(path), ...); 64 callers share fsyncs",
	New: func(env Env) (Lib, error) {
		path := filepath.Join(env.Dir, "tickler.db")
		open := func() (tickler.Store, func() error, error) {
			st, err := bolt.Open(path)
			if err != nil {
				return nil, nil, err
			}
			return st, st.Close, nil
		}
		st, closeStore, err := open()
		if err != nil {
			return nil, err
		}
		t, err := newTickler(env, st, closeStore)
		if err != nil {
			return nil, err
		}
		return &durableTickler{t, open}, nil
	},
}

// durableTickler is a tickler on a file, which can be stopped and reopened.
type durableTickler struct {
	*ticklerLib
	open func() (tickler.Store, func() error, error)
}

// Restart stops the scheduler, closes the store, and measures the time
// from opening the file again to a started scheduler, and the heap the
// reopened store and scheduler hold.
func (d *durableTickler) Restart() (time.Duration, int64, error) {
	if err := d.Stop(); err != nil {
		return 0, 0, err
	}
	d.s = nil
	before := Snapshot()
	start := time.Now()
	st, closeStore, err := d.open()
	if err != nil {
		return 0, 0, err
	}
	s, err := tickler.New(st, d.deliver)
	if err != nil {
		return 0, 0, err
	}
	if err := s.Start(context.Background()); err != nil {
		return 0, 0, err
	}
	took := time.Since(start)
	d.s, d.close = s, closeStore
	return took, int64(Snapshot().HeapAlloc) - int64(before.HeapAlloc), nil
}

const benchAgent = "bench-agent"

type ticklerLib struct {
	s       *tickler.Scheduler
	deliver tickler.Deliverer
	ids     []uuid.UUID // job id -> scheduled message id, allocated up front
	close   func() error
}

func newTickler(env Env, st tickler.Store, closeStore func() error) (*ticklerLib, error) {
	fired := env.Fired
	deliver := tickler.DelivererFunc(func(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
		id, err := strconv.Atoi(d.Message.Messages[0].Content.Text)
		if err != nil {
			return tickler.Result{}, err
		}
		fired(id)
		return tickler.Result{}, nil
	})
	s, err := tickler.New(st, deliver)
	if err != nil {
		return nil, err
	}
	return &ticklerLib{s: s, deliver: deliver, ids: make([]uuid.UUID, env.N), close: closeStore}, nil
}

func (t *ticklerLib) Start() error { return t.s.Start(context.Background()) }

func (t *ticklerLib) Add(id int, at time.Time) error {
	sm, err := t.s.Create(context.Background(), benchAgent, tickler.CreateRequest{
		Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text(strconv.Itoa(id))}},
		Schedule: tickler.At(at),
	})
	if err != nil {
		return err
	}
	u, err := uuid.Parse(sm.ID)
	if err != nil {
		return fmt.Errorf("tickler returned id %q: %w", sm.ID, err)
	}
	t.ids[id] = u
	return nil
}

// BulkChunk is how many schedules one CreateMany of AddMany carries.
const BulkChunk = 100_000

// AddMany adds the jobs ids, due at ats, with CreateMany in chunks of
// BulkChunk: each chunk is one atomic write (one commit with bolt).
func (t *ticklerLib) AddMany(ids []int, ats []time.Time) error {
	reqs := make([]tickler.CreateRequest, 0, min(len(ids), BulkChunk))
	texts := make([]string, 0, min(len(ids), BulkChunk))
	for start := 0; start < len(ids); start += BulkChunk {
		chunk := ids[start:min(start+BulkChunk, len(ids))]
		reqs, texts = reqs[:0], texts[:0]
		for _, id := range chunk {
			texts = append(texts, strconv.Itoa(id))
		}
		for i, id := range chunk {
			reqs = append(reqs, tickler.CreateRequest{
				Messages: []tickler.Message{{Role: tickler.RoleUser, Content: tickler.Text(texts[i])}},
				Schedule: tickler.At(ats[id]),
			})
		}
		sms, err := t.s.CreateMany(context.Background(), benchAgent, reqs)
		if err != nil {
			return err
		}
		for i, sm := range sms {
			u, err := uuid.Parse(sm.ID)
			if err != nil {
				return fmt.Errorf("tickler returned id %q: %w", sm.ID, err)
			}
			t.ids[chunk[i]] = u
		}
	}
	return nil
}

func (t *ticklerLib) Remove(id int) error {
	return t.s.Delete(context.Background(), benchAgent, t.ids[id].String())
}

func (t *ticklerLib) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := t.s.Stop(ctx)
	if t.close != nil {
		if cerr := t.close(); err == nil {
			err = cerr
		}
	}
	return err
}
