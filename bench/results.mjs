#!/usr/bin/env node
// Runs every row of bench/RESULTS.md RUNS times (default 3), each against a fresh private Redis
// and server (bench/run.sh), and prints the medians as a Markdown table.
//   node bench/results.mjs [row names...]      e.g. node bench/results.mjs fanout-max history
// Environment: RUNS (default 3), BUILD (default build/release).
//
// Side by side: SERVERS="old=/tmp/old-build,new=build/release" compares servers (each a
// directory holding a redchat-server; the redchat-bench of BUILD drives them all). Each round
// runs every server once, in that order, so that the machine's drift hits them alike; the table
// gives each server's median and runs, and the last server's median over the first's.

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const runs = Number(process.env.RUNS ?? 3);

// name, bench/run.sh arguments, and the figures to report: [label, path in the JSON line, unit].
// What an idle row reports.
const idleReport = [
  ['RSS per connection', 'server_rss_per_connection_kb', 'KiB'],
  ['live heap per connection', 'server_heap_per_connection_kb', 'KiB'],
  ['idle CPU', 'server_cpu_percent', '% of a core'],
  ['dropped', 'dropped', ''],
];

// What a rooms row at saturation reports.
const roomsReport = [
  ['stored/s', 'stored_per_s', ''],
  ['delivered/s', 'deliveries_per_s', ''],
  ['deliveries per message', 'deliveries_per_message', ''],
  ['delivery p50', 'latency_ms.p50', 'ms'],
  ['server CPU per message', 'server_cpu_us_per_message', 'µs'],
  ['allocations per message', 'server_allocations_per_message', ''],
];

const rows = [
  {
    name: 'fanout-max',
    args: ['fanout', '--receivers', '1000', '--senders', '4', '--window', '128', '--duration', '10'],
    report: [
      ['deliveries/s', 'deliveries_per_s', ''],
      ['server CPU per delivery', 'server_cpu_us_per_delivery', 'µs'],
      ['messages/s', 'acked_per_s', ''],
      ['server CPU', 'server_cpu_percent', '%'],
    ],
  },
  {
    name: 'fanout-half',
    args: ['fanout', '--receivers', '1000', '--senders', '1', '--rate', '600', '--duration', '10'],
    report: [
      ['deliveries/s', 'deliveries_per_s', ''],
      ['p50', 'latency_ms.p50', 'ms'],
      ['p99', 'latency_ms.p99', 'ms'],
      ['p999', 'latency_ms.p999', 'ms'],
      ['server CPU per delivery', 'server_cpu_us_per_delivery', 'µs'],
    ],
  },
  {
    name: 'rooms',
    args: ['rooms', '--pairs', '1000', '--duration', '10'],
    report: roomsReport,
  },
  {
    // The issue's saturation row: 5,000 private rooms, 10,000 distinct users. They watch
    // presence (as our client does): with the tutorial's broadcast every connect is announced
    // to every socket, which is the connect rows' subject, not this one's.
    name: 'rooms-5000',
    args: ['rooms', '--pairs', '5000', '--presence', 'watched', '--duration', '10'],
    report: roomsReport,
  },
  {
    name: 'rooms-moderate',
    args: ['rooms', '--pairs', '200', '--rate', '1000', '--duration', '10'],
    report: [
      ['server CPU per message', 'server_cpu_us_per_message', 'µs'],
      ['system calls per message', 'server_syscalls_per_message', ''],
      ['context switches per message', 'server_context_switches_per_message', ''],
      ['allocations per message', 'server_allocations_per_message', ''],
    ],
  },
  {
    name: 'receipts',
    args: ['receipts', '--pairs', '200', '--rate', '1000', '--duration', '10'],
    report: [
      ['server CPU per event (message or read)', 'server_cpu_us_per_event', 'µs'],
      ['reads/s', 'reads_per_s', ''],
      ['receipts/s', 'receipts_per_s', ''],
    ],
  },
  {
    name: 'idle',
    args: ['idle', '--connections', '19000', '--duration', '30'],
    report: idleReport,
  },
  {
    // Every socket a distinct logged-in user that watches presence (as our client does): what
    // a connection costs when nothing is shared between them.
    name: 'idle-users',
    args: ['idle', '--connections', '19000', '--users', '19000', '--presence', 'watched', '--duration', '30'],
    report: idleReport,
  },
  {
    name: 'connect',
    args: ['connect', '--connections', '19000', '--duration', '60'],
    report: [
      ['connections/s', 'connections_per_s', ''],
      ['handshake p50', 'connect_latency_ms.p50', 'ms'],
      ['server CPU per connection', 'server_cpu_us_per_connection', 'µs'],
    ],
  },
  {
    name: 'history',
    args: ['history', '--connections', '64', '--duration', '10'],
    report: [
      ['requests/s', 'requests_per_s', ''],
      ['p50', 'latency_ms.p50', 'ms'],
      ['p99', 'latency_ms.p99', 'ms'],
      ['server CPU per request', 'server_cpu_us_per_request', 'µs'],
    ],
  },
  {
    name: 'frames',
    args: ['frames', '--connections', '8', '--duration', '10'],
    report: [
      ['tiny frames/s', 'frames_per_s', ''],
      ['server CPU per frame', 'server_cpu_ns_per_frame', 'ns'],
    ],
  },
];

