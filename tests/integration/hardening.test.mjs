// Issue 10's findings, each with the test that failed before its fix: server crashes a client
// could cause, lifetimes, and edge cases of the protocol and the REST API.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import {
  api, closeSockets, connectSocket as connect, connected, COOKIE_NAME, freePort, loginUser as login, makeTempDir, SERVER_BIN, pollingSession, startProxy,
  startRedis, startServer, startStack, waitFor, waitForReady,
} from './harness.mjs';

describe('a polling session closed by its own connect ack (use-after-free)', () => {
  let redis;
  let server;
  before(async () => {
    redis = await startRedis();
    server = await startServer({ redis, demoData: 'off', extraArgs: ['--max-queued-messages', '64'] });
    await waitForReady(server.base);
  });
  after(async () => {
    closeSockets();
    await server?.stop();
    await redis?.stop();
  });

  test('filling the queue to its limit before 40 leaves the server up and presence right', async () => {
    const victim = await login(server.base, 'Filler');
    const other = await login(server.base, 'Watcher');
    const watcher = await connected(connect(server.base, other.sid));
    const session = await pollingSession(server.base, victim.sid);
    // 64 events before the connect each queue an error packet: the queue is exactly full, so
    // the connect ack overflows it and the session is dropped as a slow client.
    const early = Array.from({ length: 64 }, () => '42["message",{}]');
    const r = await session.post([...early, '40'].join('\x1e'));
    assert.equal(r.status, 200);
    await r.text();
    // General and presence traffic goes to every local socket: a dangling one would crash.
    const again = await connected(connect(server.base, victim.sid));
    const ack = await again.timeout(5000).emitWithAck('message', { roomId: '0', message: 'still here' });
    assert.equal(ack.message, 'still here');
    await waitFor('the watcher gets the message', () =>
      watcher.received.some((e) => e.name === 'message' && e.payload.message === 'still here'), 5000);
    await waitFor('the new socket gets its own message', () =>
      again.received.some((e) => e.name === 'message' && e.payload.message === 'still here'), 5000);
    // The dropped session's poll finds it gone.
    const gone = await session.get();
    assert.equal(gone.status, 400);
    await gone.text();
    // Once every socket of the user is gone, the user is offline.
    again.close();
    await waitFor('Filler offline', async () => {
      const online = (await other.api.get('/users/online')).json;
      return !Object.values(online).some((u) => u.username === 'Filler');
    }, 5000);
    assert.ok(server.running(), 'server still running');
    watcher.close();
  });
});

describe('the demo data is in before anyone can take a demo name', () => {
  let redis;
  let server;
  after(async () => {
    await server?.stop();
    await redis?.stop();
  });

  test('registering "Pablo" while the demo loads is refused (503), and the demo data is whole', async () => {
    redis = await startRedis();
    const db = redis.client();
    // A slow hash (cost 15, about 2 s each, four users: bcrypt runs at native speed in every
    // build) keeps the load running for seconds after "listening".
    server = await startServer({ redis, demoData: 'on', extraArgs: ['--bcrypt-cost', '15'] });
    await waitFor('Redis connected', async () =>
      /^redchat_redis_connections_down 0$/m.test(await (await fetch(`${server.base}/metrics`)).text()));
    const ready = await fetch(`${server.base}/readyz`);
    assert.equal(ready.status, 503);
    assert.match((await ready.json()).message, /demo data/);
    // A new name waits for the load; a demo name with another password is refused too (not yet
    // there: 503; already there: 404), and never registered.
    const early = await api(server.base).login('Newcomer', 'a-password');
    assert.equal(early.status, 503, `${early.status} ${early.text}`);
    assert.match(early.json.message, /still starting/);
    assert.equal(early.headers.get('retry-after'), '1');
    const squatter = await api(server.base).login('Pablo', 'not-the-demo-password');
    assert.ok([503, 404].includes(squatter.status), `${squatter.status} ${squatter.text}`);
    await waitFor('readyz 200', async () => (await fetch(`${server.base}/readyz`)).status === 200, 60000);
    assert.match(server.logs(), /event=demo_data_loaded/);
    assert.doesNotMatch(server.logs(), /demo_data_failed/);
    const pablo = await api(server.base).login('Pablo', 'password123');
    assert.equal(pablo.status, 200, pablo.text);
    assert.equal(await db.zcard('room:0'), 5);
    assert.equal(await db.get('total_users'), '4');
  });
});

