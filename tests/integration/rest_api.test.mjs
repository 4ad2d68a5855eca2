// REST API behaviour (compat-spec §1 and §6): sessions, login/registration, users, rooms,
// message history, private room creation, links, /stream, method handling.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, describeRes, isErrorBody, parseSetCookie, startStack } from './harness.mjs';

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
  assert.ok(r.status === 200 || r.status === 201, `login ${username}: ${describeRes(r)}`);
  return c;
}

function sessionCookie(res) {
  const lines = res.setCookies.filter((l) => l.startsWith('redchat_sid='));
  assert.equal(lines.length, 1, `exactly one redchat_sid Set-Cookie, got ${JSON.stringify(res.setCookies)}`);
  return parseSetCookie(lines[0]);
}

function assertError(res, status) {
  assert.equal(res.status, status, describeRes(res));
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  assert.ok(isErrorBody(res), `error body must be JSON with a string message: ${res.text}`);
}

describe('sessions', () => {
  test('GET /me without a session is 200 null', async () => {
    const r = await stack.api().get('/me');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.json, null);
    assert.equal(r.text.trim(), 'null');
  });

  test('login sets a random HttpOnly SameSite=Lax session cookie stored in redis with a TTL', async () => {
    const c = stack.api();
    const r = await c.login('Pablo', 'password123');
    assert.equal(r.status, 200, describeRes(r));
    assert.deepEqual(r.json, { id: '1', username: 'Pablo' });
    const cookie = sessionCookie(r);
    assert.match(cookie.value, /^[0-9a-f]{32}$/);
    assert.equal(cookie.attrs.path, '/');
    assert.equal(cookie.attrs.httponly, true);
    assert.equal(cookie.attrs.samesite, 'Lax');
    assert.equal(cookie.attrs['max-age'], String(30 * 24 * 3600), 'the cookie lives as long as --session-max-age');
    assert.equal(cookie.attrs.secure, undefined, 'no Secure flag unless --cookie-secure on');

    assert.match(await db.get(`session:${cookie.value}`), /^1 \d+$/, 'user id and absolute deadline');
    const ttl = await db.ttl(`session:${cookie.value}`);
    assert.ok(ttl > 604800 - 60 && ttl <= 604800, `session TTL ${ttl}`);

    const me = await c.get('/me');
    assert.equal(me.status, 200);
    assert.deepEqual(me.json, { id: '1', username: 'Pablo' });
  });

  test('every login gets a new session id', async () => {
    const c = stack.api();
    const first = sessionCookie(await c.login('Joe', 'password123')).value;
    const second = sessionCookie(await c.login('Joe', 'password123')).value;
    const other = sessionCookie(await stack.api().login('Joe', 'password123')).value;
    assert.notEqual(first, second);
    assert.notEqual(second, other);
    assert.match(await db.get(`session:${second}`), /^2 \d+$/);
    assert.match(await db.get(`session:${other}`), /^2 \d+$/);
  });

  test('login never adopts a session id chosen by the client (no session fixation)', async () => {
    const planted = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const c = stack.api();
    c.sid = planted;
    const r = await c.login('Alex', 'password123');
    assert.equal(r.status, 200, describeRes(r));
    const issued = sessionCookie(r).value;
    assert.notEqual(issued, planted);
    assert.equal(await db.exists(`session:${planted}`), 0);
    const replay = await stack.api().get('/me', { headers: { cookie: `redchat_sid=${planted}` } });
    assert.equal(replay.json, null);
  });

  test('logout deletes the session and expires the cookie', async () => {
    const c = await loggedIn('Mary');
    const sid = c.sid;
    assert.match(await db.get(`session:${sid}`), /^3 \d+$/);

    const r = await c.post('/logout');
    assert.equal(r.status, 200, describeRes(r));
    const cookie = sessionCookie(r);
    assert.equal(cookie.attrs['max-age'], '0');
    assert.equal(await db.exists(`session:${sid}`), 0);

    assert.equal((await c.get('/me')).json, null);
    // replaying the old cookie does not bring the user back
    const replay = await stack.api().get('/me', { headers: { cookie: `redchat_sid=${sid}` } });
    assert.equal(replay.status, 200);
    assert.equal(replay.json, null);
  });

  test('an unknown or malformed session cookie is simply no session', async () => {
    for (const value of ['0123456789abcdef0123456789abcdef', 'not-hex', '', 'x'.repeat(500)]) {
      const r = await stack.api().get('/me', { headers: { cookie: `redchat_sid=${value}` } });
      assert.equal(r.status, 200, describeRes(r));
      assert.equal(r.json, null);
      const online = await stack.api().get('/users/online', { headers: { cookie: `redchat_sid=${value}` } });
      assertError(online, 401);
    }
  });
});

