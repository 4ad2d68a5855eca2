// Data written by the reference servers (tests/fixtures/*-redis.jsonl, recorded from the Python
// and Node reference implementations) must be readable by ours, and must not be overwritten by
// the demo data loader (compat-spec §4, §5).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRes, isBookkeepingKey, readFixture, snapshot, startStack } from './harness.mjs';

const FIXTURES = [
  { file: 'node-reference-redis.jsonl', name: 'Node reference' },
  { file: 'python-reference-redis.jsonl', name: 'Python reference' },
];

const PASSWORDS = { Pablo: 'password123', Joe: 'password123', Mary: 'password123', Alex: 'password123', Newbie: 'secret99' };

function model(records) {
  const byKey = Object.fromEntries(records.map((r) => [r.key, r]));
  const users = {};
  for (const r of records) {
    const m = r.key.match(/^user:(\d+)$/);
    if (m) users[m[1]] = r.value.username;
  }
  const rooms = (id) => byKey[`user:${id}:rooms`]?.value ?? [];
  /** Stored messages of a room, newest first, as the API should return them. */
  const history = (roomId) => {
    const z = byKey[`room:${roomId}`]?.value ?? [];
    return [...z]
      .sort((a, b) => b[1] - a[1])
      .map(([member]) => {
        const j = JSON.parse(member);
        return { roomId: j.roomId, from: String(j.from), date: j.date, message: j.message };
      });
  };
  return { byKey, users, rooms, history };
}

/**
 * Compares API messages with the expected ones; dates within 1 µs (exactness is checked by its own
 * test below, so that one precision problem does not fail every history test).
 */
function assertMessages(actual, expected, label) {
  const a = stripId(actual);
  const noDate = (list) => list.map(({ date, ...rest }) => rest);
  assert.deepEqual(noDate(a), noDate(expected), label);
  for (let i = 0; i < a.length; i++) {
    assert.equal(typeof a[i].date, 'number');
    assert.ok(Math.abs(a[i].date - expected[i].date) < 1e-5, `${label}: date ${a[i].date} vs ${expected[i].date}`);
  }
}

function stripId(items) {
  return items.map((m) => {
    const { id, ...rest } = m;
    if (id !== undefined) assert.equal(typeof id, 'string');
    return rest;
  });
}

