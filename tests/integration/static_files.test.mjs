// Serving the built web client (--web-root): content types, caching, ETags, the single-page-app
// fallback and path traversal.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describeRes, makeTempDir, startStack } from './harness.mjs';

const INDEX = '<!doctype html><html><head><title>redchat test client</title></head><body><div id="root"></div></body></html>\n';
const APP_JS = 'console.log("redchat test bundle");\n';
const FAVICON = Buffer.from([0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0, 0x68, 4, 0, 0, 0x16, 0, 0, 0]);

let stack;
let webRoot;

before(async () => {
  webRoot = makeTempDir('redchat-webroot-');
  fs.writeFileSync(path.join(webRoot, 'index.html'), INDEX);
  fs.mkdirSync(path.join(webRoot, 'assets'));
  fs.writeFileSync(path.join(webRoot, 'assets', 'app.js'), APP_JS);
  fs.writeFileSync(path.join(webRoot, 'favicon.ico'), FAVICON);
  fs.writeFileSync(path.join(webRoot, 'robots.txt'), 'User-agent: *\n');
  // a file next to the web root that must never be served
  fs.writeFileSync(path.join(webRoot, '..', `${path.basename(webRoot)}-secret.txt`), 'TOP SECRET\n');
  stack = await startStack({ demoData: 'off', webRoot });
});

after(async () => {
  if (stack) await stack.stop();
  if (webRoot) fs.rmSync(path.join(webRoot, '..', `${path.basename(webRoot)}-secret.txt`), { force: true });
});

/** Raw HTTP GET so that the path reaches the server exactly as written (fetch normalises `..`). */
function rawGet(port, target) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    sock.setTimeout(3000, () => {
      sock.destroy();
      reject(new Error(`no answer for ${target}`));
    });
    sock.on('data', (d) => (buf += d.toString('latin1')));
    sock.on('close', () => {
      const m = buf.match(/^HTTP\/1\.[01] (\d{3})/);
      resolve({ status: m ? Number(m[1]) : 0, text: buf });
    });
    sock.on('error', reject);
    sock.on('connect', () => sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
  });
}

describe('static files', () => {
  test('/ serves index.html, not cached without revalidation, with an ETag', async () => {
    const r = await stack.api().get('/');
    assert.equal(r.status, 200, describeRes(r));
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    assert.ok(r.headers.get('etag'), 'ETag header');
    assert.equal(r.text, INDEX);
    const direct = await stack.api().get('/index.html');
    assert.equal(direct.status, 200);
    assert.equal(direct.text, INDEX);
  });

  test('hashed assets are immutable and typed', async () => {
    const r = await stack.api().get('/assets/app.js');
    assert.equal(r.status, 200, describeRes(r));
    assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(r.text, APP_JS);
    assert.ok(r.headers.get('etag'));
    const q = await stack.api().get('/assets/app.js?v=123');
    assert.equal(q.status, 200);
    assert.equal(q.text, APP_JS);
  });

  test('other files are served byte for byte with their type', async () => {
    const res = await fetch(`${stack.base}/favicon.ico`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^image\/(x-icon|vnd\.microsoft\.icon)$/);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), FAVICON);
    const robots = await stack.api().get('/robots.txt');
    assert.equal(robots.status, 200);
    assert.match(robots.headers.get('content-type'), /^text\/plain/);
    assert.equal(robots.text, 'User-agent: *\n');
  });

  test('If-None-Match with the current ETag gives 304 without a body', async () => {
    for (const p of ['/', '/assets/app.js']) {
      const first = await stack.api().get(p);
      const etag = first.headers.get('etag');
      const r = await stack.api().get(p, { headers: { 'if-none-match': etag } });
      assert.equal(r.status, 304, `${p}: ${describeRes(r)}`);
      assert.equal(r.text, '');
      const stale = await stack.api().get(p, { headers: { 'if-none-match': '"not-the-etag"' } });
      assert.equal(stale.status, 200, p);
    }
  });

  test('client-side routes (no extension) fall back to index.html', async () => {
    for (const p of ['/some/client/route', '/chat', '/login/page']) {
      const r = await stack.api().get(p);
      assert.equal(r.status, 200, `${p}: ${describeRes(r)}`);
      assert.equal(r.text, INDEX, p);
      assert.match(r.headers.get('content-type'), /^text\/html/);
    }
  });

  test('missing files with an extension are 404', async () => {
    for (const p of ['/missing.js', '/assets/missing.js', '/missing.css', '/a/b/c.png']) {
      const r = await stack.api().get(p);
      assert.equal(r.status, 404, `${p}: ${describeRes(r)}`);
      assert.notEqual(r.text, INDEX);
    }
  });

  test('API routes are not shadowed by the web client', async () => {
    const me = await stack.api().get('/me');
    assert.equal(me.status, 200);
    assert.equal(me.json, null);
    const links = await stack.api().get('/links');
    assert.equal(typeof links.json.github, 'string');
    const health = await stack.api().get('/healthz');
    assert.deepEqual(health.json, { status: 'ok' });
    const wrong = await stack.api().get('/login');
    assert.equal(wrong.status, 405);
  });

  test('path traversal never reaches files outside the web root', async () => {
    const secret = `${path.basename(webRoot)}-secret.txt`;
    const targets = [
      '/../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/%2E%2E/%2E%2E/etc/passwd',
      '/..%2f..%2fetc%2fpasswd',
      '/assets/../../../../etc/passwd',
      '/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/..\\..\\etc\\passwd',
      '/%5c..%5c..%5cetc%5cpasswd',
      `/../${secret}`,
      `/%2e%2e/${secret}`,
      `/assets/..%2f..%2f${secret}`,
      '/etc/passwd%00.js',
      '//etc/passwd',
    ];
    for (const target of targets) {
      const r = await rawGet(stack.server.port, target);
      assert.ok(r.status !== 0, `${target}: an HTTP answer`);
      assert.doesNotMatch(r.text, /root:x?:0:0:/, `${target} leaked /etc/passwd`);
      assert.doesNotMatch(r.text, /TOP SECRET/, `${target} leaked a file next to the web root`);
      // an explicit refusal, or at most the SPA's index.html, never another file
      if (r.status === 200) {
        assert.ok(r.text.endsWith(INDEX), `${target}: 200 must be index.html: ${r.text.slice(0, 300)}`);
      } else {
        assert.ok([400, 403, 404].includes(r.status), `${target}: status ${r.status}`);
      }
    }
    // the exact cases named in the contract: 404 or 400
    for (const target of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd']) {
      const r = await rawGet(stack.server.port, target);
      assert.ok([400, 404].includes(r.status), `${target}: ${r.text.slice(0, 300)}`);
    }
  });
});