describe('bad Redis configuration says so, once', () => {
  const servers = [];
  const redises = [];
  after(async () => {
    for (const s of servers) await s.stop();
    for (const r of redises) await r.stop();
  });
  const count = (text, re) => (text.match(new RegExp(re.source, 'g')) || []).length;

  test('an unreachable Redis: one error line naming the cause, 503 until it is there', async () => {
    const port = await freePort();
    const server = await startServer({ redisUrl: `redis://127.0.0.1:${port}` });
    servers.push(server);
    await server.waitForLog(/level=error .*event=redis_unavailable .*cause="cannot connect: Connection refused"/);
    assert.equal((await fetch(`${server.base}/readyz`)).status, 503);
    const redis = await startRedis({ port });
    redises.push(redis);
    await server.waitForLog(/event=redis_available/, 10000);
    await waitForReady(server.base);
    // Three connections (two threads and the subscriber), several attempts each: one line.
    assert.equal(count(server.logs(), /event=redis_unavailable/), 1, server.logs());
  });

  test('a host name in the URL is resolved; one that does not resolve is reported while the server keeps serving', async () => {
    const redis = await startRedis();
    redises.push(redis);
    const named = await startServer({ redisUrl: `redis://localhost:${redis.port}` });
    servers.push(named);
    await waitForReady(named.base);
    // A name that does not resolve (or takes long to): the server keeps serving meanwhile.
    const nowhere = await startServer({ redisUrl: 'redis://no-such-host.invalid:6379', extraArgs: ['--redis-timeout-ms', '500'] });
    servers.push(nowhere);
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${nowhere.base}/healthz`, { signal: AbortSignal.timeout(1000) });
      assert.equal(r.status, 200);
    }
    await nowhere.waitForLog(/event=redis_unavailable .*cause="(cannot resolve no-such-host\.invalid|connect timed out)/, 10000);
    assert.equal((await fetch(`${nowhere.base}/readyz`)).status, 503);
  });

  test('a wrong password: one line, never ready, no warning per command', async () => {
    const redis = await startRedis({ extraArgs: ['--requirepass', 'right-one'] });
    redises.push(redis);
    const wrong = await startServer({ redisUrl: `redis://:wrong-one@127.0.0.1:${redis.port}` });
    servers.push(wrong);
    await wrong.waitForLog(/event=redis_unavailable .*cause="authentication failed: WRONGPASS/);
    for (let i = 0; i < 5; i++) {
      const r = await api(wrong.base).login('Pablo', 'password123');
      assert.equal(r.status, 503);
    }
    const ready = await fetch(`${wrong.base}/readyz`);
    assert.equal(ready.status, 503);
    assert.match((await ready.json()).message, /3 connection\(s\) down/);
    const none = await startServer({ redisUrl: `redis://127.0.0.1:${redis.port}` });
    servers.push(none);
    await none.waitForLog(/event=redis_unavailable .*cause="Redis requires a password/);
    assert.equal((await fetch(`${none.base}/readyz`)).status, 503);
    assert.equal(count(wrong.logs(), /event=redis_unavailable/), 1, wrong.logs());
    assert.equal(count(wrong.logs(), /redis_error_reply/), 0, wrong.logs());
  });

  test('a URL that cannot be used exits at once with its cause', async () => {
    for (const [url, re] of [
      ['unix:x?#', /--redis-url: /],
      ['rediss://cache.example:6380', /TLS \(rediss:\/\/\) is not supported/],
      ['http://127.0.0.1:6379', /scheme must be redis:\/\/ or unix:\/\//],
      ['redis://127.0.0.1:0', /port must be a number from 1 to 65535/],
    ]) {
      const child = spawn(SERVER_BIN, ['--redis-url', url], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => { err += d; });
      const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(sig ?? c)));
      assert.equal(code, 2, `${url}: ${err}`);
      assert.match(err, re, url);
    }
  });
});

describe('a Redis link that goes silent without closing', () => {
  let redis;
  let proxy;
  let server;
  after(async () => {
    closeSockets();
    await server?.stop();
    await proxy?.close();
    await redis?.stop();
  });

  test('readyz turns 503 within seconds, and live delivery resumes once Redis answers again', async () => {
    redis = await startRedis();
    proxy = await startProxy(redis.port);
    server = await startServer({ redisUrl: `redis://127.0.0.1:${proxy.port}`, extraArgs: ['--redis-timeout-ms', '500'] });
    await waitForReady(server.base);
    const a = await login(server.base, 'Sender');
    const b = await login(server.base, 'Receiver');
    const receiver = await connected(connect(server.base, b.sid));
    const sender = await connected(connect(server.base, a.sid));
    await sender.timeout(5000).emitWithAck('message', { roomId: '0', message: 'before' });
    await waitFor('first delivery', () => receiver.received.some((e) => e.payload?.message === 'before'));

    const down = async () => {
      const text = await (await fetch(`${server.base}/metrics`)).text();
      return Number(/^redchat_redis_connections_down (\d+)$/m.exec(text)[1]);
    };
    proxy.blackhole();
    await waitFor('readyz 503', async () => (await fetch(`${server.base}/readyz`, { signal: AbortSignal.timeout(3000) })).status === 503, 8000);
    // Every connection noticed, the idle ones and the subscriber too (probes, not trust).
    await waitFor('all three connections down', async () => (await down()) === 3, 8000);
    assert.match(server.logs(), /event=redis_unavailable .*cause="no SUBSCRIBE confirmation within 500 ms"/);

    proxy.restore();
    await waitForReady(server.base, 15000);
    assert.equal(await down(), 0);
    const ack = await sender.timeout(5000).emitWithAck('message', { roomId: '0', message: 'after' });
    assert.equal(ack.message, 'after');
    await waitFor('live delivery after the outage', () => receiver.received.some((e) => e.payload?.message === 'after'), 5000);
  });
});

describe('sessions and protocol edges', () => {
  let stack;
  let server;
  let db;
  before(async () => {
    stack = await startStack();
    ({ server, db } = stack);
  });
  after(async () => {
    closeSockets();
    await stack?.stop();
  });

  test('polling and upgrading need the login of the handshake (400 otherwise)', async () => {
    const pablo = await login(server.base, 'Owner');
    const joe = await login(server.base, 'Intruder');
    const session = await pollingSession(server.base, pablo.sid);
    const connect = await session.post('40');
    assert.equal(connect.status, 200);
    await connect.text();
    const first = await session.get();
    assert.match(await first.text(), /^40\{"sid"/);
    // Another login, or none, gets nothing of it and cannot speak for it.
    for (const as of [joe.sid, null]) {
      const get = await session.get(as);
      assert.equal(get.status, 400);
      assert.match((await get.json()).message, /another login/);
      const post = await session.post('42["message",{"roomId":"0","message":"forged"}]', as);
      assert.equal(post.status, 400);
      await post.text();
    }
    const upgrade = await new Promise((resolve) => {
      const ws = new WebSocket(`${session.url.replace('http', 'ws').replace('transport=polling', 'transport=websocket')}`,
        { headers: { Cookie: `${COOKIE_NAME}=${joe.sid}` } });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.once('open', () => { ws.close(); resolve('open'); });
    });
    assert.equal(upgrade, 400);
    // The owner's session carries on, and nothing was stored in its name by the others.
    const own = await session.post('42["message",{"roomId":"0","message":"mine"}]');
    assert.equal(own.status, 200);
    await own.text();
    await waitFor('the owner\'s message stored', async () =>
      (await db.zrange('room:0', 0, -1)).some((m) => JSON.parse(m).message === 'mine'));
    const texts = (await db.zrange('room:0', 0, -1)).map((m) => JSON.parse(m).message);
    assert.deepEqual(texts.filter((t) => t === 'forged'), []);
    const refused = (await (await fetch(`${server.base}/metrics`)).text()).match(/^redchat_refused_session_login_total (\d+)$/m);
    assert.equal(Number(refused[1]), 5);
  });


  /** A raw Engine.IO WebSocket, connected to "/" as `sid`'s user; `next()` is the next message. */
  async function rawSocket(sid) {
    const ws = new WebSocket(`${server.base.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`,
      { headers: { Cookie: `${COOKIE_NAME}=${sid}` } });
    const inbox = [];
    const waiting = [];
    ws.on('message', (d) => {
      const text = d.toString();
      if (text === '2') { ws.send('3'); return; }
      if (waiting.length) waiting.shift()(text); else inbox.push(text);
    });
    ws.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
    const take = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiting.push(resolve)));
    // The next message, skipping broadcast events (presence of other test users).
    ws.next = async () => {
      for (;;) {
        const text = await take();
        if (!text.startsWith('42[')) return text;
      }
    };
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    assert.match(await ws.next(), /^0\{/);
    ws.send('40');
    assert.match(await ws.next(), /^40\{"sid"/);
    return ws;
  }

  test('redchat_connections_open counts upgraded WebSockets until they close', async () => {
    // Each reading on a connection of its own, closed after it (it counts itself: +1 each time).
    const open = () => new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: server.port, path: '/metrics', agent: false, headers: { Connection: 'close' } }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve(Number(/^redchat_connections_open (\d+)$/m.exec(body)[1])));
      }).on('error', reject);
    });
    const user = await login(server.base, 'Counted');
    await waitFor('a steady count', async () => (await open()) === (await open()));
    const before = await open();
    const socks = await Promise.all([0, 1, 2].map(() => connected(connect(server.base, user.sid))));
    await waitFor('three more while the WebSockets are open', async () => (await open()) === before + 3);
    for (const s of socks) s.close();
    await waitFor('back once they closed', async () => (await open()) === before);
  });

  test('a text message that is not UTF-8 closes the WebSocket with 1007; a split character is fine', async () => {
    const user = await login(server.base, 'Utf8');
    const ws = await rawSocket(user.sid);
    // "café": its é (C3 A9) split across two fragments of one message.
    ws.send(Buffer.from('421["message",{"roomId":"0","message":"caf\xc3', 'latin1'), { binary: false, fin: false });
    ws.send(Buffer.from('\xa9"}]', 'latin1'), { binary: false, fin: true });
    const ack = await ws.next();
    assert.match(ack, /^431\[\{"id":/);
    assert.equal(JSON.parse(ack.slice(3))[0].message, 'café');
    ws.send(Buffer.from('42["message",{"roomId":"0","message":"\xff"}]', 'latin1'), { binary: false });
    assert.equal(await ws.closed, 1007);
    const stored = (await db.zrange('room:0', 0, -1)).map((m) => JSON.parse(m));
    assert.deepEqual(stored.filter((m) => m.from === user.id).map((m) => m.message), ['café']);
  });

  test('an unknown namespace is echoed escaped and bounded', async () => {
    const user = await login(server.base, 'Spaces');
    const ws = await rawSocket(user.sid);
    ws.send(`40/${'x'.repeat(100)}"\u00e9,{}`);
    const answer = await ws.next();
    assert.equal(answer, `44/${'x'.repeat(63)},{"message":"Invalid namespace"}`);
    ws.send('40/a"b,{}');
    assert.equal(await ws.next(), '44/a%22b,{"message":"Invalid namespace"}');
    ws.close();
  });
});

