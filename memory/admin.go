package memory

import (
	"context"

	"github.com/tickler-go/tickler"
	"github.com/tickler-go/tickler/internal/newest"
)

// The reads of [tickler.AdminStore], each under the read lock: one
// consistent snapshot.

// ListAll implements [tickler.AdminStore], reading the agent's ids, or
// every id, in order.
func (s *Store) ListAll(ctx context.Context, p tickler.ListAllParams) (tickler.ListAllResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var res tickler.ListAllResult
	ids := &s.all
	if p.AgentID != "" {
		if ids = s.byAgent[p.AgentID]; ids == nil {
			return res, nil
		}
	}
	ids.ascend(p.After, func(id string) bool {
		if id == p.After {
			return true
		}
		sl, ok := s.recs[id]
		if !ok || (p.AgentID != "" && sl.rec.AgentID != p.AgentID) {
			return true // an id an index keeps after a delete
		}
		r := sl.rec
		last := s.last(id)
		if !p.Match(r, last) {
			return true
		}
		if len(res.Records) == p.Limit {
			res.More = true
			return false
		}
		res.Records = append(res.Records, tickler.AdminRecord{Record: r.Clone(), Last: last})
		return true
	})
	return res, nil
}

// last returns a copy of the newest outcome of id, or nil; s.mu is held.
func (s *Store) last(id string) *tickler.Outcome {
	h := s.history[id]
	if len(h) == 0 {
		return nil
	}
	o := h[len(h)-1].Clone()
	return &o
}

// RecentOutcomes implements [tickler.AdminStore]: it reads, from each
// history, the entries newer than those already found.
func (s *Store) RecentOutcomes(ctx context.Context, p tickler.RecentParams) (tickler.RecentResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	top := newest.New(p.Limit + 1)
	for id, h := range s.history {
		agent := s.recs[id].rec.AgentID
		for i := len(h) - 1; i >= 0; i-- {
			o := h[i]
			if p.Before != "" && o.ID >= p.Before {
				continue
			}
			if !top.Offer(tickler.AgentOutcome{AgentID: agent, Outcome: o}) {
				break // older entries of this history are older still
			}
		}
	}
	res := top.Result(p.Limit)
	for i := range res.Outcomes {
		res.Outcomes[i].Outcome = res.Outcomes[i].Clone()
	}
	return res, nil
}

// Counts implements [tickler.AdminStore].
func (s *Store) Counts(ctx context.Context) (tickler.Counts, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := tickler.Counts{Agents: len(s.byAgent)}
	for id, sl := range s.recs {
		h := s.history[id]
		a := tickler.AdminRecord{Record: sl.rec}
		if len(h) > 0 {
			a.Last = &h[len(h)-1]
		}
		c.Add(a.Status())
	}
	return c, nil
}