describe('POST /login', () => {
  test('wrong password is 404 with the reference message and no session', async () => {
    const c = stack.api();
    const r = await c.login('Pablo', 'wrong-password');
    assert.equal(r.status, 404, describeRes(r));
    assert.deepEqual(r.json, { message: 'Invalid username or password' });
    assert.equal(c.sid, undefined);
    assert.equal((await c.get('/me')).json, null);
  });

  test('an unknown username registers the user and logs in (201, id as string)', async () => {
    const before = Number(await db.get('total_users'));
    const c = stack.api();
    const r = await c.login('Newbie', 'secret99');
    assert.equal(r.status, 201, describeRes(r));
    const id = String(before + 1);
    assert.deepEqual(r.json, { id, username: 'Newbie' });
    assert.deepEqual((await c.get('/me')).json, { id, username: 'Newbie' });

    // logging in again with the same password is a normal login, a wrong one is refused
    const again = await stack.api().login('Newbie', 'secret99');
    assert.equal(again.status, 200, describeRes(again));
    assert.deepEqual(again.json, { id, username: 'Newbie' });
    const wrong = await stack.api().login('Newbie', 'secret98');
    assert.equal(wrong.status, 404, describeRes(wrong));
    assert.equal(await db.get('total_users'), id);
  });

  test('usernames are case-sensitive', async () => {
    const r = await stack.api().login('pablo', 'password123');
    assert.equal(r.status, 201, describeRes(r));
    assert.notEqual(r.json.id, '1');
    assert.equal(r.json.username, 'pablo');
  });

  test('a 32-code-point multi-byte username is accepted', async () => {
    const name = 'é'.repeat(32);
    const r = await stack.api().login(name, 'secret99');
    assert.equal(r.status, 201, describeRes(r));
    assert.equal(r.json.username, name);
    assert.equal(await db.get(`username:${name}`), `user:${r.json.id}`);
  });

  test('a 72-byte password is accepted', async () => {
    const r = await stack.api().login('SeventyTwo', 'p'.repeat(72));
    assert.equal(r.status, 201, describeRes(r));
    const again = await stack.api().login('SeventyTwo', 'p'.repeat(72));
    assert.equal(again.status, 200, describeRes(again));
  });

  test('invalid new usernames and passwords are refused with 400 and create nothing', async () => {
    const totalBefore = await db.get('total_users');
    const cases = [
      ['', 'secret99'],
      ['a'.repeat(33), 'secret99'],
      ['é'.repeat(33), 'secret99'],
      ['has space', 'secret99'],
      ['tab\there', 'secret99'],
      ['new\nline', 'secret99'],
      ['nb\u00a0sp', 'secret99'],
      ['ctrl\u0001x', 'secret99'],
      ['del\u007fx', 'secret99'],
      ['co:lon', 'secret99'],
      ['user:1', 'secret99'],
      ['ShortPw', '12345'],
      ['EmptyPw', ''],
      ['LongPw', 'x'.repeat(73)],
      ['LongPwMb', 'é'.repeat(37)], // 37 code points, 74 bytes
    ];
    for (const [username, password] of cases) {
      const c = stack.api();
      const r = await c.login(username, password);
      assert.equal(r.status, 400, `${JSON.stringify([username, password.length])}: ${describeRes(r)}`);
      assert.ok(isErrorBody(r), r.text);
      assert.equal(c.sid, undefined, 'no session on a refused registration');
      if (username) assert.equal(await db.exists(`username:${username}`), 0, `username:${username} must not exist`);
    }
    assert.equal(await db.get('total_users'), totalBefore);
  });

  test('malformed request bodies are 400 JSON', async () => {
    const c = stack.api();
    const json = { 'content-type': 'application/json' };
    const bodies = ['not json', '{"username":', '["Pablo","password123"]', 'null', '"Pablo"', '42', ''];
    for (const body of bodies) {
      const r = await c.raw('POST', '/login', { headers: json, body });
      assertError(r, 400);
    }
    for (const obj of [
      {},
      { username: 'Pablo' },
      { password: 'password123' },
      { username: 5, password: 'password123' },
      { username: 'Pablo', password: 123456789 },
      { username: null, password: null },
      { username: ['Pablo'], password: 'password123' },
      { username: { a: 1 }, password: 'password123' },
    ]) {
      const r = await c.post('/login', obj);
      assertError(r, 400);
    }
    assert.equal(c.sid, undefined);
  });

  test('a body over 64 KiB is refused with 413 JSON', async () => {
    const r = await stack.api().post('/login', { username: 'Big', password: 'x'.repeat(70 * 1024) });
    assertError(r, 413);
    assert.equal(await db.exists('username:Big'), 0);
    // the server is still fine afterwards
    const ok = await stack.api().login('Pablo', 'password123');
    assert.equal(ok.status, 200);
  });
});

