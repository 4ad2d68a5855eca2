// The chaos suite's toolkit: environments of real processes (one Redis, maybe behind a proxy
// that can go silent, and one or more chat servers on it), clients that record what they get, a
// ledger of every message sent and how it was answered, and the four invariants every scenario
// ends with (see README.md in this folder):
//   1. no acknowledged message was lost (each is in its room's history exactly once, with the
//      acknowledged id), nothing refused as "not stored" was stored, nothing appeared unsent;
//   2. nothing was delivered twice to any socket, and (where the scenario keeps the bus up)
//      every socket connected throughout got every acknowledged message of its rooms;
//   3. presence converged: `online_users` names exactly the users with a live socket;
//   4. once every client is gone, every server's gauges are back to zero and its memory is back
//      near its baseline.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  connectSocket, COOKIE_NAME, startProxy, startRedis, startServer, waitFor,
} from '../harness.mjs';

/** `short` in `make test`, `long` with `make chaos` (CHAOS_SCALE=long). */
export const SCALE = process.env.CHAOS_SCALE === 'long' ? 'long' : 'short';
export const pick = (short, long) => (SCALE === 'long' ? long : short);

/** A small deterministic PRNG (mulberry32): the same seed gives the same malformed inputs. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  next.bytes = (n) => Buffer.from(Array.from({ length: n }, () => next.int(256)));
  next.pick = (list) => list[next.int(list.length)];
  return next;
}

/** A seed from a scenario's name, so that each scenario has its own fixed inputs. */
export function seedOf(name) {
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

// Limits that would refuse the load itself are lifted; fault timings are short so that
// scenarios take seconds. Scenarios add their own flags after these (the last one wins).
export const CHAOS_ARGS = [
  '--messages-per-second', '100000', '--message-burst', '100000',
  '--max-sockets-per-user', '100000', '--max-connections-per-address', '100000',
  '--registrations-per-minute', '100000',
  '--presence-ttl', '3', '--redis-timeout-ms', '500', '--shutdown-timeout', '5',
];

// How long presence may take to converge: a dead instance is swept after its TTL (3 s) by the
// next round of a living one (every TTL/3), plus room for a loaded machine.
export const PRESENCE_BOUND_MS = 12000;

// Memory allowed above the baseline once every client is gone: allocator caches and pools,
// not the per-connection state a leak would leave (a thousand leaked sockets are far more).
// ctest sets a looser bound for the ASan build (CHAOS_MEMORY_SLACK_MB).
const MEMORY_SLACK_BYTES = Number(process.env.CHAOS_MEMORY_SLACK_MB || 24) * 1024 * 1024;

// The server's ack for a message it answers: the client waits this long before calling the
// outcome unknown (the Redis deadline is 500 ms; the connection may also just be gone).
const ACK_TIMEOUT_MS = 4000;

export function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * One HTTP request on a connection of its own, closed after the answer (fetch would keep it
 * open in its pool, and the released-connections check would wait for the pool to let go).
 */
export function request(url, { method = 'GET', headers = {}, body, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, localAddress, headers: { Connection: 'close', ...headers }, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within 5 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function login(base, name, password = 'password123') {
  const r = await request(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: name, password }),
  });
  if (r.status !== 200 && r.status !== 201) throw new Error(`login ${name}: ${r.status} ${r.text}`);
  const cookie = [].concat(r.headers['set-cookie'] || []).find((c) => c.startsWith(`${COOKIE_NAME}=`));
  return { name, id: JSON.parse(r.text).id, sid: cookie.slice(COOKIE_NAME.length + 1).split(';')[0] };
}

async function ready(server, ms = 15000) {
  await waitFor(`${server.base}/readyz 200`, async () => (await request(`${server.base}/readyz`).catch(() => ({}))).status === 200, ms, 100);
}

/** The server's metrics (name -> value; labelled series are left out). */
export async function metrics(base) {
  const { text } = await request(`${base}/metrics`);
  const out = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-z_]+) (\S+)$/);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** One chat client: a socket.io-client socket that counts every message it receives. */
