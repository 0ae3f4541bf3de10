package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults of the options.
const (
	// DefaultSchema is the schema the store's tables live in.
	DefaultSchema = "tickler"
	// DefaultLease is how long a node owns what it claimed without a
	// heartbeat, on the database's clock.
	DefaultLease = 3 * time.Second
	// DefaultHeartbeat is how often a node renews its lease.
	DefaultHeartbeat = time.Second
	// DefaultHintHorizon is how soon a created or changed record must be
	// due for its write to notify the other nodes.
	DefaultHintHorizon = 10 * time.Second
	// DefaultAgentSlotHold bounds how long a node holds an agent's
	// delivery slot if its release never comes.
	DefaultAgentSlotHold = 15 * time.Minute
)

// An Option configures [New] and [Migrate]. Migrate reads only
// [WithSchema] and ignores the others.
type Option func(*options)

type options struct {
	schema    string
	lease     time.Duration
	heartbeat time.Duration
	horizon   time.Duration
	agentHold time.Duration
	pollOnly  bool
}

func buildOptions(opts []Option) (options, error) {
	o := options{schema: DefaultSchema, lease: DefaultLease, heartbeat: DefaultHeartbeat, horizon: DefaultHintHorizon, agentHold: DefaultAgentSlotHold}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.schema == "" || len(o.schema) > 63:
		return o, fmt.Errorf("postgres: schema name %q must have 1 to 63 bytes", o.schema)
	case o.lease <= 0:
		return o, fmt.Errorf("postgres: lease must be positive, got %v", o.lease)
	case o.heartbeat <= 0 || o.heartbeat >= o.lease:
		return o, fmt.Errorf("postgres: heartbeat must be positive and shorter than the lease (%v), got %v", o.lease, o.heartbeat)
	case o.horizon < 0:
		return o, fmt.Errorf("postgres: hint horizon must not be negative, got %v", o.horizon)
	case o.agentHold < time.Second:
		return o, fmt.Errorf("postgres: agent slot hold must be at least a second, got %v", o.agentHold)
	}
	return o, nil
}

// quoted returns the schema as a quoted SQL identifier.
func (o options) quoted() string { return pgx.Identifier{o.schema}.Sanitize() }

// WithSchema names the schema the store's tables live in (default
// [DefaultSchema]), so that tickler can share an application's database.
// Every statement names it; the connection's search_path does not matter.
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithLease sets how long, on the database's clock, a node keeps what it
// claimed after its last heartbeat (default [DefaultLease]): how long the
// other nodes wait before they take over from a node that died.
func WithLease(d time.Duration) Option { return func(o *options) { o.lease = d } }

// WithHeartbeat sets how often a node renews its lease (default
// [DefaultHeartbeat]); it must be shorter than the lease, and a third of
// it or less leaves room for a slow round trip. The heartbeat renews on a
// connection of its own, outside the pool, so that a busy pool does not
// delay it (if that connection cannot be opened, it borrows one from the
// pool for the beat). A lease that lapses all the same (the process was
// paused, the database unreachable) makes the node take a new identity
// and drop what it held: nothing fires twice, but work is redone.
func WithHeartbeat(d time.Duration) Option { return func(o *options) { o.heartbeat = d } }

// WithAgentSlotHold bounds how long a node holds one of an agent's
// delivery slots (see [Store.LockAgent]) when its release never comes, a
// connection lost at the wrong moment, say (default
// [DefaultAgentSlotHold]). Make it longer than the longest delivery.
func WithAgentSlotHold(d time.Duration) Option { return func(o *options) { o.agentHold = d } }

// WithHintHorizon sets how soon a record that Create or Update makes due
// must fall due for the write to notify the other nodes (default
// [DefaultHintHorizon]); one due later is found by their polling.
func WithHintHorizon(d time.Duration) Option { return func(o *options) { o.horizon = d } }

// WithPollOnly turns hints off: no LISTEN connection and no NOTIFY, and
// [Store.Hints] returns nil, so that the nodes find each other's changes
// by polling alone. Use it behind a pooler in transaction mode (PgBouncer),
// where LISTEN does not work.
func WithPollOnly() Option { return func(o *options) { o.pollOnly = true } }
