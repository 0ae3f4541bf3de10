package postgres

import (
	"strconv"
	"strings"
)

// statements are the store's SQL, each naming the schema. Parameters
// that are uuids are passed as text and cast; durations as microseconds.
type statements struct {
	register, renew, release string

	create, createLimited, agentLock string
	update, delete                   string
	updateLimited, updateLock        string

	get, list, listBytes, count, history string

	claim, claimAfter, claimAfterBytes string
	confirm                            string

	ackAdvance, ackDelete, ackHistory, ackExists string
	ackAdvanceMany, ackDeleteMany                string
}

// free is the condition on a schedules row s that no live node owns it
// but $1: p.others lists the other live nodes.
const free = `(s.owner IS NULL OR NOT s.owner = ANY ((SELECT others FROM p)::uuid[]))`

// unheld is the condition on a schedules row s that a claim returns it:
// no live node owns it, or $1 does and it sorts after the cursor. A node
// holds what it claimed in its heap already; only rows past its cursor
// (an advanced record that entered the window) are news to it.
const unheld = `(s.owner IS NULL OR (s.owner = $1::uuid AND {cursor})
	OR (s.owner <> $1::uuid AND NOT s.owner = ANY ((SELECT others FROM p)::uuid[])))`

// claimSQL is Claim's one statement; {cursor} is the condition that a
// row sorts after the cursor. $1 node, $2 window in µs on the database
// clock or NULL, $3 the end of the window when $2 is NULL, $4 and $5 the
// cursor, $6 the limit.
//
//   - p reads the database clock once, ends the window on it, checks
//     that the node's lease is live (a node whose lease lapsed claims
//     nothing, and takes a new identity before it claims again), and
//     lists the other live nodes;
//   - cand locks, skipping rows other claims hold, the records in the
//     window that no live node owns, and those this node owns past the
//     cursor, in (next_at, id) order: the rows it holds before the cursor
//     are neither read into the result nor locked again, so its acks of
//     them never wait for its own claim;
//   - upd makes this node their owner (those it held already are not
//     written again);
//   - beyond reads the first records past the window, to find the first
//     this node could claim (its Next), or where to look again when 256
//     in a row belong to other nodes;
//   - damaged finds records in the window in a format this release cannot
//     read, which it reports and leaves to a release that can;
//   - the last column reads the database's clock once more, as late as
//     the statement can, for the skew (see Claim): after the column
//     before it made upd run (a data-modifying CTE that nothing reads
//     runs after the main query, past the clock's reading).
const claimSQL = `WITH p AS MATERIALIZED (
	SELECT now() AS db_now,
		CASE WHEN $2::bigint IS NULL THEN $3::timestamptz ELSE now() + $2::bigint * interval '1 microsecond' END AS until,
		EXISTS (SELECT 1 FROM {schema}.nodes WHERE id = $1::uuid AND lease_until > now()) AS live,
		ARRAY(SELECT id FROM {schema}.nodes WHERE id <> $1::uuid AND lease_until > now()) AS others
), cand AS (
	SELECT s.id, s.next_at, s.version FROM {schema}.schedules s
	WHERE s.next_at <= (SELECT until FROM p)
		AND s.format = 1 AND ` + unheld + `
		AND (SELECT live FROM p)
	ORDER BY s.next_at, s.id
	LIMIT $6
	FOR UPDATE OF s SKIP LOCKED
), upd AS (
	UPDATE {schema}.schedules s SET owner = $1::uuid FROM cand
	WHERE s.id = cand.id AND s.owner IS DISTINCT FROM $1::uuid
	RETURNING 1
), beyond AS (
	SELECT s.next_at, s.format = 1 AND ` + free + ` AS mine
	FROM {schema}.schedules s
	WHERE s.next_at > (SELECT until FROM p)
	ORDER BY s.next_at, s.id
	LIMIT 256
), damaged AS (
	SELECT s.id FROM {schema}.schedules s
	WHERE s.next_at <= (SELECT until FROM p) AND {cursor} AND s.format <> 1
	ORDER BY s.next_at, s.id
	LIMIT 100
)
SELECT p.db_now, p.live,
	coalesce((SELECT array_agg(id ORDER BY next_at, id) FROM cand), '{}'),
	coalesce((SELECT array_agg(next_at ORDER BY next_at, id) FROM cand), '{}'),
	coalesce((SELECT array_agg(version ORDER BY next_at, id) FROM cand), '{}'),
	(SELECT min(next_at) FILTER (WHERE mine) FROM beyond),
	(SELECT count(*) FROM beyond),
	(SELECT max(next_at) FROM beyond),
	coalesce((SELECT array_agg(id) FROM damaged), '{}'),
	(SELECT count(*) FROM upd),
	clock_timestamp()
FROM p`