describe('users', () => {
  test('GET /users/online needs a session', async () => {
    assertError(await stack.api().get('/users/online'), 401);
  });

  test('GET /users/online lists online_users, skipping dangling and non-numeric ids', async () => {
    const c = await loggedIn('Pablo');
    await db.del('online_users');
    let r = await c.get('/users/online');
    assert.equal(r.status, 200, describeRes(r));
    assert.deepEqual(r.json, {});

    await db.sadd('online_users', '1', '3', '999', 'abc', '', '-1', '2:3');
    r = await c.get('/users/online');
    assert.equal(r.status, 200, describeRes(r));
    assert.deepEqual(r.json, {
      1: { id: '1', username: 'Pablo', online: true },
      3: { id: '3', username: 'Mary', online: true },
    });
    await db.del('online_users');
  });

  test('GET /users needs a session', async () => {
    assertError(await stack.api().get('/users?ids[]=1'), 401);
  });

  test('GET /users?ids[]= returns the known users with their online flag', async () => {
    const c = await loggedIn('Pablo');
    await db.del('online_users');
    await db.sadd('online_users', '2');
    const expected = {
      1: { id: '1', username: 'Pablo', online: false },
      2: { id: '2', username: 'Joe', online: true },
    };
    for (const q of ['ids[]=1&ids[]=2', 'ids%5B%5D=1&ids%5B%5D=2', 'ids%5b%5d=1&ids%5b%5d=2', 'ids[]=1&ids[]=2&ids[]=424242']) {
      const r = await c.get(`/users?${q}`);
      assert.equal(r.status, 200, `${q}: ${describeRes(r)}`);
      assert.deepEqual(r.json, expected, q);
    }
    const one = await c.get('/users?ids[]=4');
    assert.deepEqual(one.json, { 4: { id: '4', username: 'Alex', online: false } });
    await db.del('online_users');
  });

  test('GET /users validates its ids', async () => {
    const c = await loggedIn('Pablo');
    assertError(await c.get('/users'), 404);
    assertError(await c.get('/users?other=1'), 404);
    assertError(await c.get('/users?ids[]=abc'), 400);
    assertError(await c.get('/users?ids[]=1&ids[]=x1'), 400);
    assertError(await c.get('/users?ids[]=-1'), 400);
    const many = (n) => Array.from({ length: n }, (_, i) => `ids[]=${i + 1}`).join('&');
    assertError(await c.get(`/users?${many(101)}`), 400);
    const hundred = await c.get(`/users?${many(100)}`);
    assert.equal(hundred.status, 200, describeRes(hundred));
    assert.deepEqual(hundred.json['1'], { id: '1', username: 'Pablo', online: false });
    assert.deepEqual(hundred.json['4'], { id: '4', username: 'Alex', online: false });
    assert.equal(hundred.json['100'], undefined);
  });
});

