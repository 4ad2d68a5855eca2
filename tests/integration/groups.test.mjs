// Group rooms and the user search (docs/api.md, docs/realtime.md): creating, renaming, adding,
// removing and leaving, each announced live to every member's protocol-1 socket; the refusals
// (non-members, non-owners, removed members, forged ids, bad input, limits); what a tutorial
// socket and a tutorial client's REST calls see of a group; and search by name prefix.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import {
  ack,
  api,
  closeSockets,
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
} from './harness.mjs';

const p1 = p1Socket;
const legacy = legacySocket;

describe('group rooms', () => {
  let redis;
  let server;
  let db;
  let tutorialBus;
  const onTutorialChannel = [];
  const users = {};
  before(async () => {
    redis = await startRedis();
    db = redis.client();
    server = await startServer({
      redis,
      demoData: 'on',
      extraArgs: ['--messages-per-second', '1000', '--message-burst', '1000', '--max-room-members', '4'],
    });
    await waitForDemoData(server, db);
    for (const name of ['Pablo', 'Joe', 'Mary', 'Alex']) users[name] = await loginUser(server.base, name);
    tutorialBus = new Redis({ port: redis.port, lazyConnect: true });
    await tutorialBus.connect();
    await tutorialBus.subscribe('MESSAGES');
    tutorialBus.on('message', (_c, payload) => onTutorialChannel.push(JSON.parse(payload)));
  });
  after(async () => {
    closeSockets();
    tutorialBus?.disconnect();
    await server?.stop();
    db?.disconnect();
    await redis?.stop();
  });

  test('a group is created with its members, who get it live on every open socket', async () => {
    const { Pablo, Joe, Mary, Alex } = users;
    const joe = await p1(server.base, Joe);
    const joeTab = await p1(server.base, Joe);
    const alex = await p1(server.base, Alex); // not a member
    const res = await Pablo.api.post('/groups', { name: 'Team', members: [Joe.id, Number(Mary.id), Joe.id] });
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.id, /^g[0-9a-f]{16}$/);
    assert.equal(res.json.name, 'Team');
    assert.equal(res.json.owner, Pablo.id);
    assert.deepEqual(res.json.members.map((m) => m.username).sort(), ['Joe', 'Mary', 'Pablo']);
    const room = res.json.id;
    for (const s of [joe, joeTab]) {
      const ev = await waitFor('group.changed', () => named(s, 'group.changed').find((e) => e.roomId === room));
      assert.deepEqual(ev, { roomId: room, name: 'Team', owner: Pablo.id, members: [Pablo.id, Joe.id, Mary.id], removed: [] });
    }
    // It is a room of each member (as the tutorial's client lists rooms), not of anyone else.
    const rooms = (await Joe.api.get(`/rooms/${Joe.id}`)).json;
    assert.deepEqual(rooms.find((r) => r.id === room), { id: room, names: ['Team'] });
    assert.equal((await Alex.api.get(`/rooms/${Alex.id}`)).json.some((r) => r.id === room), false);
    assert.equal((await Alex.api.get(`/groups/${room}`)).status, 404, 'a non-member learns nothing');
    const shown = await Mary.api.get(`/groups/${room}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.json.name, 'Team');

    // Messages: to the members' sockets (joined live), stored, never on the tutorial channel.
    const m = await ack(joe, 'message', { roomId: room, message: 'hello team' });
    assert.equal(m.roomId, room);
    await waitFor('Joe\'s other tab', () => named(joeTab, 'message').find((x) => x.id === m.id));
    await flushDeliveries(alex, [alex, joe]);
    assert.equal(named(alex, 'message').some((x) => x.roomId === room), false, 'not to a non-member');
    assert.equal(onTutorialChannel.some((e) => e.data?.roomId === room), false, 'not on MESSAGES');
    const history = await Mary.api.get(`/room/${room}/messages?offset=0&size=10`);
    assert.deepEqual(history.json.map((x) => x.message), ['hello team']);
    assert.equal((await Alex.api.get(`/room/${room}/messages?offset=0&size=10`)).status, 403);
    assert.match((await ack(alex, 'message', { roomId: room, message: 'let me in' })).error, /not a member/);
  });

  test('the owner renames and adds; a removed member loses the room at once', async () => {
    const { Pablo, Joe, Mary, Alex } = users;
    const created = await Pablo.api.post('/groups', { name: 'Ops', members: [Joe.id] });
    const room = created.json.id;
    const joe = await p1(server.base, Joe);
    const joeOld = await legacy(server.base, Joe); // a tutorial socket of a member
    const pablo = await p1(server.base, Pablo);
    const alex = await p1(server.base, Alex);

    assert.equal((await Joe.api.raw('PATCH', `/groups/${room}`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Mine' }) })).status, 403);
    const renamed = await Pablo.api.raw('PATCH', `/groups/${room}`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ops & Infra' }) });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.json.name, 'Ops & Infra');
    await waitFor('rename live', () => named(joe, 'group.changed').find((e) => e.roomId === room && e.name === 'Ops & Infra'));
    assert.deepEqual((await Joe.api.get(`/rooms/${Joe.id}`)).json.find((r) => r.id === room).names, ['Ops & Infra']);

    assert.equal((await Joe.api.post(`/groups/${room}/members`, { members: [Alex.id] })).status, 403, 'only the owner adds');
    const added = await Pablo.api.post(`/groups/${room}/members`, { members: [Alex.id] });
    assert.equal(added.status, 200, added.text);
    await waitFor('Alex gets the group', () => named(alex, 'group.changed').find((e) => e.roomId === room));
    // Alex's socket joined the room live: it gets the next message without reconnecting.
    const hi = await ack(pablo, 'message', { roomId: room, message: 'welcome Alex' });
    await waitFor('Alex gets messages', () => named(alex, 'message').find((x) => x.id === hi.id));
    assert.equal(await ack(alex, 'typing', { roomId: room }).then((r) => r.error), undefined);

    // Joe is removed: his sockets (the tutorial one too) stop receiving at once.
    assert.equal((await Alex.api.raw('DELETE', `/groups/${room}/members/${Joe.id}`)).status, 403, 'a member removes only itself');
    const removed = await Pablo.api.raw('DELETE', `/groups/${room}/members/${Joe.id}`);
    assert.equal(removed.status, 200, removed.text);
    const gone = await waitFor('Joe hears he was removed', () => named(joe, 'group.changed').find((e) => e.roomId === room && e.removed.includes(Joe.id)));
    assert.equal(gone.members.includes(Joe.id), false);
    const after = await ack(pablo, 'message', { roomId: room, message: 'after Joe left' });
    await flushDeliveries(pablo, [joe, joeOld]);
    for (const s of [joe, joeOld]) assert.equal(named(s, 'message').some((x) => x.id === after.id), false);
    assert.equal((await Joe.api.get(`/room/${room}/messages?offset=0&size=10`)).status, 403, 'no history');
    assert.match((await ack(joe, 'message', { roomId: room, message: 'still here?' })).error, /not a member/);
    assert.match((await ack(joe, 'room.sync', { roomId: room, after: 0 })).error, /not a member/);
    assert.equal((await Joe.api.get(`/groups/${room}`)).status, 404);
    assert.equal((await Mary.api.raw('DELETE', `/groups/${room}/members/${Mary.id}`)).status, 404, 'not a member');
  });

  test('leaving: any member leaves; an owner who leaves hands the group on', async () => {
    const { Pablo, Joe, Mary } = users;
    const room = (await Pablo.api.post('/groups', { name: 'Leavers', members: [Joe.id, Mary.id] })).json.id;
    const mary = await p1(server.base, Mary);
    assert.equal((await Mary.api.raw('DELETE', `/groups/${room}/members/${Mary.id}`)).status, 200);
    await waitFor('Mary left', () => named(mary, 'group.changed').find((e) => e.roomId === room && e.removed.includes(Mary.id)));
    assert.equal((await Mary.api.get(`/rooms/${Mary.id}`)).json.some((r) => r.id === room), false);
    assert.equal((await Pablo.api.raw('DELETE', `/groups/${room}/members/${Pablo.id}`)).status, 200);
    const now = await Joe.api.get(`/groups/${room}`);
    assert.equal(now.json.owner, Joe.id, 'the remaining member owns it');
    assert.deepEqual(now.json.members.map((m) => m.id), [Joe.id]);
  });

  test('bad input, forged ids and limits are refused with clear errors', async () => {
    const { Pablo, Joe, Mary, Alex } = users;
    const anon = api(server.base);
    assert.equal((await anon.post('/groups', { name: 'x', members: [] })).status, 401);
    for (const [body, why] of [
      [{ members: [] }, /name/],
      [{ name: '', members: [] }, /name/],
      [{ name: '   ', members: [] }, /name/],
      [{ name: 'x'.repeat(65), members: [] }, /at most 64/],
      [{ name: 'bad\u0007name', members: [] }, /control/],
      [{ name: 'ok' }, /members/],
      [{ name: 'ok', members: 'all' }, /members/],
      [{ name: 'ok', members: ['x1'] }, /members/],
      [{ name: 'ok', members: [Joe.id, Mary.id, Alex.id, '99'] }, /at most 4/],
    ]) {
      const res = await Pablo.api.post('/groups', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.message, why, JSON.stringify(body));
    }
    const nobody = await Pablo.api.post('/groups', { name: 'ghosts', members: ['9999'] });
    assert.equal(nobody.status, 404);
    assert.match(nobody.json.message, /9999/);
    const full = (await Pablo.api.post('/groups', { name: 'Full', members: [Joe.id, Mary.id, Alex.id] })).json.id;
    const five = await loginUser(server.base, `fifth${Date.now() % 100000}`);
    assert.equal((await Pablo.api.post(`/groups/${full}/members`, { members: [five.id] })).status, 400, 'over --max-room-members');
    for (const forged of ['g0000000000000000', 'gXYZ', '1:2', '0']) {
      assert.equal((await Pablo.api.get(`/groups/${forged}`)).status, 404, forged);
      assert.equal((await Pablo.api.raw('PATCH', `/groups/${forged}`, { headers: { 'content-type': 'application/json' }, body: '{"name":"x"}' })).status, 404, forged);
    }
    assert.equal((await Pablo.api.raw('DELETE', `/groups/${full}/members/abc`)).status, 400);
    assert.equal((await Pablo.api.raw('PUT', `/groups/${full}`)).status, 405);
    assert.equal((await Pablo.api.raw('GET', `/groups/${full}/members`)).status, 405);
    assert.equal(server.running(), true);
  });

  test('a tutorial socket of a member gets the group\'s messages, nothing else of it', async () => {
    const { Pablo, Joe } = users;
    const room = (await Pablo.api.post('/groups', { name: 'Old client', members: [Joe.id] })).json.id;
    const old = await legacy(server.base, Joe); // connects after: joined to the group at connect
    const pablo = await p1(server.base, Pablo);
    const m = await ack(pablo, 'message', { roomId: room, message: 'for the old client' });
    await waitFor('message at the tutorial socket', () => named(old, 'message').find((x) => x.id === m.id));
    await Pablo.api.raw('PATCH', `/groups/${room}`, { headers: { 'content-type': 'application/json' }, body: '{"name":"Renamed"}' });
    await flushDeliveries(pablo, [old]);
    assert.equal(named(old, 'group.changed').length, 0);
    // The tutorial client can write to it too (it knows the group from GET /rooms).
    const reply = await ack(old, 'message', { roomId: room, message: 'from the old client' });
    assert.equal(reply.roomId, room);
  });
});

describe('user search', () => {
  let redis;
  let server;
  let db;
  before(async () => {
    redis = await startRedis();
    db = redis.client();
    // Users a tutorial server registered before we started: indexed at start-up.
    await db.set('total_users', '2');
    await db.set('username:Tutorial_Tom', 'user:1');
    await db.hset('user:1', 'username', 'Tutorial_Tom', 'password', '$2b$10$abcdefghijklmnopqrstuv');
    await db.set('username:tina', 'user:2');
    await db.hset('user:2', 'username', 'tina', 'password', '$2b$10$abcdefghijklmnopqrstuv');
    server = await startServer({ redis, demoData: 'off' });
    await waitFor('the name index', async () => (await db.zcard('redchat:usernames')) === 2);
  });
  after(async () => {
    await server?.stop();
    db?.disconnect();
    await redis?.stop();
  });

  test('finds users by name prefix, in any case, a page at a time', async () => {
    const me = await loginUser(server.base, 'Tobias', 'secret-pass');
    for (const name of ['Tom', 'tomas', 'Toni', 'Xavier']) await loginUser(server.base, name, 'secret-pass');
    const get = async (q) => {
      const res = await me.api.get(q);
      assert.equal(res.status, 200, res.text);
      return res.json;
    };
    const all = await get('/users/search?q=t&limit=50');
    assert.deepEqual(all.users.map((u) => u.username), ['tina', 'Tobias', 'Tom', 'tomas', 'Toni', 'Tutorial_Tom']);
    assert.equal(all.next, null);
    assert.deepEqual((await get('/users/search?q=TOM')).users.map((u) => u.username), ['Tom', 'tomas']);
    assert.equal((await get('/users/search?q=Tobias')).users[0].online, false);
    // Pages: two at a time, from the last user of the page before.
    const pages = [];
    let after = null;
    do {
      const page = await get(`/users/search?q=to&limit=2${after ? `&after=${after}` : ''}`);
      pages.push(page.users.map((u) => u.username));
      after = page.next;
    } while (after);
    assert.deepEqual(pages.flat(), ['Tobias', 'Tom', 'tomas', 'Toni']);
    assert.equal((await get('/users/search?q=zz')).users.length, 0);
    for (const bad of ['/users/search?q=t&limit=0', '/users/search?q=t&limit=x', '/users/search?q=t&after=abc', `/users/search?q=${'x'.repeat(200)}`]) {
      assert.equal((await me.api.get(bad)).status, 400, bad);
    }
    assert.equal((await api(server.base).get('/users/search?q=t')).status, 401);
  });
});

describe('group rooms across two instances', () => {
  let pair;
  let a;
  let b;
  before(async () => {
    pair = await startTwoInstances();
    ({ a, b } = pair);
  });
  after(() => pair?.stop());

  test('a group made on one instance is live on the other: joining, messages, removal', async () => {
    const pablo = await loginUser(a.base, 'Pablo');
    const joe = await loginUser(b.base, 'Joe');
    const onA = await p1(a.base, pablo);
    const onB = await p1(b.base, joe);
    const room = (await pablo.api.post('/groups', { name: 'Across', members: [joe.id] })).json.id;
    await waitFor('group.changed on B', () => named(onB, 'group.changed').find((e) => e.roomId === room));
    const m = await ack(onA, 'message', { roomId: room, message: 'from A' });
    await waitFor('the message on B', () => named(onB, 'message').find((x) => x.id === m.id));
    const back = await ack(onB, 'message', { roomId: room, message: 'from B' });
    await waitFor('the answer on A', () => named(onA, 'message').find((x) => x.id === back.id));
    assert.equal((await pablo.api.raw('DELETE', `/groups/${room}/members/${joe.id}`)).status, 200);
    await waitFor('removal on B', () => named(onB, 'group.changed').find((e) => e.removed.includes(joe.id)));
    const later = await ack(onA, 'message', { roomId: room, message: 'after' });
    await flushDeliveries(onA, [onB]);
    assert.equal(named(onB, 'message').some((x) => x.id === later.id), false);
  });
});