// callbackCTE is the CTE c of an ack statement that inserts the ack's
// callback once the ack applied (u holds its row), if the ack carries
// one: $n id (NULL: none), $n+1 outcome id, $n+2 url, $n+3 key, $n+4
// payload; seq is the history entry's sequence, read from u. The
// callback is due at once, on the database's clock.
func callbackCTE(n int, seq string) string {
	p := func(i int) string { return "$" + strconv.Itoa(n+i) }
	return `c AS (
			INSERT INTO {schema}.callbacks (id, schedule_id, outcome_id, hist_seq, url, key, payload, next_attempt)
			SELECT ` + p(0) + `::text, u.id, ` + p(1) + `::text, CASE WHEN ` + p(1) + `::text IS NULL THEN NULL ELSE ` + seq + ` END,
				` + p(2) + `::text, ` + p(3) + `::text, ` + p(4) + `::bytea, now()
			FROM u WHERE ` + p(0) + `::text IS NOT NULL
			ON CONFLICT (id) DO NOTHING
		)`
}

// notifySoon is a CTE n that notifies the other nodes of a row in w due
// within the hint horizon: $hints says whether hints are on, $horizon is
// the horizon in µs, $channel and $self the channel and payload.
const notifySoon = `n AS (
	SELECT pg_notify($channel, $self) FROM w
	WHERE $hints::boolean AND w.next_at <= now() + $horizon::bigint * interval '1 microsecond'
)`

// newReplacer returns the replacer of {schema} and of the named
// parameters of notifySoon.
func newReplacer(schema string) *strings.Replacer {
	return strings.NewReplacer(
		"{schema}", schema,
		"$channel", "$5", "$self", "$6", "$hints", "$7", "$horizon", "$8",
	)
}

