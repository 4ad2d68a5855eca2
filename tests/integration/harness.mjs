// Test harness for the black-box integration tests of redchat-server.
//
// Every helper starts real processes: a private redis-server on a free loopback port and the
// server binary under test (env REDCHAT_SERVER). Every process started here is tracked and killed
// when the test process exits, even when a test or hook throws; tests should still stop their
// processes in `after` hooks so that a clean shutdown (exit code 0) is asserted.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { io } from 'socket.io-client';
import { freePort, makeTempDir, terminate, track, waitExit, waitFor } from '../shared/processes.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

// Default: the release build of this checkout (/work/main/build/release/redchat-server here).
export const SERVER_BIN = process.env.REDCHAT_SERVER || path.resolve(here, '..', '..', 'build', 'release', 'redchat-server');
export const REDIS_BIN = process.env.REDIS_SERVER || 'redis-server';
export const FIXTURES_DIR = path.resolve(here, '..', 'fixtures');
export const COOKIE_NAME = 'redchat_sid';

// Process bookkeeping (shared with the browser tests): tests/shared/processes.mjs.
export { freePort, makeTempDir, waitFor };

// ---------------------------------------------------------------------------------------------
// redis-server

/** Minimal RESP PING over a fresh socket: true when the server answers +PONG. */
export function redisPing(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      // A Redis that requires a password answers NOAUTH: up all the same.
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH'));
    });
  });
}

/**
 * Starts a private redis-server on a free loopback port (or on `port`).
 * Returns {port, url, dir, client(), stop(), kill(), restart(), running()}.
 */
export async function startRedis({ port: fixedPort, persistent = false, extraArgs = [] } = {}) {
  const dir = makeTempDir('redchat-redis-');
  let lastError = null;
  for (let attempt = 0; attempt < (fixedPort ? 1 : 3); attempt++) {
    const port = fixedPort || (await freePort());
    const handle = new RedisHandle(port, dir, persistent, extraArgs);
    try {
      await handle.launch();
      return handle;
    } catch (err) {
      lastError = err; // port raced away or startup failed: try another port
      await handle.kill();
    }
  }
  throw lastError;
}

class RedisHandle {
  constructor(port, dir, persistent = false, extraArgs = []) {
    this.extraArgs = extraArgs;
    this.persistent = persistent; // AOF with fsync on every write: acknowledged data survives a kill
    this.port = port;
    this.dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
    this.child = null;
    this.output = '';
    this.clients = new Set();
  }

