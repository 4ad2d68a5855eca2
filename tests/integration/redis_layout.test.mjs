// What the server writes into Redis (compat-spec §4 and §5): demo data, registration, rooms,
// sessions. Exact key names and value formats matter: reference servers share this Redis.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, describeRes, isBookkeepingKey, parseSetCookie, snapshot, startServer, startStack, waitReady } from './harness.mjs';

const USERS = [
  ['1', 'Pablo'],
  ['2', 'Joe'],
  ['3', 'Mary'],
  ['4', 'Alex'],
];
const PRIVATE_ROOMS = ['1:2', '1:3', '1:4', '2:3', '2:4', '3:4'];
const GENERAL = [
  'Hello!',
  'Hi, How are you? What about our next meeting?',
  'Yeah everything is fine',
  'Next meeting tomorrow 10.00AM',
  "Wow that's great",
];
const GREETINGS = new Set(['Hello', 'Hi', 'Yo', 'Hola']);

let stack;
let db;
let startedAt;

before(async () => {
  startedAt = Date.now() / 1000;
  stack = await startStack({ demoData: 'on', extraArgs: ['--session-ttl', '3600', '--session-max-age', '7200'] });
  db = stack.db;
});

after(async () => {
  if (stack) await stack.stop();
});

/** Parses a zset WITHSCORES reply into [{json, raw, score}]. */
async function zmembers(key) {
  const flat = await db.zrange(key, 0, -1, 'WITHSCORES');
  const out = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ raw: flat[i], json: JSON.parse(flat[i]), score: Number(flat[i + 1]) });
  return out;
}

function assertStoredMessage(m, roomId) {
  const keys = Object.keys(m.json).sort();
  for (const k of ['date', 'from', 'message', 'roomId']) assert.ok(keys.includes(k), `${k} in ${m.raw}`);
  for (const k of keys) assert.ok(['id', 'roomId', 'from', 'date', 'message'].includes(k), `unexpected field ${k} in ${m.raw}`);
  if ('id' in m.json) assert.equal(typeof m.json.id, 'string');
  assert.equal(m.json.roomId, roomId);
  assert.equal(typeof m.json.from, 'string', `from must be a string: ${m.raw}`);
  assert.equal(typeof m.json.date, 'number', `date must be a number: ${m.raw}`);
  assert.equal(typeof m.json.message, 'string');
  assert.ok(Math.abs(m.score - m.json.date) < 1e-3, `score ${m.score} == date ${m.json.date}`);
}

describe('demo data on an empty Redis', () => {
  test('counter, General room name and the four users', async () => {
    assert.equal(await db.type('total_users'), 'string');
    assert.equal(await db.get('total_users'), '4');
    assert.equal(await db.get('room:0:name'), 'General');
    for (const [id, name] of USERS) {
      assert.equal(await db.get(`username:${name}`), `user:${id}`);
      assert.equal(await db.type(`user:${id}`), 'hash');
      const h = await db.hgetall(`user:${id}`);
      assert.deepEqual(Object.keys(h).sort(), ['password', 'username']);
      assert.equal(h.username, name);
      assert.match(h.password, /^\$2b\$\d\d\$[./A-Za-z0-9]{53}$/);
    }
    assert.equal(await db.exists('user:5'), 0);
    // no other user-ish keys
    const keys = await db.keys('user*');
    assert.deepEqual(keys.sort(), [...USERS.flatMap(([id, name]) => [`user:${id}`, `user:${id}:rooms`, `username:${name}`])].sort());
  });

  test("every user's room set is General plus its three private rooms", async () => {
    for (const [id] of USERS) {
      assert.equal(await db.type(`user:${id}:rooms`), 'set');
      const rooms = (await db.smembers(`user:${id}:rooms`)).sort();
      const expected = ['0', ...PRIVATE_ROOMS.filter((r) => r.split(':').includes(id))].sort();
      assert.deepEqual(rooms, expected, `user:${id}:rooms`);
    }
  });

  test('each private room has one greeting from each member', async () => {
    for (const room of PRIVATE_ROOMS) {
      assert.equal(await db.type(`room:${room}`), 'zset');
      const msgs = await zmembers(`room:${room}`);
      assert.equal(msgs.length, 2, `room:${room}`);
      for (const m of msgs) {
        assertStoredMessage(m, room);
        assert.ok(GREETINGS.has(m.json.message), m.raw);
        assert.ok(m.json.date < startedAt + 5 && m.json.date > startedAt - 3600, `date ${m.json.date} is a few minutes back`);
      }
      assert.deepEqual(msgs.map((m) => m.json.from).sort(), room.split(':').sort(), `one from each member of ${room}`);
      assert.equal(await db.exists(`room:${room}:name`), 0, 'private rooms have no name key');
    }
  });

  test('General holds exactly the five demo messages, in order, 200 s apart', async () => {
    const msgs = await zmembers('room:0');
    assert.deepEqual(msgs.map((m) => m.json.message), GENERAL);
    for (const m of msgs) {
      assertStoredMessage(m, '0');
      assert.match(m.json.from, /^[1-4]$/);
    }
    for (let i = 1; i < msgs.length; i++) {
      assert.ok(Math.abs(msgs[i].json.date - msgs[i - 1].json.date - 200) < 1, `dates 200 s apart: ${msgs.map((m) => m.json.date)}`);
    }
    const newest = msgs[4].json.date;
    assert.ok(Math.abs(newest - (startedAt - 200)) < 30, `newest General message ~now-200 (${newest} vs ${startedAt})`);
  });

  test('the demo users can log in with password123', async () => {
    for (const [id, name] of USERS) {
      const r = await stack.api().login(name, 'password123');
      assert.equal(r.status, 200, `${name}: ${describeRes(r)}`);
      assert.deepEqual(r.json, { id, username: name });
    }
  });
});

