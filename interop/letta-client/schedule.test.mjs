// Proves tickler's HTTP API against Letta's official TypeScript client,
// unchanged: it builds the tickler binary, runs "tickler serve" on a free
// port with a temporary bolt file and the log deliverer, and drives it
// through client.agents.schedule and client.health(). shared.test.mjs
// runs two servers on one PostgreSQL schema.
//
// Run: cd interop/letta-client && npm ci && npm test
// Needs Go on PATH (or $GO) to build the server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Letta, {
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  UnprocessableEntityError,
} from '@letta-ai/letta-client';
import { buildTickler, startTickler, startReceiver, within } from './tickler.mjs';

const API_KEY = 'test';
const HOUR = 3600_000;

// A 1×1 PNG.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

let dir;
let server; // the running tickler serve
let baseURL;
let client;
let receiver; // receives callbacks

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tickler-interop-'));
  const bin = buildTickler(dir);
  server = await startTickler(bin, [
    '-db', path.join(dir, 't.db'), '-api-key', API_KEY, '-allow-private-callbacks', '-deliver', 'log',
  ]);
  baseURL = server.url;
  client = new Letta({ baseURL, apiKey: API_KEY });
  receiver = await startReceiver();
});

after(async () => {
  receiver?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// rejects asserts that promise fails with an instance of cls (an APIError
// subclass) with the status, and returns the error.
async function rejects(promise, cls, status) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof cls, `got ${err}`);
    assert.equal(err.status, status);
    return err;
  }
  assert.fail(`expected a ${status}`);
}

// withoutCreatedAt checks that sm.created_at is an ISO-8601 ms instant between
// from and to (Unix ms, the create call's start and end), and returns sm
// without it, to compare with what was sent.
function withoutCreatedAt(sm, from, to) {
  const { created_at: createdAt, ...rest } = sm;
  assert.match(createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const t = Date.parse(createdAt);
  assert.ok(from <= t && t <= to, `created_at ${createdAt} is not within the create call`);
  return rest;
}

// nextWeekday9 returns when "0 9 * * 1-5" next fires after now, in UTC.
function nextWeekday9(now) {
  const d = new Date(now);
  d.setUTCHours(9, 0, 0, 0);
  if (d.getTime() <= now) d.setUTCDate(d.getUTCDate() + 1);
  while (d.getUTCDay() === 0 || d.getUTCDay() === 6) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

test('a one-time schedule with string content comes back exactly as sent', async () => {
  const at = Date.now() + HOUR;
  const body = {
    messages: [
      {
        role: 'user',
        content: 'Remind me to stretch',
        name: 'alice',
        otid: 'otid-1',
        sender_id: 'user-9',
        type: 'message',
      },
      { role: 'system', content: 'Be brief.' },
    ],
    schedule: { scheduled_at: at, type: 'one-time' },
    callback_url: 'https://example.com/hooks/tickler',
    include_return_message_types: ['assistant_message', 'tool_call_message'],
    max_steps: 7,
  };
  const from = Date.now();
  const created = await client.agents.schedule.create('agent-strings', body);
  const to = Date.now();
  assert.equal(typeof created.id, 'string');
  assert.equal(created.next_scheduled_at, new Date(at).toISOString());

  const got = await client.agents.schedule.retrieve(created.id, { agent_id: 'agent-strings' });
  assert.deepStrictEqual(withoutCreatedAt(got, from, to), {
    id: created.id,
    agent_id: 'agent-strings',
    message: {
      messages: body.messages,
      callback_url: body.callback_url,
      include_return_message_types: body.include_return_message_types,
      max_steps: body.max_steps,
    },
    next_scheduled_time: new Date(at).toISOString(),
    schedule: body.schedule,
  });
  assert.equal(typeof got.message.messages[0].content, 'string');
});

test('multi-part content with a text part and an image part comes back exactly as sent', async () => {
  const at = Date.now() + 2 * HOUR;
  const messages = [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is in this picture?' },
        { text: 'untyped part with a signature', signature: 'sig-1' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG, detail: 'low' } },
        { type: 'image', source: { media_type: 'image/png', data: PNG } },
      ],
    },
  ];
  const from = Date.now();
  const created = await client.agents.schedule.create('agent-parts', {
    messages,
    schedule: { scheduled_at: at }, // type may be absent, and stays absent
  });
  const to = Date.now();
  const got = await client.agents.schedule.retrieve(created.id, { agent_id: 'agent-parts' });
  assert.deepStrictEqual(withoutCreatedAt(got, from, to), {
    id: created.id,
    agent_id: 'agent-parts',
    message: { messages },
    next_scheduled_time: new Date(at).toISOString(),
    schedule: { scheduled_at: at },
  });
});

