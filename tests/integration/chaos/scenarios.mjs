// The chaos scenarios. Each builds its own environment (lib.mjs), runs traffic through a fault,
// and ends with env.verify(): no acknowledged message lost, nothing delivered twice, presence
// converged, every connection and its memory released. Sizes and durations come from pick()
// (short in `make test`, long in `make chaos`); random inputs come from a PRNG seeded by the
// scenario's name, so that each run sends the same bytes.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { COOKIE_NAME, pollingSession, waitFor } from '../harness.mjs';
import { Ledger, metrics, pick, pump, request, rng, seedOf, waitServerReady as waitReady, withEnv } from './lib.mjs';
import { frame, tcp, text, upgrade } from './raw.mjs';

const DURATION_MS = pick(1500, 20000);

/** `users` users with `perUser` clients each on `server` (round-robin over servers if many). */
async function crowd(env, prefix, users, perUser = 1, { servers = [env.servers[0]], transports, rooms } = {}) {
  const us = await env.usersNamed(prefix, users);
  const clients = [];
  let i = 0;
  for (const u of us) {
    for (let k = 0; k < perUser; k++) clients.push(env.client(servers[i++ % servers.length], u, { transports, rooms }));
  }
  await Promise.all(clients.map((c) => c.ready()));
  return clients;
}

/** Runs `senders` for `ms`, then stops them; resolves with the pump. */
async function traffic(ledger, senders, ms = DURATION_MS, opts = {}) {
  const p = pump(ledger, senders, opts);
  await sleep(ms); // the length of the run, not a synchronisation
  await p.stop();
  return p;
}

/** Starts senders, runs `fault()` once some messages are acknowledged, then keeps sending a while. */
async function trafficAround(ledger, senders, fault, { after = DURATION_MS / 2, ...opts } = {}) {
  const p = pump(ledger, senders, opts);
  await waitFor('messages acknowledged before the fault', () => ledger.count('acked') >= 10, 15000);
  await fault();
  await sleep(after);
  await p.stop();
  return p;
}

const asUser = (user, extra = {}) => ({ Cookie: `${COOKIE_NAME}=${user.sid}`, ...extra });

async function privateRoom(base, a, b) {
  const r = await request(`${base}/room`, {
    method: 'POST',
    headers: asUser(a, { 'content-type': 'application/json' }),
    body: JSON.stringify({ user1: Number(a.id), user2: Number(b.id) }),
  });
  assert.equal(r.status, 201, r.text);
  return JSON.parse(r.text).id;
}

function onePerUser(clients) {
  const seen = new Set();
  return clients.filter((c) => !seen.has(c.user.name) && seen.add(c.user.name));
}

/** Waits for a metric of `server` to satisfy `pred`. */
async function metricReaches(server, name, pred, ms = 15000) {
  await waitFor(`${name} on ${server.base}`, async () => pred((await metrics(server.base))[name] ?? 0), ms, 100);
}

