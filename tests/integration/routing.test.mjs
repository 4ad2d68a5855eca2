// Routing by room (docs/realtime.md "Routing"): an instance subscribes only to the channels its
// sockets need, so it receives none of the events of rooms it has no member of. Two instances on
// one Redis; the same traffic with the tutorial's bus off (routed) and on (the tutorial's
// `MESSAGES`, which every instance receives), so that the test can tell the two apart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ack,
  closeSockets,
  loginUser,
  named,
  p1Socket,
  startRedis,
  startServer,
  waitFor,
  hasMessage,
  metric,
  privateRoom,
} from './harness.mjs';

for (const mode of ['off', 'on']) {
  describe(`routing by room, tutorial bus ${mode}`, () => {
    let redis;
    let db;
    let a;
    let b;

    before(async () => {
      redis = await startRedis();
      db = redis.client();
      const env = { TUTORIAL_BUS: mode };
      a = await startServer({ redis, env });
      b = await startServer({ redis, env });
    });

    after(async () => {
      closeSockets();
      await a?.stop();
      await b?.stop();
      db?.disconnect();
      await redis?.stop();
    });

    test('an instance receives only the events of rooms its sockets are in', async () => {
      const tag = `${mode}${Date.now().toString(36)}`;
      const ann = await loginUser(a.base, `ann${tag}`);
      const amy = await loginUser(a.base, `amy${tag}`);
      const bob = await loginUser(b.base, `bob${tag}`);
      const annS = await p1Socket(a.base, ann);
      const amyS = await p1Socket(a.base, amy);
      const bobS = await p1Socket(b.base, bob);
      const team = await ann.api.post('/groups', { name: 'Team', members: [amy.id] });
      assert.equal(team.status, 201, team.text);
      const group = team.json.id;
      const withAmy = privateRoom(ann, amy);
      const withBob = privateRoom(ann, bob);
      for (const other of [amy, bob]) {
        const room = await ann.api.post('/room', { user1: Number(ann.id), user2: Number(other.id) });
        assert.equal(room.status, 201, room.text);
      }

      // Every room used once (a first message also announces a private room with show.room).
      for (const [room, to, text] of [
        [withBob, bobS, 'hello bob'],
        [withAmy, amyS, 'hello amy'],
        [group, amyS, 'hello team'],
      ]) {
        assert.ok(!(await ack(annS, 'message', { roomId: room, message: text })).error);
        await waitFor(text, () => hasMessage(to, text));
      }
      const before = await metric(b.base, 'redchat_bus_messages_received_total');

      // Three private messages and three group messages that no socket of B may see, a typing
      // signal, then one message for Bob: once he has it, everything before it has reached B.
      for (let i = 0; i < 3; i++) {
        await ack(annS, 'message', { roomId: withAmy, message: `private ${i}` });
        await ack(annS, 'message', { roomId: group, message: `team ${i}` });
      }
      await ack(annS, 'typing', { roomId: withAmy });
      await ack(annS, 'message', { roomId: withBob, message: 'only for bob' });
      await waitFor('Bob has his message', () => hasMessage(bobS, 'only for bob'));
      await waitFor('Amy has hers', () => hasMessage(amyS, 'team 2') && hasMessage(amyS, 'private 2'));
      const received = (await metric(b.base, 'redchat_bus_messages_received_total')) - before;

      // Routed, B gets Bob's message alone. With the tutorial's bus, the tutorial's events (the
      // private messages) reach every instance; ours (group messages, typing) are routed.
      assert.equal(received, mode === 'off' ? 1 : 4);
      assert.ok(!named(bobS, 'message').some((m) => m.message.startsWith('team')));
    });

    test('an instance unsubscribes when the last socket that needed a channel leaves', async () => {
      const tag = `${mode}${Date.now().toString(36)}`;
      const cid = await loginUser(b.base, `cid${tag}`);
      const channel = `redchat:bus:user:{${cid.id}}`;
      const subscribers = async () => (await db.pubsub('NUMSUB', channel))[1];
      const idle = await metric(b.base, 'redchat_bus_channels');
      const one = await p1Socket(b.base, cid);
      const two = await p1Socket(b.base, cid);
      // The connect is answered once the bus carries the socket's channels.
      assert.equal(await subscribers(), 1, 'one subscription per instance, whatever its sockets');
      assert.ok((await metric(b.base, 'redchat_bus_channels')) > idle);
      one.close();
      await ack(two, 'room.join', '0'); // still served
      assert.equal(await subscribers(), 1);
      two.close();
      await waitFor('the channel unsubscribed', async () => (await subscribers()) === 0);
      await waitFor('back to the channels before', async () => (await metric(b.base, 'redchat_bus_channels')) === idle);
    });
  });
}
