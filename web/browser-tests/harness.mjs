// Harness of the browser tests: a private redis-server and the real redchat-server serving
// web/dist, Debian's Chromium driven by playwright-core, and a few REST/Socket.IO helpers to seed
// data. Everything started here is stopped by `stop()` and, whatever happens, killed when the
// test process exits.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import {
  exited,
  freePort,
  makeTempDir,
  terminate,
  track,
  waitFor,
} from '../../tests/shared/processes.mjs';
import { io } from 'socket.io-client';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

export const SERVER_BIN = process.env.REDCHAT_SERVER || path.join(repo, 'build', 'release', 'redchat-server');
export const REDIS_BIN = process.env.REDIS_SERVER || 'redis-server';
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const WEB_ROOT = process.env.REDCHAT_WEB_ROOT || path.join(repo, 'web', 'dist');
export const SCREENSHOT_DIR = process.env.REDCHAT_SCREENSHOTS || path.join(repo, 'build', 'screenshots');
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const PASSWORD = 'password123';

// ---- process bookkeeping: tests/shared/processes.mjs (shared with the integration tests) ----

export { freePort, waitFor };


function redisPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => done(d.toString('latin1').startsWith('+PONG')));
  });
}

// ---- redis + server ------------------------------------------------------------------------------

async function startRedis() {
  const dir = makeTempDir('redchat-bt-redis-');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = track(
      spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'], {
        stdio: 'ignore',
      }),
    );
    try {
      await waitFor('redis-server PING', async () => !exited(child) && (await redisPing(port)), 10_000);
      return { port, url: `redis://127.0.0.1:${port}`, child };
    } catch (err) {
      child.kill('SIGKILL');
      if (attempt >= 2) throw err;
    }
  }
}

// The servers started here, for the diagnosis of a failed step (their log's tail).
const servers = new Set();

class Server {
  constructor(redisUrl, port) {
    this.redisUrl = redisUrl;
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.child = null;
    this.log = '';
    servers.add(this);
  }

  async start() {
    const args = [
      '--port', String(this.port), '--bind', '127.0.0.1', '--redis-url', this.redisUrl, '--demo-data', 'on',
            '--bcrypt-cost', '4', '--threads', '2', '--log-level', 'info', '--web-root', WEB_ROOT,
      // Tests seed history quickly through one socket: lift the per-user message rate.
      '--messages-per-second', '1000', '--message-burst', '1000',
    ];
    const deadline = Date.now() + 15_000;
    for (;;) {
      const child = track(spawn(SERVER_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
      this.child = child;
      this.log = '';
      child.stderr.on('data', (d) => {
        this.log = (this.log + d).slice(-200_000);
      });
      child.on('error', (err) => {
        this.log += `\nspawn ${SERVER_BIN}: ${err.message}`;
      });
      try {
        await waitFor('event=listening', () => {
          if (exited(child)) throw new Error(`server exited (${child.exitCode ?? child.signalCode})`);
          return /event=listening/.test(this.log);
        }, 15_000);
        return;
      } catch (err) {
        // After a restart the port may still be held for a moment: try again until the deadline.
        if (!exited(child)) child.kill('SIGKILL');
        if (Date.now() > deadline) throw new Error(`${err.message}\n--- server log ---\n${this.log.slice(-4000)}`);
        await sleep(200);
      }
    }
  }

  /** SIGTERM; the server must exit cleanly. */
  async stop() {
    if (!this.child) return;
    const { code } = await terminate(this.child);
    this.child = null;
    if (code !== 0) throw new Error(`redchat-server exited with ${code}\n--- server log ---\n${this.log.slice(-4000)}`);
  }

  async restart() {
    await this.stop();
    await this.start();
  }
}

/**
 * A redis-server and a redchat-server (with demo data) on `port` (default: a free one; a fixed
 * port lets a restarted server be found again by the browsers). Waits for the demo data.
 */
export async function startStack({ port } = {}) {
  if (!fs.existsSync(path.join(WEB_ROOT, 'index.html'))) throw new Error(`${WEB_ROOT}/index.html is missing: run "npm run build" first`);
  const redis = await startRedis();
  const server = new Server(redis.url, port ?? (await freePort()));
  const stack = {
    redis,
    server,
    get base() {
      return server.base;
    },
    async stop() {
      try {
        await server.stop();
      } finally {
        await terminate(redis.child, 5000);
      }
    },
  };
  try {
    await server.start();
        // The demo data loads asynchronously: wait until General holds its five messages. Ask Redis,
    // not the server: logging in as Pablo first would register him and spoil the demo load.
    await waitFor('demo data', () => redisCli(redis.port, 'ZCARD', 'room:0') === '5', 30_000);
  } catch (err) {
    await stack.stop().catch(() => {});
    throw err;
  }
  return stack;
}

/** One redis-cli command (Debian's redis-tools, installed with redis-server); its trimmed output. */
function redisCli(port, ...args) {
  try {
    return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    return '';
  }
}

// ---- REST and Socket.IO clients (for seeding and checking) -------------------------------------------

/** Logs in (or registers) over REST; returns a small client carrying the session cookie. */
export async function login(base, username, password = PASSWORD) {
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const user = await res.json();
  if (res.status !== 200 && res.status !== 201) throw new Error(`login ${username}: HTTP ${res.status} ${JSON.stringify(user)}`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('redchat_sid='));
  const client = {
    user,
    cookie,
    async get(p) {
      const r = await fetch(base + p, { headers: { cookie } });
      return { status: r.status, json: await r.json().catch(() => undefined) };
    },
    async post(p, body) {
      const r = await fetch(base + p, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, json: await r.json().catch(() => undefined) };
    },
    /** A connected Socket.IO client of this user. */
    async socket() {
      const s = io(base, { extraHeaders: { cookie }, transports: ['websocket'], reconnection: false, forceNew: true });
      await new Promise((resolve, reject) => {
        s.once('connect', resolve);
        s.once('connect_error', reject);
      });
      return s;
    },
  };
  return client;
}

/** Sends messages over one socket, in order, each acknowledged; returns the stored messages. */
export async function sendMessages(client, roomId, texts) {
  const s = await client.socket();
  try {
    const out = [];
    for (const message of texts) {
      const ack = await s.timeout(5000).emitWithAck('message', { roomId, message });
      if (!ack || ack.error) throw new Error(`send failed: ${JSON.stringify(ack)}`);
      out.push(ack);
    }
    return out;
  } finally {
    s.disconnect();
  }
}

// ---- browser ---------------------------------------------------------------------------------------

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
}

const journals = new WeakMap();

/** A fresh browser context (own cookies) with a page open on the app. */
export async function openApp(browser, base, { viewport = DESKTOP, colorScheme = 'light', httpErrorsExpected = false } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, locale: 'en-GB', timezoneId: 'UTC', deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems = [];
  // The page's recent console lines and failed requests, for diagnosis().
  const journal = [];
  journals.set(page, journal);
  const note = (line) => journal.push(line) > 60 && journal.shift();
  page.on('console', (msg) => note(`console.${msg.type()}: ${msg.text()}`));
  page.on('response', (res) => res.status() >= 400 && note(`HTTP ${res.status()} ${res.request().method()} ${res.url()}`));
  page.on('requestfailed', (req) => note(`failed ${req.method()} ${req.url()}: ${req.failure()?.errorText}`));
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // The browser logs every 4xx answer; the login test provokes some on purpose.
    if (httpErrorsExpected && /status of 4\d\d/.test(msg.text())) return;
    problems.push(`console: ${msg.text()}`);
  });
  // No request may leave our own server: no fonts, CDNs or other network calls.
  const foreign = [];
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(base) && !url.startsWith('data:')) foreign.push(url);
  });
  await page.goto(base + '/');
  return { context, page, problems, foreign };
}