describe('rooms', () => {
  test('GET /rooms/{id} needs a session and only works for oneself', async () => {
    assertError(await stack.api().get('/rooms/1'), 401);
    const c = await loggedIn('Pablo');
    assertError(await c.get('/rooms/2'), 403);
    assertError(await c.get('/rooms/999'), 403);
  });

  test("GET /rooms/{me} lists General first and the private rooms with both users' names", async () => {
    const c = await loggedIn('Pablo');
    const r = await c.get('/rooms/1');
    assert.equal(r.status, 200, describeRes(r));
    assert.ok(Array.isArray(r.json));
    assert.deepEqual(r.json[0], { id: '0', names: ['General'] });
    const byId = Object.fromEntries(r.json.map((room) => [room.id, room.names]));
    assert.deepEqual(byId['1:2'], [['Pablo'], ['Joe']]);
    assert.deepEqual(byId['1:3'], [['Pablo'], ['Mary']]);
    assert.deepEqual(byId['1:4'], [['Pablo'], ['Alex']]);
    assert.deepEqual(new Set(r.json.map((x) => x.id)), new Set(await db.smembers('user:1:rooms')));

    const joe = await loggedIn('Joe');
    const jr = await joe.get('/rooms/2');
    assert.equal(jr.status, 200);
    assert.deepEqual(jr.json[0], { id: '0', names: ['General'] });
    const jById = Object.fromEntries(jr.json.map((room) => [room.id, room.names]));
    assert.deepEqual(jById['1:2'], [['Pablo'], ['Joe']]);
    assert.deepEqual(jById['2:3'], [['Joe'], ['Mary']]);
    assert.deepEqual(jById['2:4'], [['Joe'], ['Alex']]);
  });
});

