/**
 * `npm run claims`: runs the five experiments at full size and writes docs/CLAIMS.md and
 * docs/claims/*.svg. Seeded throughout: two runs write the same files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { ExperimentReport } from './experiment.ts';
import { reportGreedyLore, runGreedyLore } from './greedylore-experiment.ts';
import { loadSmallMnist } from './mnist-small.ts';
import { buildReport } from './report.ts';
import { reportSaddle, runSaddle } from './saddle.ts';
import { reportShifted, runShifted } from './shifted.ts';
import { reportSketches, runSketches } from './sketches.ts';
import { reportStaleness, runStaleness } from './staleness.ts';

const DOCS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');

await tf.setBackend('cpu');
const started = Date.now();
const timed = async (name: string, run: () => Promise<ExperimentReport>): Promise<ExperimentReport> => {
  const t = Date.now();
  const report = await run();
  console.log(`${name}: ${report.verdict} (${((Date.now() - t) / 1000).toFixed(1)} s) ${report.keyFigure}`);
  return report;
};

const reports = [
  await timed('1 sketches', async () => reportSketches(await runSketches('full'))),
  await timed('2 greedylore', async () => reportGreedyLore(await runGreedyLore('full', await loadSmallMnist(20_000, 2000)))),
  await timed('3 shifted', async () => reportShifted(await runShifted('full'))),
  await timed('4 staleness', async () => reportStaleness(await runStaleness('full'))),
  await timed('5 saddle', async () => reportSaddle(await runSaddle('full'))),
];
for (const [path, content] of buildReport(reports).files) {
  const target = join(DOCS, path);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, content);
}
console.log(`wrote docs/CLAIMS.md and ${reports.reduce((n, r) => n + r.plots.length, 0)} plots in ${((Date.now() - started) / 1000).toFixed(0)} s; tensors left: ${tf.memory().numTensors}`);
