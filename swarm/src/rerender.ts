/**
 * `npm run swarm -- report DIR`: draws a stored run's summary.json and report.html again from its
 * metrics.json, or a stored sweep's pages from sweep.json (and each of its runs), with the code of
 * today. Nothing is measured again.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { summarize, type RunMetrics } from './metrics.ts';
import { renderRunReport } from './report-html.ts';
import { writeSweepPages, type SweepHeader, type SweepRow } from './sweep.ts';

/** Returns the files written. */
export function rerender(dir: string): string[] {
  const root = resolve(dir);
  const written: string[] = [];
  if (existsSync(join(root, 'metrics.json'))) {
    const metrics = JSON.parse(readFileSync(join(root, 'metrics.json'), 'utf8')) as RunMetrics;
    if (metrics.format !== 'tabswarm-metrics/1') throw new Error(`${root}/metrics.json is not tabswarm-metrics/1`);
    const summary = summarize(metrics);
    writeFileSync(join(root, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    writeFileSync(join(root, 'report.html'), renderRunReport(metrics, summary));
    written.push(join(root, 'summary.json'), join(root, 'report.html'));
  }
  if (existsSync(join(root, 'sweep.json'))) {
    const runs = join(root, 'runs');
    if (existsSync(runs)) for (const name of readdirSync(runs)) written.push(...rerender(join(runs, name)));
    const sweep = JSON.parse(readFileSync(join(root, 'sweep.json'), 'utf8')) as SweepHeader & { format: string; rows: SweepRow[] };
    if (sweep.format !== 'tabswarm-sweep/1') throw new Error(`${root}/sweep.json is not tabswarm-sweep/1`);
    writeSweepPages(root, { command: sweep.command, target: sweep.target, axes: sweep.axes }, sweep.rows);
    written.push(join(root, 'sweep.md'), join(root, 'sweep.html'));
  }
  if (written.length === 0) throw new Error(`${root} holds neither metrics.json nor sweep.json`);
  return written;
}
