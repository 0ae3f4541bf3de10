// Two "tickler serve" processes on one PostgreSQL schema, driven through
// Letta's official TypeScript client: what one server stores, the other
// answers for, and an occurrence fires once across both.
//
// The database is TICKLER_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable), in a schema
// made for the run ("tickler migrate" makes it) and dropped at the end
// with psql. Without a database these tests skip, unless
// TICKLER_REQUIRE_POSTGRES=1, which fails them instead.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Letta, { NotFoundError } from '@letta-ai/letta-client';
import { buildTickler, serverEnv, startTickler, startReceiver, within } from './tickler.mjs';

const API_KEY = 'test';
const HOUR = 3600_000;
const databaseURL = process.env.TICKLER_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable';
const schema = `tickler_interop_${randomBytes(6).toString('hex')}`;

let dir;
let skip = ''; // why the tests skip, if they do
let migrated = false;
let a; // server A
let b; // server B
let clientA;
let clientB;
let receiver;

// redacted is the database URL without its password, for messages.
function redacted(raw) {
  try {
    const u = new URL(raw);
    if (u.password) u.password = 'xxxxx';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tickler-interop-shared-'));
  const bin = buildTickler(dir);

  // "tickler migrate" makes the schema, and tells whether a database
  // answers at all.
  try {
    execFileSync(bin, ['migrate', '-db', databaseURL, '-schema', schema], {
      env: serverEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    migrated = true;
  } catch (err) {
    const why = `${err.stderr || err}`.trim().split('\n')[0];
    if (process.env.TICKLER_REQUIRE_POSTGRES === '1' || !/opening the store/.test(why)) throw new Error(why);
    skip = `no PostgreSQL at ${redacted(databaseURL)} (set TICKLER_TEST_DATABASE_URL; TICKLER_REQUIRE_POSTGRES=1 fails instead): ${why}`;
    return;
  }

  // A migrates (a no-op here, as when replicas start together); B refuses
  // a schema that lacks migrations rather than migrate it.
  const common = ['-db', databaseURL, '-schema', schema, '-api-key', API_KEY, '-allow-private-callbacks', '-deliver', 'log'];
  a = await startTickler(bin, common);
  b = await startTickler(bin, [...common, '-migrate=false']);
  clientA = new Letta({ baseURL: a.url, apiKey: API_KEY });
  clientB = new Letta({ baseURL: b.url, apiKey: API_KEY });
  receiver = await startReceiver();
});

after(async () => {
  receiver?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  if (migrated) {
    try {
      execFileSync('psql', [databaseURL, '-q', '-v', 'ON_ERROR_STOP=1', '-c', `DROP SCHEMA "${schema}" CASCADE`], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (err) {
      console.log(`could not drop schema ${schema} (psql: ${err.code || err.status}); drop it by hand`);
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('two servers on one schema: created on A, retrieved, listed and deleted on B; A then answers 404', async (t) => {
  if (skip) return t.skip(skip);
  const agent = 'agent-shared';
  const body = {
    messages: [{ role: 'user', content: 'seen by both' }],
    schedule: { scheduled_at: Date.now() + HOUR },
    name: 'shared',
  };
  const { id } = await clientA.agents.schedule.create(agent, body);

  const onA = await clientA.agents.schedule.retrieve(id, { agent_id: agent });
  const onB = await clientB.agents.schedule.retrieve(id, { agent_id: agent });
  assert.deepStrictEqual(onB, onA);
  assert.equal(onB.name, 'shared');
  assert.deepStrictEqual(onB.message.messages, body.messages);
  const listed = await clientB.agents.schedule.list(agent);
  assert.deepStrictEqual(listed, { scheduled_messages: [onA], has_next_page: false });

  assert.deepStrictEqual(await clientB.agents.schedule.delete(id, { agent_id: agent }), { success: true });
  await assert.rejects(clientA.agents.schedule.retrieve(id, { agent_id: agent }), (err) => err instanceof NotFoundError && err.status === 404);
  await assert.rejects(clientA.agents.schedule.delete(id, { agent_id: agent }), (err) => err instanceof NotFoundError && err.status === 404);
  assert.deepStrictEqual((await clientA.agents.schedule.list(agent)).scheduled_messages, []);
});

test('a schedule created on A fires exactly once across A and B', async (t) => {
  if (skip) return t.skip(skip);
  const agent = 'agent-shared-fire';
  const at = Date.now() + 2000;
  const first = receiver.next();
  const { id } = await clientA.agents.schedule.create(agent, {
    messages: [{ role: 'user', content: 'fire once' }],
    schedule: { scheduled_at: at },
    callback_url: `${receiver.url}/hooks/shared`,
  });
  await within(first, 15_000, 'a callback');
  assert.ok(Date.now() >= at, 'it fired before it was due');

  // Each server's lease is 3 s: a second delivery would come from the
  // other node taking over a lapsed one. Wait past that, then count.
  await new Promise((r) => setTimeout(r, 4000));
  const mine = receiver.callbacks.filter((c) => c.body.scheduled_message_id === id);
  assert.equal(mine.length, 1, JSON.stringify(mine));
  assert.equal(mine[0].body.status, 'success');
  assert.equal(mine[0].body.idempotency_key, `${id}@${at}`);
  assert.equal(mine[0].body.attempts, 1);

  const delivery = new RegExp(`msg="tickler: delivery" scheduled_message_id=${id} `, 'g');
  const deliveries = (a.log().match(delivery) || []).length + (b.log().match(delivery) || []).length;
  assert.equal(deliveries, 1, `delivered ${deliveries} times:\n--- A\n${a.log()}\n--- B\n${b.log()}`);

  for (const c of [clientA, clientB]) {
    await assert.rejects(c.agents.schedule.retrieve(id, { agent_id: agent }), (err) => err instanceof NotFoundError);
  }
});