// A figure of a run, or NaN when the run did not report it (an older server, another
// allocator): printed as "—" rather than as a zero.
const pick = (obj, dotted) => {
  const v = dotted.split('.').reduce((o, k) => o?.[k], obj);
  return v === null || v === undefined ? NaN : Number(v);
};
const median = (xs) => {
  if (xs.some(Number.isNaN)) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x) =>
  Number.isNaN(x) ? '—' : Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : Number(x.toPrecision(3)).toString();

const wanted = process.argv.slice(2);
const selected = rows.filter((r) => wanted.length === 0 || wanted.includes(r.name));

// One run of `row` against the server in `serverDir` (default: the tool's own build).
function runOnce(row, serverDir) {
  const env = { ...process.env };
  if (serverDir) env.SERVER_BUILD = serverDir;
  const out = execFileSync(path.join(here, 'run.sh'), row.args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 1 << 20,
    env,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

const servers = (process.env.SERVERS ?? '')
  .split(',')
  .filter(Boolean)
  .map((spec) => {
    const [label, dir] = spec.split('=');
    return { label, dir: path.resolve(dir) };
  });

if (servers.length === 0) {
  console.log('| Row | Command (`bench/run.sh ...`) | Figure | Median | Runs |');
  console.log('|---|---|---|---|---|');
  for (const row of selected) {
    const results = [];
    for (let i = 0; i < runs; i++) results.push(runOnce(row));
    for (const [label, key, unit] of row.report) {
      const values = results.map((r) => pick(r, key));
      console.log(`| ${row.name} | \`${row.args.join(' ')}\` | ${label} | ${fmt(median(values))}${unit ? ` ${unit}` : ''} | ${values.map(fmt).join(', ')} |`);
    }
  }
} else {
  const names = servers.map((s) => s.label);
  console.log(`| Row | Command (\`bench/run.sh ...\`) | Figure | ${names.map((n) => `${n} median (runs)`).join(' | ')} | ${names.at(-1)} / ${names[0]} |`);
  console.log(`|---|---|---|${names.map(() => '---|').join('')}---|`);
  for (const row of selected) {
    const results = servers.map(() => []);
    for (let i = 0; i < runs; i++) {
      servers.forEach((s, k) => results[k].push(runOnce(row, s.dir)));
    }
    for (const [label, key, unit] of row.report) {
      const medians = results.map((rs) => median(rs.map((r) => pick(r, key))));
      const cells = results.map((rs, k) => {
        const values = rs.map((r) => pick(r, key));
        return Number.isNaN(medians[k]) && values.every(Number.isNaN) ? '—' : `${fmt(medians[k])}${unit ? ` ${unit}` : ''} (${values.map(fmt).join(', ')})`;
      });
      const ratio = medians[0] && !Number.isNaN(medians.at(-1)) ? fmt(medians.at(-1) / medians[0]) : '—';
      console.log(`| ${row.name} | \`${row.args.join(' ')}\` | ${label} | ${cells.join(' | ')} | ${ratio} |`);
    }
  }
}