describe('registration and sessions', () => {
  test('a new user gets the reference key layout', async () => {
    const r = await stack.api().login('Newbie', 'secret99');
    assert.equal(r.status, 201, describeRes(r));
    assert.deepEqual(r.json, { id: '5', username: 'Newbie' });
    assert.equal(await db.get('total_users'), '5');
    assert.equal(await db.get('username:Newbie'), 'user:5');
    assert.equal(await db.type('user:5'), 'hash');
    const h = await db.hgetall('user:5');
    assert.deepEqual(Object.keys(h).sort(), ['password', 'username']);
    assert.equal(h.username, 'Newbie');
    assert.match(h.password, /^\$2b\$04\$[./A-Za-z0-9]{53}$/, 'bcrypt $2b$ hash with --bcrypt-cost 4');
    assert.deepEqual(await db.smembers('user:5:rooms'), ['0']);
  });

  test('a second registration takes the next id from total_users', async () => {
    await db.set('total_users', '41');
    const r = await stack.api().login('FortyTwo', 'secret99');
    assert.equal(r.status, 201, describeRes(r));
    assert.deepEqual(r.json, { id: '42', username: 'FortyTwo' });
    assert.equal(await db.get('username:FortyTwo'), 'user:42');
    assert.equal(await db.hget('user:42', 'username'), 'FortyTwo');
  });

  test('the session key holds the user id, its deadline and the --session-ttl', async () => {
    const c = stack.api();
    const r = await c.login('Mary', 'password123');
    assert.equal(r.status, 200);
    const cookie = parseSetCookie(r.setCookies.find((l) => l.startsWith('redchat_sid=')));
    assert.equal(cookie.attrs['max-age'], '7200');
    assert.equal(await db.type(`session:${cookie.value}`), 'string');
    const [uid, deadline] = (await db.get(`session:${cookie.value}`)).split(' ');
    assert.equal(uid, '3');
    const [redisNow] = await db.time();
    assert.ok(Math.abs(Number(deadline) - (Number(redisNow) + 7200)) <= 2, `deadline ${deadline}`);
    const ttl = await db.ttl(`session:${cookie.value}`);
    assert.ok(ttl > 3500 && ttl <= 3600, `TTL ${ttl}`);
  });

  test('POST /room writes the room id into both room sets only', async () => {
    const c = stack.api();
    await c.login('Newbie', 'secret99');
    const before = await snapshot(db);
    const r = await c.post('/room', { user1: 5, user2: 2 });
    assert.equal(r.status, 201, describeRes(r));
    assert.deepEqual(r.json, { id: '2:5', names: [['Joe'], ['Newbie']] });
    const after = await snapshot(db);
    const changed = Object.keys(after).filter((k) => JSON.stringify(after[k]) !== JSON.stringify(before[k]));
    assert.deepEqual(changed.filter((k) => !isBookkeepingKey(k)).sort(), ['user:2:rooms', 'user:5:rooms']);
    assert.deepEqual((await db.smembers('user:5:rooms')).sort(), ['0', '2:5']);
    assert.ok((await db.smembers('user:2:rooms')).includes('2:5'));
    assert.equal(await db.exists('room:2:5:name'), 0);
  });
});

describe('a server starting on a Redis that already has data', () => {
  test('does not write demo data again', async () => {
    const before = await snapshot(db);
    const second = await startServer({ redis: stack.redis, demoData: 'on' });
    try {
      await waitReady(second);
      // Let the asynchronous demo loader run to completion, whatever it decides.
      await second.waitForLog(/event=demo_data_(skipped|loaded|failed)/, 5000).catch(() => {});
      await new Promise((r) => setTimeout(r, 300));
      const afterSnap = await snapshot(db);
      const strip = (s) => Object.fromEntries(Object.entries(s).filter(([k]) => !isBookkeepingKey(k)));
      assert.deepEqual(strip(afterSnap), strip(before));
      assert.doesNotMatch(second.logs(), /event=demo_data_loaded/);

      // and it serves the existing data
      const c = api(second.base);
      const r = await c.login('Pablo', 'password123');
      assert.equal(r.status, 200, describeRes(r));
      assert.deepEqual(r.json, { id: '1', username: 'Pablo' });
    } finally {
      await second.stop();
    }
  });
});