describe('out of file descriptors', () => {
  let redis;
  let server;
  const clients = [];
  after(async () => {
    for (const c of clients) c.destroy();
    await server?.stop();
    await redis?.stop();
  });

  test('accept backs off (no spin, one log line), counts it, and serves again once fds are free', async () => {
    redis = await startRedis();
    server = await startServer({ redis, maxFiles: 48 });
    await waitForReady(server.base);
    const metric = async (name) => {
      const text = await (await fetch(`${server.base}/metrics`)).text();
      return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
    };
    // Idle connections until the process runs out of descriptors (the kernel still completes
    // the TCP handshakes: they wait in the listen queue).
    for (let i = 0; i < 60; i++) {
      const c = net.connect({ port: server.port, host: '127.0.0.1' });
      c.on('error', () => {});
      clients.push(c);
    }
    await server.waitForLog(/level=error .*event=accept_failing error="Too many open files"/, 10000);
    // Free one descriptor's worth of room now and then is not enough to serve: give them back.
    for (const c of clients.splice(0)) c.destroy();
    await server.waitForLog(/event=accept_recovered/, 10000);
    const errors = await metric('redchat_accept_errors_total');
    assert.ok(errors >= 1, `accept errors counted: ${errors}`);
    // A spin would have retried millions of times in that window; the backoff (10 ms, doubling
    // to 1 s) a few dozen at most.
    assert.ok(errors < 200, `accept errors: ${errors}`);
    // Accepting the backlog of dead connections may run out again at once: one episode still.
    assert.equal((server.logs().match(/event=accept_failing/g) || []).length, 1);
    assert.equal((server.logs().match(/event=accept_recovered/g) || []).length, 1);
    const r = await fetch(`${server.base}/healthz`);
    assert.equal(r.status, 200);
  });
});