/**
 * Ends a test file: no page of `apps` (from openApp) had an error (but those matching `allowed`)
 * or asked anything of another server; then the browser and the stack stop, whatever happened.
 */
export async function finish({ apps, browser, stack, allowed = /^$/ }) {
  try {
    for (const a of apps) {
      if (a.problems.some((p) => !allowed.test(p))) throw new Error(`page errors: ${a.problems.join('\n')}`);
      if (a.foreign.length) throw new Error(`requests outside our server: ${a.foreign.join(' ')}`);
    }
  } finally {
    await browser?.close();
    await stack?.stop();
  }
}

/** Logs in through the form. */
export async function loginUi(page, username, password = PASSWORD) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  try {
    // "General", or "General 1 unread" when a message came after this user last read it.
    await roomButton(page, 'General').waitFor();
  } catch (err) {
    throw new Error(`${username} did not get to the room list: ${err.message}\n${await diagnosis(page)}`);
  }
}

/** What a page shows and what the servers logged last: the explanation of a failed wait. */
export async function diagnosis(page) {
  const shown = await page.evaluate(() => document.body.innerText).catch((e) => `(unreadable: ${e.message})`);
  const logs = [...servers].map((s) => s.log.slice(-6000)).join('\n---\n');
  const journal = (journals.get(page) ?? []).join('\n');
  return `--- page ${page.url()} shows ---\n${shown.slice(0, 2000)}\n--- page journal ---\n${journal}\n--- server log (tail) ---\n${logs}`;
}

export function roomsNav(page) {
  return page.getByRole('navigation', { name: 'Rooms' });
}

/** A room's entry, whether or not it has unread messages ("Joe" or "Joe 2 unread"). */
export function roomButton(page, title) {
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return roomsNav(page).getByRole('button', { name: new RegExp(`^${escaped}( \\d+ unread)?$`) });
}

export function messagesRegion(page) {
  return page.getByRole('region', { name: 'Messages' });
}

/** Types and sends a message with the keyboard (Enter). */
export async function sendUi(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
  await waitFor('the message box to clear', async () => (await box.inputValue()) === '', 5000); // handed to the socket
}

/** Waits until `text` shows exactly once in the Messages region (no duplicates). */
export async function expectMessageOnce(page, text, ms = 10_000) {
  const bubbles = messagesRegion(page).locator('.bubble', { hasText: text });
  await waitFor(`"${text}" shown once`, async () => (await bubbles.allInnerTexts()).filter((t) => t === text).length === 1, ms);
  // and it stays single (a late duplicate from history or the live event would show here)
  await sleep(150);
  const n = (await bubbles.allInnerTexts()).filter((t) => t === text).length;
  if (n !== 1) throw new Error(`"${text}" shown ${n} times`);
}

export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