test('a recurring schedule comes back exactly as sent, with its next occurrence', async () => {
  const now = Date.now();
  const body = {
    messages: [{ role: 'user', content: 'Daily stand-up: what did you do yesterday?' }],
    schedule: { cron_expression: '0 9 * * 1-5', type: 'recurring' },
  };
  const created = await client.agents.schedule.create('agent-cron', body);
  const to = Date.now();
  const next = nextWeekday9(now).toISOString();
  assert.equal(created.next_scheduled_at, next);
  const got = await client.agents.schedule.retrieve(created.id, { agent_id: 'agent-cron' });
  assert.deepStrictEqual(withoutCreatedAt(got, now, to), {
    id: created.id,
    agent_id: 'agent-cron',
    message: { messages: body.messages },
    next_scheduled_time: next,
    schedule: body.schedule,
  });
});

test("Letta's newer fields name, description and conversation_id come back as sent; absent stays absent", async () => {
  const at = Date.now() + 3 * HOUR;
  const body = {
    messages: [{ role: 'user', content: 'Weekly review' }],
    schedule: { scheduled_at: at },
    name: 'weekly review',
    description: 'Asks the agent for a summary of the week.',
    conversation_id: 'conv-123e4567-e89b-42d3-8456-426614174000',
  };
  const from = Date.now();
  const { id } = await client.agents.schedule.create('agent-labels', body);
  const to = Date.now();
  const got = await client.agents.schedule.retrieve(id, { agent_id: 'agent-labels' });
  assert.deepStrictEqual(withoutCreatedAt(got, from, to), {
    id,
    agent_id: 'agent-labels',
    name: body.name,
    description: body.description,
    conversation_id: body.conversation_id,
    message: { messages: body.messages },
    next_scheduled_time: new Date(at).toISOString(),
    schedule: body.schedule,
  });
  const listed = await client.agents.schedule.list('agent-labels');
  assert.deepStrictEqual(listed.scheduled_messages, [got]);

  const tooLong = await rejects(
    client.agents.schedule.create('agent-labels', { ...body, name: 'n'.repeat(257) }),
    UnprocessableEntityError,
    422,
  );
  assert.deepStrictEqual(tooLong.error.detail[0].loc, ['body', 'name']);
});

test('health() answers with the version and status ok', async () => {
  const health = await client.health();
  assert.equal(typeof health.version, 'string');
  assert.ok(health.version.length > 0);
  assert.deepStrictEqual(health, { version: health.version, status: 'ok' });
  // No API key is needed for it.
  const anonymous = new Letta({ baseURL, apiKey: 'wrong' });
  assert.equal((await anonymous.health()).status, 'ok');
});

test('list pages in creation order with limit and after', async () => {
  const agent = 'agent-paging';
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const { id } = await client.agents.schedule.create(agent, {
      messages: [{ role: 'user', content: `message ${i}` }],
      schedule: { scheduled_at: Date.now() + (i + 1) * HOUR },
    });
    ids.push(id);
  }
  await client.agents.schedule.create('agent-paging-other', {
    messages: [{ role: 'user', content: 'not on this agent' }],
    schedule: { cron_expression: '*/5 * * * *', type: 'recurring' },
  });

  const seen = [];
  let after;
  const pages = [];
  for (;;) {
    const page = await client.agents.schedule.list(agent, after ? { limit: '2', after } : { limit: '2' });
    assert.ok(page.scheduled_messages.length <= 2);
    pages.push(page.scheduled_messages.length);
    for (const sm of page.scheduled_messages) {
      assert.equal(sm.agent_id, agent);
      seen.push(sm.id);
    }
    if (!page.has_next_page) break;
    after = seen.at(-1);
  }
  assert.deepStrictEqual(pages, [2, 2, 1]);
  assert.deepStrictEqual(seen, ids);

  const all = await client.agents.schedule.list(agent);
  assert.equal(all.has_next_page, false);
  assert.deepStrictEqual(
    all.scheduled_messages.map((sm) => sm.message.messages[0].content),
    ['message 0', 'message 1', 'message 2', 'message 3', 'message 4'],
  );
  const empty = await client.agents.schedule.list('agent-without-schedules');
  assert.deepStrictEqual(empty, { scheduled_messages: [], has_next_page: false });
});

test('delete removes a schedule: retrieve and delete then answer 404', async () => {
  const agent = 'agent-delete';
  const { id } = await client.agents.schedule.create(agent, {
    messages: [{ role: 'user', content: 'never sent' }],
    schedule: { cron_expression: '0 0 1 1 *', type: 'recurring' },
  });
  assert.deepStrictEqual(await client.agents.schedule.delete(id, { agent_id: agent }), { success: true });
  await rejects(client.agents.schedule.retrieve(id, { agent_id: agent }), NotFoundError, 404);
  await rejects(client.agents.schedule.delete(id, { agent_id: agent }), NotFoundError, 404);
  const list = await client.agents.schedule.list(agent);
  assert.deepStrictEqual(list.scheduled_messages, []);
});