func newStatements(schema string) statements {
	r := newReplacer(schema)
	claim := func(cursor string) string {
		return r.Replace(strings.ReplaceAll(claimSQL, "{cursor}", cursor))
	}
	const rowCols = `id, agent_id, format, record, next_at, version`
	return statements{
		register: r.Replace(`INSERT INTO {schema}.nodes (id, lease_until) VALUES ($1::uuid, now() + $2::bigint * interval '1 microsecond')`),
		// The renewal also removes nodes whose lease lapsed a minute ago:
		// what they owned is free already, the rows are dead weight.
		renew: r.Replace(`WITH reap AS (
			DELETE FROM {schema}.nodes WHERE lease_until < now() - interval '1 minute'
		)
		UPDATE {schema}.nodes SET lease_until = now() + $2::bigint * interval '1 microsecond'
		WHERE id = $1::uuid AND lease_until > now()`),
		release: r.Replace(`DELETE FROM {schema}.nodes WHERE id = $1::uuid`),

		// $1 id, $2 agent, $3 record, $4 next_at; $5-$8 notifySoon; $9
		// the record's size (tickler.RecordSize); createLimited: $10 the
		// most records and $11 the most bytes of the agent, 0 for no bound.
		create: r.Replace(`WITH w AS (
			INSERT INTO {schema}.schedules (id, agent_id, format, record, next_at, version, size)
			VALUES ($1, $2, 1, $3, $4, 1, $9)
			ON CONFLICT (id) DO NOTHING
			RETURNING next_at
		), ` + notifySoon + `
		SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM n)`),
		// Run after agentLock, in its transaction, so that it counts and
		// sums every record committed by a Create of the agent before it.
		// Each of c's aggregates reads the agent's rows only if its bound
		// is set.
		createLimited: r.Replace(`WITH c AS (
			SELECT
				(SELECT count(*) FROM {schema}.schedules WHERE agent_id = $2 AND $10::bigint > 0) AS n,
				(SELECT coalesce(sum(size), 0) FROM {schema}.schedules WHERE agent_id = $2 AND $11::bigint > 0) AS bytes
		), w AS (
			INSERT INTO {schema}.schedules (id, agent_id, format, record, next_at, version, size)
			SELECT $1, $2, 1, $3, $4, 1, $9 FROM c
			WHERE ($10::bigint <= 0 OR c.n < $10::bigint) AND ($11::bigint <= 0 OR c.bytes + $9::bigint <= $11::bigint)
			ON CONFLICT (id) DO NOTHING
			RETURNING next_at
		), ` + notifySoon + `
		SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM n), (SELECT n FROM c), (SELECT bytes FROM c)::bigint,
			EXISTS (SELECT 1 FROM {schema}.schedules WHERE id = $1)`),
		agentLock: `SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))`,

		// $1 id, $2 agent or '', $3 record, $4 next_at; $5-$8 notifySoon; $9 version;
		// $10 the record's size. An update frees the record: any node may
		// claim its new version.
		update: r.Replace(`WITH w AS (
			UPDATE {schema}.schedules SET record = $3, next_at = $4, version = version + 1, owner = NULL, size = $10
			WHERE id = $1 AND ($2 = '' OR agent_id = $2) AND version = $9 AND format = 1
			RETURNING next_at
		), ` + notifySoon + `
		SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM n),
			(SELECT format FROM {schema}.schedules WHERE id = $1 AND ($2 = '' OR agent_id = $2))`),
		delete: r.Replace(`DELETE FROM {schema}.schedules WHERE id = $1 AND ($2 = '' OR agent_id = $2)`),

		// update under a byte limit, run after updateLock, in its
		// transaction, so that it sums every record of the agent that a
		// Create or Update under the limit committed before it: $11 the
		// most bytes of the agent. c sums the agent's sizes and the
		// record's own; w applies only if the record does not grow or the
		// agent's total stays within $11. The last column says whether it
		// fits, to tell a refusal from a conflict.
		updateLimited: r.Replace(`WITH c AS (
			SELECT coalesce(sum(size), 0)::bigint AS bytes, coalesce(sum(size) FILTER (WHERE id = $1), 0)::bigint AS old
			FROM {schema}.schedules WHERE agent_id = (SELECT agent_id FROM {schema}.schedules WHERE id = $1)
		), f AS (
			SELECT $10::bigint <= c.old OR c.bytes - c.old + $10::bigint <= $11::bigint AS fits, c.bytes, c.old FROM c
		), w AS (
			UPDATE {schema}.schedules SET record = $3, next_at = $4, version = version + 1, owner = NULL, size = $10
			WHERE id = $1 AND ($2 = '' OR agent_id = $2) AND version = $9 AND format = 1 AND (SELECT fits FROM f)
			RETURNING next_at
		), ` + notifySoon + `
		SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM n),
			(SELECT format FROM {schema}.schedules WHERE id = $1 AND ($2 = '' OR agent_id = $2)),
			(SELECT fits FROM f), (SELECT bytes FROM f), (SELECT old FROM f)`),
		// The agent lock of the record $2 of schema $1 (the agentLock of
		// its agent), or none if there is no such record.
		updateLock: r.Replace(`SELECT pg_advisory_xact_lock(hashtext($1), hashtext(agent_id)) FROM {schema}.schedules WHERE id = $2`),

		get: r.Replace(`SELECT ` + rowCols + ` FROM {schema}.schedules WHERE id = $1`),
		list: r.Replace(`SELECT ` + rowCols + ` FROM {schema}.schedules
			WHERE agent_id = $1 AND id > $2 ORDER BY id LIMIT $3`),
		// For an After that text cannot hold, compared as bytes.
		listBytes: r.Replace(`SELECT ` + rowCols + ` FROM {schema}.schedules
			WHERE agent_id = $1 AND convert_to(id, 'UTF8') > $2::bytea ORDER BY id LIMIT $3`),
		count: r.Replace(`SELECT count(*) FROM {schema}.schedules WHERE agent_id = $1`),
		// One row per outcome, newest first, each with the record's agent;
		// one row with a NULL outcome if the page is empty; none if the
		// record does not exist.
		history: r.Replace(`SELECT s.agent_id, h.outcome FROM {schema}.schedules s
			LEFT JOIN LATERAL (
				SELECT seq, outcome FROM {schema}.history
				WHERE schedule_id = s.id ORDER BY seq DESC OFFSET $2 LIMIT $3
			) h ON true
			WHERE s.id = $1 ORDER BY h.seq DESC`),

		// Without a cursor $4 and $5 are NULL, and typed here.
		claim:      claim(`($4::timestamptz IS NULL AND $5::text IS NULL)`),
		claimAfter: claim(`(s.next_at, s.id) > ($4::timestamptz, $5::text)`),
		// For a cursor id that text cannot hold, compared as bytes.
		claimAfterBytes: claim(`(s.next_at >= $4::timestamptz AND (s.next_at > $4::timestamptz OR convert_to(s.id, 'UTF8') > $5::bytea))`),
		// $1 ids, $2 node: a row for each record that exists, and
		// whether the node holds it under a live lease.
		confirm: r.Replace(`SELECT ` + rowCols + `,
			coalesce(owner = $2::uuid, false) AND EXISTS (
				SELECT 1 FROM {schema}.nodes WHERE id = $2::uuid AND lease_until > now())
			FROM {schema}.schedules WHERE id = ANY ($1::text[])`),

		// Each ack statement returns (applied, exists). $1 id, $2 version,
		// $3 node, $4 next_at, $5 outcome or NULL, $6 history limit, then
		// the callback (see callbackCTE). The EXISTS reads the snapshot
		// before the change.
		ackAdvance: r.Replace(`WITH u AS (
			UPDATE {schema}.schedules
			SET next_at = $4, version = version + 1,
				hist_seq = hist_seq + CASE WHEN $5::json IS NULL THEN 0 ELSE 1 END
			WHERE id = $1 AND version = $2 AND (owner IS NULL OR owner = $3::uuid)
			RETURNING id, hist_seq
		), h AS (
			INSERT INTO {schema}.history (schedule_id, seq, outcome)
			SELECT id, hist_seq, $5::json FROM u WHERE $5::json IS NOT NULL
		), t AS (
			DELETE FROM {schema}.history
			WHERE $5::json IS NOT NULL AND schedule_id = $1 AND seq <= (SELECT hist_seq FROM u) - $6::bigint
		), ` + callbackCTE(7, `CASE WHEN $5::json IS NULL THEN NULL ELSE u.hist_seq END`) + `
		SELECT (SELECT count(*) FROM u), EXISTS (SELECT 1 FROM {schema}.schedules WHERE id = $1)`),
		ackDelete: r.Replace(`WITH u AS (
			DELETE FROM {schema}.schedules
			WHERE id = $1 AND version = $2 AND (owner IS NULL OR owner = $3::uuid)
			RETURNING id
		), ` + callbackCTE(4, `NULL::bigint`) + `
		SELECT (SELECT count(*) FROM u), EXISTS (SELECT 1 FROM {schema}.schedules WHERE id = $1)`),
		// The plain acks of many records (each named once) as arrays: $1
		// ids, $2 versions, $3 node, $4 next_ats (ackAdvanceMany). Each
		// returns the ids it applied to and the ids that existed before it
		// (its snapshot), with the fences of ackAdvance and ackDelete row
		// by row.
		ackAdvanceMany: r.Replace(`WITH a AS (
			SELECT * FROM unnest($1::text[], $2::bigint[], $4::timestamptz[]) AS a(id, version, next_at)
		), u AS (
			UPDATE {schema}.schedules s SET next_at = a.next_at, version = s.version + 1
			FROM a
			WHERE s.id = a.id AND s.version = a.version AND (s.owner IS NULL OR s.owner = $3::uuid)
			RETURNING s.id
		)
		SELECT ARRAY(SELECT id FROM u), ARRAY(SELECT s.id FROM {schema}.schedules s JOIN a ON s.id = a.id)`),
		ackDeleteMany: r.Replace(`WITH a AS (
			SELECT * FROM unnest($1::text[], $2::bigint[]) AS a(id, version)
		), u AS (
			DELETE FROM {schema}.schedules s
			USING a
			WHERE s.id = a.id AND s.version = a.version AND (s.owner IS NULL OR s.owner = $3::uuid)
			RETURNING s.id
		)
		SELECT ARRAY(SELECT id FROM u), ARRAY(SELECT s.id FROM {schema}.schedules s JOIN a ON s.id = a.id)`),
		// $1 id, $2 outcome, $3 history limit, then the callback: no fences.
		ackHistory: r.Replace(`WITH u AS (
			UPDATE {schema}.schedules SET hist_seq = hist_seq + 1 WHERE id = $1
			RETURNING id, hist_seq
		), h AS (
			INSERT INTO {schema}.history (schedule_id, seq, outcome)
			SELECT id, hist_seq, $2::json FROM u
		), t AS (
			DELETE FROM {schema}.history
			WHERE schedule_id = $1 AND seq <= (SELECT hist_seq FROM u) - $3::bigint
		), ` + callbackCTE(4, `u.hist_seq`) + `
		SELECT (SELECT count(*) FROM u), EXISTS (SELECT 1 FROM {schema}.schedules WHERE id = $1)`),
		// $1 id, then the callback.
		ackExists: r.Replace(`WITH u AS (
			SELECT id FROM {schema}.schedules WHERE id = $1
		), ` + callbackCTE(2, `NULL::bigint`) + `
		SELECT (SELECT count(*) FROM u), EXISTS (SELECT 1 FROM u)`),
	}
}
