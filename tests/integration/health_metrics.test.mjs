// Health, readiness, Prometheus metrics and process lifecycle (start, SIGTERM, startup errors).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import {
  SERVER_BIN,
  api,
  connectSocket,
  connected,
  describeRes,
  freePort,
  makeTempDir,
  startRedis,
  startServer,
  startStack,
  waitFor,
  waitForDemoData,
  waitForReady,
} from './harness.mjs';

let stack;

before(async () => {
  stack = await startStack({ demoData: 'on' });
});

after(async () => {
  if (stack) await stack.stop();
});

async function metrics() {
  const r = await stack.api().get('/metrics');
  assert.equal(r.status, 200, describeRes(r));
  return r;
}

/** Parses Prometheus text into {series: Map<"name{labels}", number>, help: Set, type: Map}. */
function parseProm(text) {
  const series = new Map();
  const help = new Set();
  const type = new Map();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let m = line.match(/^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/);
    if (m) {
      help.add(m[1]);
      continue;
    }
    m = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/);
    if (m) {
      type.set(m[1], m[2]);
      continue;
    }
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.eE+-]+|\+Inf|NaN)$/);
    assert.ok(m, `not a valid Prometheus sample line: ${JSON.stringify(line)}`);
    series.set(m[1], Number(m[2]));
  }
  return { series, help, type };
}

describe('health', () => {
  test('GET /healthz', async () => {
    const r = await stack.api().get('/healthz');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(r.json, { status: 'ok' });
  });

  test('GET /readyz', async () => {
    const r = await stack.api().get('/readyz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ready' });
  });
});

describe('metrics', () => {
  test('Prometheus text with the expected families', async () => {
    const r = await metrics();
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    const { series, help, type } = parseProm(r.text);
    for (const [name, kind] of [
      ['redchat_http_requests_total', 'counter'],
      ['redchat_http_request_duration_seconds', 'histogram'],
      ['redchat_redis_command_errors_total', 'counter'],
      ['redchat_connections_open', 'gauge'],
      ['redchat_ws_writes_total', 'counter'],
      ['redchat_ws_frames_written_total', 'counter'],
    ]) {
      assert.equal(type.get(name), kind, `# TYPE ${name} ${kind}`);
      assert.ok(help.has(name), `# HELP ${name}`);
    }
    assert.ok([...series.keys()].some((k) => k.startsWith('redchat_http_request_duration_seconds_bucket{')));
    assert.ok(series.has('redchat_redis_command_errors_total'));
    assert.ok(series.get('redchat_connections_open') >= 1, 'our own connection is open');
    // histogram consistency: +Inf bucket == count, buckets non-decreasing
    const buckets = [...series.entries()].filter(([k]) => k.startsWith('redchat_http_request_duration_seconds_bucket{'));
    const inf = buckets.find(([k]) => k.includes('le="+Inf"'));
    assert.ok(inf, 'an le="+Inf" bucket');
    assert.equal(inf[1], series.get('redchat_http_request_duration_seconds_count'));
    const values = buckets.map(([, v]) => v);
    assert.deepEqual(values, [...values].sort((a, b) => a - b));
  });

  test('request counters by route and status follow the traffic', async () => {
    const key200 = 'redchat_http_requests_total{route="/login",status="200"}';
    const key404 = 'redchat_http_requests_total{route="/login",status="404"}';
    const before = parseProm((await metrics()).text).series;
    for (let i = 0; i < 3; i++) assert.equal((await stack.api().login('Pablo', 'password123')).status, 200);
    assert.equal((await stack.api().login('Pablo', 'bad-password')).status, 404);
    // A request is counted once its answer is written, which can be just after the client
    // read it (and /metrics may run on another thread): wait for the last one to show.
    const afterText = await waitFor('the four logins counted', async () => {
      const text = (await metrics()).text;
      const series = parseProm(text).series;
      return series.get(key404) - (before.get(key404) ?? 0) >= 1 && series.get(key200) - (before.get(key200) ?? 0) >= 3 && text;
    }, 5000);
    assert.ok(afterText.includes(key200), `metrics contain ${key200}`);
    const after = parseProm(afterText).series;
    assert.equal(after.get(key200) - (before.get(key200) ?? 0), 3);
    assert.equal(after.get(key404) - (before.get(key404) ?? 0), 1);
    assert.ok(after.get('redchat_http_request_duration_seconds_count') >= before.get('redchat_http_request_duration_seconds_count') + 4);
  });

  test('a jemalloc build counts its allocation requests; another leaves the series out', async () => {
    // The server names its allocator when it starts listening (allocator=jemalloc|glibc|...).
    const allocator = stack.server.logs().match(/event=listening .*allocator=(\w+)/)?.[1];
    assert.ok(allocator, 'the listening line names the allocator');
    const read = async () => parseProm((await metrics()).text);
    const first = await read();
    if (allocator !== 'jemalloc') {
      assert.equal(first.series.has('redchat_allocations_total'), false);
      return;
    }
    assert.equal(first.type.get('redchat_allocations_total'), 'counter');
    assert.ok(first.help.has('redchat_allocations_total'));
    const before = first.series.get('redchat_allocations_total');
    assert.ok(Number.isInteger(before) && before > 0, `a count: ${before}`);
    // Thread caches pass their counts on when they flush, so the counter moves in steps: a
    // hundred renderings of the metrics (each some hundred allocations) make it move.
    for (let i = 0; i < 100; i++) await metrics();
    const later = await waitFor('the allocation count to move', async () => {
      const n = (await read()).series.get('redchat_allocations_total');
      return n > before && n;
    }, 5000);
    assert.ok(later > before);
  });

  test('a jemalloc build runs jemalloc\'s background purge threads; another runs none', async () => {
    const allocator = stack.server.logs().match(/event=listening .*allocator=(\w+)/)?.[1];
    assert.ok(allocator, 'the listening line names the allocator');
    const pid = stack.server.child.pid;
    const threadNames = () =>
      readdirSync(`/proc/${pid}/task`).map((t) => {
        try {
          return readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
        } catch {
          return '';  // the thread ended meanwhile
        }
      });
    if (allocator !== 'jemalloc') {
      assert.equal(threadNames().includes('jemalloc_bg_thd'), false);
      return;
    }
    // jemalloc starts them as the arenas are first used: a few requests use them.
    for (let i = 0; i < 20; i++) await metrics();
    await waitFor('a jemalloc background thread', async () =>
      threadNames().includes('jemalloc_bg_thd'), 5000);
  });

  test('a jemalloc build reports its live heap, which grows with open sockets; another leaves it out', async () => {
    const allocator = stack.server.logs().match(/event=listening .*allocator=(\w+)/)?.[1];
    assert.ok(allocator, 'the listening line names the allocator');
    const heap = async () => {
      const prom = parseProm((await metrics()).text);
      return { type: prom.type.get('redchat_heap_allocated_bytes'), bytes: prom.series.get('redchat_heap_allocated_bytes') };
    };
    const before = await heap();
    if (allocator !== 'jemalloc') {
      assert.equal(before.bytes, undefined);
      return;
    }
    assert.equal(before.type, 'gauge');
    assert.ok(Number.isInteger(before.bytes) && before.bytes > 0, `bytes: ${before.bytes}`);
    // 300 open sockets (anonymous: no user records, no channels) hold about 240 KiB; thread
    // caches may hide a few tens of kilobytes of it.
    const sockets = [];
    try {
      for (let i = 0; i < 300; i++) sockets.push(connected(connectSocket(stack.base)));
      await Promise.all(sockets);
      const during = await heap();
      assert.ok(during.bytes - before.bytes > 100 * 1024, `grew by ${during.bytes - before.bytes} bytes`);
    } finally {
      for (const s of await Promise.allSettled(sockets)) s.value?.close();
    }
  });

  test('the open /stream gauge and the connection gauge count an open stream', async () => {
    const ctl = new AbortController();
    try {
      const res = await fetch(`${stack.base}/stream`, { signal: ctl.signal });
      assert.equal(res.status, 200);
      await res.body.getReader().read();
      const during = parseProm((await metrics()).text).series;
      assert.equal(during.get('redchat_sse_streams_open'), 1);
      assert.ok(during.get('redchat_connections_open') >= 2);
    } finally {
      ctl.abort();
    }
    // (The server notices a closed stream only at its next keep-alive write, so the gauge is not
    // checked going back to 0 here.)
  });
});