describe('GET /room/{roomId}/messages', () => {
  const ROOM = '1:4'; // Pablo and Alex
  const N = 130;

  before(async () => {
    // Replace the demo greetings with a known, long history.
    await db.del(`room:${ROOM}`);
    const multi = db.multi();
    for (let i = 0; i < N; i++) {
      const date = 1718000000 + i;
      multi.zadd(`room:${ROOM}`, date, JSON.stringify({ id: `m${i}`, roomId: ROOM, from: i % 2 ? '1' : '4', date, message: `msg ${i}` }));
    }
    await multi.exec();
  });

  test('needs a session and membership', async () => {
    assertError(await stack.api().get('/room/0/messages'), 401);
    const c = await loggedIn('Pablo');
    assertError(await c.get('/room/2:3/messages'), 403);
    assertError(await c.get('/room/2%3A3/messages'), 403);
    assertError(await c.get('/room/77/messages'), 403);
  });

  test('General history is the five demo messages, newest first, normalised', async () => {
    const c = await loggedIn('Joe');
    const r = await c.get('/room/0/messages');
    assert.equal(r.status, 200, describeRes(r));
    assert.equal(r.json.length, 5);
    assert.deepEqual(r.json.map((m) => m.message), [
      "Wow that's great",
      'Next meeting tomorrow 10.00AM',
      'Yeah everything is fine',
      'Hi, How are you? What about our next meeting?',
      'Hello!',
    ]);
    for (const m of r.json) {
      assert.equal(m.roomId, '0');
      assert.equal(typeof m.from, 'string');
      assert.match(m.from, /^[1-4]$/);
      assert.equal(typeof m.date, 'number');
    }
    // Every demo message is a cursor: paging back from each gives exactly the older ones.
    for (let i = 0; i < r.json.length; i++) {
      const older = await c.get(`/room/0/messages?before=${encodeURIComponent(r.json[i].id)}&limit=15`);
      assert.equal(older.status, 200, `before=${r.json[i].id}: ${describeRes(older)}`);
      assert.deepEqual(older.json.map((m) => m.id), r.json.slice(i + 1).map((m) => m.id));
    }
  });

  test('default page is offset 0, size 15, newest first', async () => {
    const c = await loggedIn('Pablo');
    const r = await c.get(`/room/${ROOM}/messages`);
    assert.equal(r.status, 200, describeRes(r));
    assert.equal(r.json.length, 15);
    assert.deepEqual(r.json.map((m) => m.message), Array.from({ length: 15 }, (_, i) => `msg ${N - 1 - i}`));
  });

  test('size gives exactly size items (not size+1) and offset pages through', async () => {
    const c = await loggedIn('Pablo');
    const p0 = await c.get(`/room/${ROOM}/messages?offset=0&size=3`);
    assert.equal(p0.status, 200, describeRes(p0));
    assert.deepEqual(p0.json.map((m) => m.message), [`msg ${N - 1}`, `msg ${N - 2}`, `msg ${N - 3}`]);
    const p1 = await c.get(`/room/${ROOM}/messages?offset=3&size=3`);
    assert.deepEqual(p1.json.map((m) => m.message), [`msg ${N - 4}`, `msg ${N - 5}`, `msg ${N - 6}`]);
    const one = await c.get(`/room/${ROOM}/messages?size=1`);
    assert.equal(one.json.length, 1);
    const tail = await c.get(`/room/${ROOM}/messages?offset=${N - 2}&size=10`);
    assert.deepEqual(tail.json.map((m) => m.message), ['msg 1', 'msg 0']);
    const past = await c.get(`/room/${ROOM}/messages?offset=${N + 5}&size=10`);
    assert.equal(past.status, 200);
    assert.deepEqual(past.json, []);
    const item = p0.json[0];
    assert.deepEqual(item, { id: `m${N - 1}`, roomId: ROOM, from: '1', date: 1718000000 + N - 1, message: `msg ${N - 1}` });
  });

  test('size is capped at 100', async () => {
    const c = await loggedIn('Pablo');
    for (const size of [100, 101, 1000, 999999]) {
      const r = await c.get(`/room/${ROOM}/messages?size=${size}`);
      assert.equal(r.status, 200, `size=${size}: ${describeRes(r)}`);
      assert.ok(r.json.length <= 100 && r.json.length >= 1, `size=${size} gave ${r.json.length} items`);
    }
    const r = await c.get(`/room/${ROOM}/messages?size=100`);
    assert.equal(r.json.length, 100);
  });

  test('bad offset or size is 400', async () => {
    const c = await loggedIn('Pablo');
    for (const q of ['offset=-1', 'offset=abc', 'offset=1.5', 'offset=', 'offset=10001', 'offset=1000000',
      'offset=99999999999999999999', 'size=-1', 'size=abc', 'size=2x', 'size=', 'offset=0&size=-5']) {
      assertError(await c.get(`/room/${ROOM}/messages?${q}`), 400);
    }
    const max = await c.get(`/room/${ROOM}/messages?offset=10000`);
    assert.equal(max.status, 200, describeRes(max));
    assert.deepEqual(max.json, []);
  });

  test('an offset next to a cursor is 400 (Redis would walk it from the cursor each time)', async () => {
    const c = await loggedIn('Pablo');
    const newest = (await c.get(`/room/${ROOM}/messages?size=1`)).json[0];
    for (const q of [`before=${newest.date}&offset=1`, `offset=10000&before=${newest.date}`]) {
      const r = await c.get(`/room/${ROOM}/messages?${q}`);
      assertError(r, 400);
      assert.match(r.json.message, /offset cannot be combined with before/);
    }
    const plain = await c.get(`/room/${ROOM}/messages?before=${newest.date}&offset=0&size=2`);
    assert.equal(plain.status, 200, describeRes(plain));
    assert.equal(plain.json.length, 2);
  });

  test('a room id with ":" works raw and percent-encoded', async () => {
    const c = await loggedIn('Pablo');
    const raw = await c.get(`/room/${ROOM}/messages?size=5`);
    const enc = await c.get(`/room/${encodeURIComponent(ROOM)}/messages?size=5`);
    const lower = await c.get(`/room/1%3a4/messages?size=5`);
    assert.equal(raw.status, 200, describeRes(raw));
    assert.equal(enc.status, 200, describeRes(enc));
    assert.equal(lower.status, 200, describeRes(lower));
    assert.deepEqual(enc.json, raw.json);
    assert.deepEqual(lower.json, raw.json);
    assert.equal(raw.json.length, 5);
  });

  test('an empty room a member belongs to is []', async () => {
    const c = await loggedIn('Pablo');
    await db.sadd('user:1:rooms', '1:99');
    const r = await c.get('/room/1:99/messages');
    assert.equal(r.status, 200, describeRes(r));
    assert.deepEqual(r.json, []);
    await db.srem('user:1:rooms', '1:99');
  });

  test('a page after Redis lost its scripts (as after a restart) is still served, and a dead session is still 401', async () => {
    const c = await loggedIn('Joe');
    const first = await c.get('/room/0/messages?size=3');
    assert.equal(first.status, 200, describeRes(first));
    // The session and the page go to Redis together; the session script must be loaded again.
    assert.equal(await db.script('FLUSH'), 'OK');
    const again = await c.get('/room/0/messages?size=3');
    assert.equal(again.status, 200, describeRes(again));
    assert.deepEqual(again.json, first.json);
    await db.script('FLUSH');
    await db.del(`session:${c.sid}`);
    assertError(await c.get('/room/0/messages?size=3'), 401);
    assertError(await c.get(`/room/${ROOM}/messages`), 401);
  });
});