export const scenarios = [
  // ---------------------------------------------------------------------------------------------
  // One instance, healthy Redis: the baseline every fault is compared with.
  {
    name: 'steady traffic in General',
    async run(env) {
      const clients = await crowd(env, 'steady', 4, 2);
      const ledger = new Ledger('steady');
      await traffic(ledger, onePerUser(clients));
      assert.ok(ledger.count('acked') > 20, `only ${ledger.count('acked')} acknowledged`);
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'WebSocket, polling and upgraded clients side by side',
    async run(env) {
      const ws = await crowd(env, 'mixws', 3, 1);
      const polling = await crowd(env, 'mixpoll', 3, 1, { transports: ['polling'] });
      const upgraded = await crowd(env, 'mixup', 3, 1, { transports: ['polling', 'websocket'] });
      const ledger = new Ledger('mixed');
      await traffic(ledger, [ws[0], polling[0], upgraded[0]]);
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'private rooms reach their two members only',
    async run(env) {
      const users = await env.usersNamed('priv', 6);
      const rooms = new Map();
      for (let i = 0; i < 6; i += 2) {
        const id = await privateRoom(env.servers[0].base, users[i], users[i + 1]);
        rooms.set(users[i].name, id).set(users[i + 1].name, id);
      }
      const clients = users.map((u) => env.client(env.servers[0], u, { rooms: ['0', rooms.get(u.name)] }));
      await Promise.all(clients.map((c) => c.ready()));
      const ledger = new Ledger('private');
      await traffic(ledger, clients, DURATION_MS, { roomOf: (c) => rooms.get(c.user.name) });
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'a flood beyond the rate limit: refusals are never stored',
    args: ['--messages-per-second', '40', '--message-burst', '20'],
    async run(env) {
      const clients = await crowd(env, 'flood', 3, 1);
      const quiet = (await crowd(env, 'floodquiet', 1, 1))[0]; // under its limit: sends the sentinel
      const ledger = new Ledger('flood');
      await traffic(ledger, clients);
      assert.ok(ledger.count('refused') > 0, 'the flood was never refused');
      assert.ok(ledger.count('acked') > 0, 'nothing got through');
      await env.verify(ledger, { complete: true, flushFrom: quiet });
    },
  },
  {
    name: 'messages around the size limit, in several scripts',
    args: ['--max-message-chars', '300'],
    async run(env) {
      const clients = await crowd(env, 'size', 3, 1);
      const ledger = new Ledger('size');
      const r = rng(seedOf(this.name));
      const alphabet = ['a', 'é', '中', '😀', ' ', 'ß'];
      const p = (async () => {
        for (let i = 0; i < pick(150, 1500); i++) {
          const c = clients[i % clients.length];
          const head = ledger.text(c.user.name);
          const pad = Array.from({ length: r.int(300) }, () => r.pick(alphabet)).join('');
          await ledger.send(c, '0', `${head} ${pad}`);
        }
      })();
      await p;
      assert.ok(ledger.count('refused') > 0 && ledger.count('acked') > 0);
      for (const s of ledger.sends) {
        const chars = [...s.text].length;
        assert.equal(s.outcome, chars <= 300 ? 'acked' : 'refused', `${chars} characters: ${JSON.stringify(s.ack)}`);
      }
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'presence churn: users come and go while others chat',
    async run(env) {
      const stable = await crowd(env, 'churnstay', 2, 1);
      const users = await env.usersNamed('churn', 12);
      const r = rng(seedOf(this.name));
      const ledger = new Ledger('churn');
      const p = pump(ledger, stable);
      const live = new Map();
      const until = performance.now() + DURATION_MS;
      while (performance.now() < until) {
        const u = r.pick(users);
        if (live.has(u.name) && r() < 0.5) {
          live.get(u.name).close();
          live.delete(u.name);
        } else if (!live.has(u.name)) {
          const c = env.client(env.servers[0], u);
          live.set(u.name, c);
          await c.ready();
        }
      }
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'clients that vanish with a message in flight',
    async run(env) {
      const watchers = await crowd(env, 'vanishwatch', 2, 1);
      const users = await env.usersNamed('vanish', 4);
      const ledger = new Ledger('vanish');
      const p = pump(ledger, [watchers[0]]);
      for (let round = 0; round < pick(8, 60); round++) {
        const c = await env.client(env.servers[0], users[round % users.length]).ready();
        const sent = ledger.send(c, '0');
        c.socket.io.engine.transport.ws.terminate(); // the TCP connection dies, no close frame
        await sent;
      }
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },

  // ---------------------------------------------------------------------------------------------
  // Slow, stalled and silent clients
  {
    name: 'a WebSocket consumer that stops reading is dropped, the others unaffected',
    args: ['--max-queued-bytes', String(256 * 1024)],
    async run(env) {
      const clients = await crowd(env, 'slowok', 3, 1);
      const slowUser = await env.user('slowone');
      const slow = new WebSocket(`ws://127.0.0.1:${env.servers[0].port}/socket.io/?EIO=4&transport=websocket`, {
        headers: { Cookie: `${COOKIE_NAME}=${slowUser.sid}` },
      });
      slow.on('error', () => {});
      await new Promise((resolve) => slow.once('message', resolve)); // the open packet
      slow.send('40');
      await new Promise((resolve) => slow.once('message', resolve)); // the connect ack
      slow._socket.pause(); // reads nothing more: the server's queue for it grows
      const ledger = new Ledger('slow');
      const big = 'x'.repeat(3500);
      const p = pump(ledger, clients, { roomOf: () => '0' });
      let n = 0;
      const padding = { send: (c) => c.socket.timeout(4000).emitWithAck('message', { roomId: '0', message: `pad ${n++} ${big}` }).catch(() => {}) };
      const pad = pump(padding, [clients[0]]);
      await metricReaches(env.servers[0], 'redchat_slow_clients_dropped_total', (v) => v >= 1);
      await pad.stop();
      await p.stop();
      slow.terminate();
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'a polling client that never polls again is dropped and shown offline',
    args: ['--ping-interval-ms', '300', '--ping-timeout-ms', '300'],
    async run(env) {
      const clients = await crowd(env, 'stallok', 2, 1);
      const stalled = await env.user('stalled');
      const session = await pollingSession(env.servers[0].base, stalled.sid);
      await (await session.post('40')).text();
      await (await session.get()).text(); // the connect ack; no poll follows
      await waitFor('the stalled user online', async () => (await env.db.sismember('online_users', String(stalled.id))) === 1);
      const ledger = new Ledger('stall');
      await traffic(ledger, clients);
      // It never answered a ping: closed, and presence (checked in verify) no longer counts it.
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'WebSocket clients that never answer pings are closed and shown offline',
    args: ['--ping-interval-ms', '300', '--ping-timeout-ms', '300'],
    async run(env) {
      const clients = await crowd(env, 'deafok', 2, 1);
      const deaf = await env.usersNamed('deaf', pick(5, 50));
      const sockets = [];
      for (const u of deaf) {
        const { socket, status } = await upgrade(env.servers[0], u.sid);
        assert.equal(status, 101);
        socket.write(text('40'));
        env.raw.push(socket);
        sockets.push(new Promise((resolve) => socket.once('close', resolve)));
      }
      const ledger = new Ledger('deaf');
      const p = pump(ledger, clients);
      await Promise.all(sockets); // each closed by the server after its ping went unanswered
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },

  // ---------------------------------------------------------------------------------------------
  // Malformed input while others chat
  {
    name: 'random bytes after a WebSocket upgrade',
    async run(env) {
      const clients = await crowd(env, 'garbws', 2, 1);
      const bad = await env.user('garbws_bad');
      const r = rng(seedOf(this.name));
      const ledger = new Ledger('garbws');
      const p = pump(ledger, clients);
      for (let i = 0; i < pick(60, 600); i++) {
        const { socket, status } = await upgrade(env.servers[0], r() < 0.5 ? bad.sid : undefined);
        assert.equal(status, 101);
        env.raw.push(socket);
        const kind = r.int(4);
        if (kind === 0) socket.write(r.bytes(1 + r.int(2000))); // pure noise
        else if (kind === 1) socket.write(frame(r.int(16), r.bytes(r.int(300)), { mask: r() < 0.8 })); // any opcode
        else if (kind === 2) socket.write(frame(0x1, r.bytes(r.int(200)))); // text that is not UTF-8 (mostly)
        else socket.write(Buffer.concat([text('40'), frame(0x0, r.bytes(50), { fin: r() < 0.5 })])); // a stray continuation
      }
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'malformed Engine.IO and Socket.IO packets on live sockets',
    async run(env) {
      const clients = await crowd(env, 'badsio', 2, 1);
      const bad = await env.user('badsio_bad');
      const r = rng(seedOf(this.name));
      const shapes = [
        () => `42${r.bytes(r.int(40)).toString('latin1')}`,
        () => '42["message",{"roomId":"0","message":' + '['.repeat(r.int(5000)),
        () => `42${r.int(1e9)}["message",{"roomId":"${r.pick(['0', '1:2', '99', '', 'x'.repeat(300)])}","message":${r.pick(['1', 'null', '""', '{}'])}}]`,
        () => `4${r.int(10)}/${'n'.repeat(r.int(500))},["x"]`,
        () => `451-["message",{"_placeholder":true,"num":${r.int(3)}}]`,
        () => `${r.int(10)}${r.bytes(r.int(100)).toString('base64')}`,
        () => `42["room.join",${r.pick(['"0"', '"1:2"', '{}', '[]', '"' + 'a'.repeat(r.int(100000)) + '"'])}]`,
        () => '2probe',
      ];
      const ledger = new Ledger('badsio');
      const p = pump(ledger, clients);
      for (let i = 0; i < pick(30, 300); i++) {
        const { socket, status } = await upgrade(env.servers[0], bad.sid);
        assert.equal(status, 101);
        env.raw.push(socket);
        socket.write(text('40'));
        for (let k = 0; k < 10; k++) socket.write(text(r.pick(shapes)()));
      }
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'malformed polling requests on live sessions',
    // The sessions it abandons end when their pings go unanswered.
    args: ['--ping-interval-ms', '300', '--ping-timeout-ms', '300'],
    async run(env) {
      const clients = await crowd(env, 'badpoll', 2, 1);
      const bad = await env.user('badpoll_bad');
      const r = rng(seedOf(this.name));
      const ledger = new Ledger('badpoll');
      const p = pump(ledger, clients);
      const base = env.servers[0].base;
      for (let i = 0; i < pick(40, 400); i++) {
        const session = await pollingSession(base, bad.sid);
        const bodies = [
          () => r.bytes(r.int(3000)),
          () => ['40', '42["message"]', r.bytes(20).toString('latin1'), '3', '1'].join('\x1e'),
          () => `b${r.bytes(100).toString('base64')}`,
          () => '\x1e'.repeat(r.int(2000)),
          () => '40\x1e' + '42["typing"]\x1e'.repeat(r.int(300)),
        ];
        const res = await session.post(r.pick(bodies)());
        assert.ok([200, 400, 413].includes(res.status), `POST answered ${res.status}`);
        await res.arrayBuffer();
        const junk = await request(`${base}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(r.bytes(24).toString('latin1'))}`);
        assert.equal(junk.status, 400);
        if (r() < 0.5) {
          const g = await session.get().catch(() => null);
          await g?.arrayBuffer();
        }
      }
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'garbage and truncated HTTP requests',
    args: ['--ping-interval-ms', '300', '--ping-timeout-ms', '300'],
    async run(env) {
      const clients = await crowd(env, 'garbhttp', 2, 1);
      const r = rng(seedOf(this.name));
      const ledger = new Ledger('garbhttp');
      const p = pump(ledger, clients);
      const shapes = [
        () => r.bytes(1 + r.int(4000)),
        () => Buffer.from(`GET /${'a'.repeat(r.int(20000))} HTTP/1.1\r\nHost: x\r\n\r\n`),
        () => Buffer.from(`POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: ${r.int(1e9)}\r\n\r\n{"username":`),
        () => Buffer.from(`GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n${'X-A: b\r\n'.repeat(r.int(3000))}\r\n`),
        () => Buffer.from('POST /room HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
        () => Buffer.from(`GET / HTTP/1.1\r\n${r.bytes(200).toString('latin1')}\r\n\r\n`),
      ];
      for (let i = 0; i < pick(80, 800); i++) {
        const s = await tcp(env.servers[0]);
        env.raw.push(s);
        s.write(r.pick(shapes)());
        if (r() < 0.5) s.end();
      }
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'idle and half-sent connections hold no more than their sockets',
    async run(env) {
      const clients = await crowd(env, 'halfopen', 2, 1);
      const ledger = new Ledger('halfopen');
      const p = pump(ledger, clients);
      for (let i = 0; i < pick(200, 2000); i++) {
        const s = await tcp(env.servers[0]);
        env.raw.push(s);
        if (i % 3 === 1) s.write('GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n');
        if (i % 3 === 2) s.write('POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"user');
      }
      await metricReaches(env.servers[0], 'redchat_connections_open', (v) => v >= pick(200, 2000));
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'the per-address connection cap is hit and released',
    args: ['--max-connections-per-address', '50'],
    async run(env) {
      // The chat clients come from 127.0.0.1, the flood from 127.0.0.2: separate counts.
      const clients = await crowd(env, 'capped', 2, 1);
      const ledger = new Ledger('capped');
      const p = pump(ledger, clients);
      const flood = [];
      for (let i = 0; i < 80; i++) {
        const s = await tcp(env.servers[0], { localAddress: '127.0.0.2' }).catch(() => null);
        if (s) flood.push(s);
        env.raw.push(...(s ? [s] : []));
      }
      await metricReaches(env.servers[0], 'redchat_refused_connections_total', (v) => v >= 30);
      for (const s of flood) s.destroy();
      // Released: the address can connect (and log in) again.
      await waitFor('the capped address is served again', async () => {
        const res = await request(`${env.servers[0].base}/healthz`, { localAddress: '127.0.0.2' }).catch(() => null);
        return res?.status === 200;
      });
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },

  // ---------------------------------------------------------------------------------------------
  // Storms
  {
    name: 'a reconnect storm of 2,000 clients',
    async run(env) {
      const n = 2000;
      const stable = await crowd(env, 'stormstay', 2, 1);
      const users = await env.usersNamed('storm', 40);
      const storm = Array.from({ length: n }, (_, i) => env.client(env.servers[0], users[i % users.length], { reconnect: true }));
      await Promise.all(storm.map((c) => c.ready(60000)));
      const ledger = new Ledger('storm');
      const p = pump(ledger, stable);
      for (let round = 0; round < pick(1, 5); round++) {
        // Every connection drops at once (as when a proxy or a network restarts); every client
        // comes back by itself within a second.
        const back = storm.map((c) => new Promise((resolve) => c.socket.io.once('reconnect', resolve)));
        for (const c of storm) c.socket.io.engine.transport.ws.terminate();
        await Promise.all(back);
      }
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'a polling-to-WebSocket upgrade storm while messages flow',
    async run(env) {
      const n = pick(300, 1500);
      const stable = await crowd(env, 'upstay', 2, 1);
      const users = await env.usersNamed('upstorm', 30);
      const ledger = new Ledger('upstorm');
      const p = pump(ledger, stable);
      const wave = Array.from({ length: n }, (_, i) =>
        env.client(env.servers[0], users[i % users.length], { transports: ['polling', 'websocket'] }));
      await Promise.all(wave.map((c) => c.ready(30000)));
      await waitFor('every client upgraded', () => wave.every((c) => c.socket.io.engine?.transport?.name === 'websocket'), 30000);
      await sleep(pick(300, 5000)); // traffic after the storm, too
      await p.stop();
      // Every upgraded client got every message acknowledged after it connected, once.
      await env.verify(ledger, { complete: true });
    },
  },

  // ---------------------------------------------------------------------------------------------
  // Two instances on one Redis
  {
    name: 'two instances: every message crosses to the other',
    instances: 2,
    async run(env) {
      const clients = await crowd(env, 'pair', 6, 1, { servers: env.servers });
      const ledger = new Ledger('pair');
      await traffic(ledger, clients);
      await env.verify(ledger, { complete: true });
    },
  },
  {
    name: 'kill -9 of one instance mid-stream',
    instances: 2,
    async run(env) {
      const [a, b] = env.servers;
      const onA = await crowd(env, 'killa', 3, 1, { servers: [a] });
      const onB = await crowd(env, 'killb', 3, 1, { servers: [b] });
      const ledger = new Ledger('kill');
      await trafficAround(ledger, [...onA, ...onB], async () => {
        await b.kill();
        // B's users come back through A, as behind a load balancer.
        for (const c of onB) await env.client(a, c.user).ready();
      });
      // B's sockets got no answer for what they had in flight: unknown, never duplicated.
      await env.verify(ledger, { complete: true, flushFrom: onA[0] });
    },
  },
  {
    name: 'SIGTERM of one instance under load',
    instances: 2,
    async run(env) {
      const [a, b] = env.servers;
      const onA = await crowd(env, 'terma', 3, 1, { servers: [a] });
      const onB = await crowd(env, 'termb', 3, 1, { servers: [b] });
      const ledger = new Ledger('term');
      await trafficAround(ledger, [...onA, ...onB], async () => {
        const r = await b.terminate(10000);
        assert.equal(r.code, 0, `B exited ${JSON.stringify(r)}`);
        for (const c of onB) await env.client(a, c.user).ready();
      });
      await env.verify(ledger, { complete: true, flushFrom: onA[0] });
    },
  },
  {
    name: 'a rolling restart of both instances',
    instances: 2,
    async run(env) {
      const users = await env.usersNamed('roll', 4);
      const ledger = new Ledger('roll');
      let [a, b] = env.servers;
      const onB = users.map((u) => env.client(b, u));
      await Promise.all(onB.map((c) => c.ready()));
      // Restart A while B carries the traffic, then B while the new A does.
      for (const [down, up] of [['a', 'b'], ['b', 'a']]) {
        const cur = { a, b };
        const carriers = await Promise.all(users.map((u) => env.client(cur[up], u).ready()));
        const p = pump(ledger, carriers);
        await waitFor('traffic', () => ledger.count('acked') >= 10);
        const r = await cur[down].terminate(10000);
        assert.equal(r.code, 0);
        const fresh = await env.addServer();
        if (down === 'a') a = fresh;
        else b = fresh;
        await Promise.all(users.map((u) => env.client(fresh, u).ready()));
        await sleep(pick(300, 3000));
        await p.stop();
      }
      await env.verify(ledger, { complete: true });
    },
  },

  // ---------------------------------------------------------------------------------------------
  // Redis faults (Redis persists every write: acknowledged means durable)
  {
    name: 'kill -9 of Redis mid-stream, then its restart',
    persistent: true,
    instances: 2,
    async run(env) {
      const clients = await crowd(env, 'rkill', 4, 1, { servers: env.servers });
      const ledger = new Ledger('rkill');
      await trafficAround(ledger, clients, async () => {
        await env.redis.kill();
        await sleep(pick(700, 5000)); // the outage's length
        await env.redis.restart();
        for (const s of env.servers) await waitReady(s, 20000);
      });
      assert.ok(ledger.count('refused') + ledger.count('unknown') > 0, 'the outage refused nothing');
      await env.flush(clients[0], clients, { retry: true }); // the bus is back on both instances
      await env.verify(ledger);
    },
  },
  {
    name: 'Redis shuts down cleanly and comes back',
    persistent: true,
    async run(env) {
      const clients = await crowd(env, 'rterm', 3, 1);
      const ledger = new Ledger('rterm');
      await trafficAround(ledger, clients, async () => {
        env.redis.child.kill('SIGTERM');
        await waitFor('redis gone', () => !env.redis.running(), 10000);
        await env.redis.restart();
        await waitReady(env.servers[0], 20000);
      });
      await env.flush(clients[0], clients, { retry: true });
      await env.verify(ledger);
    },
  },
  {
    name: 'Redis flaps: killed and restarted three times',
    persistent: true,
    async run(env) {
      const clients = await crowd(env, 'rflap', 3, 1);
      const ledger = new Ledger('rflap');
      await trafficAround(ledger, clients, async () => {
        for (let i = 0; i < 3; i++) {
          await env.redis.kill();
          await env.redis.restart();
          const back = performance.now();
          await waitReady(env.servers[0], 20000);
          await waitFor('traffic between flaps', () => ledger.sends.some((s) => s.t0 > back && s.outcome === 'acked'), 15000);
        }
      });
      await env.flush(clients[0], clients, { retry: true });
      await env.verify(ledger);
    },
  },
  {
    name: 'Redis hangs (SIGSTOP) and resumes',
    persistent: true,
    async run(env) {
      const clients = await crowd(env, 'rhang', 3, 1);
      const ledger = new Ledger('rhang');
      await trafficAround(ledger, clients, async () => {
        env.redis.pause();
        const hung = performance.now();
        await waitFor('a message refused while Redis hangs', () => ledger.sends.some((s) => s.t0 > hung && ['refused', 'unknown'].includes(s.outcome)), 10000);
        await sleep(pick(500, 5000));
        env.redis.resume();
        await waitReady(env.servers[0], 20000);
      });
      await env.flush(clients[0], clients, { retry: true });
      await env.verify(ledger);
    },
  },
  {
    name: 'the network to Redis goes silent (blackhole) and recovers',
    viaProxy: true,
    instances: 2,
    async run(env) {
      const clients = await crowd(env, 'rhole', 4, 1, { servers: env.servers });
      const ledger = new Ledger('rhole');
      await trafficAround(ledger, clients, async () => {
        env.proxy.blackhole();
        for (const s of env.servers) {
          await waitFor('not ready while Redis is unreachable', async () => (await request(`${s.base}/readyz`)).status === 503, 10000);
        }
        env.proxy.restore();
        for (const s of env.servers) await waitReady(s, 20000);
      });
      await env.flush(clients[0], clients, { retry: true });
      await env.verify(ledger);
    },
  },
  {
    name: 'kill -9 of one instance and of Redis together',
    persistent: true,
    instances: 2,
    async run(env) {
      const [a, b] = env.servers;
      const onA = await crowd(env, 'bothA', 3, 1, { servers: [a] });
      const onB = await crowd(env, 'bothB', 3, 1, { servers: [b] });
      const ledger = new Ledger('both');
      await trafficAround(ledger, [...onA, ...onB], async () => {
        await Promise.all([b.kill(), env.redis.kill()]);
        await env.redis.restart();
        await waitReady(a, 20000);
        for (const c of onB) await env.client(a, c.user).ready();
      });
      await env.flush(onA[0], env.clients.filter((c) => c.stable), { retry: true });
      await env.verify(ledger);
    },
  },
  {
    name: 'HTTP load (history, logins, presence) while chatting',
    async run(env) {
      const clients = await crowd(env, 'httpload', 3, 1);
      const ledger = new Ledger('httpload');
      const p = pump(ledger, clients);
      const base = env.servers[0].base;
      const user = clients[0].user;
      let stop = false;
      const hammer = Array.from({ length: 8 }, (_, k) => (async () => {
        for (let i = 0; !stop; i++) {
          const kind = (i + k) % 4;
          const path = ['/room/0/messages?offset=0&size=50', '/users/online', '/me'][kind];
          const res = path
            ? await request(`${base}${path}`, { headers: asUser(user) })
            : await request(`${base}/login`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ username: user.name, password: `wrong ${k}` }),
            });
          // A wrong password is 404 (the reference's answer), then 429 once the pair is locked out.
          assert.ok(path ? res.status === 200 : [404, 429].includes(res.status), `${path ?? '/login'}: HTTP ${res.status}`);
        }
      })());
      await sleep(DURATION_MS);
      stop = true;
      await Promise.all(hammer);
      await p.stop();
      await env.verify(ledger, { complete: true });
    },
  },
];
