/**
 * `npm run bench:scale [-- options]`: N tabs of one headless Chromium in one room (fp32 and
 * PowerSGD rank 4), their steps/s, renderer memory, JS heap and MNIST downloaded per tab, and the
 * renderers' memory of N fp32 tabs with no DevTools client attached (scale/detached-case.ts), written
 * to bench/results/scale.{json,md}. The method is in scale/report.ts (SCALE_METHOD).
 *
 *   --tabs 2,4,8,16          tab counts (default 2,4,8,16)
 *   --compressors none,powersgd
 *   --steps N                steps per case (default 30)
 *   --print                  prints the tables, writes nothing
 *
 * It builds the client first (as `npm run build` does), so the tabs run the code of this tree.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'vite';
import { hostEnvironment, loadAverage1m } from './machine.ts';
import { RESULTS_DIR } from './report.ts';
import { runDetachedCase, type DetachedResult } from './scale/detached-case.ts';
import { runCase, type ScaleCase, type ScaleResult } from './scale/run-case.ts';
import { renderScale, SCALE_METHOD, writeScale, type ScaleFile } from './scale/report.ts';

const CLIENT_DIR = fileURLToPath(new URL('../client/', import.meta.url));

function list(raw: string, name: string): string[] {
  const items = raw.split(',').map((x) => x.trim()).filter(Boolean);
  if (items.length === 0) throw new RangeError(`--${name} is empty`);
  return items;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tabs: { type: 'string', default: '2,4,8,16' },
      compressors: { type: 'string', default: 'none,powersgd' },
      steps: { type: 'string', default: '30' },
      print: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const tabs = list(values.tabs, 'tabs').map(Number);
  if (tabs.some((n) => !Number.isInteger(n) || n < 2)) throw new RangeError(`--tabs must be integers >= 2, got ${values.tabs}`);
  const compressors = list(values.compressors, 'compressors');
  if (compressors.some((c) => c !== 'none' && c !== 'powersgd')) throw new RangeError(`--compressors takes none and powersgd, got ${values.compressors}`);
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 10) throw new RangeError(`--steps must be an integer >= 10, got ${values.steps}`);

  await build({ root: CLIENT_DIR, logLevel: 'warn' });
  const started = performance.now();
  const results: ScaleResult[] = [];
  const failures: ScaleFile['failures'] = [];
  const detached: DetachedResult[] = [];
  for (const n of tabs) {
    const stamp = (): string => `${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s`;
    for (const compressor of compressors as ScaleCase['compressor'][]) {
      const c: ScaleCase = { tabs: n, compressor, steps };
      console.log(`${stamp()} ${n} tabs, ${compressor}`);
      let r: ScaleResult;
      try {
        r = await runCase(c, (line) => console.log(`${stamp()}   ${line}`), loadAverage1m());
      } catch (err) {
        // One case failing (a deadline on a busy machine) does not lose the others' figures.
        const error = err instanceof Error ? err.message : String(err);
        console.log(`${stamp()}   FAILED: ${error}`);
        failures.push({ ...c, error });
        continue;
      }
      console.log(`${stamp()}   ${r.stepsPerSecond.toFixed(2)} steps/s, renderer RSS ${r.rendererRssMiB.median.toFixed(0)} MiB, heap ${r.jsHeapMiB.median.toFixed(0)} MiB, downloaded ${(r.downloadedBytes.median / 1e6).toFixed(1)} MB, identical ${r.identical}`);
      results.push(r);
    }
    console.log(`${stamp()} ${n} tabs, none, no DevTools client attached`);
    try {
      const d = await runDetachedCase(n, steps);
      console.log(`${stamp()}   renderer RSS ${d.rendererRssMiB.median.toFixed(0)} MiB, USS ${d.rendererUssMiB.median.toFixed(0)} MiB, finished at step ${d.finished.step}`);
      detached.push(d);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      console.log(`${stamp()}   FAILED: ${error}`);
      failures.push({ tabs: n, compressor: 'none, detached', steps, error });
    }
  }
  const file: ScaleFile = {
    benchmark: 'scale',
    command: `npm run bench:scale -- --tabs ${values.tabs} --compressors ${values.compressors} --steps ${steps}`,
    method: SCALE_METHOD,
    updated: new Date().toISOString(),
    host: { ...hostEnvironment() },
    results,
    detached,
    failures,
  };
  console.log(`\n${renderScale(file)}`);
  if (!values.print) {
    await writeScale(RESULTS_DIR, file);
    console.log(`wrote ${RESULTS_DIR}scale.json and scale.md`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
