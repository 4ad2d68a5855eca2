// Runs the official Engine.IO and Socket.IO protocol test suites (the workplace's
// shared/conformance, see its README) against redchat-conformance (env REDCHAT_CONFORMANCE):
// each suite is copied into a temporary folder with its URL pointed at a server started here on
// a free loopback port, installed with `npm ci`, and run with mocha and the suites' preload for
// browser-like WebSocket events. A test that fails is run once more, alone; it fails the run if it
// fails again (the suites' timing races on a loaded machine are documented there).
//
// The suites are looked for in REDCHAT_CONFORMANCE_SUITES, else in `shared/conformance` next to
// this clone or next to any folder above it. When they are not found (a clone outside this
// workplace), this says so and exits 77, which ctest reports as skipped.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, terminate, track } from '../shared/processes.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const suites = ['engine.io-protocol', 'socket.io-protocol'];

function findSuites() {
  const named = process.env.REDCHAT_CONFORMANCE_SUITES;
  if (named) {
    if (suites.every((s) => fs.existsSync(path.join(named, s, 'test-suite.js')))) return named;
    console.error(`conformance: REDCHAT_CONFORMANCE_SUITES=${named} holds no suites`);
    process.exit(1);
  }
  for (let dir = repo; ; dir = path.dirname(dir)) {
    const candidate = path.join(path.dirname(dir), 'shared', 'conformance');
    if (suites.every((s) => fs.existsSync(path.join(candidate, s, 'test-suite.js')))) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

const source = findSuites();
if (!source) {
  console.log(
    'conformance: the protocol suites (shared/conformance) are not next to this clone or any ' +
      'folder above it, nor in REDCHAT_CONFORMANCE_SUITES: skipped',
  );
  process.exit(77);
}
const server = process.env.REDCHAT_CONFORMANCE;
if (!server || !fs.existsSync(server)) {
  console.error('conformance: REDCHAT_CONFORMANCE must name the redchat-conformance binary');
  process.exit(1);
}

// Starts the server on a free port (it prints the port it got) and waits until it listens.
async function startServer() {
  // One I/O thread: docs/realtime.md, "Conformance", says which test of the suites needs it.
  const child = track(spawn(server, ['--port', '0', '--bind', '127.0.0.1', '--threads', '1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  let out = '';
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`redchat-conformance exited with ${code}: ${out}`)));
  });
  return { child, port };
}

// A copy of the suite, its URL pointed at the server, with its packages installed.
function prepare(suite, work, port) {
  const dir = path.join(work, suite);
  fs.cpSync(path.join(source, suite), dir, {
    recursive: true,
    filter: (p) => path.basename(p) !== 'node_modules',
  });
  const file = path.join(dir, 'test-suite.js');
  const text = fs.readFileSync(file, 'utf8');
  if (!text.includes('http://localhost:3000')) throw new Error(`${suite}: no URL to point at the server`);
  fs.writeFileSync(file, text.replaceAll('http://localhost:3000', `http://127.0.0.1:${port}`));
  const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    stdio: 'inherit',
  });
  if (ci.status !== 0) throw new Error(`${suite}: npm ci failed`);
  return dir;
}

// Runs mocha in `dir` (all tests, or those whose full title matches `grep`); its JSON report.
function mocha(dir, grep) {
  const args = ['--require', '../ws-task-dispatch.cjs', '--reporter', 'json'];
  if (grep) args.push('--grep', grep);
  args.push('test-suite.js');
  const run = spawnSync(path.join(dir, 'node_modules', '.bin', 'mocha'), args, {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const start = run.stdout.indexOf('{');
  try {
    return JSON.parse(run.stdout.slice(start));
  } catch {
    throw new Error(`mocha gave no report (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const work = makeTempDir('redchat-conformance-');
fs.copyFileSync(path.join(source, 'ws-task-dispatch.cjs'), path.join(work, 'ws-task-dispatch.cjs'));
const { child, port } = await startServer();
let failed = 0;
try {
  for (const suite of suites) {
    const dir = prepare(suite, work, port);
    const report = mocha(dir);
    console.log(`${suite}: ${report.stats.passes} passed, ${report.stats.failures} failed, ` +
      `${report.stats.pending} pending of ${report.stats.tests}`);
    if (report.stats.pending > 0) {
      console.log(`${suite}: pending tests are failures here`);
      failed += report.stats.pending;
    }
    if (report.stats.tests === 0) {
      console.log(`${suite}: no test ran`);
      failed += 1;
    }
    for (const t of report.failures) {
      const again = mocha(dir, `^${escape(t.fullTitle)}$`);
      const passed = again.stats.tests === 1 && again.stats.passes === 1;
      console.log(`${suite}: "${t.fullTitle}" failed (${t.err.message}); ` +
        `alone once more: ${passed ? 'passed' : 'failed'}`);
      if (!passed) failed += 1;
    }
  }
} finally {
  // A clean exit too: under the sanitizers, a leak or a race found at exit is a failure.
  const end = await terminate(child);
  if (end.forced || end.code !== 0) {
    console.log(`conformance: redchat-conformance ended badly (${JSON.stringify(end)})`);
    failed += 1;
  }
}
if (failed > 0) {
  console.log(`conformance: ${failed} test(s) failed`);
  process.exit(1);
}
console.log('conformance: every test of both suites passed');
