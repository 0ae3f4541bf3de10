// Package memory is a [tickler.Store] that keeps everything in process
// memory. It is fast and loses everything when the process exits: use it in
// tests, and where schedules need not survive a restart.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/tickler-go/tickler"
)

// Store is an in-memory [tickler.Store]. Its zero value is not usable; call
// [New]. It is safe for concurrent use.
type Store struct {
	mu      sync.RWMutex
	recs    map[string]*tickler.Record
	sizes   map[string]int64 // tickler.RecordSize of each record
	byAgent map[string]*agentIndex
	all     *btree.BTreeG[string] // every id, in order
	due     *btree.BTreeG[dueKey]
	history map[string][]tickler.Outcome // oldest first
	// The callback outbox (outbox.go): callbacks by id, and their index
	// by next attempt.
	callbacks   map[string]*tickler.Callback
	callbackDue *btree.BTreeG[dueKey]
}

func idLess(a, b string) bool { return a < b }

// agentIndex is one agent's ids, in order, for List. A removal only counts
// the id as stale: List and compact skip an id whose record is gone or
// belongs to another agent now, and the tree is rebuilt from its live ids
// once the stale ones outnumber them. A B-tree delete was half the cost
// of a removal.
type agentIndex struct {
	ids   *btree.BTreeG[string]
	live  int   // ids whose record exists and belongs to the agent
	stale int   // ids left in the tree by removals
	bytes int64 // the sizes of the live records, for MaxBytesPerAgent
}

// liveFor reports whether the record id exists and belongs to agent; s.mu
// is held.
func (s *Store) liveFor(agent, id string) bool {
	r, ok := s.recs[id]
	return ok && r.AgentID == agent
}

// compact rebuilds ix from its live ids; s.mu is held.
func (s *Store) compact(agent string, ix *agentIndex) {
	ids := btree.NewG(32, idLess)
	ix.ids.Ascend(func(id string) bool {
		if s.liveFor(agent, id) {
			ids.ReplaceOrInsert(id)
		}
		return true
	})
	ix.ids, ix.live, ix.stale = ids, ids.Len(), 0
}

type dueKey struct {
	at int64 // Unix nanoseconds
	id string
}

func dueLess(a, b dueKey) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.id < b.id
}

// New returns an empty store.
func New() *Store {
	return &Store{
		recs:    make(map[string]*tickler.Record),
		sizes:   make(map[string]int64),
		byAgent: make(map[string]*agentIndex),
		all:     btree.NewG(32, idLess),
		due:     btree.NewG(32, dueLess),
		history: make(map[string][]tickler.Outcome),

		callbacks:   make(map[string]*tickler.Callback),
		callbackDue: btree.NewG(32, dueLess),
	}
}

var (
	_ tickler.AdminStore     = (*Store)(nil)
	_ tickler.CallbackOutbox = (*Store)(nil)
	_ tickler.BatchCreator   = (*Store)(nil)
)