  async launch() {
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--save', '',
      ...(this.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      '--dir', this.dir,
      '--daemonize', 'no',
      '--loglevel', 'warning',
      ...this.extraArgs,
    ];
    const child = track(spawn(REDIS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.child = child;
    this.output = '';
    child.on('error', (err) => {
      this.output += `\nspawn ${REDIS_BIN}: ${err.message}`;
    });
    const collect = (d) => {
      this.output = (this.output + d.toString()).slice(-20000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`redis-server exited early (port ${this.port}):\n${this.output}`);
      }
      if (await redisPing(this.port)) return;
      await sleep(50);
    }
    throw new Error(`redis-server did not answer PING within 10 s (port ${this.port}):\n${this.output}`);
  }

  running() {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** A new ioredis client (closed by stop()). */
  client() {
    const c = new Redis({
      host: '127.0.0.1',
      port: this.port,
      maxRetriesPerRequest: 2,
      retryStrategy: (times) => Math.min(times * 100, 500),
      enableOfflineQueue: true,
    });
    c.on('error', () => {}); // expected while redis is down in the robustness tests
    this.clients.add(c);
    return c;
  }

  /** Kills redis-server hard (SIGKILL): a crash as seen by the chat server. */
  async kill() {
    if (!this.child) return;
    if (this.running()) this.child.kill('SIGKILL');
    await waitExit(this.child, 5000);
  }

  /** SIGSTOP: redis keeps its connections open but answers nothing (a hung server). */
  pause() {
    if (this.running()) this.child.kill('SIGSTOP');
  }

  /** SIGCONT after pause(). */
  resume() {
    if (this.running()) this.child.kill('SIGCONT');
  }

  /** Starts redis-server again on the same port and folder (data is gone: no persistence). */
  async restart() {
    await this.kill();
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await this.launch();
        return;
      } catch (err) {
        // the port may be in TIME_WAIT/not yet released for a moment
        if (this.child && this.running()) this.child.kill('SIGKILL');
        if (Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
  }

  async stop() {
    for (const c of this.clients) c.disconnect();
    this.clients.clear();
    this.resume();
    if (this.child) await terminate(this.child, 5000);
  }
}

// ---------------------------------------------------------------------------------------------
// A Redis Cluster

/**
 * Starts a Redis Cluster of `masters` masters with one replica each (redis-server processes on
 * free loopback ports, each with its cluster bus on another), and waits until every node sees
 * the whole cluster ok and every replica has synced.
 * Returns {nodes (RedisHandles), seeds ("127.0.0.1:p,..."), masterOf(key), replicaOf(port), stop()}.
 */
export async function startCluster({ masters = 3, nodeTimeoutMs = 1000 } = {}) {
  const nodes = [];
  const stop = async () => { for (const n of nodes) await n.stop(); };
  try {
    const busPorts = [];
    for (let i = 0; i < masters * 2; i++) {
      busPorts.push(await freePort());
      nodes.push(await startRedis({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(nodeTimeoutMs), '--cluster-port', String(busPorts[i]),
        '--repl-diskless-sync-delay', '0'] }));
    }
    // Made a cluster by hand (what `redis-cli --cluster create` does, without its one-second
    // polls): distinct epochs, a share of the slots per master, every node met, replicas last.
    const clients = nodes.map((n) => n.client());
    await Promise.all(clients.map((c, i) => c.call('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1))));
    for (let i = 0; i < masters; i++) {
      const first = Math.floor((16384 * i) / masters);
      const last = Math.floor((16384 * (i + 1)) / masters) - 1;
      await clients[i].call('CLUSTER', 'ADDSLOTSRANGE', String(first), String(last));
    }
    for (let i = 1; i < nodes.length; i++) {
      await clients[0].call('CLUSTER', 'MEET', '127.0.0.1', String(nodes[i].port), String(busPorts[i]));
    }
    for (let i = masters; i < nodes.length; i++) {
      const master = await clients[i - masters].call('CLUSTER', 'MYID');
      await waitFor(`node ${i} replicates node ${i - masters}`,
        () => clients[i].call('CLUSTER', 'REPLICATE', master).then(() => true, () => false), 20000, 50);
    }
    // Every node sees every other as a plain member, and every slot served.
    const members = (nodesText) => String(nodesText).split('\n').filter(Boolean).map((l) => l.split(' ')[2].split(','))
      .filter((f) => !f.some((x) => ['handshake', 'noaddr', 'fail', 'fail?'].includes(x)));
    const view = (c) => Promise.all([c.call('CLUSTER', 'NODES'), c.call('CLUSTER', 'INFO')]).then(
      ([n, i]) => ({ members: members(n), info: String(i) }), () => ({ members: [], info: '' }));
    await waitFor('cluster ok on every node', async () => (await Promise.all(clients.map(view))).every(({ members: m, info }) =>
      info.includes('cluster_state:ok') && m.filter((f) => f.includes('master')).length === masters
        && m.filter((f) => f.includes('slave')).length === masters), 20000, 50);
    // Every replica synced with its master: a replica that never was cannot take over.
    await waitFor('every replica in sync', async () => {
      const infos = await Promise.all(clients.map((c) => c.call('INFO', 'replication').catch(() => '')));
      const replicas = infos.filter((i) => String(i).includes('role:slave'));
      return replicas.length === masters && replicas.every((i) => String(i).includes('master_link_status:up'));
    }, 20000, 50);
    const live = () => clients.find((c, i) => nodes[i].running());
    const slotOf = async (key) => Number(await live().call('CLUSTER', 'KEYSLOT', key));
    return {
      nodes,
      seeds: nodes.slice(0, 2).map((n) => `127.0.0.1:${n.port}`).join(','),
      /** The port of the master that serves `key` now, as a running node sees it. */
      async masterOf(key) {
        const slot = await slotOf(key);
        const ranges = await live().call('CLUSTER', 'SLOTS');
        const range = ranges.find((r) => r[0] <= slot && slot <= r[1]);
        return Number(range[2][1]);
      },
      node(port) { return nodes.find((n) => n.port === port); },
      /** The port of the replica of the master at `port`. */
      async replicaOf(port) {
        const info = await this.node(port).client().call('INFO', 'replication');
        return Number(/slave0:ip=[^,]+,port=(\d+)/.exec(info)[1]);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy in front of Redis, for faults the network makes

/** A TCP proxy that can go silent: it keeps every connection open but forwards nothing. */
export async function startProxy(targetPort) {
  const conns = new Set();
  let silent = false;
  const server = net.createServer((client) => {
    const pair = { client, upstream: null, silent };
    conns.add(pair);
    client.on('error', () => {});
    client.on('close', () => { pair.upstream?.destroy(); conns.delete(pair); });
    if (pair.silent) return; // accepted, never connected through
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1' });
    pair.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('close', () => client.destroy());
    client.on('data', (d) => { if (!pair.silent) upstream.write(d); });
    upstream.on('data', (d) => { if (!pair.silent) client.write(d); });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    /** Every current and future connection goes silent (a half-open link, a NAT timeout). */
    blackhole() {
      silent = true;
      for (const p of conns) p.silent = true;
    },
    /** New connections pass again; the silent ones stay silent, as dead links do. */
    restore() {
      silent = false;
    },
    async close() {
      for (const p of conns) { p.client.destroy(); p.upstream?.destroy(); }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// nginx, with the shipped site

export const NGINX_BIN = process.env.NGINX || '/usr/sbin/nginx';
export const NGINX_SITE = path.resolve(here, '..', '..', 'deploy', 'nginx', 'redchat.conf');

/**
 * nginx (Debian's) running deploy/nginx/redchat.conf as shipped, but for its upstream servers
 * (`ports`) and its listen address (a free loopback port), unprivileged in a temporary prefix.
 * Returns {base, port, logs(), stop()}.
 */
export async function startNginx(ports) {
  const dir = makeTempDir('redchat-nginx-');
  const port = await freePort();
  let site = fs.readFileSync(NGINX_SITE, 'utf8');
  const edit = (re, to) => {
    assert(re.test(site), `${NGINX_SITE} no longer matches ${re}`);
    site = site.replace(re, to);
  };
  edit(/^ *server 127\.0\.0\.1:\d+ .*\n/gm, '');
  const servers = ports.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;\n`).join('');
  edit(/^( *hash \$remote_addr consistent;\n)/m, `$1${servers}`);
  edit(/^ *listen \[::\]:80;\n/m, '');
  edit(/^ *listen 80;$/m, `    listen 127.0.0.1:${port};`);
  const conf = [
    'daemon off;',
    'worker_processes 1;',
    // As root (a CI container), the workers would switch to `nobody`, who cannot use this prefix.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    site,
    '}',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = track(spawn(NGINX_BIN, ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const logs = () => output + (fs.existsSync(`${dir}/error.log`) ? fs.readFileSync(`${dir}/error.log`, 'utf8') : '');
  const accepts = () => new Promise((resolve) => {
    const c = net.connect({ port, host: '127.0.0.1' }, () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
  try {
    await waitFor('nginx listening', async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${logs()}`);
      return accepts();
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    logs,
    async stop() {
      await terminate(child, 5000);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// redchat-server

/**
 * Starts the server binary.
 * opts: {redis (handle) | redisUrl, demoData: 'on'|'off', webRoot, extraArgs: [], env: {}, maxFiles}
 * Returns {base, port, child, logs(), waitForLog(re, ms), stop(), kill()}.
 * Without an explicit webRoot an empty temporary folder is used (no index.html).
 */
export async function startServer(opts = {}) {
  // opts.privateRedis: no --redis-url; the server starts its own redis-server (in opts.dataDir).
  // opts.cluster: a startCluster() handle (--redis-cluster).
  const redisUrl = opts.redisUrl || opts.redis?.url;
  if (!redisUrl && !opts.privateRedis && !opts.cluster) throw new Error('startServer needs a redis handle or redisUrl');
  const webRoot = opts.webRoot || makeTempDir('redchat-web-');
  const args = [
    '--port', String(opts.port || 0),
    '--bind', '127.0.0.1',
    ...(opts.cluster ? ['--redis-cluster', opts.cluster.seeds]
      : opts.privateRedis ? ['--data-dir', opts.dataDir] : ['--redis-url', redisUrl]),
    '--demo-data', opts.demoData || 'off',
    '--bcrypt-cost', '4',
    '--threads', '2',
    '--log-level', 'info',
    '--web-root', webRoot,
    ...(opts.extraArgs || []),
  ];
  // opts.maxFiles: run under `ulimit -n` (out-of-descriptor tests).
  const [bin, argv] = opts.maxFiles
    ? ['bash', ['-c', `ulimit -n ${Number(opts.maxFiles)} && exec "$0" "$@"`, SERVER_BIN, ...args]]
    : [SERVER_BIN, args];
  const child = track(
    spawn(bin, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(opts.env || {}) },
    }),
  );
  const handle = new ServerHandle(child, args);
  try {
    const m = await handle.waitForLog(/event=listening url=http:\/\/127\.0\.0\.1:(\d+)\//, 15000);
    handle.port = Number(m[1]);
    handle.base = `http://127.0.0.1:${handle.port}`;
  } catch (err) {
    await handle.kill();
    throw new Error(`${err.message}\nserver args: ${args.join(' ')}\n--- server stderr ---\n${handle.logs()}`);
  }
  return handle;
}

class ServerHandle {
  constructor(child, args) {
    this.child = child;
    this.args = args;
    this.stderr = '';
    this.stdout = '';
    this.port = 0;
    this.base = '';
    this.stopped = false;
    this.waiters = new Set();
    child.stderr.on('data', (d) => {
      this.stderr += d.toString();
      if (this.stderr.length > 2_000_000) this.stderr = this.stderr.slice(-1_000_000);
      for (const w of this.waiters) w();
    });
    child.stdout.on('data', (d) => {
      this.stdout = (this.stdout + d.toString()).slice(-100000);
    });
    child.once('exit', () => {
      for (const w of this.waiters) w();
    });
    child.on('error', (err) => {
      // e.g. ENOENT: a wrong REDCHAT_SERVER path
      this.spawnError = err;
      this.stderr += `\nspawn ${SERVER_BIN}: ${err.message}\n`;
      for (const w of this.waiters) w();
    });
  }

  logs() {
    return this.stderr + (this.stdout ? `\n--- stdout ---\n${this.stdout}` : '');
  }

  running() {
    return !this.spawnError && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the match of `re` in stderr; rejects after `ms` or when the process exits. */
  waitForLog(re, ms = 5000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.stderr.match(re);
        if (m) {
          finish();
          resolve(m);
        } else if (!this.running()) {
          finish();
          reject(new Error(`server exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) before logging ${re}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`server did not log ${re} within ${ms} ms`));
      }, ms);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** SIGTERM; resolves to {code, signal, forced, ms}. Never throws. */
  async terminate(graceMs = 10000) {
    const t0 = Date.now();
    const r = await terminate(this.child, graceMs);
    this.stopped = true;
    if (process.exitCode) {
      // A test in this file failed: show what the server said.
      process.stderr.write(`\n--- redchat-server stderr (${this.base}) ---\n${this.logs().slice(-8000)}\n--- end ---\n`);
    }
    return { ...r, ms: Date.now() - t0 };
  }

  /** SIGTERM and require a clean exit (code 0) within 10 s. */
  async stop() {
    if (this.stopped) return;
    const r = await this.terminate(10000);
    if (r.forced || r.code !== 0) {
      throw new Error(
        `redchat-server did not exit cleanly on SIGTERM: ${JSON.stringify(r)}\n--- stderr ---\n${this.logs().slice(-8000)}`,
      );
    }
  }

  async kill() {
    if (this.running()) this.child.kill('SIGKILL');
    await waitExit(this.child, 5000);
    this.stopped = true;
  }
}

// ---------------------------------------------------------------------------------------------
// Readiness and demo data

/** Waits until /readyz is 200: every Redis connection of the server (all threads) is up. */
export async function waitForReady(base, ms = 10000) {
  const ready = async () =>
    (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0)) === 200;
  await waitFor('readyz 200', ready, ms, 100);
}


export async function waitReady(server, ms = 10000) {
  await waitFor('GET /readyz == 200', async () => {
    const r = await fetch(`${server.base}/readyz`, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.status === 200;
  }, ms);
}

/** Waits until the asynchronous demo data load of an empty Redis has finished. */
export async function waitForDemoData(server, redisClient, ms = 15000) {
  await waitReady(server, ms);
  await waitFor('demo data (user:4 and the General messages)', async () => {
    const [u4, general] = await Promise.all([redisClient.exists('user:4'), redisClient.zcard('room:0')]);
    return u4 === 1 && general >= 5;
  }, ms);
}

// ---------------------------------------------------------------------------------------------
// HTTP client with a cookie jar (only the session cookie matters)

function parseSetCookie(line) {
  const [pair, ...attrs] = line.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  const out = { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs: {} };
  for (const a of attrs) {
    const i = a.indexOf('=');
    if (i < 0) out.attrs[a.toLowerCase()] = true;
    else out.attrs[a.slice(0, i).toLowerCase()] = a.slice(i + 1);
  }
  return out;
}

export { parseSetCookie };

/**
 * api(base) -> {get(path), post(path, body), raw(method, path, {headers, body}), sid, cookies}
 * Each call resolves to {status, headers, json, text, setCookies}.
 */
export function api(base) {
  const jar = new Map();
  const client = {
    jar,
    get sid() {
      return jar.get(COOKIE_NAME);
    },
    set sid(v) {
      if (v === undefined || v === null) jar.delete(COOKIE_NAME);
      else jar.set(COOKIE_NAME, v);
    },
    async raw(method, p, { headers = {}, body, timeoutMs = 5000, redirect = 'manual' } = {}) {
      const h = { ...headers };
      if (jar.size && !Object.keys(h).some((k) => k.toLowerCase() === 'cookie')) {
        h.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      }
      const res = await fetch(base + p, {
        method,
        headers: h,
        body,
        redirect,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const setCookies = res.headers.getSetCookie();
      for (const line of setCookies) {
        const c = parseSetCookie(line);
        if (c.attrs['max-age'] === '0' || c.value === '') jar.delete(c.name);
        else jar.set(c.name, c.value);
      }
      const text = await res.text();
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, json, text, setCookies };
    },
    get(p, opts = {}) {
      return client.raw('GET', p, opts);
    },
    post(p, body, opts = {}) {
      return client.raw('POST', p, {
        ...opts,
        headers: { 'content-type': 'application/json', ...(opts.headers || {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    },
    login(username, password) {
      return client.post('/login', { username, password });
    },
  };
  return client;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

export function readFixture(name) {
  const file = path.join(FIXTURES_DIR, name);
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** Loads a reference `.jsonl` dump (see tests/fixtures) into Redis. Returns the records. */
export async function loadFixture(redisClient, name) {
  const records = readFixture(name);
  const multi = redisClient.multi();
  for (const { key, type, value } of records) {
    switch (type) {
      case 'string':
        multi.set(key, value);
        break;
      case 'hash':
        multi.hset(key, value);
        break;
      case 'set':
        multi.sadd(key, ...value);
        break;
      case 'zset':
        for (const [member, score] of value) multi.zadd(key, String(score), member);
        break;
      default:
        throw new Error(`unknown fixture type ${type} for ${key}`);
    }
  }
  const res = await multi.exec();
  for (const [err] of res) if (err) throw err;
  return records;
}

/** Every key with its type and value, for before/after comparisons. */
/** Keys that change on their own: sessions and the instance heartbeat and presence bookkeeping. */
export function isBookkeepingKey(key) {
  // The user search's name index is derived from username:* at every start.
  return key.startsWith('session:') || key.startsWith('redchat:instance:') || key.startsWith('redchat:presence:') || key === 'redchat:usernames';
}

export async function snapshot(redisClient) {
  const keys = (await redisClient.keys('*')).sort();
  const out = {};
  for (const key of keys) {
    const type = await redisClient.type(key);
    let value;
    if (type === 'string') value = await redisClient.get(key);
    else if (type === 'hash') value = await redisClient.hgetall(key);
    else if (type === 'set') value = (await redisClient.smembers(key)).sort();
    else if (type === 'zset') value = await redisClient.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'list') value = await redisClient.lrange(key, 0, -1);
    else value = `<${type}>`;
    out[key] = { type, value };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Convenience: a redis + server pair with cleanup

/**
 * Starts redis-server and redchat-server. Registers nothing itself: call `stack.stop()` in an
 * `after` hook. `stop()` asserts the server's clean exit and always stops redis.
 */
export async function startStack(opts = {}) {
  const redis = await startRedis();
  const stack = { redis, server: null, db: null };
  stack.stop = async () => {
    try {
      if (stack.server) await stack.server.stop();
    } finally {
      await redis.stop();
    }
  };
  try {
    stack.db = redis.client();
    if (opts.fixture) await loadFixture(stack.db, opts.fixture);
    if (opts.beforeServer) await opts.beforeServer(stack.db);
    stack.server = await startServer({ redis, ...opts });
    if (opts.demoData === 'on' && !opts.fixture) await waitForDemoData(stack.server, stack.db);
    else await waitReady(stack.server);
  } catch (err) {
    if (stack.server) await stack.server.kill();
    await redis.stop();
    throw err;
  }
  stack.base = stack.server.base;
  stack.api = () => api(stack.server.base);
  return stack;
}

/** Asserts-friendly check that an error response is JSON with a string `message`. */
export function isErrorBody(res) {
  return !!res.json && typeof res.json === 'object' && typeof res.json.message === 'string' && res.json.message.length > 0;
}

export function describeRes(res) {
  return `HTTP ${res.status} ${res.text.slice(0, 500)}`;
}

// ---------------------------------------------------------------------------------------------
// Socket.IO clients and logged-in users

/** Every socket made by connectSocket, for closeSockets() in `after` hooks. */
const openSockets = [];

/**
 * A socket.io-client 4 socket (WebSocket only, no reconnection) with the session cookie `sid`.
 * `socket.received` records every event as {name, payload}.
 */
export function connectSocket(base, sid, opts = {}) {
  const s = io(base, {
    forceNew: true,
    reconnection: false,
    transports: ['websocket'],
    extraHeaders: sid ? { Cookie: `${COOKIE_NAME}=${sid}` } : {},
    ...opts,
  });
  openSockets.push(s);
  s.received = [];
  s.onAny((name, payload) => s.received.push({ name, payload }));
  return s;
}

/** Resolves with the socket once connected; rejects on connect_error. */
export const connected = (s) =>
  s.connected ? s : new Promise((resolve, reject) => { s.once('connect', () => resolve(s)); s.once('connect_error', reject); });

export function closeSockets() {
  while (openSockets.length) openSockets.pop().close();
}

/** Logs in (or registers) `name`; returns {api, sid, id}. */
export async function loginUser(base, name, password = 'password123') {
  const a = api(base);
  const r = await a.login(name, password);
  if (r.status !== 200 && r.status !== 201) throw new Error(`login ${name}: ${r.status} ${r.text}`);
  return { api: a, sid: a.sid, id: r.json.id };
}

/**
 * Proves that every event published before this call has been delivered to `receivers`: a
 * General message from `sender` (a connected, logged-in socket) goes through the same bus and
 * per-socket queues, in order, so once every receiver has it, nothing earlier is still on its
 * way. Use before asserting that something did *not* arrive. Receivers must record events in
 * `socket.received` (connectSocket does).
 */
export async function flushDeliveries(sender, receivers, ms = 5000) {
  const text = `sentinel ${Date.now()} ${Math.random()}`;
  sender.emit('message', { roomId: '0', message: text });
  for (const r of receivers) {
    await waitFor('the sentinel message', () => r.received.some((e) => e.name === 'message' && e.payload?.message === text), ms);
  }
}

/** Engine.IO long-polling by hand: the handshake, then raw POSTs and GETs on its sid. */
export async function pollingSession(base, cookie) {
  const headers = cookie ? { Cookie: `${COOKIE_NAME}=${cookie}` } : {};
  const open = await fetch(`${base}/socket.io/?EIO=4&transport=polling`, { headers });
  if (open.status !== 200) throw new Error(`polling handshake: ${open.status} ${await open.text()}`);
  const text = await open.text();
  const { sid } = JSON.parse(text.slice(1));
  const url = `${base}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
  // `as`: another cookie (a session id) or null (none) instead of the handshake's.
  const withCookie = (as) => (as === undefined ? headers : as === null ? {} : { Cookie: `${COOKIE_NAME}=${as}` });
  return {
    sid,
    url,
    post: (body, as) => fetch(url, { method: 'POST', headers: { ...withCookie(as), 'content-type': 'text/plain;charset=UTF-8' }, body }),
    get: (as) => fetch(url, { headers: withCookie(as), signal: AbortSignal.timeout(5000) }),
  };
}

// ---- protocol 1 (docs/realtime.md) ----

/** The socket.io-client option that announces protocol 1. */
export const P1 = { auth: { redchat: 1 } };
/** A connected protocol-1 WebSocket client of `user` (from loginUser). */
export const p1Socket = (base, user) => connected(connectSocket(base, user.sid, P1));
/** A connected client that announces nothing (the tutorial's protocol). */
export const legacySocket = (base, user) => connected(connectSocket(base, user.sid));
/** Emits and awaits the ack (5 s). */
export const ack = (socket, name, payload) => socket.timeout(5000).emitWithAck(name, payload);
/** The value of the unlabelled series `name` in the server's /metrics (NaN when absent). */
export async function metric(base, name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** The id of the private room of two users (from loginUser): "{smaller id}:{larger id}". */
export function privateRoom(a, b) {
  return Number(a.id) < Number(b.id) ? `${a.id}:${b.id}` : `${b.id}:${a.id}`;
}

/** Whether a connectSocket socket received a `message` with this text. */
export const hasMessage = (socket, text) => named(socket, 'message').some((m) => m.message === text);

/** The payloads of the events `name` a connectSocket socket received so far. */
export const named = (socket, name) => socket.received.filter((e) => e.name === name).map((e) => e.payload);

/**
 * Two instances on one Redis, the first with the demo data: {redis, db, a, b, stop()}. `stop`
 * closes the sockets of connectSocket too.
 */
export async function startTwoInstances() {
  const redis = await startRedis();
  const db = redis.client();
  const pair = { redis, db, a: null, b: null };
  pair.stop = async () => {
    closeSockets();
    await pair.a?.stop();
    await pair.b?.stop();
    db.disconnect();
    await redis.stop();
  };
  try {
    pair.a = await startServer({ redis, demoData: 'on' });
    await waitForDemoData(pair.a, db);
    pair.b = await startServer({ redis, demoData: 'off' });
  } catch (err) {
    await pair.stop().catch(() => {});
    throw err;
  }
  return pair;
}