describe('POST /room', () => {
  test('needs a session', async () => {
    assertError(await stack.api().post('/room', { user1: 1, user2: 3 }), 401);
  });

  test('creates a private room for both users (numbers or numeric strings)', async () => {
    const newbie = await stack.api().login('RoomMate', 'secret99');
    assert.equal(newbie.status, 201, describeRes(newbie));
    const id = newbie.json.id;
    const c = await loggedIn('Pablo');
    const r = await c.post('/room', { user1: 1, user2: Number(id) });
    assert.equal(r.status, 201, describeRes(r));
    assert.deepEqual(r.json, { id: `1:${id}`, names: [['Pablo'], ['RoomMate']] });
    assert.equal(await db.sismember('user:1:rooms', `1:${id}`), 1);
    assert.equal(await db.sismember(`user:${id}:rooms`, `1:${id}`), 1);

    // the other participant, ids as strings in reverse order: same room id
    const m = await loggedIn('RoomMate', 'secret99');
    const r2 = await m.post('/room', { user1: id, user2: '1' });
    assert.equal(r2.status, 201, describeRes(r2));
    assert.deepEqual(r2.json, { id: `1:${id}`, names: [['Pablo'], ['RoomMate']] });

    // it now shows up in the room list and its (empty) history is readable by both
    const rooms = await m.get(`/rooms/${id}`);
    assert.ok(rooms.json.some((x) => x.id === `1:${id}`), rooms.text);
    const hist = await m.get(`/room/1:${id}/messages`);
    assert.equal(hist.status, 200, describeRes(hist));
    assert.deepEqual(hist.json, []);
  });

  test('the example from the spec: 1 and 3', async () => {
    const c = await loggedIn('Pablo');
    const r = await c.post('/room', { user1: 1, user2: 3 });
    assert.equal(r.status, 201, describeRes(r));
    assert.deepEqual(r.json, { id: '1:3', names: [['Pablo'], ['Mary']] });
    assert.equal(await db.sismember('user:1:rooms', '1:3'), 1);
    assert.equal(await db.sismember('user:3:rooms', '1:3'), 1);
  });

  test('refuses rooms of others, rooms with oneself, unknown users and bad input', async () => {
    const c = await loggedIn('Pablo');
    assertError(await c.post('/room', { user1: 2, user2: 3 }), 403);
    assert.equal(await db.sismember('user:2:rooms', '2:3'), 1); // demo room untouched
    assertError(await c.post('/room', { user1: 1, user2: 1 }), 400);
    assertError(await c.post('/room', { user1: '1', user2: 1 }), 400);
    assertError(await c.post('/room', { user1: 1, user2: 424242 }), 404);
    assert.equal(await db.sismember('user:1:rooms', '1:424242'), 0);
    assert.equal(await db.exists('user:424242:rooms'), 0);
    for (const body of [{ user1: 1 }, { user1: 'x', user2: 1 }, { user1: 1, user2: null }, { user1: 1, user2: [2] }, { user1: 1, user2: -2 }, []]) {
      assertError(await c.post('/room', body), 400);
    }
    assertError(await c.raw('POST', '/room', { headers: { 'content-type': 'application/json' }, body: '{oops' }), 400);
  });
});

