// Package memory is a [tickler.Store] that keeps everything in process
// memory. It is fast and loses everything when the process exits: use it in
// tests, and where schedules need not survive a restart.
package memory

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/tickler-go/tickler"
)

// Store is an in-memory [tickler.Store]. Its zero value is not usable; call
// [New]. It is safe for concurrent use.
//
// A record it stores is never changed: a change (Update, an ack that
// advances it) stores a new one in its place. That is what lets View hand
// the dispatcher the stored record itself ([tickler.RecordViewer]).
type Store struct {
	mu      sync.RWMutex
	recs    map[string]slot
	byAgent map[string]*idIndex
	all     idIndex // every id, for ListAll without an agent
	due     dueIndex
	history map[string][]tickler.Outcome // oldest first
	// The callback outbox (outbox.go): callbacks by id, and their index
	// by next attempt.
	callbacks   map[string]*tickler.Callback
	callbackDue *btree.BTreeG[dueKey]
}

// slot is a stored record, its size and its due-index instant.
type slot struct {
	rec *tickler.Record // never changed once stored
	// size is tickler.RecordSize of rec, or unsized if it was not
	// measured: a record's size is measured only once its agent's bytes
	// are counted (idIndex.sized).
	size int64
	// next is rec.Next in Unix nanoseconds, its due-index key, or noNext:
	// kept beside the record so that checking and rebuilding the due
	// index reads the map alone.
	next int64
}

const (
	unsized = -1
	noNext  = math.MinInt64
)

// newSlot returns the slot of r, of size size.
func newSlot(r *tickler.Record, size int64) slot {
	if r.Next.IsZero() {
		return slot{r, size, noNext}
	}
	return slot{r, size, r.Next.UnixNano()}
}

// liveFor reports whether the record id exists and belongs to agent ("":
// any agent); s.mu is held.
func (s *Store) liveFor(agent, id string) bool {
	sl, ok := s.recs[id]
	return ok && (agent == "" || sl.rec.AgentID == agent)
}

// New returns an empty store.
func New() *Store {
	return &Store{
		recs:    make(map[string]slot),
		byAgent: make(map[string]*idIndex),
		due:     newDueIndex(),
		history: make(map[string][]tickler.Outcome),

		callbacks:   make(map[string]*tickler.Callback),
		callbackDue: btree.NewG(32, dueLess),
	}
}

var (
	_ tickler.AdminStore     = (*Store)(nil)
	_ tickler.CallbackOutbox = (*Store)(nil)
	_ tickler.BatchCreator   = (*Store)(nil)
	_ tickler.RecordViewer   = (*Store)(nil)
)

