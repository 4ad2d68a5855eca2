// Protocol 1 (docs/realtime.md): what a client that announces `{"redchat":1}` in its Socket.IO
// connect gets beyond the tutorial's protocol (reliable send with client ids, recovery from a
// cursor, typing, read positions and receipts, server-side unread counts), what every refusal
// looks like, and that a socket that announced nothing still gets the tutorial's protocol exactly.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import {
  ack,
  api,
  closeSockets,
  connectSocket,
  connected,
  flushDeliveries,
  legacySocket,
  named,
  p1Socket,
  loginUser,
  startRedis,
  startServer,
  startTwoInstances,
  waitFor,
  waitForDemoData,
  privateRoom,
} from './harness.mjs';

const p1 = p1Socket;
const legacy = legacySocket;

async function roomHistory(user, roomId) {
  const res = await user.api.get(`/room/${roomId}/messages?offset=0&size=100`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

describe('protocol 1', () => {
  let redis;
  let server;
  let db;
  let bus; // a subscriber on the tutorial's channel: nothing of protocol 1 may appear there
  const tutorialChannel = [];
  before(async () => {
    redis = await startRedis();
    db = redis.client();
    server = await startServer({
      redis,
      demoData: 'on',
      // Typing signals of one connection a minute apart at least: a second one is always dropped.
      extraArgs: ['--messages-per-second', '1000', '--message-burst', '1000', '--typing-interval-ms', '60000'],
    });
    await waitForDemoData(server, db);
    bus = new Redis({ port: redis.port, lazyConnect: true });
    await bus.connect();
    await bus.subscribe('MESSAGES');
    bus.on('message', (_channel, payload) => tutorialChannel.push(JSON.parse(payload)));
  });
  after(async () => {
    closeSockets();
    bus?.disconnect();
    await server?.stop();
    db?.disconnect();
    await redis?.stop();
  });

  test('a message with a client id is stored once, however often it is sent', async () => {
    const pablo = await loginUser(server.base, 'Pablo');
    const joe = await loginUser(server.base, 'Joe');
    const [ps, js] = [await p1(server.base, pablo), await p1(server.base, joe)];
    const room = privateRoom(pablo, joe);
    const payload = { roomId: room, message: 'exactly once', clientId: 'c-1f3a9b' };
    const first = await ack(ps, 'message', payload);
    assert.equal(first.message, 'exactly once');
    assert.equal(first.from, pablo.id);
    // A retry (after a timeout, or from another connection after a reconnect) gets the same
    // stored message back.
    const again = await ack(ps, 'message', payload);
    assert.deepEqual(again, first);
    const other = await p1(server.base, pablo);
    assert.deepEqual(await ack(other, 'message', payload), first);
    // The same client id from another user is that user's own message.
    const joes = await ack(js, 'message', { roomId: room, message: 'mine', clientId: 'c-1f3a9b' });
    assert.notEqual(joes.id, first.id);
    await flushDeliveries(ps, [js]);
    assert.equal(named(js, 'message').filter((m) => m.id === first.id).length, 1, 'delivered once');
    const stored = (await roomHistory(pablo, room)).filter((m) => m.message === 'exactly once');
    assert.equal(stored.length, 1);
    assert.equal(stored[0].id, first.id);
  });

  test('bad client ids are refused and nothing is stored', async () => {
    const pablo = await loginUser(server.base, 'Pablo');
    const ps = await p1(server.base, pablo);
    for (const clientId of ['', 'x'.repeat(65), 'has space', 'a:b', 42, { a: 1 }, 'ünï']) {
      const res = await ack(ps, 'message', { roomId: '0', message: `bad id ${JSON.stringify(clientId)}`, clientId });
      assert.match(res.error, /clientId/, JSON.stringify(clientId));
    }
    const general = await roomHistory(pablo, '0');
    assert.ok(!general.some((m) => m.message.startsWith('bad id')));
  });

  test('room.sync returns exactly what came after a cursor, in pages', async () => {
    const mary = await loginUser(server.base, 'Mary');
    const alex = await loginUser(server.base, 'Alex');
    const room = privateRoom(mary, alex);
    const ms = await p1(server.base, mary);
    const as = await p1(server.base, alex);
    const cursor = await ack(ms, 'message', { roomId: room, message: 'cursor' });
    // Alex's socket is gone while Mary writes: these are what Alex's client missed.
    as.close();
    const missed = [];
    for (let i = 0; i < 7; i++) missed.push(await ack(ms, 'message', { roomId: room, message: `missed ${i}` }));
    const back = await p1(server.base, alex);
    const got = [];
    let after = cursor.id;
    for (;;) {
      const page = await ack(back, 'room.sync', { roomId: room, after, limit: 3 });
      assert.ok(Array.isArray(page.messages), JSON.stringify(page));
      assert.ok(page.messages.length <= 3);
      got.push(...page.messages);
      if (!page.more) break;
      after = page.messages.at(-1).id;
    }
    assert.deepEqual(got.map((m) => m.id), missed.map((m) => m.id), 'no gap, no duplicate, oldest first');
    // A date works as a cursor too (messages without an id of ours).
    const byDate = await ack(back, 'room.sync', { roomId: room, after: cursor.date });
    assert.deepEqual(byDate.messages.map((m) => m.id), missed.map((m) => m.id));
    assert.equal(byDate.more, false);
  });

  test('room.sync, typing and room.read refuse non-members, forged rooms and bad input', async () => {
    const pablo = await loginUser(server.base, 'Pablo');
    const joe = await loginUser(server.base, 'Joe');
    const mary = await loginUser(server.base, 'Mary');
    const room = privateRoom(joe, mary); // Pablo is not in it
    const ps = await p1(server.base, pablo);
    for (const [name, payload] of [
      ['room.sync', { roomId: room, after: 0 }],
      ['typing', { roomId: room }],
      ['room.read', { roomId: room, messageId: '99999999999999-ffff' }],
      ['room.sync', { roomId: '5:6', after: 0 }],
    ]) {
      const res = await ack(ps, name, payload);
      assert.match(res.error, /not a member/, `${name} ${JSON.stringify(payload)}`);
    }
    for (const [name, payload, why] of [
      ['room.sync', { roomId: '0', after: 'yesterday' }, /after/],
      ['room.sync', { roomId: '0' }, /after/],
      ['room.sync', { roomId: '0', after: 0, limit: 0 }, /limit/],
      ['room.sync', { roomId: '0', after: 0, limit: 'x' }, /limit/],
      ['room.read', { roomId: '0' }, /messageId/],
      ['room.read', { roomId: '0', messageId: -5 }, /messageId/],
      ['typing', { roomId: 'has space' }, /room id/],
      ['typing', 'not an object', /room id/],
      ['room.read', { roomId: 'x'.repeat(65), messageId: 0 }, /room id/],
    ]) {
      const res = await ack(ps, name, payload);
      assert.match(res.error ?? '', why, `${name} ${JSON.stringify(payload)}: ${JSON.stringify(res)}`);
    }
    // A page is bounded by the server whatever the client asks for.
    const big = await ack(ps, 'room.sync', { roomId: '0', after: 0, limit: 100000 });
    assert.ok(big.messages.length <= 200);
    assert.equal(server.running(), true);
  });

  test('typing reaches the other members of the room, never the typist, never outsiders', async () => {
    const pablo = await loginUser(server.base, 'Pablo');
    const joe = await loginUser(server.base, 'Joe');
    const mary = await loginUser(server.base, 'Mary');
    const room = privateRoom(pablo, joe);
    const typist = await p1(server.base, pablo);
    const typistTab = await p1(server.base, pablo);
    const peer = await p1(server.base, joe);
    const outsider = await p1(server.base, mary);
    const oldJoe = await legacy(server.base, joe);
    assert.deepEqual(await ack(typist, 'typing', { roomId: room }), {});
    const got = await waitFor('typing at Joe', () => named(peer, 'typing')[0]);
    assert.deepEqual(got, { roomId: room, userId: pablo.id, username: 'Pablo' });
    // A second signal within the interval is dropped, not refused.
    assert.deepEqual(await ack(typist, 'typing', { roomId: room }), { dropped: true });
    await flushDeliveries(typist, [peer, typistTab, outsider, oldJoe]);
    assert.equal(named(peer, 'typing').length, 1);
    assert.equal(named(typistTab, 'typing').length, 0, 'not to the typist');
    assert.equal(named(outsider, 'typing').length, 0, 'not outside the room');
    assert.equal(named(oldJoe, 'typing').length, 0, 'not to a tutorial socket');
  });

  test('read positions: receipts for the other member, unread counts, every tab', async () => {
    const joe = await loginUser(server.base, 'Joe');
    const alex = await loginUser(server.base, 'Alex');
    const room = privateRoom(joe, alex);
    const js = await p1(server.base, joe);
    const jsTab = await p1(server.base, joe);
    const as = await p1(server.base, alex);
    const oldAlex = await legacy(server.base, alex);
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await ack(js, 'message', { roomId: room, message: `read me ${i}` }));
    // Alex has three unread here (the demo greetings may add to them: counted from the start).
    const before = (await alex.api.get('/read-state')).json.rooms[room];
    assert.ok(before.unread >= 3, JSON.stringify(before));
    // The sender has read the room up to the message it sent.
    assert.equal((await joe.api.get('/read-state')).json.rooms[room].unread, 0);

    const r = await ack(as, 'room.read', { roomId: room, messageId: sent[1].id });
    assert.equal(r.date, sent[1].date);
    // Joe's sockets (the receipt) and Alex's own (the unread count) hear it; the tutorial
    // socket does not.
    for (const s of [js, jsTab]) {
      const ev = await waitFor('room.read', () => named(s, 'room.read').find((e) => e.userId === alex.id));
      assert.deepEqual(ev, { roomId: room, userId: alex.id, date: sent[1].date });
    }
    assert.equal((await alex.api.get('/read-state')).json.rooms[room].unread, 1);
    assert.equal((await alex.api.get('/read-state')).json.rooms[room].read, sent[1].date);
    const reads = await joe.api.get(`/room/${room}/reads`);
    assert.equal(reads.status, 200);
    assert.equal(reads.json[alex.id], sent[1].date);
    assert.equal(reads.json[joe.id], sent[2].date);

    // A position never goes back, and never past the newest message.
    assert.deepEqual(await ack(as, 'room.read', { roomId: room, messageId: sent[0].id }), { date: null });
    const far = await ack(as, 'room.read', { roomId: room, messageId: 4102444800 });
    assert.equal(far.date, sent[2].date);
    assert.equal((await alex.api.get('/read-state')).json.rooms[room].unread, 0);
    await flushDeliveries(js, [oldAlex, as]);
    assert.equal(named(oldAlex, 'room.read').length, 0);
  });

  test('read positions in General reach only the reader; a new user starts with General read', async () => {
    const mary = await loginUser(server.base, 'Mary');
    const pablo = await loginUser(server.base, 'Pablo');
    const ms = await p1(server.base, mary);
    const msTab = await p1(server.base, mary);
    const ps = await p1(server.base, pablo);
    const m = await ack(ps, 'message', { roomId: '0', message: 'for General' });
    await ack(ms, 'room.read', { roomId: '0', messageId: m.id });
    await waitFor('own tab hears it', () => named(msTab, 'room.read').find((e) => e.roomId === '0'));
    await flushDeliveries(ps, [ps]);
    assert.equal(named(ps, 'room.read').filter((e) => e.roomId === '0').length, 0, 'no receipts in General');
    assert.deepEqual((await pablo.api.get('/room/0/reads')).json, {});

    const newcomer = await loginUser(server.base, `new${Date.now() % 100000}`);
    const state = (await newcomer.api.get('/read-state')).json.rooms;
    assert.deepEqual(Object.keys(state), ['0']);
    assert.equal(state['0'].unread, 0, 'the history before registering is not unread');
    await ack(ps, 'message', { roomId: '0', message: 'after the newcomer' });
    assert.equal((await newcomer.api.get('/read-state')).json.rooms['0'].unread, 1);
  });

  test('read state and receipts need a session and membership', async () => {
    const anon = api(server.base);
    assert.equal((await anon.get('/read-state')).status, 401);
    assert.equal((await anon.get('/room/1:2/reads')).status, 401);
    const mary = await loginUser(server.base, 'Mary');
    assert.equal((await mary.api.get('/room/1:2/reads')).status, 403);
    assert.equal((await mary.api.get('/room/bad%20id/reads')).status, 400);
    assert.equal((await mary.api.post('/read-state', {})).status, 405);
  });

  test('read updates are rate-limited per connection', async () => {
    const joe = await loginUser(server.base, 'Joe');
    const js = await p1(server.base, joe);
    const results = await Promise.all(Array.from({ length: 40 }, () => ack(js, 'room.read', { roomId: '0', messageId: 0 })));
    assert.ok(results.some((r) => /too fast/.test(r.error ?? '')), 'some refused');
    assert.ok(results.filter((r) => !r.error).length >= 20, 'the burst passes');
  });

  test('a socket that announced nothing gets the tutorial protocol exactly', async () => {
    const pablo = await loginUser(server.base, 'Pablo');
    const joe = await loginUser(server.base, 'Joe');
    const room = privateRoom(pablo, joe);
    const old = await legacy(server.base, joe);
    const ps = await p1(server.base, pablo);
    // The new events are unknown to it...
    for (const name of ['typing', 'room.read', 'room.sync']) {
      const res = await ack(old, name, { roomId: room, messageId: 0, after: 0 });
      assert.match(res.error, /Unknown event/, name);
    }
    // ...and it hears nothing but the tutorial's events while the room is busy with them.
    await ack(ps, 'typing', { roomId: room });
    const m = await ack(ps, 'message', { roomId: room, message: 'to a tutorial socket', clientId: 'legacy-1' });
    await ack(ps, 'room.read', { roomId: room, messageId: m.id });
    await flushDeliveries(ps, [old]);
    const names = new Set(old.received.map((e) => e.name));
    for (const n of names) assert.ok(['message', 'user.connected', 'user.disconnected', 'show.room'].includes(n), n);
    const delivered = named(old, 'message').find((x) => x.id === m.id);
    assert.deepEqual(Object.keys(delivered).sort(), ['date', 'from', 'id', 'message', 'roomId']);
  });

  test('edits and deletes: only by the author, live to the room, in history for everyone', async () => {
    const pablo = await loginUser(server.base, 'Pablo');
    const joe = await loginUser(server.base, 'Joe');
    const mary = await loginUser(server.base, 'Mary');
    const room = privateRoom(pablo, joe);
    const ps = await p1(server.base, pablo);
    const js = await p1(server.base, joe);
    const ms = await p1(server.base, mary);
    const oldJoe = await legacy(server.base, joe);
    const m = await ack(ps, 'message', { roomId: room, message: 'teh typo' });
    const edited = await ack(ps, 'message.edit', { roomId: room, messageId: m.id, message: 'the typo, fixed' });
    assert.equal(edited.id, m.id);
    assert.equal(edited.date, m.date);
    assert.equal(edited.message, 'the typo, fixed');
    assert.equal(typeof edited.edited, 'number');
    const live = await waitFor('message.updated at Joe', () => named(js, 'message.updated').find((x) => x.id === m.id));
    assert.deepEqual(live, edited);
    // Nobody else may, and not through a forged room either.
    assert.match((await ack(js, 'message.edit', { roomId: room, messageId: m.id, message: 'mine now' })).error, /Only its author/);
    assert.match((await ack(js, 'message.delete', { roomId: room, messageId: m.id })).error, /Only its author/);
    assert.match((await ack(ms, 'message.edit', { roomId: room, messageId: m.id, message: 'x' })).error, /not a member/);
    assert.match((await ack(ps, 'message.edit', { roomId: '0', messageId: m.id, message: 'x' })).error, /No such message/);
    for (const [payload, why] of [
      [{ roomId: room, messageId: 'nope', message: 'x' }, /messageId/],
      [{ roomId: room, messageId: m.id, message: '' }, /empty/],
      [{ roomId: room, messageId: m.id, message: 'x'.repeat(4001) }, /longer/],
      [{ roomId: room, messageId: m.id }, /string/],
    ]) {
      assert.match((await ack(ps, 'message.edit', payload)).error, why, JSON.stringify(payload).slice(0, 80));
    }
    const deleted = await ack(ps, 'message.delete', { roomId: room, messageId: m.id });
    assert.deepEqual([deleted.id, deleted.deleted, deleted.message], [m.id, true, 'Message deleted']);
    await waitFor('delete live', () => named(js, 'message.updated').find((x) => x.id === m.id && x.deleted));
    assert.match((await ack(ps, 'message.edit', { roomId: room, messageId: m.id, message: 'back' })).error, /No such message/);
    // History: once, deleted, for the tutorial client too (it shows the text).
    const history = (await roomHistory(joe, room)).filter((x) => x.id === m.id);
    assert.equal(history.length, 1);
    assert.equal(history[0].message, 'Message deleted');
    await flushDeliveries(ps, [oldJoe]);
    assert.equal(named(oldJoe, 'message.updated').length, 0, 'not to a tutorial socket');
  });

  test('reactions toggle, are counted per emoji, live, and come with history on request', async () => {
    const pablo = await loginUser(server.base, 'Pablo');
    const joe = await loginUser(server.base, 'Joe');
    const ps = await p1(server.base, pablo);
    const js = await p1(server.base, joe);
    const m = await ack(ps, 'message', { roomId: '0', message: 'react to me' });
    assert.deepEqual(await ack(js, 'message.react', { roomId: '0', messageId: m.id, emoji: '👍' }), { reactions: { '👍': [joe.id] } });
    assert.deepEqual(await ack(ps, 'message.react', { roomId: '0', messageId: m.id, emoji: '👍' }), { reactions: { '👍': [joe.id, pablo.id] } });
    const both = await ack(ps, 'message.react', { roomId: '0', messageId: m.id, emoji: '🎉' });
    assert.deepEqual(Object.keys(both.reactions).sort(), ['🎉', '👍'].sort());
    // Toggling off.
    assert.deepEqual((await ack(js, 'message.react', { roomId: '0', messageId: m.id, emoji: '👍' })).reactions['👍'], [pablo.id]);
    const live = await waitFor('reactions at Joe', () => named(js, 'message.reactions').filter((x) => x.messageId === m.id).at(-1));
    assert.equal(live.roomId, '0');
    const shown = await pablo.api.get(`/room/0/reactions?ids[]=${m.id}&ids[]=1-abc`);
    assert.equal(shown.status, 200);
    assert.deepEqual(Object.keys(shown.json), [m.id]);
    assert.deepEqual(shown.json[m.id]['👍'], [pablo.id]);
    for (const emoji of ['', 'two words', 'x'.repeat(33), 5]) {
      assert.match((await ack(js, 'message.react', { roomId: '0', messageId: m.id, emoji })).error, /emoji/);
    }
    assert.match((await ack(js, 'message.react', { roomId: '0', messageId: '1-abc', emoji: '👍' })).error, /No such message/);
    assert.equal((await pablo.api.get('/room/0/reactions?ids[]=bad')).status, 400);
    const mary = await loginUser(server.base, 'Mary');
    assert.equal((await mary.api.get(`/room/${privateRoom(pablo, joe)}/reactions?ids[]=${m.id}`)).status, 403);
  });

  test('nothing of protocol 1 is published on the tutorial channel', async () => {
    const pablo = await loginUser(server.base, 'Pablo');
    const joe = await loginUser(server.base, 'Joe');
    const room = privateRoom(pablo, joe);
    const ps = await p1(server.base, pablo);
    const js = await p1(server.base, joe);
    const mark = tutorialChannel.length;
    await ack(js, 'typing', { roomId: room });
    const m = await ack(ps, 'message', { roomId: room, message: 'channel check' });
    await ack(js, 'room.read', { roomId: room, messageId: m.id });
    await ack(ps, 'message.edit', { roomId: room, messageId: m.id, message: 'channel check, edited' });
    await ack(js, 'message.react', { roomId: room, messageId: m.id, emoji: '👀' });
    await ack(ps, 'message.delete', { roomId: room, messageId: m.id });
    // Published after every ack: whatever the server put on MESSAGES arrived before it.
    await db.publish('MESSAGES', JSON.stringify({ type: 'test.sentinel' }));
    await waitFor('the sentinel on MESSAGES', () => tutorialChannel.some((e) => e.type === 'test.sentinel'));
    const types = tutorialChannel.slice(mark).map((e) => e.type).filter((t) => t !== 'test.sentinel');
    // The private message itself, with the tutorial's bus on; routed to its two users with it off.
    const expected = process.env.TUTORIAL_BUS === 'off' ? [] : ['message'];
    assert.deepEqual([...new Set(types)].sort(), expected);
  });

  test('a socket that watches presence gets it only for the users it watches', async () => {
    const tag = Date.now().toString(36);
    const [watcher, watched, other, listener] = await Promise.all(
      ['watcher', 'watched', 'other', 'listener'].map((n) => loginUser(server.base, `${n}${tag}`)),
    );
    // A socket of the tutorial's protocol hears of everyone, itself included.
    const ls = await legacy(server.base, listener);
    await waitFor('the listener online', () => named(ls, 'user.connected').some((u) => u.id === listener.id));
    const ws = await connected(connectSocket(server.base, watcher.sid, { auth: { redchat: 1, presence: 'watched' } }));
    // The ack lists who of the watched users is online now.
    assert.deepEqual(await ack(ws, 'presence.watch', { users: [watched.id, listener.id, listener.id] }), {
      online: [listener.id],
    });
    // Someone it does not watch comes online: the listener hears of it, the watcher does not...
    const os = await legacy(server.base, other);
    await waitFor('other online for the listener', () => named(ls, 'user.connected').some((u) => u.id === other.id));
    // ...and the watched user's coming and going, published after it, reaches the watcher: the
    // other's event, earlier on the same bus, would have arrived before.
    const ws2 = await legacy(server.base, watched);
    await waitFor('watched online', () => named(ws, 'user.connected').some((u) => u.id === watched.id));
    ws2.close();
    await waitFor('watched offline', () => named(ws, 'user.disconnected').some((u) => u.id === watched.id));
    const heard = (name) => named(ws, name).map((u) => u.id).filter((id) => [watched.id, other.id].includes(id));
    assert.deepEqual(heard('user.connected'), [watched.id]);
    assert.deepEqual(heard('user.disconnected'), [watched.id]);
    os.close();
    // Refusals, and the event is unknown to a socket of the tutorial's protocol.
    assert.deepEqual(await ack(ws, 'presence.watch', { users: ['x1'] }), { error: 'Invalid user id' });
    assert.deepEqual(await ack(ws, 'presence.watch', { users: Array.from({ length: 1001 }, (_, i) => String(i + 1)) }), {
      error: 'At most 1000 users can be watched',
    });
    assert.deepEqual(await ack(ws, 'presence.watch', ['1']), { error: 'presence.watch needs {"users":[user ids]}' });
    assert.deepEqual(await ack(ls, 'presence.watch', { users: [] }), { error: 'Unknown event: presence.watch' });
  });

  test('a socket that declares it watches, and watches nobody yet, gets nobody\'s presence', async () => {
    const tag = Date.now().toString(36);
    const [quiet, arriving, sender] = await Promise.all(
      ['quiet', 'arriving', 'sender'].map((n) => loginUser(server.base, `${n}${tag}`)),
    );
    const qs = await connected(connectSocket(server.base, quiet.sid, { auth: { redchat: 1, presence: 'watched' } }));
    const ss = await legacy(server.base, sender);
    await legacy(server.base, arriving);
    await waitFor('the sender hears of the arrival', () => named(ss, 'user.connected').some((u) => u.id === arriving.id));
    await flushDeliveries(ss, [qs]); // anything for the quiet socket has arrived by now
    assert.deepEqual(named(qs, 'user.connected'), []);
  });

  test('a protocol-1 socket that declares nothing gets everyone\'s presence, as before', async () => {
    const tag = Date.now().toString(36);
    const [p, q] = await Promise.all(['plain', 'peer'].map((n) => loginUser(server.base, `${n}${tag}`)));
    const ps = await p1(server.base, p);
    await legacy(server.base, q);
    await waitFor('the peer online', () => named(ps, 'user.connected').some((u) => u.id === q.id));
  });
});

describe('protocol 1 across two instances', () => {
  let pair;
  let a;
  let b;
  before(async () => {
    pair = await startTwoInstances();
    ({ a, b } = pair);
  });
  after(() => pair?.stop());

  test('typing, read receipts and client-id dedupe work across instances', async () => {
    const pabloOnA = await loginUser(a.base, 'Pablo');
    const joeOnB = await loginUser(b.base, 'Joe');
    const room = privateRoom(pabloOnA, joeOnB);
    const ps = await p1(a.base, pabloOnA);
    const js = await p1(b.base, joeOnB);
    await ack(ps, 'typing', { roomId: room });
    assert.equal((await waitFor('typing on B', () => named(js, 'typing')[0])).username, 'Pablo');
    const m = await ack(ps, 'message', { roomId: room, message: 'across', clientId: 'x-instance' });
    // The retry goes to the other instance (a reconnect landed there): still stored once.
    const psOnB = await p1(b.base, { sid: pabloOnA.sid });
    assert.deepEqual(await ack(psOnB, 'message', { roomId: room, message: 'across', clientId: 'x-instance' }), m);
    await ack(js, 'room.read', { roomId: room, messageId: m.id });
    const receipt = await waitFor('receipt on A', () => named(ps, 'room.read').find((e) => e.userId === joeOnB.id));
    assert.equal(receipt.date, m.date);
    const stored = (await roomHistory(pabloOnA, room)).filter((x) => x.message === 'across');
    assert.equal(stored.length, 1);
  });
});
