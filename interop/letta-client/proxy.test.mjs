// tickler in front of a Letta server (-proxy): the official client uses
// one base URL; the schedule routes are tickler's, and every other call
// (here agents.messages.create, plain and streamed) passes through to the
// Letta server unchanged, the stream event by event.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Letta from '@letta-ai/letta-client';
import { buildTickler, startTickler } from './tickler.mjs';

const KEY = 'shared-key'; // the client's one key: Letta's, and tickler's own routes'
let dir;
let letta; // the fake Letta server
let lettaURL;
let server;
let client;
let seen = []; // requests the fake Letta server received
let releaseSecond; // lets the fake server send its second streamed event

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tickler-proxy-'));
  letta = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body: body ? JSON.parse(body) : null });
      if (req.headers.authorization !== `Bearer ${KEY}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"detail":"bad key"}');
        return;
      }
      const parsed = body ? JSON.parse(body) : {};
      if (req.method === 'POST' && req.url === '/v1/agents/agent-9/messages' && !parsed.streaming) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          messages: [{ id: 'message-1', message_type: 'assistant_message', content: 'hello back', date: '2026-01-01T00:00:00Z' }],
          stop_reason: { message_type: 'stop_reason', stop_reason: 'end_turn' },
          usage: { message_type: 'usage_statistics', completion_tokens: 1, prompt_tokens: 1, total_tokens: 2, step_count: 1 },
        }));
        return;
      }
      if (req.method === 'POST' && req.url === '/v1/agents/agent-9/messages' && parsed.streaming) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(`data: ${JSON.stringify({ id: 'message-1', message_type: 'assistant_message', content: 'first', date: '2026-01-01T00:00:00Z' })}\n\n`);
        await new Promise((resolve) => (releaseSecond = resolve));
        res.write(`data: ${JSON.stringify({ id: 'message-2', message_type: 'assistant_message', content: 'second', date: '2026-01-01T00:00:01Z' })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not Found"}');
    });
  });
  await new Promise((resolve) => letta.listen(0, '127.0.0.1', resolve));
  lettaURL = `http://127.0.0.1:${letta.address().port}`;
  const bin = buildTickler(dir);
  server = await startTickler(bin, ['-db', path.join(dir, 'tickler.db'), '-api-key', KEY, '-proxy', '-letta-url', lettaURL]);
  client = new Letta({ baseURL: server.url, apiKey: KEY, maxRetries: 0 });
});

after(async () => {
  await server?.stop();
  await new Promise((resolve) => (letta ? letta.close(resolve) : resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('schedule routes are answered by tickler, not passed to Letta', async () => {
  seen = [];
  const created = await client.agents.schedule.create('agent-9', {
    messages: [{ role: 'user', content: 'later' }],
    schedule: { cron_expression: '0 9 * * *', type: 'recurring' },
  });
  const got = await client.agents.schedule.retrieve(created.id, { agent_id: 'agent-9' });
  assert.equal(got.id, created.id);
  assert.deepEqual(seen, [], 'the schedule calls reached the Letta server');
});

test('agents.messages.create passes through to Letta and back unchanged', async () => {
  seen = [];
  const resp = await client.agents.messages.create('agent-9', { messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(resp.messages[0].content, 'hello back');
  assert.equal(resp.stop_reason.stop_reason, 'end_turn');
  assert.equal(seen.length, 1);
  assert.equal(seen[0].auth, `Bearer ${KEY}`);
  assert.deepEqual(seen[0].body.messages, [{ role: 'user', content: 'hi' }]);
});

test('a streamed answer comes through event by event, not buffered', async () => {
  const stream = await client.agents.messages.create('agent-9', { messages: [{ role: 'user', content: 'hi' }], streaming: true });
  const events = [];
  for await (const ev of stream) {
    events.push(ev.content);
    // The Letta server holds the second event until the first has reached
    // the client through tickler.
    if (events.length === 1) releaseSecond();
  }
  assert.deepEqual(events, ['first', 'second']);
});
