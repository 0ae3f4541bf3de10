package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/tickler-go/tickler"
)

// historyEntry is one [tickler.Outcome] on the wire. The first six fields
// are those of Letta's hosted history route and are always present
// (response and run_id may be null); occurrence, attempts and error are
// tickler's extensions.
type historyEntry struct {
	ID                 string          `json:"id"`
	ScheduledMessageID string          `json:"scheduled_message_id"`
	Status             tickler.Status  `json:"status"`
	Response           json.RawMessage `json:"response"`
	RunID              *string         `json:"run_id"`
	SentAt             *string         `json:"sent_at"`
	Occurrence         *string         `json:"occurrence"`
	Attempts           int             `json:"attempts"`
	Error              string          `json:"error,omitempty"`
}

// historyResponse is the body of a history page. NextOffset is the offset
// of the next page, or null when there is none.
type historyResponse struct {
	History     []json.RawMessage `json:"history"` // historyEntry, encoded (see encodePage)
	HasNextPage bool              `json:"has_next_page"`
	NextOffset  *int              `json:"next_offset"`
}

func (h *handler) history(w http.ResponseWriter, r *http.Request, agentID string) {
	pg, ok := h.readPage(w, r, true)
	if !ok {
		return
	}
	outs, more, err := h.s.History(r.Context(), agentID, r.PathValue("scheduled_message_id"), pg.offset, pg.limit)
	if err != nil {
		h.schedulerError(w, r, err)
		return
	}
	entries := make([]historyEntry, len(outs))
	for i, o := range outs {
		entries[i] = entryOf(o)
	}
	items, cut, err := encodePage(entries, h.o.maxPageBytes)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	resp := historyResponse{History: items, HasNextPage: more || cut}
	if resp.HasNextPage {
		next := pg.offset + len(items)
		resp.NextOffset = &next
	}
	h.writeJSON(w, http.StatusOK, resp)
}

// entryOf is o on the wire.
func entryOf(o tickler.Outcome) historyEntry {
	e := historyEntry{
		ID:                 o.ID,
		ScheduledMessageID: o.ScheduledMessageID,
		Status:             o.Status,
		Response:           o.Response,
		SentAt:             tickler.FormatTime(o.SentAt),
		Occurrence:         tickler.FormatTime(o.Occurrence),
		Attempts:           o.Attempts,
		Error:              o.Error,
	}
	if len(e.Response) == 0 {
		e.Response = nil // encodes as null
	}
	if o.RunID != "" {
		e.RunID = &o.RunID
	}
	return e
}