for (const fx of FIXTURES) {
  describe(`${fx.name} data (${fx.file})`, () => {
    const records = readFixture(fx.file);
    const ref = model(records);
    let stack;
    let loaded; // snapshot right after loading, before the server started

    before(async () => {
      stack = await startStack({
        fixture: fx.file,
        demoData: 'on',
        beforeServer: async (db) => {
          loaded = await snapshot(db);
        },
      });
      // give the (skipping) demo loader time to decide
      await stack.server.waitForLog(/event=demo_data_(skipped|loaded|failed)/, 5000).catch(() => {});
    });

    after(async () => {
      if (stack) await stack.stop();
    });

    const sessions = new Map(); // one login per user: reference hashes are bcrypt cost 10
    async function as(username) {
      if (sessions.has(username)) return sessions.get(username);
      const c = stack.api();
      const r = await c.login(username, PASSWORDS[username]);
      assert.equal(r.status, 200, `login ${username}: ${describeRes(r)}`);
      sessions.set(username, c);
      return c;
    }

    test('the fixture loaded completely and demo data did not overwrite it', async () => {
      assert.equal(Object.keys(loaded).length, records.length);
      const now = await snapshot(stack.db);
      const strip = (s) => Object.fromEntries(Object.entries(s).filter(([k]) => !isBookkeepingKey(k)));
      assert.deepEqual(strip(now), loaded);
      assert.equal(await stack.db.get('total_users'), '5');
      assert.doesNotMatch(stack.server.logs(), /event=demo_data_loaded/);
    });

    test('reference bcrypt hashes verify: every user logs in with its password', async () => {
      for (const [id, name] of Object.entries(ref.users)) {
        const r = await stack.api().login(name, PASSWORDS[name]);
        assert.equal(r.status, 200, `${name}: ${describeRes(r)}`);
        assert.deepEqual(r.json, { id, username: name });
      }
    });

    test('a wrong password for a reference user is 404', async () => {
      for (const name of ['Pablo', 'Newbie']) {
        const r = await stack.api().login(name, 'password124');
        assert.equal(r.status, 404, describeRes(r));
        assert.deepEqual(r.json, { message: 'Invalid username or password' });
      }
    });

    test('/rooms lists every room of every user with its names', async () => {
      for (const [id, name] of Object.entries(ref.users)) {
        const c = await as(name);
        const r = await c.get(`/rooms/${id}`);
        assert.equal(r.status, 200, `${name}: ${describeRes(r)}`);
        assert.deepEqual(r.json[0], { id: '0', names: ['General'] }, `${name}: General first`);
        const expected = ref.rooms(id).map((roomId) => ({
          id: roomId,
          names: roomId === '0' ? ['General'] : roomId.split(':').map((u) => [ref.users[u]]),
        }));
        const sort = (a) => [...a].sort((x, y) => x.id.localeCompare(y.id));
        assert.deepEqual(sort(r.json), sort(expected), name);
      }
    });

    test('/users reads the reference user hashes', async () => {
      const c = await as('Pablo');
      const ids = Object.keys(ref.users);
      const r = await c.get(`/users?${ids.map((i) => `ids[]=${i}`).join('&')}`);
      assert.equal(r.status, 200, describeRes(r));
      assert.deepEqual(
        r.json,
        Object.fromEntries(ids.map((i) => [i, { id: i, username: ref.users[i], online: false }])),
      );
    });

    test('General history: newest first, string from, numeric date', async () => {
      const c = await as('Pablo');
      const r = await c.get('/room/0/messages?offset=0&size=100');
      assert.equal(r.status, 200, describeRes(r));
      const expected = ref.history('0');
      assert.equal(expected.length, 6);
      assertMessages(r.json, expected, 'room 0');
      for (const m of r.json) {
        assert.equal(typeof m.from, 'string');
        assert.equal(typeof m.date, 'number');
      }
      assert.equal(r.json[0].message, 'hi');
      assert.equal(r.json[5].message, 'Hello!');
    });

    test('stored dates are returned exactly as the reference wrote them', async () => {
      // A JSON number read from Redis and written back must keep its value (shortest round-trip
      // formatting, correctly rounded parsing); the clients compare and sort by it.
      const mismatches = [];
      for (const [id, name] of Object.entries(ref.users)) {
        const c = await as(name);
        for (const roomId of ref.rooms(id)) {
          const r = await c.get(`/room/${encodeURIComponent(roomId)}/messages?size=50`);
          assert.equal(r.status, 200, describeRes(r));
          const want = ref.history(roomId);
          r.json.forEach((m, i) => {
            if (m.date !== want[i]?.date) mismatches.push(`${roomId}: got ${m.date}, stored ${want[i]?.date}`);
          });
        }
      }
      assert.deepEqual([...new Set(mismatches)], []);
    });

    test('offset paging walks the whole General history in order without repeats', async () => {
      const c = await as('Joe');
      const all = stripId((await c.get('/room/0/messages?size=100')).json);
      for (const size of [1, 2, 4]) {
        const seen = [];
        for (let offset = 0; offset < 20; offset += size) {
          const r = await c.get(`/room/0/messages?offset=${offset}&size=${size}`);
          assert.equal(r.status, 200, describeRes(r));
          assert.ok(r.json.length <= size, `page of size ${size} has ${r.json.length} items`);
          if (r.json.length === 0) break;
          seen.push(...stripId(r.json));
        }
        assert.deepEqual(seen, all, `size=${size}`);
        const dates = seen.map((m) => m.date);
        assert.deepEqual(dates, [...dates].sort((a, b) => b - a), 'newest first');
        assert.equal(new Set(seen.map((m) => JSON.stringify(m))).size, seen.length, 'no repeats');
      }
    });

    test('every private room history is readable by its members', async () => {
      for (const [id, name] of Object.entries(ref.users)) {
        const c = await as(name);
        for (const roomId of ref.rooms(id).filter((x) => x !== '0')) {
          const r = await c.get(`/room/${encodeURIComponent(roomId)}/messages?size=50`);
          assert.equal(r.status, 200, `${name} ${roomId}: ${describeRes(r)}`);
          assertMessages(r.json, ref.history(roomId), `${name} ${roomId}`);
        }
      }
    });

    test('private rooms of others stay closed', async () => {
      const c = await as('Newbie');
      for (const roomId of ['1:2', '3:4']) {
        const r = await c.get(`/room/${roomId}/messages`);
        assert.equal(r.status, 403, describeRes(r));
      }
    });

    if (fx.file.startsWith('node')) {
      test('Newbie reads the private room 1:5 created by the Node reference', async () => {
        const c = await as('Newbie');
        const r = await c.get('/room/1:5/messages');
        assert.equal(r.status, 200, describeRes(r));
        assert.deepEqual(stripId(r.json), [
          // stored escaped by the reference: returned as stored, never unescaped or re-escaped
          { roomId: '1:5', from: '5', date: 1795830338, message: 'It\'s &ltb&gtbold&lt/b&gt & "quoted"' },
        ]);
        const rooms = await c.get('/rooms/5');
        assert.equal(rooms.status, 200);
        assert.deepEqual(rooms.json, [
          { id: '0', names: ['General'] },
          { id: '1:5', names: [['Pablo'], ['Newbie']] },
        ]);
      });
    } else {
      test('the Python float dates with truncated scores keep their order', async () => {
        const c = await as('Pablo');
        const r = await c.get('/room/1:2/messages');
        assert.equal(r.status, 200, describeRes(r));
        assertMessages(r.json, [
          { roomId: '1:2', from: '1', date: 1795830353, message: 'It&#39;s &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;' },
          { roomId: '1:2', from: '2', date: 1795830164.1177127, message: 'Hello' },
          { roomId: '1:2', from: '1', date: 1795830142.6666813, message: 'Hi' },
        ], 'room 1:2');
        const rooms = await c.get('/rooms/1');
        assert.equal(rooms.json.length, 4);
      });
    }

    test('new registrations continue from the reference counter', async () => {
      const r = await stack.api().login('Latecomer', 'secret99');
      assert.equal(r.status, 201, describeRes(r));
      assert.deepEqual(r.json, { id: '6', username: 'Latecomer' });
      assert.equal(await stack.db.get('total_users'), '6');
      assert.equal(await stack.db.get('username:Latecomer'), 'user:6');
      // a reference user can open a private room with the newcomer
      const c = await as('Mary');
      const room = await c.post('/room', { user1: 3, user2: 6 });
      assert.equal(room.status, 201, describeRes(room));
      assert.deepEqual(room.json, { id: '3:6', names: [['Mary'], ['Latecomer']] });
    });
  });
}
