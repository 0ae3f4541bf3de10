// Package logdeliver is the deliverer that only logs: each occurrence is
// written to a [slog.Logger] and succeeds. It is the default when no other
// deliverer is configured, to try schedules out before an agent is wired
// in, and a template for a deliverer of one's own.
package logdeliver

import (
	"context"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/tickler-go/tickler"
)

// MaxText bounds the text logged of each message, in bytes.
const MaxText = 200

// Deliverer logs each delivery at level Info with the message
// "tickler: delivery" and the attributes scheduled_message_id, agent_id,
// occurrence, idempotency_key, attempt, triggered, messages (the count)
// and text: each message's role and text, cut to [MaxText] bytes, image
// parts as "[image]", messages separated by " | ". The text is the
// message's own: do not use this deliverer where messages carry secrets
// and logs are less guarded.
//
// Deliver never fails and returns an empty [tickler.Result]. A Deliverer
// is safe for concurrent use.
type Deliverer struct{ log *slog.Logger }

var _ tickler.Deliverer = (*Deliverer)(nil)

// New returns a deliverer that logs to l, or to [slog.Default] if l is
// nil.
func New(l *slog.Logger) *Deliverer {
	if l == nil {
		l = slog.Default()
	}
	return &Deliverer{log: l}
}

// Deliver logs d and succeeds.
func (l *Deliverer) Deliver(ctx context.Context, d *tickler.Delivery) (tickler.Result, error) {
	occ := ""
	if t := tickler.FormatTime(d.Occurrence); t != nil {
		occ = *t
	}
	l.log.LogAttrs(ctx, slog.LevelInfo, "tickler: delivery",
		slog.String("scheduled_message_id", d.ScheduledMessageID),
		slog.String("agent_id", d.AgentID),
		slog.String("occurrence", occ),
		slog.String("idempotency_key", d.IdempotencyKey),
		slog.Int("attempt", d.Attempt),
		slog.Bool("triggered", d.Triggered),
		slog.Int("messages", len(d.Message.Messages)),
		slog.String("text", text(d.Message.Messages)),
	)
	return tickler.Result{}, nil
}

func text(msgs []tickler.Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(string(m.Role))
		b.WriteString(": ")
		var t string
		if m.Content.Parts == nil {
			t = m.Content.Text
		} else {
			parts := make([]string, len(m.Content.Parts))
			for j, p := range m.Content.Parts {
				if p.Source != nil {
					parts[j] = "[image]"
				} else {
					parts[j] = p.Text
				}
			}
			t = strings.Join(parts, " ")
		}
		b.WriteString(cut(t))
	}
	return b.String()
}

// cut bounds s to MaxText bytes on a rune boundary.
func cut(s string) string {
	if len(s) <= MaxText {
		return s
	}
	n := MaxText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