describe('per-address limits count polling sessions, behind trusted proxies by client', () => {
  let stack;
  let server;
  let db;
  before(async () => {
    stack = await startStack({ extraArgs: ['--max-connections-per-address', '4', '--trusted-proxies', '127.0.0.2/32'] });
    ({ server, db } = stack);
  });
  after(async () => {
    await stack?.stop();
  });

  /** GET over one keep-alive connection of `agent`, from local address `from`. */
  function get(agent, path, headers = {}, from = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, path, agent, headers, localAddress: from }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }
  const handshake = '/socket.io/?EIO=4&transport=polling';

  test('one keep-alive connection cannot open more polling sessions than the limit', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const statuses = [];
    // From 127.0.0.4: no other connection of this test (readiness checks) shares its count.
    for (let i = 0; i < 6; i++) statuses.push((await get(agent, handshake, {}, '127.0.0.4')).status);
    // The connection holds one place, each session one more: 3 sessions, then 429.
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
    agent.destroy();
  });

  test('through a trusted proxy, the forwarded client is counted, not the proxy', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const viaProxy = (client) => get(agent, handshake, { 'X-Forwarded-For': `6.6.6.6, ${client}` }, '127.0.0.2');
    const a = [];
    for (let i = 0; i < 5; i++) a.push((await viaProxy('198.51.100.1')).status);
    assert.deepEqual(a, [200, 200, 200, 200, 429]); // the proxy's connection is not counted
    assert.equal((await viaProxy('198.51.100.2')).status, 200);
    // Login throttling sees the client too.
    await login(server.base, 'Somebody');
    const failed = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, path: '/login', method: 'POST', localAddress: '127.0.0.2',
        headers: { 'content-type': 'application/json', 'X-Forwarded-For': '198.51.100.3' } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
      req.on('error', reject);
      req.end(JSON.stringify({ username: 'Somebody', password: 'wrong-password' }));
    });
    assert.equal(failed, 404);
    assert.equal(await db.exists('redchat:failures:login:addr:198.51.100.3'), 1);
    assert.equal(await db.exists('redchat:failures:login:addr:127.0.0.2'), 0);
    // An untrusted peer's X-Forwarded-For is ignored: 127.0.0.3 counts as itself.
    const other = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const spoof = [];
    for (let i = 0; i < 4; i++) spoof.push((await get(other, handshake, { 'X-Forwarded-For': `198.51.100.${10 + i}` }, '127.0.0.3')).status);
    assert.deepEqual(spoof, [200, 200, 200, 429]);
    agent.destroy();
    other.destroy();
    assert.match(server.logs(), /event=connection_refused reason="per-address limit" address=198\.51\.100\.1/);
  });
});