// Create implements [tickler.Store]. The per-agent limits are checked
// under the store's lock, with the insert: the record count and byte
// total of each agent are kept as records come and go.
func (s *Store) Create(ctx context.Context, r *tickler.Record, p tickler.CreateParams) error {
	c := r.Clone()
	c.Version = 1
	size, err := tickler.RecordSize(c)
	if err != nil {
		return err
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
	if ix := s.byAgent[agent]; ix != nil {
		have, bytes = ix.live, ix.bytes
	}
	if p.MaxPerAgent > 0 && have+n > p.MaxPerAgent {
		return fmt.Errorf("%w: agent %q has %d scheduled messages, %d more would pass %d",
			tickler.ErrLimitExceeded, agent, have, n, p.MaxPerAgent)
	}
	if p.MaxBytesPerAgent > 0 && bytes+size > p.MaxBytesPerAgent {
		return fmt.Errorf("%w: agent %q has %d bytes of scheduled messages, %d more would pass %d",
			tickler.ErrLimitExceeded, agent, bytes, size, p.MaxBytesPerAgent)
	}
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
		var err error
		if sizes[i], err = tickler.RecordSize(cs[i]); err != nil {
			return err
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

// insert adds c, whose id is free and whose RecordSize is size; s.mu is
// held.
func (s *Store) insert(c *tickler.Record, size int64) {
	s.recs[c.ID] = c
	s.sizes[c.ID] = size
	ix := s.byAgent[c.AgentID]
	if ix == nil {
		ix = &agentIndex{ids: btree.NewG(32, idLess)}
		s.byAgent[c.AgentID] = ix
	}
	if _, was := ix.ids.ReplaceOrInsert(c.ID); was {
		ix.stale-- // a removed id created again
	}
	ix.live++
	ix.bytes += size
	s.all.ReplaceOrInsert(c.ID)
	if !c.Next.IsZero() {
		s.due.ReplaceOrInsert(dueKey{c.Next.UnixNano(), c.ID})
	}
}

// Get implements [tickler.Store].
func (s *Store) Get(ctx context.Context, agentID, id string) (*tickler.Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.recs[id]
	if !ok || (agentID != "" && r.AgentID != agentID) {
		return nil, tickler.ErrNotFound
	}
	return r.Clone(), nil
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
	ix.ids.AscendGreaterOrEqual(after, func(id string) bool {
		if id == after || !s.liveFor(p.AgentID, id) {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, s.recs[id].Clone())
		return true
	})
	return tickler.ListResult{Records: out, More: more}, nil
}

// Delete implements [tickler.Store].
func (s *Store) Delete(ctx context.Context, agentID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	if !ok || (agentID != "" && r.AgentID != agentID) {
		return tickler.ErrNotFound
	}
	s.remove(r)
	return nil
}

// remove deletes r with its history and index entries; s.mu is held.
func (s *Store) remove(r *tickler.Record) {
	size := s.sizes[r.ID]
	delete(s.recs, r.ID)
	delete(s.sizes, r.ID)
	delete(s.history, r.ID)
	s.all.Delete(r.ID)
	if ix := s.byAgent[r.AgentID]; ix != nil {
		ix.live--
		ix.bytes -= size
		ix.stale++
		switch {
		case ix.live == 0:
			delete(s.byAgent, r.AgentID)
		case ix.stale > ix.live && ix.stale > 1024:
			s.compact(r.AgentID, ix)
		}
	}
	if !r.Next.IsZero() {
		s.due.Delete(dueKey{r.Next.UnixNano(), r.ID})
	}
}

// Claim implements [tickler.Store].
func (s *Store) Claim(ctx context.Context, p tickler.ClaimParams) (tickler.ClaimResult, error) {
	after, until, limit := p.After, p.Until, p.Limit
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []tickler.Due
	var next time.Time
	start := dueKey{at: -1 << 63}
	if after.ID != "" {
		start = dueKey{after.At.UnixNano(), after.ID}
	}
	end := until.UnixNano()
	s.due.AscendGreaterOrEqual(start, func(k dueKey) bool {
		if after.ID != "" && k == start {
			return true
		}
		if k.at > end {
			next = time.Unix(0, k.at).UTC()
			return false
		}
		if len(out) == limit {
			return false
		}
		r := s.recs[k.id]
		out = append(out, tickler.Due{ID: k.id, At: r.Next, Version: r.Version})
		return true
	})
	return tickler.ClaimResult{Due: out, Next: next}, nil
}

// Ack implements [tickler.Store].
func (s *Store) Ack(ctx context.Context, a tickler.AckParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[a.ID]
	if !ok {
		return tickler.ErrNotFound
	}
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
		s.remove(r)
		return nil
	}
	if !r.Next.IsZero() {
		s.due.Delete(dueKey{r.Next.UnixNano(), r.ID})
	}
	r.Next = a.Next
	r.Version++
	s.due.ReplaceOrInsert(dueKey{r.Next.UnixNano(), r.ID})
	s.appendHistory(r.ID, a)
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
	case !ok || (c.AgentID != "" && old.AgentID != c.AgentID):
		return tickler.ErrNotFound
	case old.Version != c.Version:
		return tickler.ErrConflict
	}
	c.AgentID = old.AgentID // an empty agent id matches, and changes nothing
	if grown := size - s.sizes[c.ID]; grown > 0 {
		if err := s.checkAgent(c.AgentID, 0, grown, tickler.CreateParams{MaxBytesPerAgent: p.MaxBytesPerAgent}); err != nil {
			return err
		}
	}
	if !old.Next.IsZero() {
		s.due.Delete(dueKey{old.Next.UnixNano(), old.ID})
	}
	c.Version++
	s.recs[c.ID] = c
	if ix := s.byAgent[c.AgentID]; ix != nil {
		ix.bytes += size - s.sizes[c.ID]
	}
	s.sizes[c.ID] = size
	if !c.Next.IsZero() {
		s.due.ReplaceOrInsert(dueKey{c.Next.UnixNano(), c.ID})
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
	if r, ok := s.recs[p.ID]; !ok || (p.AgentID != "" && r.AgentID != p.AgentID) {
		return tickler.HistoryResult{}, tickler.ErrNotFound
	}
	h := s.history[p.ID]
	var out []tickler.Outcome
	for i := len(h) - 1 - p.Offset; i >= 0 && len(out) < p.Limit; i-- {
		out = append(out, h[i].Clone()) // callers may change what they get
	}
	return tickler.HistoryResult{Outcomes: out, More: len(h)-p.Offset-len(out) > 0}, nil
}
