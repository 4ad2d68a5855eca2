// Real time over our server with the real socket.io-client (3.x and 4.x): Engine.IO polling and
// WebSocket transports, chat events, the access rules of compat-spec §6, presence, and two
// instances sharing one Redis.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { io as ioV4 } from 'socket.io-client';
import { io as ioV3 } from 'socket.io-client-v3';
import WebSocket from 'ws';
import { api, flushDeliveries, freePort, startRedis, startServer, waitFor, waitForDemoData, waitReady, COOKIE_NAME } from './harness.mjs';

const clients = [];

function connect(io, base, sid, opts = {}) {
  const headers = sid ? { Cookie: `${COOKIE_NAME}=${sid}` } : {};
  const socket = io(base, { forceNew: true, reconnection: false, extraHeaders: headers, ...opts });
  clients.push(socket);
  socket.received = [];
  socket.errors = [];
  socket.onAny((name, payload) => socket.received.push({ name, payload }));
  socket.on('error', (payload) => socket.errors.push(payload));
  return socket;
}

async function connected(socket) {
  if (socket.connected) return socket;
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

function nextEvent(socket, name, pred = () => true, ms = 5000) {
  return waitFor(`event ${name}`, () => socket.received.find((e) => e.name === name && pred(e.payload))?.payload, ms);
}

async function login(base, name, password = 'password123') {
  const a = api(base);
  const res = await a.login(name, password);
  assert.ok(res.status === 200 || res.status === 201, `login ${name}: ${res.status} ${res.text}`);
  return { api: a, sid: a.sid, id: res.json.id };
}

function closeAll() {
  while (clients.length) clients.pop().close();
}

describe('real time on one instance', () => {
  let redis;
  let server;
  let db;
  before(async () => {
    redis = await startRedis();
    db = redis.client();
    // Rates high enough for the sentinel messages (flushDeliveries) on top of each test's own.
    server = await startServer({
      redis,
      demoData: 'on',
      extraArgs: ['--presence-ttl', '3', '--messages-per-second', '1000', '--message-burst', '1000'],
    });
    await waitForDemoData(server, db);
  });
  after(async () => {
    closeAll();
    await server?.stop();
    db?.disconnect();
    await redis?.stop();
  });

  for (const [label, io, opts] of [
    ['v4, polling then upgrade', ioV4, {}],
    ['v4, WebSocket only', ioV4, { transports: ['websocket'] }],
    ['v3, polling then upgrade', ioV3, {}],
    ['v3, WebSocket only', ioV3, { transports: ['websocket'] }],
  ]) {
    test(`General chat with socket.io-client ${label}; sender and date come from the server`, async () => {
      const pablo = await login(server.base, 'Pablo');
      const joe = await login(server.base, 'Joe');
      const a = await connected(connect(io, server.base, pablo.sid, opts));
      const b = await connected(connect(io, server.base, joe.sid, opts));
      const text = `hello ${label} ${Date.now()}`;
      const before = Date.now() / 1000;
      // A spoofed sender and date: compat-spec §6.1.
      a.emit('message', { roomId: '0', message: text, from: '3', date: 1 });
      const got = await nextEvent(b, 'message', (m) => m.message === text);
      assert.equal(got.from, '1');
      assert.equal(got.roomId, '0');
      assert.ok(got.date >= before - 1 && got.date <= Date.now() / 1000 + 1, `date ${got.date}`);
      assert.match(got.id, /^\d{13}-[0-9a-f]{8}$/);
      // The sender gets it once too, and it is stored exactly as delivered.
      await nextEvent(a, 'message', (m) => m.message === text);
      await flushDeliveries(a, [b]);
      assert.equal(b.received.filter((e) => e.name === 'message' && e.payload.message === text).length, 1);
      const stored = await db.zrangebyscore('room:0', got.date, got.date, 'WITHSCORES');
      assert.deepEqual(JSON.parse(stored[0]), got);
      assert.equal(Number(stored[1]), got.date);
      a.close();
      b.close();
    });
  }

  test('messages sent back to back (pipelined by the server) are stored and delivered in order', async () => {
    const sender = await login(server.base, 'Orderly', 'orderly-secret');
    const joe = await login(server.base, 'Joe');
    const s = await connected(connect(ioV4, server.base, sender.sid, { transports: ['websocket'] }));
    const watcher = await connected(connect(ioV4, server.base, joe.sid, { transports: ['websocket'] }));
    const tag = `burst ${Date.now()}`;
    const texts = Array.from({ length: 20 }, (_, i) => `${tag} #${i}`);
    // All emitted at once: the server runs them side by side, and must keep their order.
    const acks = await Promise.all(texts.map((message) => s.timeout(5000).emitWithAck('message', { roomId: '0', message })));
    assert.deepEqual(acks.map((m) => m.message), texts);
    const dates = acks.map((m) => m.date);
    assert.deepEqual([...dates].sort((x, y) => x - y), dates, 'dates increase in sending order');
    await waitFor('all delivered', () => watcher.received.filter((e) => e.name === 'message' && e.payload.message.startsWith(tag)).length === texts.length);
    const delivered = watcher.received.filter((e) => e.name === 'message' && e.payload.message.startsWith(tag)).map((e) => e.payload.message);
    assert.deepEqual(delivered, texts);
    const stored = (await db.zrange('room:0', -texts.length, -1)).map((j) => JSON.parse(j).message);
    assert.deepEqual(stored, texts);
    s.close();
    watcher.close();
  });

  test('acknowledgements carry the stored message or the reason of a refusal', async () => {
    const pablo = await login(server.base, 'Pablo');
    const s = await connected(connect(ioV4, server.base, pablo.sid, { transports: ['websocket'] }));
    const ok = await s.timeout(5000).emitWithAck('message', { roomId: '1:2', message: 'acked' });
    assert.equal(ok.message, 'acked');
    assert.equal(ok.from, '1');
    const refused = await s.timeout(5000).emitWithAck('message', { roomId: '2:3', message: 'nope' });
    assert.match(refused.error, /not a member/);
    const tooLong = await s.timeout(5000).emitWithAck('message', { roomId: '0', message: 'x'.repeat(4001) });
    assert.match(tooLong.error, /longer than 4000/);
    const notText = await s.timeout(5000).emitWithAck('message', { roomId: '0', message: { html: 1 } });
    assert.match(notText.error, /string/);
    const empty = await s.timeout(5000).emitWithAck('message', { roomId: '0', message: '' });
    assert.match(empty.error, /empty/);
    s.close();
  });

  test('text is stored and delivered raw, never HTML-escaped (compat-spec §6.4)', async () => {
    const pablo = await login(server.base, 'Pablo');
    const s = await connected(connect(ioV4, server.base, pablo.sid, { transports: ['websocket'] }));
    const text = `It's <b>bold</b> & "quoted" <script>alert(1)</script> ${Date.now()}`;
    const ack = await s.timeout(5000).emitWithAck('message', { roomId: '0', message: text });
    assert.equal(ack.message, text);
    const stored = (await db.zrange('room:0', 0, -1)).map((x) => JSON.parse(x));
    assert.ok(stored.some((m) => m.message === text));
    const history = await pablo.api.get('/room/0/messages?offset=0&size=5');
    assert.ok(history.json.some((m) => m.message === text));
    s.close();
  });

  test('the history cursor pages without repeats while new messages arrive', async () => {
    const pablo = await login(server.base, 'Pablo');
    const s = await connected(connect(ioV4, server.base, pablo.sid, { transports: ['websocket'] }));
    for (let i = 0; i < 7; i++) await s.timeout(5000).emitWithAck('message', { roomId: '1:4', message: `page ${i}` });
    const first = await pablo.api.get('/room/1:4/messages?limit=3');
    assert.deepEqual(first.json.map((m) => m.message), ['page 6', 'page 5', 'page 4']);
    await s.timeout(5000).emitWithAck('message', { roomId: '1:4', message: 'late arrival' });
    const next = await pablo.api.get(`/room/1:4/messages?before=${first.json[2].id}&limit=3`);
    assert.deepEqual(next.json.map((m) => m.message), ['page 3', 'page 2', 'page 1']);
    s.close();
  });

  test('messages in one room get increasing, unique dates and ids, even within a millisecond', async () => {
    const pablo = await login(server.base, 'Pablo');
    const s = await connected(connect(ioV4, server.base, pablo.sid, { transports: ['websocket'] }));
    const acks = await Promise.all(
      Array.from({ length: 20 }, (_, i) => s.timeout(5000).emitWithAck('message', { roomId: '1:3', message: `burst ${i}` })),
    );
    const dates = acks.map((m) => m.date);
    assert.equal(new Set(dates).size, 20);
    assert.equal(new Set(acks.map((m) => m.id)).size, 20);
    const sorted = [...dates].sort((x, y) => x - y);
    assert.deepEqual(dates, sorted, 'dates follow the order of the sends');
    s.close();
  });

  test('private rooms reach only their two members; others can neither join nor send', async () => {
    const pablo = await login(server.base, 'Pablo');
    const joe = await login(server.base, 'Joe');
    const mary = await login(server.base, 'Mary');
    const p = await connected(connect(ioV4, server.base, pablo.sid));
    const j = await connected(connect(ioV4, server.base, joe.sid, { transports: ['websocket'] }));
    const m = await connected(connect(ioV4, server.base, mary.sid, { transports: ['websocket'] }));
    m.emit('room.join', '1:2');  // the reference lets anyone listen in: compat-spec §6.2
    await nextEvent(m, 'error', (e) => /not a member/.test(e.message));
    m.emit('message', { roomId: '1:2', message: 'intrusion' });
    await waitFor('second error', () => m.errors.length >= 2 && m.errors);
    const text = `secret ${Date.now()}`;
    p.emit('message', { roomId: '1:2', message: text });
    await nextEvent(j, 'message', (x) => x.message === text);
    await flushDeliveries(p, [m]);
    assert.equal(m.received.filter((e) => e.name === 'message' && e.payload.roomId === '1:2').length, 0);
    const stored = await db.zrange('room:1:2', 0, -1);
    assert.ok(!stored.some((x) => x.includes('intrusion')));
    p.close();
    j.close();
    m.close();
  });

  test('a socket without a session is accepted but may neither join nor send', async () => {
    const anon = await connected(connect(ioV4, server.base, undefined, { transports: ['websocket'] }));
    anon.emit('room.join', '0');
    anon.emit('message', { roomId: '0', message: 'anonymous' });
    await waitFor('two errors', () => anon.errors.length >= 2 && anon.errors);
    assert.match(anon.errors[0].message, /Log in/);
    anon.close();
  });

  test('a new private room shows up for its two users only, on its first message', async () => {
    const newbie = await login(server.base, 'Newbie', 'secret99');
    const pablo = await login(server.base, 'Pablo');
    const mary = await login(server.base, 'Mary');
    const p = await connected(connect(ioV4, server.base, pablo.sid, { transports: ['websocket'] }));
    const m = await connected(connect(ioV4, server.base, mary.sid, { transports: ['websocket'] }));
    const n = await connected(connect(ioV4, server.base, newbie.sid, { transports: ['websocket'] }));
    const room = await newbie.api.post('/room', { user1: Number(newbie.id), user2: 1 });
    assert.equal(room.status, 201);
    n.emit('message', { roomId: room.json.id, message: 'first!' });
    const shown = await nextEvent(p, 'show.room', (x) => x.id === room.json.id);
    assert.deepEqual(shown.names, [['Pablo'], ['Newbie']]);
    await nextEvent(p, 'message', (x) => x.message === 'first!');
    await flushDeliveries(p, [m]);
    assert.equal(m.received.filter((e) => e.name === 'show.room').length, 0);
    p.close();
    m.close();
    n.close();
  });

  test('presence counts connections: closing one of two tabs keeps the user online', async () => {
    const alex = await login(server.base, 'Alex');
    const joe = await login(server.base, 'Joe');
    const watcher = await connected(connect(ioV4, server.base, joe.sid, { transports: ['websocket'] }));
    const tab1 = await connected(connect(ioV4, server.base, alex.sid));
    const tab2 = await connected(connect(ioV4, server.base, alex.sid, { transports: ['websocket'] }));
    await waitFor('both tabs of Alex counted', async () => (await db.hget('redchat:presence:counts', alex.id)) === '2');
    assert.equal(await db.sismember('online_users', alex.id), 1);
    tab1.close();
    // The server has counted the closed tab out: one connection left, and still online.
    await waitFor('one connection of Alex left', async () => (await db.hget('redchat:presence:counts', alex.id)) === '1');
    assert.equal(await db.sismember('online_users', alex.id), 1);
    const online = await joe.api.get('/users/online');
    assert.ok(online.json[alex.id]?.online);
    tab2.close();
    await waitFor('Alex offline', async () => (await db.sismember('online_users', alex.id)) === 0);
    await nextEvent(watcher, 'user.disconnected', (u) => u.id === alex.id);
    watcher.close();
  });

  test('bad input gets an error and the server keeps serving', async () => {
    const pablo = await login(server.base, 'Pablo');
    const ws = new WebSocket(`${server.base.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, {
      headers: { Cookie: `${COOKIE_NAME}=${pablo.sid}` },
    });
    const frames = [];
    ws.on('message', (d) => frames.push(String(d)));
    await new Promise((r) => ws.once('open', r));
    await waitFor('open packet', () => frames.find((f) => f.startsWith('0{')));
    ws.send('40');
    await waitFor('connect reply', () => frames.find((f) => f.startsWith('40{"sid"')));
    ws.send('42not json');
    ws.send('42["message"');
    ws.send('42[1,2]');
    ws.send('42["no.such.event",{}]');
    ws.send('42["message","just a string"]');
    ws.send('451-["message",{"_placeholder":true,"num":0}]');
    await waitFor('six errors', () => frames.filter((f) => f.startsWith('42["error"')).length >= 6 && frames);
    ws.send('40/admin,');
    await waitFor('namespace refused', () => frames.find((f) => f.startsWith('44/admin,{"message"')));
    ws.send('42["message",{"roomId":"0","message":"still alive"}]');
    await waitFor('echo', () => frames.find((f) => f.includes('still alive')));
    ws.close();
    const eio3 = await fetch(`${server.base}/socket.io/?EIO=3&transport=polling`);
    assert.equal(eio3.status, 400);
    assert.deepEqual(await eio3.json(), { code: 5, message: 'Unsupported protocol version' });
    const unknown = await fetch(`${server.base}/socket.io/?EIO=4&transport=polling&sid=nope.0`);
    assert.equal(unknown.status, 400);
    assert.equal((await unknown.json()).code, 1);
  });

  test('a repeated Socket.IO connect keeps the one socket and delivers events once', async () => {
    const pablo = await login(server.base, 'Pablo');
    const ws = new WebSocket(`${server.base.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, {
      headers: { Cookie: `${COOKIE_NAME}=${pablo.sid}` },
    });
    const frames = [];
    ws.on('message', (d) => frames.push(String(d)));
    await new Promise((r) => ws.once('open', r));
    ws.send('40');
    ws.send('40');
    await waitFor('two connect replies', () => frames.filter((f) => f.startsWith('40{')).length >= 2 && frames);
    const ids = frames.filter((f) => f.startsWith('40{')).map((f) => JSON.parse(f.slice(2)).sid);
    assert.equal(ids[0], ids[1]);
    const text = `once ${Date.now()}`;
    ws.send(`42["message",{"roomId":"0","message":"${text}"}]`);
    await waitFor('echo', () => frames.find((f) => f.includes(text)));
    // A second message's echo proves any duplicate of the first would have arrived by now.
    const later = `${text} later`;
    ws.send(`42["message",{"roomId":"0","message":"${later}"}]`);
    await waitFor('the later echo', () => frames.find((f) => f.includes(later)));
    assert.equal(frames.filter((f) => f.includes(text) && !f.includes(later)).length, 1);
    ws.close();
  });

  test('WebSocket framing: fragments, pings, and violations closed with their code', async () => {
    const pablo = await login(server.base, 'Pablo');
    const url = `${server.base.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
    const headers = { Cookie: `${COOKIE_NAME}=${pablo.sid}` };
    const ws = new WebSocket(url, { headers });
    const frames = [];
    ws.on('message', (d) => frames.push(String(d)));
    await new Promise((r) => ws.once('open', r));
    ws.send('40');
    await waitFor('connect reply', () => frames.find((f) => f.startsWith('40{"sid"')));
    // A packet in three fragments, with a ping between two of them.
    const text = `fragmented ${Date.now()}`;
    const packet = `42["message",{"roomId":"0","message":"${text}"}]`;
    ws.send(packet.slice(0, 10), { fin: false });
    const pong = new Promise((r) => ws.once('pong', (d) => r(String(d))));
    ws.ping('are you there');
    ws.send(packet.slice(10, 20), { fin: false });
    ws.send(packet.slice(20), { fin: true });
    assert.equal(await pong, 'are you there');
    await waitFor('echo of the reassembled packet', () => frames.find((f) => f.includes(text)));
    // A message over maxPayload (64 KiB): close 1009.
    const closed = new Promise((r) => ws.once('close', (code) => r(code)));
    ws.send(`42["message",{"roomId":"0","message":"${'a'.repeat(70000)}"}]`);
    assert.equal(await closed, 1009);

    // A frame without a mask, after a hand-made handshake: close 1002.
    const { port } = new URL(server.base);
    const raw = net.connect(Number(port), '127.0.0.1');
    let received = Buffer.alloc(0);
    raw.on('data', (d) => { received = Buffer.concat([received, d]); });
    raw.write(
      'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await waitFor('101 and open packet', () => received.includes('0{"sid"'));
    assert.match(received.toString('latin1'), /^HTTP\/1\.1 101 [^]*Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
    const start = received.length;
    raw.write(Buffer.from([0x81, 0x02, 0x34, 0x30]));  // "40", unmasked
    await waitFor('close frame', () => received.length > start + 3);
    const close = received.subarray(received.indexOf(0x88, start));
    assert.equal(close.readUInt16BE(2), 1002);
    raw.destroy();
  });

  test('polling during an upgrade: a poll after 2probe is answered with a noop at once', async () => {
    const joe = await login(server.base, 'Joe');
    const headers = { cookie: `${COOKIE_NAME}=${joe.sid}` };
    const base = `${server.base}/socket.io/?EIO=4&transport=polling`;
    const sid = JSON.parse((await (await fetch(base, { headers })).text()).slice(1)).sid;
    await fetch(`${base}&sid=${sid}`, { method: 'POST', headers, body: '40' });
    assert.match(await (await fetch(`${base}&sid=${sid}`, { headers })).text(), /^40\{"sid"/);
    // The connect (answered) published Joe's presence; a later General event proves every event
    // before it reached this session: poll until it shows, so that nothing else is queued.
    await db.publish('MESSAGES', JSON.stringify({ type: 'message', data: { roomId: '0', message: 'drained', from: '1', date: 1 } }));
    let seen = '';
    while (!seen.includes('drained')) seen = await (await fetch(`${base}&sid=${sid}`, { headers, signal: AbortSignal.timeout(5000) })).text();
    const ws = new WebSocket(`${server.base.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket&sid=${sid}`, { headers });
    const frames = [];
    ws.on('message', (d) => frames.push(String(d)));
    await new Promise((r) => ws.once('open', r));
    ws.send('2probe');
    await waitFor('3probe', () => frames.includes('3probe'));
    const t0 = Date.now();
    const poll = await (await fetch(`${base}&sid=${sid}`, { headers, signal: AbortSignal.timeout(3000) })).text();
    assert.equal(poll, '6');
    assert.ok(Date.now() - t0 < 1000);
    ws.send('5');
    ws.send('42["message",{"roomId":"0","message":"upgraded"}]');
    await waitFor('echo over ws', () => frames.find((f) => f.includes('upgraded')));
    ws.close();
  });

  test('polling: a second concurrent long-poll is refused and ends the session', async () => {
    const open = await (await fetch(`${server.base}/socket.io/?EIO=4&transport=polling`)).text();
    assert.match(open, /^0\{"sid":"[^"]+","upgrades":\["websocket"\],"pingInterval":\d+,"pingTimeout":\d+,"maxPayload":\d+\}$/);
    const sid = JSON.parse(open.slice(1)).sid;
    const url = `${server.base}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    // Whichever of the two reaches the server second is the concurrent one: refused (400), and
    // the first is then answered too (the session ended).
    const both = await Promise.all([fetch(url), fetch(url)]);
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 400]);
    await Promise.all(both.map((r) => r.text()));
    const after = await fetch(url);
    assert.equal(after.status, 400, 'the session is gone');
  });
});

describe('server restart', () => {
  test('clients reconnect by themselves and keep receiving, without re-joining', async () => {
    const redis = await startRedis();
    const db = redis.client();
    const port = await freePort();
    let server = await startServer({ redis, demoData: 'on', port });
    try {
      await waitForDemoData(server, db);
      const pablo = await login(server.base, 'Pablo');
      const joe = await login(server.base, 'Joe');
      const opts = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 };
      const p = await connected(connect(ioV4, server.base, pablo.sid, opts));
      const j = await connected(connect(ioV3, server.base, joe.sid, opts));
      await server.stop();
      server = await startServer({ redis, demoData: 'on', port });
      // The server adds a socket to its delivery hub before it answers the connect. A client
      // may reconnect before every Redis link of the new process is up (a message sent then is
      // refused: the room check needs Redis): wait for /readyz too.
      await waitFor('both reconnected', () => p.connected && j.connected && p.io.engine?.readyState === 'open', 15000);
      await waitReady(server);
      // The reference client never re-sends room.join: the server joined the sockets itself.
      p.emit('message', { roomId: '1:2', message: 'after restart' });
      await nextEvent(j, 'message', (x) => x.message === 'after restart', 5000);
      p.close();
      j.close();
    } finally {
      await server.stop();
      db.disconnect();
      await redis.stop();
    }
  });
});

