// Robustness (compat-spec §6.5): odd data in Redis, odd requests, load, and a Redis outage.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { describeRes, isErrorBody, startStack, waitFor, waitForReady } from './harness.mjs';

let stack;
let db;

before(async () => {
  stack = await startStack({ demoData: 'on' });
  db = stack.db;
});

after(async () => {
  if (stack) await stack.stop();
});

async function loggedIn(username, password = 'password123') {
  const c = stack.api();
  const r = await c.login(username, password);
  assert.equal(r.status, 200, `login ${username}: ${describeRes(r)}`);
  return c;
}

/** Sends raw bytes, resolves with everything the server answered before closing (or timeout). */
function rawExchange(port, payload, timeoutMs = 3000) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    let closed = false;
    const finish = (why) => {
      if (closed) return;
      closed = true;
      sock.destroy();
      resolve({ text: buf, why });
    };
    sock.setTimeout(timeoutMs, () => finish('timeout'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
    });
    sock.on('end', () => finish('end'));
    sock.on('close', () => finish('close'));
    sock.on('error', () => finish('error'));
    sock.on('connect', () => sock.write(payload));
  });
}

async function assertAlive() {
  const r = await stack.api().get('/healthz');
  assert.equal(r.status, 200, 'server still serving');
  assert.ok(stack.server.running(), 'server process still running');
}

describe('odd data in Redis', () => {
  test('unusual stored messages are normalised or skipped, never a 500', async () => {
    const c = await loggedIn('Pablo');
    const room = 'room:1:2';
    await db.del(room);
    await db.zadd(
      room,
      1718000000, JSON.stringify({ RoomId: '1:2', From: 2, Date: 1718000000, Message: 'pascal' }),
      1718000001, 'garbage{',
      1718000002, JSON.stringify({ roomId: '1:2', from: 2, date: 1718000002, message: 'numeric from' }),
      1718000003, '[1,2,3]',
      1718000004, '42',
      1718000005, '"just a string"',
      1718000006, 'null',
      1718000007, '',
      1718000008, JSON.stringify({ roomId: '1:2', from: '1', date: 1718000008.25, message: 'float date' }),
      1718000009, JSON.stringify({ roomId: '1:2', from: { x: 1 }, date: 1718000009, message: 'object from' }),
      1718000010, JSON.stringify({ roomId: '1:2', from: '1', date: 1718000010, message: { text: 'object message' } }),
      1718000011, '{"roomId":"1:2","from":"1","date":1718000011,"message":"trailing"} junk',
      1718000012, JSON.stringify({ roomId: '1:2', from: '2', date: 1718000012, message: 'with extra', extra: [1, 2] }),
      1718000013, '\u00ff\u00fe binary-ish',
    );
    const r = await c.get('/room/1:2/messages?size=100');
    assert.equal(r.status, 200, describeRes(r));
    assert.ok(Array.isArray(r.json));
    for (const m of r.json) {
      assert.equal(typeof m.roomId, 'string', JSON.stringify(m));
      assert.equal(typeof m.from, 'string', JSON.stringify(m));
      assert.equal(typeof m.date, 'number', JSON.stringify(m));
      assert.equal(typeof m.message, 'string', JSON.stringify(m));
    }
    const byText = Object.fromEntries(r.json.map((m) => [m.message, m]));
    assert.deepEqual(byText['numeric from'], { roomId: '1:2', from: '2', date: 1718000002, message: 'numeric from' });
    assert.deepEqual(byText.pascal, { roomId: '1:2', from: '2', date: 1718000000, message: 'pascal' });
    assert.deepEqual(byText['float date'], { roomId: '1:2', from: '1', date: 1718000008.25, message: 'float date' });
    assert.equal(byText['with extra']?.from, '2');
    // newest first among what is returned
    const dates = r.json.map((m) => m.date);
    assert.deepEqual(dates, [...dates].sort((a, b) => b - a));
    // unreadable members are skipped; pages still hold at most `size` items
    const page = await c.get('/room/1:2/messages?offset=0&size=3');
    assert.equal(page.status, 200, describeRes(page));
    assert.ok(page.json.length <= 3);
  });

  test('rooms and users pointing at missing users do not break listings', async () => {
    await db.sadd('user:1:rooms', '1:777', 'weird-room');
    await db.hset('user:8', 'password', 'x'); // a user hash without a username
    await db.sadd('online_users', '8', '777', '1');
    try {
      const c = await loggedIn('Pablo');
      const rooms = await c.get('/rooms/1');
      assert.equal(rooms.status, 200, describeRes(rooms));
      assert.deepEqual(rooms.json[0], { id: '0', names: ['General'] });
      for (const room of rooms.json) {
        assert.equal(typeof room.id, 'string');
        assert.ok(Array.isArray(room.names));
      }
      const online = await c.get('/users/online');
      assert.equal(online.status, 200, describeRes(online));
      assert.deepEqual(online.json['1'], { id: '1', username: 'Pablo', online: true });
      assert.equal(online.json['777'], undefined);
      for (const u of Object.values(online.json)) assert.equal(typeof u.username, 'string');
      const users = await c.get('/users?ids[]=1&ids[]=8&ids[]=777');
      assert.equal(users.status, 200, describeRes(users));
      assert.equal(users.json['777'], undefined);
      assert.deepEqual(users.json['1'], { id: '1', username: 'Pablo', online: true });
    } finally {
      await db.srem('user:1:rooms', '1:777', 'weird-room');
      await db.del('user:8');
      await db.del('online_users');
    }
  });

  test('a username key pointing at a missing user hash does not log anyone in', async () => {
    await db.set('username:Ghost', 'user:555');
    try {
      const c = stack.api();
      const r = await c.login('Ghost', 'whatever1');
      assert.ok(r.status >= 400 && r.status < 500, `a 4xx, not a login nor a server error: ${describeRes(r)}`);
      assert.ok(isErrorBody(r), r.text);
      assert.equal((await c.get('/me')).json, null);
    } finally {
      await db.del('username:Ghost');
    }
  });
});

