// Limits, abuse protection and faults (docs/security.md, docs/operations.md): every limit is hit
// and gives its documented error; Redis outages, slow clients and shutdown lose no acknowledged
// message.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import {
  api, closeSockets, connectSocket as connect, connected, COOKIE_NAME, loginUser as login, startRedis, startServer,
  waitFor, waitForDemoData, waitReady,
  ack, hasMessage, metric,
} from './harness.mjs';

describe('session expiry', () => {
  let redis;
  let server;
  before(async () => {
    redis = await startRedis();
    server = await startServer({ redis, demoData: 'off', extraArgs: ['--session-ttl', '3', '--session-max-age', '6'] });
  });
  after(async () => {
    await server?.stop();
    await redis?.stop();
  });
  const me = async (a) => (await a.get('/me')).json;

  test('a session unused for --session-ttl ends', async () => {
    const user = await login(server.base, 'Idle');
    assert.equal((await me(user.api)).username, 'Idle');
    await sleep(3500);
    assert.equal(await me(user.api), null);
    assert.equal((await user.api.get('/users/online')).status, 401);
  });

  test('use extends a session, but never past --session-max-age', async () => {
    const user = await login(server.base, 'Busy');
    const start = Date.now();
    // Used every 1.5 s: alive well past the 3 s idle expiry...
    while (Date.now() - start < 5000) {
      assert.equal((await me(user.api))?.username, 'Busy', `after ${Date.now() - start} ms`);
      await sleep(1500);
    }
    // ...and over at the absolute deadline although still in use.
    while (Date.now() - start < 6500) await sleep(250);
    assert.equal(await me(user.api), null);
  });
});