test('errors: 404 for unknown and foreign schedules, 400 for the past, 422 naming the field, 401 for a bad key', async () => {
  const err404 = await rejects(
    client.agents.schedule.retrieve('no-such-id', { agent_id: 'agent-errors' }),
    NotFoundError,
    404,
  );
  assert.equal(typeof err404.error.detail, 'string');

  const { id } = await client.agents.schedule.create('agent-errors', {
    messages: [{ role: 'user', content: 'mine' }],
    schedule: { scheduled_at: Date.now() + HOUR },
  });
  await rejects(client.agents.schedule.retrieve(id, { agent_id: 'agent-someone-else' }), NotFoundError, 404);
  await rejects(client.agents.schedule.delete(id, { agent_id: 'agent-someone-else' }), NotFoundError, 404);
  await client.agents.schedule.retrieve(id, { agent_id: 'agent-errors' }); // still there

  const err400 = await rejects(
    client.agents.schedule.create('agent-errors', {
      messages: [{ role: 'user', content: 'too late' }],
      schedule: { scheduled_at: Date.now() - 60_000 },
    }),
    BadRequestError,
    400,
  );
  assert.match(err400.error.detail, /scheduled_at/);

  const cases = [
    [{ messages: [{ role: 'robot', content: 'hi' }], schedule: { scheduled_at: Date.now() + HOUR } }, ['body', 'messages', 0, 'role']],
    [{ messages: [{ role: 'user', content: 'hi' }], schedule: { cron_expression: 'every day', type: 'recurring' } }, ['body', 'schedule', 'cron_expression']],
    [{ messages: [], schedule: { scheduled_at: Date.now() + HOUR } }, ['body', 'messages']],
    [{ messages: [{ role: 'user', content: 'hi' }], schedule: { scheduled_at: Date.now() + HOUR }, max_steps: 0 }, ['body', 'max_steps']],
    [{ messages: [{ role: 'user', content: 'hi' }], schedule: { scheduled_at: Date.now() + HOUR }, callback_url: 'not a url' }, ['body', 'callback_url']],
  ];
  for (const [body, loc] of cases) {
    const err = await rejects(client.agents.schedule.create('agent-errors', body), UnprocessableEntityError, 422);
    assert.deepStrictEqual(err.error.detail[0].loc, loc, JSON.stringify(err.error));
  }
  const errLimit = await rejects(
    client.agents.schedule.list('agent-errors', { limit: 'ten' }),
    UnprocessableEntityError,
    422,
  );
  assert.deepStrictEqual(errLimit.error.detail[0].loc, ['query', 'limit']);

  const stranger = new Letta({ baseURL, apiKey: 'wrong' });
  await rejects(stranger.agents.schedule.list('agent-errors'), AuthenticationError, 401);
});

test('a one-time schedule fires, calls back, and disappears', async () => {
  const agent = 'agent-fire';
  const at = Date.now() + 1500;
  const gotCallback = receiver.next();
  const { id } = await client.agents.schedule.create(agent, {
    messages: [{ role: 'user', content: 'fire soon' }],
    schedule: { scheduled_at: at },
    callback_url: `${receiver.url}/hooks/tickler`,
  });
  const listed = await client.agents.schedule.list(agent);
  assert.deepStrictEqual(listed.scheduled_messages.map((sm) => sm.id), [id]);

  // Poll until it is gone, bounded.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await client.agents.schedule.retrieve(id, { agent_id: agent });
    } catch (err) {
      assert.ok(err instanceof NotFoundError, `got ${err}`);
      break;
    }
    assert.ok(Date.now() < deadline, 'the schedule did not fire within 15 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(Date.now() >= at, 'the schedule disappeared before it was due');
  assert.deepStrictEqual((await client.agents.schedule.list(agent)).scheduled_messages, []);
  assert.match(server.log(), new RegExp(`msg="tickler: delivery" scheduled_message_id=${id} agent_id=${agent} `));

  await within(gotCallback, 10_000, 'a callback');
  const cb = receiver.callbacks.find((c) => c.body.scheduled_message_id === id);
  assert.ok(cb, JSON.stringify(receiver.callbacks));
  assert.equal(cb.path, '/hooks/tickler');
  assert.equal(cb.headers['content-type'], 'application/json');
  assert.equal(cb.headers['idempotency-key'], `${id}@${at}`);
  assert.deepStrictEqual(
    cb.body,
    {
      scheduled_message_id: id,
      agent_id: agent,
      occurrence: new Date(at).toISOString(),
      idempotency_key: `${id}@${at}`,
      status: 'success',
      attempts: 1,
      response: null, // the log deliverer answers nothing
      run_id: null,
      error: null,
    },
  );
});
