package suite

import (
	"container/heap"
	"sync"
	"time"
)

// The baseline is the practical floor: a container/heap of (due, id) with
// an index from id to heap position, one time.Timer, one goroutine that
// fires jobs inline. No persistence, no payload, no retries.
var baselineFactory = Factory{
	Name:     "baseline",
	Parallel: 1,
	Note:     "container/heap + map index + one time.Timer; fires inline",
	New: func(env Env) (Lib, error) {
		return &baseline{byID: make(map[int]*bitem), fired: env.Fired}, nil
	},
}

type bitem struct {
	at    int64 // Unix nanoseconds
	id    int
	index int
}

type bheap []*bitem

func (h bheap) Len() int { return len(h) }
func (h bheap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].id < h[j].id
}
func (h bheap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *bheap) Push(x any) {
	e := x.(*bitem)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *bheap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

type baseline struct {
	mu    sync.Mutex
	h     bheap
	byID  map[int]*bitem
	fired func(int)
	kick  chan struct{}
	done  chan struct{}
	quit  chan struct{}
}

func (b *baseline) Start() error {
	b.kick = make(chan struct{}, 1)
	b.done = make(chan struct{})
	b.quit = make(chan struct{})
	go b.loop()
	return nil
}

func (b *baseline) loop() {
	defer close(b.done)
	t := time.NewTimer(time.Hour)
	var due []int
	for {
		b.mu.Lock()
		now := time.Now().UnixNano()
		due = due[:0]
		for len(b.h) > 0 && b.h[0].at <= now {
			e := heap.Pop(&b.h).(*bitem)
			delete(b.byID, e.id)
			due = append(due, e.id)
		}
		wait := time.Hour
		if len(b.h) > 0 {
			wait = time.Duration(b.h[0].at - now)
		}
		b.mu.Unlock()
		for _, id := range due {
			b.fired(id)
		}
		if len(due) > 0 {
			continue // time moved while firing: look again
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-b.kick:
			t.Stop()
		case <-b.quit:
			t.Stop()
			return
		}
	}
}

func (b *baseline) Add(id int, at time.Time) error {
	e := &bitem{at: at.UnixNano(), id: id}
	b.mu.Lock()
	b.byID[id] = e
	heap.Push(&b.h, e)
	head := e.index == 0
	b.mu.Unlock()
	if head {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (b *baseline) Remove(id int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.byID[id]; ok {
		heap.Remove(&b.h, e.index)
		delete(b.byID, id)
	}
	return nil
}

func (b *baseline) Stop() error {
	close(b.quit)
	<-b.done
	return nil
}