describe('localhost origins only where they make sense', () => {
  let stack;
  before(async () => {
    stack = await startStack({ extraArgs: ['--allow-localhost-origins', 'off'] });
  });
  after(async () => {
    await stack?.stop();
  });

  test('with localhost origins off, a dev origin is refused, logged with its reason; our own origin passes', async () => {
    const dev = await fetch(`${stack.base}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: 'http://localhost:5173' } });
    assert.equal(dev.status, 403);
    assert.deepEqual(await dev.json(), { message: 'Origin not allowed' });
    await stack.server.waitForLog(/level=info .*event=request_refused reason="origin not allowed" origin="http:\/\/localhost:5173" address=127\.0\.0\.1/);
    const own = await fetch(`${stack.base}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: stack.base } });
    assert.equal(own.status, 200);
    await own.text();
    // The same host on another port is another origin.
    const port = await fetch(`${stack.base}/socket.io/?EIO=4&transport=polling`,
      { headers: { Origin: `http://127.0.0.1:${stack.server.port + 1}` } });
    assert.equal(port.status, 403);
    await port.text();
  });
});

describe('shutdown at its deadline', () => {
  test('a client stalled mid-download: the process still exits cleanly (no frame outlives what it uses)', async () => {
    const redis = await startRedis();
    const webRoot = makeTempDir('redchat-web-big-');
    fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>x</title>');
    fs.writeFileSync(path.join(webRoot, 'big.bin'), Buffer.alloc(64 * 1024 * 1024, 7));
    const server = await startServer({ redis, webRoot, extraArgs: ['--shutdown-timeout', '1'] });
    try {
      await waitForReady(server.base);
      // A download the client never reads: the server's write stalls once the socket buffers fill.
      const stalled = net.connect({ port: server.port, host: '127.0.0.1' });
      stalled.on('error', () => {});
      let received = 0;
      stalled.on('data', (d) => {
        received += d.length;
        if (received > 64 * 1024) stalled.pause();
      });
      stalled.write('GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await waitFor('the download started', () => received > 64 * 1024);
      // And a WebSocket client and a long-poll, so that every kind of frame is suspended.
      const user = await login(server.base, 'Stays');
      await connected(connect(server.base, user.sid));
      const r = await server.terminate(15000);
      stalled.destroy();
      assert.equal(r.forced, false, `needed SIGKILL: ${server.logs().slice(-3000)}`);
      assert.equal(r.code, 0, `exit ${JSON.stringify(r)}: ${server.logs().slice(-3000)}`);
      assert.ok(r.ms < 10000, `took ${r.ms} ms`);
    } finally {
      closeSockets();
      await server.kill();
      await redis.stop();
    }
  });
});

describe('the private Redis', () => {
  test('with a data folder too long for a socket path it still listens only on a unix socket', async () => {
    let dataDir = makeTempDir('redchat-data-');
    while (dataDir.length < 120) dataDir = path.join(dataDir, 'a-rather-long-folder-name');
    const server = await startServer({ privateRedis: true, dataDir });
    try {
      await waitForReady(server.base, 20000);
      // The redis-server it started: a child of the server process.
      const pid = server.child.pid;
      const children = fs.readdirSync(`/proc/${pid}/task`)
        .flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/))
        .filter(Boolean);
      // Redis sets its process title to what it listens on: "redis-server unixsocket:<path>"
      // for a socket alone, "redis-server 127.0.0.1:<port>" with TCP.
      const titles = children.map((c) => fs.readFileSync(`/proc/${c}/cmdline`, 'utf8').replace(/\0+$/, '').split('\0')[0]);
      const title = titles.find((t) => t.includes('redis-server'));
      assert.ok(title, `no redis-server child: ${JSON.stringify(titles)}`);
      const m = /redis-server unixsocket:(\S+)$/.exec(title);
      assert.ok(m, `listens on more than a unix socket: ${title}`);
      const socket = m[1];
      assert.ok(socket.length < 100 && !socket.startsWith(dataDir), socket);
      const me = await api(server.base).login('Private', 'password123');
      assert.equal(me.status, 201);
      await server.stop();
      assert.equal(fs.existsSync(path.dirname(socket)), false, 'the private socket folder is removed');
    } finally {
      await server.kill();
    }
  });
});