describe('abuse limits', () => {
  let redis;
  let server;
  let db;
  before(async () => {
    redis = await startRedis();
    db = redis.client();
    server = await startServer({
      redis,
      demoData: 'on',
      extraArgs: ['--messages-per-second', '2', '--message-burst', '5', '--max-sockets-per-user', '2',
        '--max-connections-per-address', '40'],
    });
    await waitForDemoData(server, db);
  });
  after(async () => {
    closeSockets();
    await server?.stop();
    db?.disconnect();
    await redis?.stop();
  });

  test('a foreign Origin is refused on the WebSocket handshake, polling and state-changing REST', async () => {
    const evil = { Origin: 'https://evil.example' };
    const ws = new WebSocket(`${server.base.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { headers: evil });
    const status = await new Promise((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.once('open', () => resolve('open'));
    });
    assert.equal(status, 403);
    const poll = await fetch(`${server.base}/socket.io/?EIO=4&transport=polling`, { headers: evil });
    assert.equal(poll.status, 403);
    assert.deepEqual(await poll.json(), { message: 'Origin not allowed' });
    const loginEvil = await api(server.base).post('/login', { username: 'Pablo', password: 'password123' }, { headers: evil });
    assert.equal(loginEvil.status, 403);
    assert.equal(loginEvil.setCookies.length, 0);
    // Our own origin and localhost pass; so does a non-browser client that sends none.
    const own = await api(server.base).post('/login', { username: 'Pablo', password: 'password123' }, { headers: { Origin: server.base } });
    assert.equal(own.status, 200);
    const local = await fetch(`${server.base}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: 'http://localhost:5173' } });
    assert.equal(local.status, 200);
    assert.ok((await metric(server.base, 'redchat_refused_origin_total')) >= 3);
  });

  test('failed logins are throttled per username and address with 429 and Retry-After', async () => {
    const a = api(server.base);
    const pair = 'login:pair:Mary|127.0.0.1';
    for (let i = 0; i < 5; i++) assert.equal((await a.login('Mary', `wrong-${i}`)).status, 404);
    const locked = await a.login('Mary', 'password123');
    assert.equal(locked.status, 429);
    assert.equal(locked.headers.get('retry-after'), '2');
    assert.match(locked.json.message, /Too many failed logins/);
    assert.ok((await db.ttl(`redchat:failures:${pair}`)) > 0);
    assert.equal((await a.login('Joe', 'password123')).status, 200, 'other users are not locked out');
    // Growing delays: the first lockout is 2 s; the next attempt after it locks out for 4 s.
    const first = await db.pttl(`redchat:lockout:${pair}`);
    assert.ok(first > 0 && first <= 2000, `first lockout ${first} ms`);
    await waitFor('the first lockout over', async () => (await db.exists(`redchat:lockout:${pair}`)) === 0, 5000);
    const again = await a.login('Mary', 'wrong-again');
    assert.equal(again.status, 429);
    assert.equal(again.headers.get('retry-after'), '4');
    const second = await db.pttl(`redchat:lockout:${pair}`);
    assert.ok(second > 3000 && second <= 4000, `second lockout ${second} ms`);
    await db.del(`redchat:lockout:${pair}`, `redchat:failures:${pair}`, 'redchat:failures:login:user:Mary',
      'redchat:failures:login:addr:127.0.0.1');
  });

  test('parallel guesses are all counted before any password is checked', async () => {
    const guesses = await Promise.all(Array.from({ length: 30 }, (_, i) => api(server.base).login('Alex', `guess-${i}`)));
    const statuses = guesses.map((r) => r.status);
    // Five free attempts reach bcrypt (404); every other one is refused at once.
    assert.equal(statuses.filter((s) => s === 404).length, 5, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 25, statuses.join(','));
    await db.del('redchat:lockout:login:pair:Alex|127.0.0.1', 'redchat:failures:login:pair:Alex|127.0.0.1',
      'redchat:failures:login:user:Alex', 'redchat:failures:login:addr:127.0.0.1');
  });

  test('new accounts are limited per address (--registrations-per-minute)', async () => {
    const made = [];
    for (let i = 0; i < 12; i++) made.push(await api(server.base).login(`Newbie${i}`, 'secret99'));
    const statuses = made.map((r) => r.status);
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(201));
    assert.deepEqual(statuses.slice(10), [429, 429]);
    assert.ok(Number(made[10].headers.get('retry-after')) >= 1);
    assert.match(made[10].json.message, /Too many new accounts/);
  });

  test('a flood from one user is refused without delaying another user', async () => {
    const pablo = await login(server.base, 'Pablo');
    const joe = await login(server.base, 'Joe');
    const p = await connected(connect(server.base, pablo.sid));
    const j = await connected(connect(server.base, joe.sid));
    const acks = await Promise.all(
      Array.from({ length: 20 }, (_, i) => p.timeout(5000).emitWithAck('message', { roomId: '0', message: `flood ${i}` })),
    );
    const refused = acks.filter((a) => a.error);
    assert.ok(refused.length >= 13, `refused ${refused.length}`);
    assert.match(refused[0].error, /too fast/);
    const t0 = Date.now();
    const ok = await j.timeout(5000).emitWithAck('message', { roomId: '0', message: 'not delayed' });
    assert.equal(ok.message, 'not delayed');
    assert.ok(Date.now() - t0 < 1000);
    assert.ok((await metric(server.base, 'redchat_rate_limited_total')) >= 13);
  });

  test('connections per user are capped', async () => {
    const alex = await login(server.base, 'Alex');
    await connected(connect(server.base, alex.sid));
    await connected(connect(server.base, alex.sid));
    const third = connect(server.base, alex.sid);
    const err = await new Promise((resolve) => third.once('connect_error', resolve));
    assert.match(err.message, /Too many connections/);
  });

  test('connections per client address are capped', async () => {
    const held = [];
    for (let i = 0; i < 40; i++) {
      const c = net.connect(server.port, '127.0.0.1');
      await new Promise((r) => c.once('connect', r));
      // An answer proves the server accepted the connection and holds its place.
      const answered = new Promise((r) => c.once('data', r));
      c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await answered;
      held.push(c);
    }
        // A new connection (not one of fetch's pooled ones) is refused.
    const raw = net.connect(server.port, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    raw.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    let answer = '';
    raw.on('data', (d) => { answer += d; });
    await new Promise((r) => raw.once('close', r));
    for (const c of held) c.destroy();
    assert.match(answer, /^HTTP\/1\.1 429/);
    assert.match(answer, /Too many connections from your address/);
    await waitFor('served again', async () => (await fetch(`${server.base}/healthz`)).status === 200);
  });
});

