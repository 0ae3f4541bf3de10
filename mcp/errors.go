package mcp

import (
	"context"
	"errors"
	"fmt"

	"github.com/tickler-go/tickler"
)

// explain turns an error of the scheduler into the text of a tool error a
// model can act on. field maps a field of tickler's request (such as
// "schedule.cron_expression") to the tool's own argument ("cron"); nil
// keeps tickler's names. Errors that are not the caller's (a failing store)
// are logged, and the model is told only to try again later.
func (h *handler) explain(err error, tool string, field func(string) string) error {
	var ve *tickler.ValidationError
	var le *limitError
	switch {
	case errors.As(err, &le):
		return err
	case errors.As(err, &ve):
		name := ve.Field
		if field != nil {
			name = field(ve.Field)
		}
		switch {
		case ve.Field == "agent_id" && errors.Is(err, tickler.ErrLimitExceeded):
			return fmt.Errorf("this agent has as many schedules as the scheduler allows (%s); cancel one it no longer needs with cancel_schedule (list_my_schedules shows them) before creating another", ve.Reason)
		case ve.Field == "agent_id":
			return fmt.Errorf("this endpoint's agent id, taken from its URL, is not valid: it %s; the MCP client must be configured with a URL /mcp/agents/<agent id>", ve.Reason)
		case errors.Is(err, tickler.ErrScheduledInPast):
			return fmt.Errorf("`%s` must be in the future; it is now %s", name, utc(h.o.clock.Now()))
		case errors.Is(err, tickler.ErrLimitExceeded):
			return fmt.Errorf("`%s` is over a limit of the scheduler: %s", name, ve.Reason)
		case name == "cron":
			return fmt.Errorf("`cron` is not a valid 5-field cron expression (minute hour day-of-month month day-of-week, such as \"0 9 * * 1-5\"): %s", ve.Reason)
		}
		return fmt.Errorf("`%s` %s", name, ve.Reason)
	case errors.Is(err, tickler.ErrNotFound):
		return err
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s was cancelled before it finished; try again", tool)
	}
	if h.o.logger != nil {
		h.o.logger.Error("mcp: tool failed", "tool", tool, "err", err)
	}
	return fmt.Errorf("%s failed inside tickler (not because of your arguments); try again later", tool)
}

// explainID is explain for a tool acting on the schedule id.
func (h *handler) explainID(err error, tool, id string) error {
	if errors.Is(err, tickler.ErrNotFound) {
		return fmt.Errorf("no schedule %q belongs to this agent: it was cancelled, or it was a one-time schedule that has fired (those are removed), or the id is mistyped; list_my_schedules shows your schedules", id)
	}
	return h.explain(err, tool, nil)
}