export class Client {
  // `reconnect`: socket.io-client reconnects by itself (quickly) after losing its connection.
  constructor(env, server, user, { transports = ['websocket'], rooms = ['0'], reconnect = false } = {}) {
    this.env = env;
    this.server = server;
    this.user = user;
    this.rooms = new Set(rooms);
    this.counts = new Map(); // message text -> times received
    this.foreign = []; // messages of rooms this client is not in
    this.connectedAt = null;
    this.lostAt = null; // first disconnect after connecting
    const again = reconnect ? { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 1000 } : {};
    this.socket = connectSocket(server.base, user.sid, { transports, ...again });
    this.socket.on('connect', () => {
      if (this.connectedAt === null) this.connectedAt = performance.now();
    });
    this.socket.on('disconnect', () => {
      if (this.lostAt === null) this.lostAt = performance.now();
    });
    this.socket.on('message', (m) => {
      if (typeof m?.message !== 'string') return;
      this.counts.set(m.message, (this.counts.get(m.message) || 0) + 1);
      if (!this.rooms.has(String(m.roomId))) this.foreign.push(m);
    });
    env.clients.push(this);
  }

  async ready(ms = 10000) {
    if (!this.socket.connected) {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${this.user.name}: not connected within ${ms} ms`)), ms);
        this.socket.once('connect', () => { clearTimeout(timer); resolve(); });
        this.socket.once('connect_error', (err) => { clearTimeout(timer); reject(err); });
      });
    }
    return this;
  }

  /** Connected now and never disconnected since it first connected. */
  get stable() {
    return this.connectedAt !== null && this.lostAt === null && this.socket.connected;
  }

  close() {
    this.socket.close();
  }
}

/** Every message sent in a scenario and how the server answered it. */
export class Ledger {
  constructor(tag) {
    this.tag = tag;
    this.n = 0;
    this.sends = [];
  }

  text(from) {
    return `chaos ${this.tag} ${from} ${this.n++}`;
  }

  /**
   * Sends one message and records its outcome: `acked` (stored, with its id), `refused` (the
   * server says it is not stored), or `unknown` (the server says it may be stored, or no answer
   * came: the connection died with the message in flight).
   */
  async send(client, roomId = '0', text = this.text(client.user.name)) {
    const entry = { text, roomId, from: client.user.id, t0: performance.now(), outcome: 'pending', ack: null };
    this.sends.push(entry);
    let ack;
    try {
      ack = await client.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('message', { roomId, message: text });
    } catch {
      entry.outcome = 'unknown'; // no answer
      return entry;
    }
    entry.ack = ack;
    if (ack && !ack.error && ack.message === text) {
      entry.outcome = 'acked';
      entry.id = ack.id;
    } else if (ack?.error && ack.stored === 'unknown') {
      entry.outcome = 'unknown';
    } else if (ack?.error) {
      entry.outcome = 'refused'; // refused before storing, or "not stored"
    } else {
      assert.fail(`an ack that is neither a message nor an error: ${JSON.stringify(ack)}`);
    }
    return entry;
  }

  acked() {
    return this.sends.filter((s) => s.outcome === 'acked');
  }

  count(outcome) {
    return this.sends.filter((s) => s.outcome === outcome).length;
  }
}

/**
 * Senders that each send one message at a time (waiting for its answer) until stopped; a sender
 * whose socket is down waits for it to come back. `gapMs` paces each sender.
 */
export function pump(ledger, senders, { roomOf = () => '0', gapMs = 0, max = Infinity } = {}) {
  let stopped = false;
  let sent = 0;
  const loops = senders.map(async (c) => {
    while (!stopped && sent < max) {
      if (!c.socket.connected) {
        if (c.lostAt !== null && !c.socket.active) return; // gone for good
        await sleep(20); // pacing while it reconnects, not synchronisation
        continue;
      }
      sent++;
      await ledger.send(c, roomOf(c));
      if (gapMs) await sleep(gapMs);
    }
  });
  return {
    get sent() {
      return sent;
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
    done: () => Promise.all(loops),
  };
}

export { ready as waitServerReady };

export class Env {
  constructor(name) {
    this.name = name;
    this.servers = [];
    this.clients = [];
    this.raw = []; // raw sockets of malformed-input clients, destroyed at the end
    this.users = new Map();
    this.redis = null;
    this.proxy = null;
    this.db = null;
    this.serverArgs = [];
  }

  /**
   * opts: {instances, persistent (AOF, fsync always), viaProxy (servers reach Redis through a
   * proxy that can go silent), args (extra server flags)}.
   */
  static async start(name, { instances = 1, persistent = false, viaProxy = false, args = [] } = {}) {
    const env = new Env(name);
    try {
      env.redis = await startRedis({ persistent });
      env.db = env.redis.client();
      if (viaProxy) env.proxy = await startProxy(env.redis.port);
      env.serverArgs = args;
      for (let i = 0; i < instances; i++) await env.addServer();
    } catch (err) {
      await env.teardown();
      throw err;
    }
    return env;
  }

  get redisUrl() {
    return this.proxy ? `redis://127.0.0.1:${this.proxy.port}` : this.redis.url;
  }

  async addServer(args = this.serverArgs) {
    // Under ASan, freed memory would wait in a 256 MB quarantine and look like growth; a small
    // one, and free pages handed back soon, make the memory check mean the same in both builds.
    const asan = `${process.env.ASAN_OPTIONS || ''}:quarantine_size_mb=1:allocator_release_to_os_interval_ms=100`;
    const server = await startServer({
      redisUrl: this.redisUrl,
      demoData: 'off',
      extraArgs: [...CHAOS_ARGS, ...args],
      env: { ASAN_OPTIONS: asan },
    });
    this.servers.push(server);
    await ready(server);
    server.baseline = rssBytes(server.child.pid);
    return server;
  }

  live() {
    return this.servers.filter((s) => s.running() && !s.stopped);
  }

  /** Logs in (registering on first use) through the first live server. */
  async user(name) {
    if (!this.users.has(name)) {
      this.users.set(name, await login(this.live()[0].base, name));
    }
    return this.users.get(name);
  }

  async usersNamed(prefix, n) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.user(`${prefix}${i}`));
    return out;
  }

  client(server, user, opts) {
    return new Client(this, server, user, opts);
  }

  async connectAll(server, users, opts) {
    const clients = users.map((u) => this.client(server, u, opts));
    await Promise.all(clients.map((c) => c.ready()));
    return clients;
  }

  /**
   * Proves that everything sent before it has reached `receivers`: a sentinel message, sent
   * after every acknowledgement the scenario waited for, arrives after all of them. After a bus
   * outage a sentinel may itself be published while a subscriber is still reconnecting (live
   * delivery resumes, it does not replay): with `retry`, a new sentinel goes out every 2 s until
   * one reaches every receiver.
   */
  async flush(sender, receivers, { ms = 10000, retry = false } = {}) {
    const deadline = performance.now() + (retry ? 20000 : ms);
    for (let round = 0; ; round++) {
      const text = `sentinel ${this.name} ${round} ${performance.now()}`;
      const ack = await sender.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('message', { roomId: '0', message: text });
      assert.ok(ack && !ack.error, `sentinel refused: ${JSON.stringify(ack)}`);
      const wait = retry ? Math.min(2000, deadline - performance.now()) : ms;
      try {
        for (const r of receivers) await waitFor(`${r.user.name} got the sentinel`, () => r.counts.has(text), wait);
        return;
      } catch (err) {
        if (!retry || performance.now() >= deadline) throw err;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // The invariants

  /** 1: history agrees with every answer the clients got. */
  async checkHistory(ledger) {
    const rooms = new Set(ledger.sends.map((s) => s.roomId));
    const stored = new Map(); // text -> [ids]
    for (const room of rooms) {
      for (const raw of await this.db.zrange(`room:${room}`, 0, -1)) {
        const m = JSON.parse(raw);
        if (typeof m.message !== 'string' || !m.message.startsWith(`chaos ${ledger.tag} `)) continue;
        if (!stored.has(m.message)) stored.set(m.message, []);
        stored.get(m.message).push(m.id);
      }
    }
    const sent = new Set(ledger.sends.map((s) => s.text));
    for (const text of stored.keys()) assert.ok(sent.has(text), `stored but never sent: ${text}`);
    for (const s of ledger.sends) {
      const ids = stored.get(s.text) || [];
      if (s.outcome === 'acked') {
        assert.deepEqual(ids, [s.id], `acknowledged ${s.text} (id ${s.id}): stored ${ids.length} times`);
      } else if (s.outcome === 'refused') {
        assert.equal(ids.length, 0, `refused (${JSON.stringify(s.ack)}) but stored: ${s.text}`);
      } else {
        assert.ok(ids.length <= 1, `unknown outcome stored ${ids.length} times: ${s.text}`);
      }
    }
  }

  /**
   * 2: no socket got a message twice or a message of a room it is not in; with `complete`,
   * every socket connected throughout got every acknowledged message of its rooms sent after it
   * connected (call flush() first).
   */
  checkDelivery(ledger, { complete = false } = {}) {
    for (const c of this.clients) {
      for (const [text, n] of c.counts) assert.ok(n === 1, `${c.user.name} got "${text.slice(0, 80)}" ${n} times`);
      assert.deepEqual(c.foreign, [], `${c.user.name} got messages of rooms it is not in`);
    }
    if (!complete) return;
    const acked = ledger.acked();
    let checked = 0;
    for (const c of this.clients.filter((x) => x.stable)) {
      for (const s of acked) {
        if (!c.rooms.has(s.roomId) || s.t0 < c.connectedAt) continue;
        checked++;
        assert.ok(c.counts.has(s.text), `${c.user.name} (connected throughout) missed acknowledged "${s.text}"`);
      }
    }
    assert.ok(checked > 0 || acked.length === 0, 'no delivery was checked: no stable client');
  }

  /** 3: `online_users` converges to the users with a live socket. */
  async checkPresence(ms = PRESENCE_BOUND_MS) {
    const expected = () =>
      [...new Set(this.clients.filter((c) => c.socket.connected && c.server.running()).map((c) => String(c.user.id)))].sort();
    let last = [];
    try {
      await waitFor('presence converged', async () => {
        last = (await this.db.smembers('online_users')).sort();
        return JSON.stringify(last) === JSON.stringify(expected());
      }, ms, 100);
    } catch {
      assert.deepEqual(last, expected(), `online_users did not converge within ${ms} ms`);
    }
  }

  /**
   * 4: every client goes; every live server's sockets, connections and queued output return to
   * zero, presence to empty, and memory to near its baseline.
   */
  async checkReleased() {
    for (const c of this.clients) c.close();
    for (const s of this.raw) s.destroy();
    this.raw = [];
    for (const server of this.live()) {
      let m = {};
      try {
        await waitFor(`${server.base} released every connection`, async () => {
          m = await metrics(server.base);
          // The scrape's own connection is the one left open.
          return m.redchat_sockets_open === 0 && m.redchat_connections_open <= 1 && m.redchat_queued_output_bytes === 0;
        }, 15000, 100);
      } catch {
        assert.fail(`after every client left: sockets ${m.redchat_sockets_open}, connections ${m.redchat_connections_open}, queued bytes ${m.redchat_queued_output_bytes}`);
      }
    }
    await this.checkPresence();
    const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
    for (const server of this.live()) {
      const rss = rssBytes(server.child.pid);
      this.summary.push(`memory ${mb(server.baseline)} -> ${mb(rss)}`);
      assert.ok(rss <= server.baseline + MEMORY_SLACK_BYTES,
        `${server.base}: memory ${mb(rss)} after the scenario, baseline ${mb(server.baseline)}`);
    }
  }

  /** All four, then a clean stop (exit 0) of every live server. */
  async verify(ledger, { complete = false, flushFrom = null } = {}) {
    // Misbehaving raw clients are not part of what presence must show: they go first.
    for (const s of this.raw) s.destroy();
    this.raw = [];
    if (complete) {
      const sender = flushFrom || this.clients.find((c) => c.stable);
      await this.flush(sender, this.clients.filter((c) => c.stable));
    }
    await this.checkHistory(ledger);
    this.checkDelivery(ledger, { complete });
    await this.checkPresence();
    this.summary = [`acked ${ledger.count('acked')}, refused ${ledger.count('refused')}, unknown ${ledger.count('unknown')}`];
    await this.checkReleased();
    process.stderr.write(`[chaos] ${this.name}: ${this.summary.join('; ')}\n`);
  }

  /** Stops everything; asserts that every server still running exits cleanly. */
  async stop() {
    let failure = null;
    for (const c of this.clients) c.close();
    for (const s of this.raw) s.destroy();
    for (const server of this.servers) {
      try {
        if (server.running() && !server.stopped) await server.stop();
      } catch (err) {
        failure ??= err;
      }
    }
    await this.teardown();
    if (failure) throw failure;
  }

  async teardown() {
    for (const server of this.servers) if (server.running()) await server.kill();
    this.db?.disconnect();
    await this.proxy?.close();
    await this.redis?.stop();
  }
}

/**
 * Runs a scenario in a fresh environment and always tears it down; `body(env)` returns nothing
 * and checks its invariants through env.verify().
 */
export async function withEnv(name, opts, body) {
  const env = await Env.start(name, opts);
  let ok = false;
  try {
    await body(env);
    ok = true;
  } finally {
    if (ok) await env.stop();
    else {
      const logs = env.servers.map((s) => `--- ${s.base} ---\n${s.logs().slice(-4000)}`).join('\n');
      process.stderr.write(`\n[chaos ${name}] server logs:\n${logs}\n`);
      await env.teardown();
    }
  }
}
