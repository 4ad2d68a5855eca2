// Three instances behind nginx running the shipped site (deploy/nginx/redchat.conf; docs/deploy.md),
// routing by room, on one Redis and on a Redis Cluster (3 masters, 3 replicas): the chat through
// the proxy over WebSocket and long-polling, private rooms private, an instance with no member of
// a room receiving none of its messages, and the clients of a killed instance moving to the
// others; on the cluster also a master killed while messages flow. nginx hashes on the client's
// address, so each client here connects from its own loopback address (127.0.0.x), found to land
// on the instance it needs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { io } from 'socket.io-client';
import {
  COOKIE_NAME,
  P1,
  ack,
  loginUser,
  named,
  startCluster,
  startNginx,
  startRedis,
  startServer,
  waitFor,
  waitReady,
  hasMessage,
  metric,
} from './harness.mjs';

/** One HTTP request from `localAddress`: {status, text}. */
function request(url, { method = 'GET', body, localAddress }) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, localAddress, headers: body ? { 'content-type': 'text/plain;charset=UTF-8' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

for (const backend of ['one Redis', 'a Redis Cluster']) describe(`three instances behind nginx, on ${backend}`, () => {
  const onCluster = backend !== 'one Redis';
  let redis;
  let cluster;
  const servers = [];
  let nginx;
  const sockets = [];

  before(async () => {
    if (onCluster) cluster = await startCluster();
    else redis = await startRedis();
    for (let i = 0; i < 3; i++) {
      servers.push(await startServer({
        ...(onCluster ? { cluster } : { redis, env: { TUTORIAL_BUS: 'off' } }),
        extraArgs: ['--trusted-proxies', '127.0.0.1/32'],
      }));
    }
    for (const s of servers) await waitReady(s, 20000);
    nginx = await startNginx(servers.map((s) => s.port));
  });

  after(async () => {
    for (const s of sockets) s.close();
    await nginx?.stop();
    for (const s of servers) await s.stop();
    await redis?.stop();
    await cluster?.stop();
  });

  // The instance nginx sends `address` to: open a polling session through nginx, then ask each
  // instance directly which one knows it (a POSTed close: 200 there, 400 elsewhere).
  async function instanceOf(address) {
    const open = await request(`${nginx.base}/socket.io/?EIO=4&transport=polling`, { localAddress: address });
    assert.equal(open.status, 200, open.text);
    const { sid } = JSON.parse(open.text.slice(1));
    for (let i = 0; i < servers.length; i++) {
      const r = await request(`${servers[i].base}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '1' });
      if (r.status === 200) return i;
    }
    throw new Error(`no instance knows the session of ${address}`);
  }

  // A client address for each instance.
  async function addresses() {
    const found = new Map();
    for (let host = 2; host < 100 && found.size < servers.length; host++) {
      const address = `127.0.0.${host}`;
      const i = await instanceOf(address);
      if (!found.has(i)) found.set(i, address);
    }
    assert.equal(found.size, servers.length, 'every instance serves some client address');
    return [...found.keys()].sort().map((i) => found.get(i));
  }

  function client(user, address, transports, reconnection = false) {
    const s = io(nginx.base, {
      forceNew: true,
      reconnection,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
      transports,
      agent: new http.Agent({ localAddress: address }),
      extraHeaders: { Cookie: `${COOKIE_NAME}=${user.sid}` },
      ...P1,
    });
    sockets.push(s);
    s.received = [];
    s.connects = 0;
    s.on('connect', () => { s.connects += 1; });
    s.onAny((name, payload) => s.received.push({ name, payload }));
    return s;
  }

  test('the chat crosses instances through the proxy, private rooms stay private, and the clients of a killed instance move', async () => {
    const [onA, onB, onC] = await addresses();
    const tag = Date.now().toString(36);
    const ann = await loginUser(nginx.base, `ann${tag}`);
    const bob = await loginUser(nginx.base, `bob${tag}`);
    const cid = await loginUser(nginx.base, `cid${tag}`);
    const room = await ann.api.post('/room', { user1: Number(ann.id), user2: Number(bob.id) });
    assert.equal(room.status, 201, room.text);
    const roomId = room.json.id;

    const annS = client(ann, onA, ['websocket']);
    const bobS = client(bob, onB, ['polling'], true); // long-polling through nginx
    const cidS = client(cid, onC, ['websocket']);
    await waitFor('all connected', () => annS.connected && bobS.connected && cidS.connected);

    // Across instances, both ways, over both transports.
    await ack(annS, 'message', { roomId, message: 'hi bob' });
    await waitFor('bob has it', () => hasMessage(bobS, 'hi bob'));
    await ack(bobS, 'message', { roomId, message: 'hi ann' });
    await waitFor('ann has it', () => hasMessage(annS, 'hi ann'));

    // C serves nobody of the private room: none of its messages reach that instance, and Cid
    // sees none. A General message after them proves they had their chance to.
    const before = await metric(servers[2].base, 'redchat_bus_messages_received_total');
    for (let i = 0; i < 3; i++) await ack(annS, 'message', { roomId, message: `private ${i}` });
    await ack(annS, 'message', { roomId: '0', message: `general ${tag}` });
    await waitFor('cid has the General message', () => hasMessage(cidS, `general ${tag}`));
    await waitFor('bob has the private ones', () => hasMessage(bobS, 'private 2'));
    assert.equal((await metric(servers[2].base, 'redchat_bus_messages_received_total')) - before, 1);
    assert.ok(!named(cidS, 'message').some((m) => m.roomId === roomId));

    if (onCluster) {
      // The master of the room's slot dies while Ann sends, each message with a client id and
      // sent again until acknowledged (as a reliable client does): its replica takes over, and
      // every acknowledged message is in the history exactly once (acknowledged only once a
      // replica had it: --redis-wait-replicas 1).
      const victim = await cluster.masterOf(`room:{${roomId}}`);
      const acked = [];
      let killed = false;
      for (let i = 0; acked.length < 40; i++) {
        if (i === 10) {
          await cluster.node(victim).kill();
          killed = true;
        }
        const clientId = `${tag}-${i}`;
        const deadline = Date.now() + 20000;
        for (;;) {
          const r = await annS.timeout(5000).emitWithAck('message', { roomId, message: `flow ${i}`, clientId })
            .catch(() => ({ error: 'no answer' }));
          if (!r.error) {
            acked.push(r.id);
            break;
          }
          assert.ok(killed, `refused before the failover: ${JSON.stringify(r)}`);
          assert.ok(Date.now() < deadline, `still refused 20 s after the failover: ${JSON.stringify(r)}`);
          // Sent again once the cluster says a replica took over.
          await waitFor('a replica took over', async () => (await cluster.masterOf(`room:{${roomId}}`)) !== victim, 20000);
        }
      }
      assert.notEqual(await cluster.masterOf(`room:{${roomId}}`), victim, 'a replica took over');
      const history = await ann.api.get(`/room/${encodeURIComponent(roomId)}/messages?offset=0&size=100`);
      assert.equal(history.status, 200, history.text);
      for (const id of acked) {
        assert.equal(history.json.filter((m) => m.id === id).length, 1, `message ${id} once`);
      }
    }

    // Bob's instance dies: his client reconnects through nginx to another one, which joins him
    // to his rooms before answering the connect.
    await servers[1].kill();
    await waitFor('bob connected again', () => bobS.connected && bobS.connects >= 2, 15000);
    await ack(annS, 'message', { roomId, message: 'still there?' });
    await waitFor('bob has it on his new instance', () => hasMessage(bobS, 'still there?'));
  });
});