describe('misc endpoints', () => {
  test('GET /links', async () => {
    const r = await stack.api().get('/links');
    assert.equal(r.status, 200);
    assert.equal(typeof r.json.github, 'string');
    assert.match(r.json.github, /^https?:\/\//);
  });

  test('GET /stream is a long-lived text/event-stream', async () => {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 5000);
    try {
      const res = await fetch(`${stack.base}/stream`, { signal: ctl.signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/event-stream/);
      const reader = res.body.getReader();
      const { value, done } = await reader.read();
      assert.equal(done, false, 'the stream must stay open');
      const text = Buffer.from(value).toString('utf8');
      assert.ok(text.split('\n').some((l) => l.startsWith(':')), `first chunk has a comment line: ${JSON.stringify(text)}`);
      // still open a moment later: a read does not report end of stream within 300 ms
      const next = await Promise.race([reader.read(), new Promise((r) => setTimeout(() => r('pending'), 300))]);
      assert.ok(next === 'pending' || next.done === false, 'stream ended early');
    } finally {
      clearTimeout(timer);
      ctl.abort();
    }
  });

  test('a wrong method on an API route is 405 JSON with Allow', async () => {
    const c = stack.api();
    for (const [method, p, allow] of [
      ['GET', '/login', 'POST'],
      ['GET', '/logout', 'POST'],
      ['POST', '/me', 'GET'],
      ['PUT', '/room', 'POST'],
      ['DELETE', '/users', 'GET'],
      ['POST', '/links', 'GET'],
    ]) {
      const r = await c.raw(method, p);
      assertError(r, 405);
      assert.ok((r.headers.get('allow') || '').includes(allow), `${method} ${p}: Allow ${r.headers.get('allow')}`);
    }
  });

  test('unknown paths without a built web client are 404 JSON', async () => {
    const c = stack.api();
    for (const p of ['/nope', '/', '/index.html', '/some/client/route', '/static/js/main.js']) {
      const r = await c.get(p);
      assertError(r, 404);
    }
  });
});