// Create implements [tickler.Store]. The per-agent limits are checked
// under the store's lock, with the insert: the record count and byte
// total of each agent are kept as records come and go.
func (s *Store) Create(ctx context.Context, r *tickler.Record, p tickler.CreateParams) error {
	c := r.Clone()
	c.Version = 1
	size := int64(unsized)
	if p.MaxBytesPerAgent > 0 {
		var err error
		if size, err = tickler.RecordSize(c); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[c.ID]; ok {
		return tickler.ErrExists
	}
	if err := s.checkAgent(c.AgentID, 1, size, p); err != nil {
		return err
	}
	s.insert(c, size)
	r.Version = 1
	return nil
}

// checkAgent returns an error matching ErrLimitExceeded if n more records
// of size bytes in all would take the agent past a limit of p; s.mu is
// held.
func (s *Store) checkAgent(agent string, n int, size int64, p tickler.CreateParams) error {
	var have int
	var bytes int64
	ix := s.byAgent[agent]
	if ix != nil {
		have = ix.live
	}
	if p.MaxPerAgent > 0 && have+n > p.MaxPerAgent {
		return fmt.Errorf("%w: agent %q has %d scheduled messages, %d more would pass %d",
			tickler.ErrLimitExceeded, agent, have, n, p.MaxPerAgent)
	}
	if p.MaxBytesPerAgent <= 0 {
		return nil
	}
	if ix != nil {
		if err := s.measure(agent, ix); err != nil {
			return err
		}
		bytes = ix.bytes
	}
	if bytes+size > p.MaxBytesPerAgent {
		return fmt.Errorf("%w: agent %q has %d bytes of scheduled messages, %d more would pass %d",
			tickler.ErrLimitExceeded, agent, bytes, size, p.MaxBytesPerAgent)
	}
	return nil
}

// measure makes ix sized: it measures every live record of the agent not
// measured yet, and counts their bytes; s.mu is held.
func (s *Store) measure(agent string, ix *idIndex) error {
	if ix.sized {
		return nil
	}
	var total int64
	var err error
	ix.ascend("", func(id string) bool {
		sl, ok := s.recs[id]
		if !ok || sl.rec.AgentID != agent {
			return true
		}
		if sl.size == unsized {
			if sl.size, err = tickler.RecordSize(sl.rec); err != nil {
				return false
			}
			s.recs[id] = sl
		}
		total += sl.size
		return true
	})
	if err != nil {
		return err
	}
	ix.sized, ix.bytes = true, total
	return nil
}

// CreateMany implements [tickler.BatchCreator]: it stores every record of
// rs or, if an id is taken or repeats or an agent would pass
// p.MaxPerAgent, none.
func (s *Store) CreateMany(ctx context.Context, rs []*tickler.Record, p tickler.CreateParams) error {
	cs := make([]*tickler.Record, len(rs))
	sizes := make([]int64, len(rs))
	for i, r := range rs {
		cs[i] = r.Clone()
		cs[i].Version = 1
		sizes[i] = unsized
		if p.MaxBytesPerAgent > 0 {
			var err error
			if sizes[i], err = tickler.RecordSize(cs[i]); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type batch struct {
		n     int
		bytes int64
	}
	added := make(map[string]batch) // per agent
	seen := make(map[string]bool, len(cs))
	for i, c := range cs {
		if _, ok := s.recs[c.ID]; ok || seen[c.ID] {
			return tickler.ErrExists
		}
		seen[c.ID] = true
		a := added[c.AgentID]
		added[c.AgentID] = batch{a.n + 1, a.bytes + sizes[i]}
	}
	for agent, a := range added {
		if err := s.checkAgent(agent, a.n, a.bytes, p); err != nil {
			return err
		}
	}
	for i, c := range cs {
		s.insert(c, sizes[i])
	}
	for _, r := range rs {
		r.Version = 1
	}
	return nil
}

// insert adds c, whose id is free and whose RecordSize is size (or
// unsized); s.mu is held.
func (s *Store) insert(c *tickler.Record, size int64) {
	ix := s.byAgent[c.AgentID]
	if ix == nil {
		ix = &idIndex{}
		s.byAgent[c.AgentID] = ix
	}
	if ix.sized && size == unsized {
		size, _ = tickler.RecordSize(c) // a message that was created encodes
	}
	s.recs[c.ID] = newSlot(c, size)
	ix.add(c.ID)
	if ix.sized {
		ix.bytes += size
	}
	s.all.add(c.ID)
	if !c.Next.IsZero() {
		s.due.put(dueKey{c.Next.UnixNano(), c.ID})
	}
}

// dueLive reports whether k is the key of a record due at its instant;
// s.mu is held.
func (s *Store) dueLive(k dueKey) bool {
	sl, ok := s.recs[k.id]
	return ok && sl.next == k.at
}

// dueKeys returns the due-index keys of every record, for rebuilding the
// index; s.mu is held.
func (s *Store) dueKeys() []dueKey {
	keys := make([]dueKey, 0, len(s.recs))
	for id, sl := range s.recs {
		if sl.next != noNext {
			keys = append(keys, dueKey{sl.next, id})
		}
	}
	return keys
}

// Get implements [tickler.Store].
func (s *Store) Get(ctx context.Context, agentID, id string) (*tickler.Record, error) {
	r, err := s.View(ctx, id)
	if err != nil || (agentID != "" && r.AgentID != agentID) {
		return nil, tickler.ErrNotFound
	}
	return r.Clone(), nil
}

// View implements [tickler.RecordViewer]: it returns the stored record
// itself, which the store never changes.
func (s *Store) View(ctx context.Context, id string) (*tickler.Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sl, ok := s.recs[id]
	if !ok {
		return nil, tickler.ErrNotFound
	}
	return sl.rec, nil
}

// List implements [tickler.Store].
func (s *Store) List(ctx context.Context, p tickler.ListParams) (tickler.ListResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*tickler.Record
	more := false
	after, limit := p.After, p.Limit
	ix := s.byAgent[p.AgentID]
	if ix == nil {
		return tickler.ListResult{}, nil
	}
	ix.ascend(after, func(id string) bool {
		if id == after || !s.liveFor(p.AgentID, id) {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, s.recs[id].rec.Clone())
		return true
	})
	return tickler.ListResult{Records: out, More: more}, nil
}

// Delete implements [tickler.Store].
func (s *Store) Delete(ctx context.Context, agentID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, ok := s.recs[id]
	if !ok || (agentID != "" && sl.rec.AgentID != agentID) {
		return tickler.ErrNotFound
	}
	s.remove(sl, false)
	return nil
}

// remove deletes the record of sl with its history and index entries;
// s.mu is held. Its due-index key is deleted if fired says the record was
// just fired (its key is then at the front of the index, where a delete is
// cheap, and behind every later claim, which would never meet it), and
// left stale otherwise (dueIndex).
func (s *Store) remove(sl slot, fired bool) {
	r := sl.rec
	delete(s.recs, r.ID)
	if len(s.history) > 0 {
		delete(s.history, r.ID)
	}
	if s.all.drop() {
		s.all.compact(func(id string) bool { return s.liveFor("", id) })
	}
	if ix := s.byAgent[r.AgentID]; ix != nil {
		if ix.sized {
			ix.bytes -= sl.size
		}
		switch {
		case ix.live == 1:
			delete(s.byAgent, r.AgentID)
		case ix.drop():
			ix.compact(func(id string) bool { return s.liveFor(r.AgentID, id) })
		}
	}
	switch {
	case r.Next.IsZero():
	case fired:
		s.due.keys.Delete(dueKey{r.Next.UnixNano(), r.ID})
	case s.due.leave():
		s.due.rebuild(s.dueKeys())
	}
}

// Claim implements [tickler.Store]. It deletes the stale keys of the due
// index that it meets (dueIndex), so it takes the write lock.
func (s *Store) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	after, until, limit := p.After, p.Until, p.Limit
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []tickler.Due
	var next time.Time
	var stale []dueKey
	start := dueKey{at: -1 << 63}
	if after.ID != "" {
		start = dueKey{after.At.UnixNano(), after.ID}
	}
	end := until.UnixNano()
	s.due.keys.AscendGreaterOrEqual(start, func(k dueKey) bool {
		if after.ID != "" && k == start {
			return true
		}
		if len(out) == limit {
			return false
		}
		sl, ok := s.recs[k.id]
		if !ok || sl.next != k.at {
			stale = append(stale, k)
			return true
		}
		if k.at > end {
			next = time.Unix(0, k.at).UTC()
			return false
		}
		out = append(out, tickler.Due{ID: k.id, At: sl.rec.Next, Version: sl.rec.Version})
		return true
	})
	s.due.drop(stale)
	return tickler.ClaimResult{Due: out, Next: next}, nil
}

// Ack implements [tickler.Store]. An ack that advances a record stores a
// copy of it with the new occurrence and version.
func (s *Store) Ack(ctx context.Context, a tickler.AckParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, ok := s.recs[a.ID]
	if !ok {
		return tickler.ErrNotFound
	}
	r := sl.rec
	if a.HistoryOnly {
		s.appendHistory(r.ID, a)
		s.putCallback(a.Callback)
		return nil
	}
	if r.Version != a.Version {
		return tickler.ErrConflict
	}
	s.putCallback(a.Callback)
	if a.Next.IsZero() {
		s.remove(sl, true)
		return nil
	}
	c := *r // shares the message, which no one changes
	c.Next = a.Next
	c.Version++
	s.recs[c.ID] = newSlot(&c, sl.size)
	if r.Next.IsZero() {
		s.due.put(dueKey{c.Next.UnixNano(), c.ID})
	} else {
		s.due.move(dueKey{r.Next.UnixNano(), r.ID}, dueKey{c.Next.UnixNano(), c.ID})
	}
	s.appendHistory(c.ID, a)
	return nil
}

// appendHistory appends a's outcome, if any, to the history of id; s.mu
// is held.
func (s *Store) appendHistory(id string, a tickler.AckParams) {
	if a.Outcome == nil || a.HistoryLimit <= 0 {
		return
	}
	o := a.Outcome.Clone() // keep nothing the caller passed
	h := append(s.history[id], o)
	if len(h) > a.HistoryLimit {
		h = append([]tickler.Outcome(nil), h[len(h)-a.HistoryLimit:]...)
	}
	s.history[id] = h
}

// Update implements [tickler.Store]. It keeps the agent's byte total
// exact, and refuses growth past p.MaxBytesPerAgent under the lock it
// writes with.
func (s *Store) Update(ctx context.Context, r *tickler.Record, p tickler.UpdateParams) error {
	c := r.Clone()
	size, err := tickler.RecordSize(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.recs[c.ID]
	switch {
	case !ok || (c.AgentID != "" && old.rec.AgentID != c.AgentID):
		return tickler.ErrNotFound
	case old.rec.Version != c.Version:
		return tickler.ErrConflict
	}
	c.AgentID = old.rec.AgentID // an empty agent id matches, and changes nothing
	if ix := s.byAgent[c.AgentID]; ix != nil && p.MaxBytesPerAgent > 0 {
		// Growth is checked against the agent's bytes: count them, and
		// with them the old record's size, if not counted yet.
		if err := s.measure(c.AgentID, ix); err != nil {
			return err
		}
		old = s.recs[c.ID]
		if grown := size - old.size; grown > 0 {
			if err := s.checkAgent(c.AgentID, 0, grown, tickler.CreateParams{MaxBytesPerAgent: p.MaxBytesPerAgent}); err != nil {
				return err
			}
		}
	}
	if !old.rec.Next.IsZero() {
		s.due.keys.Delete(dueKey{old.rec.Next.UnixNano(), c.ID})
	}
	c.Version++
	s.recs[c.ID] = newSlot(c, size)
	if ix := s.byAgent[c.AgentID]; ix != nil && ix.sized {
		ix.bytes += size - old.size
	}
	if !c.Next.IsZero() {
		s.due.put(dueKey{c.Next.UnixNano(), c.ID})
	}
	return nil
}

// Count implements [tickler.Store].
func (s *Store) Count(ctx context.Context, agentID string) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ix := s.byAgent[agentID]; ix != nil {
		return ix.live, nil
	}
	return 0, nil
}

// History implements [tickler.Store].
func (s *Store) History(ctx context.Context, p tickler.HistoryParams) (tickler.HistoryResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sl, ok := s.recs[p.ID]; !ok || (p.AgentID != "" && sl.rec.AgentID != p.AgentID) {
		return tickler.HistoryResult{}, tickler.ErrNotFound
	}
	h := s.history[p.ID]
	var out []tickler.Outcome
	for i := len(h) - 1 - p.Offset; i >= 0 && len(out) < p.Limit; i-- {
		out = append(out, h[i].Clone()) // callers may change what they get
	}
	return tickler.HistoryResult{Outcomes: out, More: len(h)-p.Offset-len(out) > 0}, nil
}