describe('a slow consumer', () => {
  test('is disconnected while the others keep receiving, and memory stays bounded', async () => {
    const redis = await startRedis();
    const db = redis.client();
    const server = await startServer({
      redis,
      demoData: 'on',
            extraArgs: ['--max-queued-bytes', '262144', '--messages-per-second', '100000', '--message-burst', '100000'],
      // Under ASan, freed memory waits in a quarantine (256 MB by default) and looks like growth.
      env: { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ''}:quarantine_size_mb=1` },
    });
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))[1]);
    try {
      await waitForDemoData(server, db);
      const pablo = await login(server.base, 'Pablo');
      const joe = await login(server.base, 'Joe');
      const mary = await login(server.base, 'Mary');
      const sender = await connected(connect(server.base, pablo.sid));
      const reader = await connected(connect(server.base, joe.sid));
      // Mary's client stops reading from its socket.
      const slow = new WebSocket(`${server.base.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, {
        headers: { Cookie: `${COOKIE_NAME}=${mary.sid}` },
      });
      const connectedAck = new Promise((r) => slow.on('message', (d) => { if (String(d).startsWith('40')) r(); }));
      await new Promise((r) => slow.once('open', r));
      slow.send('40');
      await connectedAck;
            const closed = new Promise((r) => slow.once('close', r));
      const baseline = rss();
      slow._socket.pause();
      const text = 'x'.repeat(3900);
      const total = 8000;
      let got = 0;
      reader.on('message', (m) => { if (m.message === text) got++; });
      // In batches that the reader takes before the next one goes out: a fast reader's queue
      // stays far below the limit however busy this test process is (a reader that fell
      // 256 KB behind would be dropped too, and miss the rest).
      for (let i = 0; i < total; i += 25) {
        await Promise.all(Array.from({ length: 25 }, () => sender.timeout(10000).emitWithAck('message', { roomId: '0', message: text })));
        await waitFor('the reader got the batch', () => got === i + 25, 10000, 5);
      }
      assert.equal(got, total);
      assert.ok((await metric(server.base, 'redchat_slow_clients_dropped_total')) >= 1);
      slow._socket.resume();
      await Promise.race([closed, sleep(5000).then(() => assert.fail('the slow client was not closed'))]);
      // Nothing stays queued for anyone once the reader has it all and the stuck one is gone.
      await waitFor('no output queued', async () => (await metric(server.base, 'redchat_queued_output_bytes')) === 0);
      // 31 MB went to each of three receivers, in shared packets: had the stuck one kept its
      // share queued (a leak), the server would have grown by 31 MB or more. (The margin is for
      // the allocator's and, in the sanitizer build, ASan's own overhead.)
      const growthKb = rss() - baseline;
      assert.ok(growthKb < 24 * 1024, `server RSS grew by ${growthKb} kB`);
    } finally {
      closeSockets();
      await server.stop();
      db.disconnect();
      await redis.stop();
    }
  });
});

describe('Redis goes away', () => {
  test('acknowledged messages survive, the others get an error, delivery resumes by itself', async () => {
    const redis = await startRedis({ persistent: true });
    const db = redis.client();
    const server = await startServer({
      redis,
      demoData: 'on',
      extraArgs: ['--messages-per-second', '100000', '--message-burst', '100000', '--redis-timeout-ms', '500'],
    });
    try {
      await waitForDemoData(server, db);
      const pablo = await login(server.base, 'Pablo');
      const joe = await login(server.base, 'Joe');
      const p = await connected(connect(server.base, pablo.sid));
      const j = await connected(connect(server.base, joe.sid));
      const results = [];
      let i = 0;
      const stream = (async () => {
        while (i < 400) {
          const text = `fault ${i++}`;
          const ack = await p.timeout(5000).emitWithAck('message', { roomId: '1:2', message: text }).catch(() => ({ clientTimeout: true }));
          results.push({ text, ack });
          await sleep(5);
        }
      })();
      await waitFor('some sent', () => results.length > 50, 10000);
      await redis.kill();
      await waitFor('errors while down', () => results.length > 5 && results.slice(-5).every((r) => r.ack.error), 10000);
      const ready = await fetch(`${server.base}/readyz`);
      assert.equal(ready.status, 503);
      await redis.restart();
      await stream;
      await waitFor('ready again', async () => (await fetch(`${server.base}/readyz`)).status === 200, 15000);
      const stored = new Set((await db.zrange('room:1:2', 0, -1)).map((m) => JSON.parse(m).message));
      const acked = results.filter((r) => !r.ack.error);
      const failed = results.filter((r) => r.ack.error);
      assert.ok(acked.length > 50 && failed.length > 0, `acked ${acked.length}, failed ${failed.length}`);
      for (const r of acked) assert.ok(stored.has(r.text), `acknowledged but lost: ${r.text}`);
      // The server answers every message within its Redis deadline, stored or not.
      assert.deepEqual(results.filter((r) => r.ack.clientTimeout), []);
      for (const r of failed) {
        if (r.ack.stored === false) {
          // "Not stored" is a promise: the message is nowhere.
          assert.match(r.ack.error, /^The message was not stored: /);
          assert.ok(!stored.has(r.text), `reported as not stored, but stored: ${r.text}`);
        } else {
          // Lost with the script in flight: it may be either; the client is told so.
          assert.equal(r.ack.stored, 'unknown', JSON.stringify(r.ack));
          assert.match(r.ack.error, /^The message may or may not have been stored: /);
        }
      }
      // Delivery resumes without restarting the chat server.
      await waitFor('bus back', async () => {
        const ack = await p.timeout(3000).emitWithAck('message', { roomId: '1:2', message: 'after the outage' }).catch(() => ({}));
        return !ack.error && ack.message;
      }, 15000);
      await waitFor('joe got it', () => j.received.some((e) => e.name === 'message' && e.payload.message === 'after the outage'), 5000);
    } finally {
      closeSockets();
      await server.stop();
      db.disconnect();
      await redis.stop();
    }
  });
});

describe('connecting while Redis is down', () => {
  test('the socket is not let in as nobody nor without its rooms: it comes back once Redis does', async () => {
    const redis = await startRedis({ persistent: true });
    const db = redis.client();
    const server = await startServer({ redis, demoData: 'on', extraArgs: ['--redis-timeout-ms', '300'] });
    try {
      await waitForDemoData(server, db);
      const pablo = await login(server.base, 'Pablo');
      const joe = await login(server.base, 'Joe');
      await redis.kill();
      // Who the cookie belongs to cannot be read: the server closes the connection without an
      // answer (a connect_error would make the client give up), and the client tries again.
      const j = connect(server.base, joe.sid, { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300 });
      let attempts = 0;
      j.io.on('reconnect_attempt', () => { attempts++; });
      await waitFor('closed and tried again', () => attempts >= 2, 10000);
      assert.equal(j.connected, false, 'connected while nobody could say who it is');
      await redis.restart();
      await waitFor('joe is in', () => j.connected, 15000);
      await waitReady(server);
      // With its private room: the rooms were read before the connect was answered.
      const p = await connected(connect(server.base, pablo.sid));
      const sent = await ack(p, 'message', { roomId: '1:2', message: 'after the outage' });
      assert.equal(sent.error, undefined, JSON.stringify(sent));
      await waitFor('joe got it', () => hasMessage(j, 'after the outage'), 5000);
      assert.equal(j.received.filter((e) => e.name === 'error').length, 0);
    } finally {
      closeSockets();
      await server.stop();
      db.disconnect();
      await redis.stop();
    }
  });
});

describe('graceful shutdown', () => {
  test('clients are told, no acknowledged message is lost, presence is cleaned, exit in time', async () => {
    const redis = await startRedis({ persistent: true });
    const db = redis.client();
    const server = await startServer({
      redis,
      demoData: 'on',
      extraArgs: ['--messages-per-second', '100000', '--message-burst', '100000', '--shutdown-timeout', '5'],
    });
    await waitForDemoData(server, db);
    const pablo = await login(server.base, 'Pablo');
    const mary = await login(server.base, 'Mary');
    // Pablo streams into his private room with Mary (offline), so that Joe's long-poll has
    // nothing to answer it: it is pending when the shutdown starts (redchat_polls_waiting says so).
    const room = (await pablo.api.post('/room', { user1: Number(pablo.id), user2: Number(mary.id) })).json.id;
    const p = await connected(connect(server.base, pablo.sid));
    const polling = await connected(connect(server.base, (await login(server.base, 'Joe')).sid, { transports: ['polling'] }));
    await waitFor('online', async () => (await db.scard('online_users')) === 2);
    const reasons = [];
    p.on('disconnect', (r) => reasons.push(`websocket: ${r}`));
    polling.on('disconnect', (r) => reasons.push(`polling: ${r}`));
    const acked = [];
    let stop = false;
    const stream = (async () => {
      for (let i = 0; !stop; i++) {
        const ack = await p.timeout(3000).emitWithAck('message', { roomId: room, message: `bye ${i}` }).catch(() => ({ error: 'x' }));
        if (!ack.error) acked.push(ack.message);
        else break;
      }
    })();
    await waitFor('messages flowing', () => acked.length >= 5);
    await waitFor("Joe's long-poll pending", async () => (await metric(server.base, 'redchat_polls_waiting')) === 1);
    const t0 = Date.now();
    const { code, signal } = await server.terminate(10000);
    stop = true;
    await stream;
    assert.equal(code, 0, `exit ${code} ${signal}`);
    assert.ok(Date.now() - t0 < 6000, `took ${Date.now() - t0} ms`);
    await waitFor('clients told', () => reasons.length === 2, 5000);
    // Both read the Engine.IO close packet (the WebSocket in a frame, the polling client in its
    // pending long-poll) and disconnect with a reason that makes socket.io-client reconnect.
    assert.deepEqual(reasons.sort(), ['polling: transport close', 'websocket: transport close']);
    const stored = new Set((await db.zrange(`room:${room}`, 0, -1)).map((m) => JSON.parse(m).message));
    for (const m of acked) assert.ok(stored.has(m), `acknowledged but lost: ${m}`);
    assert.ok(acked.length > 0);
    assert.equal(await db.scard('online_users'), 0);
    assert.deepEqual(await db.keys('redchat:presence:redchat-*'), []);
    closeSockets();
    db.disconnect();
    await redis.stop();
  });
});
