/**
 * `npm run bench [-- options]`: the compression benchmark on the cpu backend in Node and the webgl
 * backend in headless Chromium, written to bench/results/compression.{json,md}.
 *
 *   --only node|webgl   one backend (the other keeps its last figures in the results file)
 *   --only goodput      instead: the ring's goodput against a bare data channel between tabs
 *                       (goodput.ts), written to bench/results/goodput.{json,md}
 *   --steps N           timed steps per case (default 15; slow cases get fewer, see core.ts)
 *   --warmup N          untimed steps per case first (default 3)
 *   --sim-steps N       timed simulatePeers(4) steps per case (default 5; 0 skips the cross-check)
 *   --cases a,b         only these case ids (plus none); prints the tables and writes nothing
 */
import { parseArgs } from 'node:util';
import { CASES } from './cases.ts';
import type { BackendResult, BenchOptions } from './core.ts';
import { runGoodputBench } from './goodput.ts';
import { runNodeBench } from './node.ts';
import { renderTable, RESULTS_DIR, writeResults } from './report.ts';
import { runWebglBench } from './webgl.ts';

function positiveInt(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new RangeError(`--${name} must be an integer >= ${min}, got ${raw}`);
  return value;
}

async function main(): Promise<void> {
  const started = performance.now();
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      'sim-steps': { type: 'string' },
      cases: { type: 'string' },
    },
    strict: true,
  });
  if (values.only === 'goodput') return runGoodputBench();
  if (values.only !== undefined && values.only !== 'node' && values.only !== 'webgl') throw new RangeError(`--only must be node, webgl or goodput, got ${values.only}`);
  const cases = values.cases?.split(',').map((c) => c.trim());
  const unknown = cases?.filter((id) => !CASES.some((c) => c.id === id)) ?? [];
  if (unknown.length > 0) throw new RangeError(`unknown case(s) ${unknown.join(', ')}; known: ${CASES.map((c) => c.id).join(', ')}`);

  const stamp = (): string => `${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s`;
  const options: Omit<BenchOptions, 'backend'> = {
    steps: positiveInt('steps', values.steps, 1),
    warmup: positiveInt('warmup', values.warmup, 1),
    simSteps: positiveInt('sim-steps', values['sim-steps'], 0),
    cases,
  };

  const results: BackendResult[] = [];
  if (values.only !== 'webgl') {
    console.log('== cpu backend, Node');
    results.push(await runNodeBench({ ...options, log: (line) => console.log(`${stamp()} [cpu] ${line}`) }));
  }
  if (values.only !== 'node') {
    console.log('== webgl backend, Chromium');
    results.push(await runWebglBench({ ...options, log: (line) => console.log(`${stamp()} [webgl] ${line}`) }));
  }

  for (const r of results) console.log(`\n${r.backend}:\n${renderTable(r)}`);
  const wallMs = performance.now() - started;
  if (cases) console.log('\n--cases given: the results files are left as they were.');
  else {
    await writeResults(results, wallMs);
    console.log(`\nwrote ${RESULTS_DIR}compression.json and compression.md`);
  }
  const warnings = results.flatMap((r) => r.warnings.map((w) => `${r.backend}: ${w}`));
  for (const w of warnings) console.log(`WARNING ${w}`);
  console.log(`total wall time ${(wallMs / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
