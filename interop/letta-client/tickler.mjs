// Builds and runs "tickler serve" for the interop tests.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// buildTickler builds ./cmd/tickler into dir and returns the binary's path.
// Needs Go on PATH (or $GO).
export function buildTickler(dir) {
  const bin = path.join(dir, 'tickler');
  execFileSync(process.env.GO || 'go', ['build', '-o', bin, './cmd/tickler'], { cwd: repoRoot, stdio: 'inherit' });
  return bin;
}

// The environment of a server: this process's, without TICKLER_*, so that
// only the flags given apply.
export function serverEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TICKLER_')));
}

// startTickler runs "bin serve" with args on a free port (-addr
// 127.0.0.1:0: the server picks the port and logs its URL, so no other
// process can take it between choosing and listening) and resolves, once
// it listens, to { url, log(), stop() }. stop sends SIGTERM and asserts a
// clean exit.
export async function startTickler(bin, args) {
  const child = spawn(bin, ['serve', '-addr', '127.0.0.1:0', '-log-format', 'text', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: serverEnv(),
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 15_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /msg="tickler: listening" url=(http:\/\/\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
  return {
    url,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGTERM');
      const { code, signal } = await exited;
      // A clean shutdown on SIGTERM exits 0.
      assert.equal(code, 0, `server exited with code ${code}, signal ${signal}:\n${log}`);
      assert.match(log, /msg="tickler: stopped"/);
    },
  };
}

// startReceiver listens for callbacks on a free loopback port and resolves
// to { url, callbacks, next(), close() }: callbacks lists each one received
// ({ path, headers, body }), and next() resolves at the next one.
export async function startReceiver() {
  const callbacks = [];
  let waiters = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      callbacks.push({ path: req.url, headers: req.headers, body: JSON.parse(body) });
      res.writeHead(204).end();
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    callbacks,
    next: () => new Promise((resolve) => waiters.push(resolve)),
    close: () => server.close(),
  };
}

// within rejects if promise does not settle within ms.
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
  ]);
}