describe('ping timeout', () => {
  test('a client that stops answering pings is disconnected', async () => {
    const redis = await startRedis();
    const server = await startServer({ redis, extraArgs: ['--ping-interval-ms', '200', '--ping-timeout-ms', '300'] });
    try {
      const ws = new WebSocket(`${server.base.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
      const frames = [];
      ws.on('message', (d) => frames.push(String(d)));
      const closed = new Promise((r) => ws.once('close', r));
      await new Promise((r) => ws.once('open', r));
      ws.send('40');
      await waitFor('a ping', () => frames.includes('2'));
      await Promise.race([closed, sleep(3000).then(() => assert.fail('not closed after a missed pong'))]);
      // A client that answers stays.
      const good = await connected(connect(ioV4, server.base, undefined, { transports: ['websocket'] }));
      // Several ping rounds (200 ms + 300 ms allowance each) go by: it answered them all.
      let pings = 0;
      good.io.on('ping', () => { pings++; });
      await waitFor('four pings answered', () => pings >= 4, 5000);
      assert.ok(good.connected);
      good.close();
    } finally {
      await server.stop();
      await redis.stop();
    }
  });
});

describe('two instances on one Redis', () => {
  let redis;
  let a;
  let b;
  let db;
  before(async () => {
    redis = await startRedis();
    db = redis.client();
    a = await startServer({ redis, demoData: 'on', extraArgs: ['--presence-ttl', '3'] });
    await waitForDemoData(a, db);
    b = await startServer({ redis, demoData: 'on', extraArgs: ['--presence-ttl', '3'] });
  });
  after(async () => {
    closeAll();
    await a?.stop();
    await b?.stop().catch(() => {});
    db?.disconnect();
    await redis?.stop();
  });

  test('messages cross instances to members only; a non-member joining gets nothing', async () => {
    const pablo = await login(a.base, 'Pablo');
    const joe = await login(b.base, 'Joe');
    const mary = await login(b.base, 'Mary');
    const p = await connected(connect(ioV4, a.base, pablo.sid, { transports: ['websocket'] }));
    const j = await connected(connect(ioV4, b.base, joe.sid));
    const m = await connected(connect(ioV4, b.base, mary.sid, { transports: ['websocket'] }));
    m.emit('room.join', '1:2');
    const general = `to all ${Date.now()}`;
    const secret = `to joe ${Date.now()}`;
    p.emit('message', { roomId: '0', message: general });
    p.emit('message', { roomId: '1:2', message: secret });
    await nextEvent(j, 'message', (x) => x.message === general);
    await nextEvent(j, 'message', (x) => x.message === secret);
    await nextEvent(m, 'message', (x) => x.message === general);
    await flushDeliveries(p, [m, j]);
    assert.equal(m.received.filter((e) => e.name === 'message' && e.payload.message === secret).length, 0);
    assert.equal(j.received.filter((e) => e.name === 'message' && e.payload.message === general).length, 1);
    p.close();
    j.close();
    m.close();
  });

  test('events published by a reference server are delivered and normalised', async () => {
    const joe = await login(b.base, 'Joe');
    const j = await connected(connect(ioV4, b.base, joe.sid, { transports: ['websocket'] }));
    await db.publish('MESSAGES', JSON.stringify({
      serverId: 0.123, type: 'message', data: { roomId: '0', message: 'from node', from: 4, date: 1795830333.5 },
    }));
    const got = await nextEvent(j, 'message', (x) => x.message === 'from node');
    assert.deepEqual(got, { roomId: '0', from: '4', date: 1795830333.5, message: 'from node' });
    await db.publish('MESSAGES', JSON.stringify({ type: 'message', data: { roomId: '2:3', message: 'pm', from: '3', date: 1 } }));
    await nextEvent(j, 'message', (x) => x.message === 'pm');
    await db.publish('MESSAGES', JSON.stringify({ type: 'message', data: { roomId: '1:3', message: 'not for joe', from: '3', date: 1 } }));
    await db.publish('MESSAGES', 'garbage');
    // A later General event through the same channel proves the earlier ones were handled.
    await db.publish('MESSAGES', JSON.stringify({ type: 'message', data: { roomId: '0', message: 'sentinel', from: '3', date: 2 } }));
    await nextEvent(j, 'message', (x) => x.message === 'sentinel');
    assert.equal(j.received.filter((e) => e.payload?.message === 'not for joe').length, 0);
    j.close();
  });

  test('an instance killed with SIGKILL stops counting: its users go offline', async () => {
    const alex = await login(b.base, 'Alex');
    const joe = await login(a.base, 'Joe');
    const watcher = await connected(connect(ioV4, a.base, joe.sid, { transports: ['websocket'] }));
    const s = await connected(connect(ioV4, b.base, alex.sid, { transports: ['websocket'] }));
    await waitFor('Alex online', async () => (await db.sismember('online_users', alex.id)) === 1);
    await b.kill();
    s.close();
    await waitFor('Alex offline', async () => (await db.sismember('online_users', alex.id)) === 0, 20000);
    await nextEvent(watcher, 'user.disconnected', (u) => u.id === alex.id, 5000);
    watcher.close();
  });
});