describe('lifecycle', () => {
  test('SIGTERM with an open /stream and keep-alive connections exits 0 promptly', async () => {
    const server = await startServer({ redis: stack.redis, demoData: 'off' });
    const ctl = new AbortController();
    try {
      await waitForReady(server.base);
      const res = await fetch(`${server.base}/stream`, { signal: ctl.signal });
      await res.body.getReader().read();
      const r = await server.terminate(10000);
      assert.equal(r.forced, false, `did not exit within 10 s: ${server.logs()}`);
      assert.equal(r.code, 0, server.logs());
      assert.ok(r.ms < 10000);
      assert.match(server.logs(), /event=shutdown_complete/);
    } finally {
      ctl.abort();
      await server.kill();
    }
  });

  test('starts while Redis is down: not ready, then ready (with demo data) once Redis appears', async () => {
    const port = await freePort();
    const server = await startServer({ redisUrl: `redis://127.0.0.1:${port}`, demoData: 'on' });
    let redis;
    try {
      const c = api(server.base);
      assert.equal((await c.get('/healthz')).status, 200);
      const notReady = await c.get('/readyz');
      assert.equal(notReady.status, 503, describeRes(notReady));
      assert.equal(typeof notReady.json?.message, 'string');
      const login = await c.login('Pablo', 'password123');
      assert.equal(login.status, 503, describeRes(login));

      redis = await startRedis({ port });
      await waitForReady(server.base);
      const db = redis.client();
      // the demo data load that could not happen at start happens now
      await waitForDemoData(server, db, 10000);
      assert.equal(await db.get('total_users'), '4');
      const pablo = await c.login('Pablo', 'password123');
      assert.equal(pablo.status, 200, describeRes(pablo));
      const reg = await c.login('Early', 'secret99');
      assert.equal(reg.status, 201, describeRes(reg));
      assert.deepEqual(reg.json, { id: '5', username: 'Early' });
      await server.stop();
    } finally {
      await server.kill();
      if (redis) await redis.stop();
    }
  });

  test('invalid options and a taken port fail fast with a non-zero exit', async () => {
    const run = (args) =>
      new Promise((resolve) => {
        const child = spawn(SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        child.on('exit', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, out });
        });
      });
    const web = makeTempDir('redchat-web-');
    const bad = await run(['--port', '0', '--redis-url', 'nonsense://x', '--web-root', web]);
    assert.equal(bad.signal, null, 'exited by itself');
    assert.notEqual(bad.code, 0, bad.out);

    const blocker = net.createServer();
    await new Promise((r) => blocker.listen(0, '127.0.0.1', r));
    try {
      const taken = await run([
        '--port', String(blocker.address().port), '--bind', '127.0.0.1',
        '--redis-url', stack.redis.url, '--demo-data', 'off', '--web-root', web,
      ]);
      assert.equal(taken.signal, null, 'exited by itself');
      assert.notEqual(taken.code, 0, taken.out);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
