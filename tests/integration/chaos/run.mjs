// The chaos suite (README.md in this folder): every scenario of scenarios.mjs as one test.
//   CHAOS_SCALE=short|long   sizes and durations (short in `make test`, long in `make chaos`)
//   CHAOS_ONLY=<regex>       run only the scenarios whose name matches

import { test } from 'node:test';
import { SCALE, withEnv } from './lib.mjs';
import { scenarios } from './scenarios.mjs';

const only = process.env.CHAOS_ONLY ? new RegExp(process.env.CHAOS_ONLY, 'i') : null;

for (const s of scenarios) {
  if (only && !only.test(s.name)) continue;
  test(`${s.name} [${SCALE}]`, { timeout: SCALE === 'long' ? 600_000 : 120_000 }, () =>
    withEnv(s.name, { instances: s.instances, persistent: s.persistent, viaProxy: s.viaProxy, args: s.args }, (env) => s.run.call(s, env)));
}
