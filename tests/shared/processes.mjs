// Child processes and temporary folders for the test harnesses (tests/integration and
// web/browser-tests): whatever happens, nothing started through here outlives the test process.
// Node built-ins only, so that both packages can import it by path.

import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const live = new Set(); // ChildProcess objects still running
const tmpDirs = new Set();

/** Registers a child process: it is SIGKILLed if still running when the test process exits. */
export function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  if (!process.env.REDCHAT_TEST_KEEP_TMP) {
    for (const dir of tmpDirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => process.exit(130));
}

/** A new temporary folder, removed when the test process exits (unless REDCHAT_TEST_KEEP_TMP). */
export function makeTempDir(prefix = 'redchat-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(dir);
  return dir;
}

/** A free TCP port on 127.0.0.1: bind port 0, read the port, close. */
export async function freePort() {
  const srv = net.createServer();
  srv.unref();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

export function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves to {code, signal} once `child` exits, or to null after `ms`. */
export async function waitExit(child, ms) {
  if (exited(child)) return { code: child.exitCode, signal: child.signalCode };
  let timer;
  const done = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves to {code, signal, forced}. */
export async function terminate(child, graceMs = 10000) {
  if (exited(child)) return { code: child.exitCode, signal: child.signalCode, forced: false };
  child.kill('SIGTERM');
  const r = await waitExit(child, graceMs);
  if (r) return { ...r, forced: false };
  child.kill('SIGKILL');
  const k = await waitExit(child, 5000);
  return { ...(k || { code: null, signal: 'SIGKILL' }), forced: true };
}

/** Polls `fn` until it returns something truthy (which is returned), or throws after `ms`. */
export async function waitFor(what, fn, ms = 10000, interval = 50) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await sleep(interval);
  }
}