describe('odd requests', () => {
  test('garbage on the socket gets a 4xx answer, and the server stays up', async () => {
    for (const payload of [
      'GARBAGE\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      'GET /me HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
      'POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      '\x00\x01\x02\x03\xff\xfe\r\n\r\n',
    ]) {
      const { text, why } = await rawExchange(stack.server.port, payload);
      assert.notEqual(why, 'timeout', `server must answer and close for ${JSON.stringify(payload)}`);
      assert.match(text, /^HTTP\/1\.1 4\d\d /, `${JSON.stringify(payload)} -> ${JSON.stringify(text.slice(0, 200))}`);
    }
    await assertAlive();
  });

  test('a huge header is refused, not a crash', async () => {
    const r = await rawExchange(
      stack.server.port,
      `GET /me HTTP/1.1\r\nHost: x\r\nCookie: redchat_sid=${'a'.repeat(200 * 1024)}\r\n\r\n`,
    );
    assert.notEqual(r.why, 'timeout');
    assert.match(r.text, /^HTTP\/1\.1 (431|400|413) /, r.text.slice(0, 200));
    await assertAlive();
  });

  test('a chunked body over the limit is 413 JSON, and the server stays up', async () => {
    const chunk = 'x'.repeat(16 * 1024);
    let payload = 'POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    for (let i = 0; i < 6; i++) payload += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    payload += '0\r\n\r\n';
    const r = await rawExchange(stack.server.port, payload);
    assert.match(r.text, /^HTTP\/1\.1 413 /, r.text.slice(0, 300));
    assert.match(r.text, /\r\n\r\n\{"message":"[^"]+"\}/);
    await assertAlive();
  });

  test('many concurrent requests all succeed', async () => {
    const clients = await Promise.all(['Pablo', 'Joe', 'Mary', 'Alex'].map((u) => loggedIn(u)));
    const jobs = [];
    for (let i = 0; i < 200; i++) {
      const c = clients[i % clients.length];
      const p = ['/me', '/rooms/' + (1 + (i % 4)), '/room/0/messages?size=5', '/links'][i % 4];
      jobs.push(c.get(p).then((r) => ({ p, r })));
    }
    const results = await Promise.all(jobs);
    for (const { p, r } of results) assert.equal(r.status, 200, `${p}: ${describeRes(r)}`);
    // concurrent logins (bcrypt on the worker pool) also all succeed (three per user: each
    // attempt counts against its user's throttle until it succeeds)
    const users = ['Pablo', 'Joe', 'Mary', 'Alex'];
    const logins = await Promise.all(Array.from({ length: 12 }, (_, i) => stack.api().login(users[i % 4], 'password123')));
    for (const r of logins) assert.equal(r.status, 200, describeRes(r));
    assert.equal(new Set(logins.map((r) => r.setCookies[0])).size, logins.length, 'distinct sessions');
  });
});

describe('Redis outage', () => {
  test('a hung Redis (SIGSTOP) gives 503 within the command deadline, then recovers', async () => {
    const c = await loggedIn('Mary');
    stack.redis.pause();
    try {
      const calls = [
        ['GET /me with a session', () => c.get('/me')],
        ['POST /login', () => stack.api().login('Alex', 'password123')],
        ['GET /room/0/messages', () => c.get('/room/0/messages')],
        ['GET /readyz', () => stack.api().get('/readyz')],
      ];
      const results = await Promise.all(
        calls.map(async ([label, call]) => {
          const t0 = Date.now();
          const r = await call();
          return { label, r, ms: Date.now() - t0 };
        }),
      );
      for (const { label, r, ms } of results) {
        assert.equal(r.status, 503, `${label}: ${describeRes(r)}`);
        assert.ok(isErrorBody(r), `${label}: ${r.text}`);
        assert.ok(ms < 3500, `${label} took ${ms} ms (--redis-timeout-ms defaults to 2000)`);
      }
      assert.equal((await stack.api().get('/healthz')).status, 200);
    } finally {
      stack.redis.resume();
    }
    await waitForReady(stack.server.base);
    const me = await c.get('/me');
    assert.equal(me.status, 200, describeRes(me));
    assert.deepEqual(me.json, { id: '3', username: 'Mary' }, 'the session survived the hang');
  });

  test('503 while Redis is down, recovery without a restart', async () => {
    const c = await loggedIn('Pablo');
    assert.equal((await c.get('/readyz')).status, 200);

    await stack.redis.kill();

    // readiness flips to 503 quickly
    await waitFor('readyz 503', async () => (await stack.api().get('/readyz')).status === 503, 5000, 100);
    const ready = await stack.api().get('/readyz');
    assert.equal(ready.status, 503);
    assert.ok(isErrorBody(ready), ready.text);

    // Redis-backed calls answer 503 JSON within ~3 s instead of hanging
    for (const [label, call] of [
      ['GET /me with a session', () => c.get('/me')],
      ['POST /login', () => stack.api().login('Joe', 'password123')],
      ['POST /login (new user)', () => stack.api().login('Outage', 'secret99')],
      ['GET /rooms/1', () => c.get('/rooms/1')],
      ['GET /room/0/messages', () => c.get('/room/0/messages')],
    ]) {
      const t0 = Date.now();
      const r = await call();
      const ms = Date.now() - t0;
      assert.equal(r.status, 503, `${label}: ${describeRes(r)}`);
      assert.ok(isErrorBody(r), `${label}: ${r.text}`);
      assert.ok(ms < 3500, `${label} took ${ms} ms`);
    }

    // liveness and Redis-free endpoints keep working; the process stays up
    const health = await stack.api().get('/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok' });
    assert.equal((await stack.api().get('/links')).status, 200);
    const metrics = await stack.api().get('/metrics');
    assert.equal(metrics.status, 200);
    const down = () => Number(/^redchat_redis_connections_down (-?\d+)/m.exec(metrics.text)?.[1]);
    assert.equal(down(), 3, 'both I/O threads\' connections and the subscriber are down');
    assert.ok(stack.server.running());

    await stack.redis.restart();

    // Ready means ready on every thread: once one /readyz says so, all of them do.
    await waitFor('readyz 200', async () => (await stack.api().get('/readyz')).status === 200, 10000, 100);
    const answers = await Promise.all([1, 2, 3, 4].map(() => stack.api().get('/readyz')));
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200]);
    assert.deepEqual(answers[0].json, { status: 'ready' });
    assert.match((await stack.api().get('/metrics')).text, /^redchat_redis_connections_down 0$/m);

    // the restarted Redis is empty (no persistence): the server works against it again
    const reg = await stack.api().login('AfterOutage', 'secret99');
    assert.equal(reg.status, 201, describeRes(reg));
    assert.equal(await stack.redis.client().get(`username:AfterOutage`), `user:${reg.json.id}`);
    const m = await stack.api().get('/metrics');
    const failures = Number(m.text.match(/^redchat_redis_command_failures_total (\d+)/m)?.[1]);
    assert.ok(failures > 0, `redis command failures counted: ${failures}`);
  });
});
