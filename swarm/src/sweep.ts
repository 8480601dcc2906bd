/**
 * A sweep: one run per combination of the swept keys (e.g. compressor x bandwidth x shard), each
 * with its full report in DIR/runs/NAME/, then one comparison of time, steps and bytes to the
 * target: DIR/sweep.md, DIR/sweep.json and DIR/sweep.html.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { accuracyCurve, type RunSummary } from './metrics.ts';
import { withSetting, type RunOptions, type SweepAxis, type SweepOptions } from './options.ts';
import { embedJson, escapeHtml, PAGE_STYLE, PLOT_SCRIPT } from './plots.ts';
import { formatBytes, type Progress } from './progress.ts';
import { runSwarm, type RunIo } from './run.ts';

export interface SweepRow {
  name: string;
  /** The swept keys' values of this run. */
  settings: Record<string, string>;
  summary: RunSummary;
  /** Time to target of the fp32 run (`compressor=none`) with the same other settings, divided by this run's. */
  speedup: number | null;
  curve: Array<{ step: number; accuracy: number; seconds: number; bytes: number }>;
}

/** What the sweep's table and page say besides the rows (also stored in sweep.json). */
export interface SweepHeader {
  command: string;
  target: number | null;
  axes: SweepAxis[];
}

export interface SweepResult {
  out: string;
  rows: SweepRow[];
}

/** Every combination of the axes' values, the first axis varying slowest. */
export function combinations(axes: SweepOptions['axes']): Array<Record<string, string>> {
  let combos: Array<Record<string, string>> = [{}];
  for (const axis of axes) combos = combos.flatMap((c) => axis.values.map((v) => ({ ...c, [axis.key]: v })));
  return combos;
}

export function runName(settings: Record<string, string>): string {
  return Object.values(settings).map((v) => v.replace(/[^A-Za-z0-9.]+/g, '_')).join('-') || 'run';
}

/** Adds each row's speed-up over the fp32 row that differs only in the compressor. */
export function withSpeedups(rows: Array<Omit<SweepRow, 'speedup'>>): SweepRow[] {
  return rows.map((row) => {
    const others = Object.entries(row.settings).filter(([k]) => k !== 'compressor');
    const baseline = rows.find((r) => r.summary.compressor === 'none' && others.every(([k, v]) => r.settings[k] === v));
    const mine = row.summary.secondsToTarget;
    const theirs = baseline?.summary.secondsToTarget ?? null;
    return { ...row, speedup: mine !== null && theirs !== null && mine > 0 ? theirs / mine : null };
  });
}

export async function runSweep(options: SweepOptions, io: RunIo & { progress: Progress }): Promise<SweepResult> {
  const out = resolve(options.base.out);
  mkdirSync(join(out, 'runs'), { recursive: true });
  const combos = combinations(options.axes);
  const done: Array<Omit<SweepRow, 'speedup'>> = [];
  for (const [i, settings] of combos.entries()) {
    if (io.signal?.aborted) break;
    let run: RunOptions = { ...options.base, room: null };
    for (const [key, value] of Object.entries(settings)) run = withSetting(run, key as Parameters<typeof withSetting>[1], value);
    const name = runName(settings);
    run = { ...run, out: join(out, 'runs', name), command: `${options.base.command}  # run ${i + 1}/${combos.length}: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')}` };
    io.progress.log(`sweep: run ${i + 1}/${combos.length}: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    const result = await runSwarm(run, io);
    done.push({ name, settings, summary: result.summary, curve: accuracyCurve(result.metrics.workers) });
    // Written after every run, so a long sweep cut short still leaves its table.
    writeSweep(out, options, withSpeedups(done));
  }
  const rows = withSpeedups(done);
  writeSweep(out, options, rows);
  return { out, rows };
}

function writeSweep(out: string, options: SweepOptions, rows: SweepRow[]): void {
  const header: SweepHeader = { command: options.base.command, target: options.base.target, axes: options.axes };
  writeFileSync(join(out, 'sweep.json'), `${JSON.stringify({ format: 'tabswarm-sweep/1', ...header, rows }, null, 1)}\n`);
  writeSweepPages(out, header, rows);
}

/** sweep.md and sweep.html from the header and rows (also used to re-render a stored sweep). */
export function writeSweepPages(out: string, header: SweepHeader, rows: SweepRow[]): void {
  writeFileSync(join(out, 'sweep.md'), sweepMarkdown(header, rows));
  writeFileSync(join(out, 'sweep.html'), sweepHtml(header, rows));
}

const num = (v: number | null, digits: number): string => (v === null ? '-' : v.toFixed(digits));

interface Column {
  title: string;
  cell(row: SweepRow): string;
}

function columns(header: SweepHeader): Column[] {
  const target = header.target;
  return [
    ...header.axes.map((a) => ({ title: a.key, cell: (r: SweepRow) => r.settings[a.key] ?? '' })),
    { title: 'workers', cell: (r) => String(r.summary.workers) },
    { title: target === null ? 'target' : `reached ${target}`, cell: (r) => (target === null ? '-' : r.summary.reachedTarget ? 'yes' : `no (${r.summary.stopReason})`) },
    { title: 'time to target (s)', cell: (r) => num(r.summary.secondsToTarget, 1) },
    { title: 'steps to target', cell: (r) => (r.summary.stepsToTarget === null ? '-' : String(r.summary.stepsToTarget)) },
    { title: 'MB sent per worker to target', cell: (r) => num(r.summary.bytesToTarget === null ? null : r.summary.bytesToTarget / 1e6, 1) },
    { title: 'speed-up vs fp32 (time)', cell: (r) => (r.speedup === null ? '-' : `${r.speedup.toFixed(1)}x`) },
    { title: 'steps/s', cell: (r) => num(r.summary.stepsPerSecond, 2) },
    { title: 'kB sent per worker per step', cell: (r) => num(r.summary.bytesPerStep === null ? null : r.summary.bytesPerStep / 1e3, 1) },
    { title: 'mean step ms (compute/compress/communicate/apply)', cell: (r) => {
      const m = r.summary.meanStepMs;
      return `${m.compute.toFixed(0)}/${m.compress.toFixed(0)}/${m.communicate.toFixed(0)}/${m.apply.toFixed(0)}`;
    } },
    { title: 'final accuracy', cell: (r) => num(r.summary.finalAccuracy, 3) },
  ];
}

export function sweepMarkdown(header: SweepHeader, rows: SweepRow[]): string {
  const cols = columns(header);
  const lines = [
    '# tabswarm sweep',
    '',
    '```sh',
    header.command,
    '```',
    '',
    `Time is wall time from the start of the first step to the end of the first step whose test accuracy reached the target; bytes are those one worker sent (mean over workers) until then. Each run's full report: \`runs/NAME/report.html\`.`,
    '',
    `| ${cols.map((c) => c.title).join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cols.map((c) => c.cell(r)).join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}

const SWEEP_SCRIPT = String.raw`
const data = JSON.parse(document.getElementById('tabswarm-sweep').textContent);
const host = (id) => document.getElementById(id);
const target = data.target === null ? undefined : data.target;
linePlot(host('s-acc-time'), { title: 'Test accuracy by wall time', x: 'seconds since the first step', y: 'test accuracy', yFromZero: false, series: data.rows.map((r) => ({ name: r.name, points: r.curve.map((p) => [p.seconds, p.accuracy]) })), hline: target });
linePlot(host('s-acc-bytes'), { title: 'Test accuracy by bytes sent', x: 'MB sent per worker', y: 'test accuracy', yFromZero: false, series: data.rows.map((r) => ({ name: r.name, points: r.curve.map((p) => [p.bytes / 1e6, p.accuracy]) })), hline: target });
linePlot(host('s-acc-step'), { title: 'Test accuracy by step', x: 'step', y: 'test accuracy', yFromZero: false, series: data.rows.map((r) => ({ name: r.name, points: r.curve.map((p) => [p.step, p.accuracy]) })), hline: target });
if (target !== undefined) {
  hBars(host('s-time'), { title: 'Time to ' + target + ' test accuracy', unit: 's', bars: data.rows.map((r) => ({ label: r.name, value: r.summary.secondsToTarget, note: r.speedup ? r.speedup.toFixed(1) + 'x vs fp32' : '' })) });
  hBars(host('s-bytes'), { title: 'MB sent per worker to ' + target, unit: 'MB', bars: data.rows.map((r) => ({ label: r.name, value: r.summary.bytesToTarget === null ? null : r.summary.bytesToTarget / 1e6 })) });
}
`;

export function sweepHtml(header: SweepHeader, rows: SweepRow[]): string {
  const cols = columns(header);
  const head = `<tr>${cols.map((c) => `<th>${escapeHtml(c.title)}</th>`).join('')}<th>report</th></tr>`;
  const body = rows.map((r) => `<tr>${cols.map((c) => `<td>${escapeHtml(c.cell(r))}</td>`).join('')}<td><a href="runs/${encodeURIComponent(r.name)}/report.html">${escapeHtml(r.name)}</a></td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tabswarm sweep</title><style>${PAGE_STYLE}</style></head>
<body>
<h1>tabswarm sweep</h1>
<pre>${escapeHtml(header.command)}</pre>
<p>Time is wall time from the start of the first step to the end of the first step whose test accuracy reached the target; bytes are those one worker sent (mean over workers) until then. ${rows.length} runs.</p>
<table>${head}${body}</table>
<h2>Plots</h2>
<div class="plots"><div id="s-time"></div><div id="s-bytes"></div><div id="s-acc-time"></div><div id="s-acc-bytes"></div><div id="s-acc-step"></div></div>
${embedJson('tabswarm-sweep', { target: header.target, rows })}
<script>${PLOT_SCRIPT}
${SWEEP_SCRIPT}</script>
</body></html>
`;
}

export function describeRow(row: SweepRow): string {
  const s = row.summary;
  const where = s.reachedTarget ? `target at step ${s.stepsToTarget} in ${num(s.secondsToTarget, 1)} s, ${formatBytes(s.bytesToTarget ?? 0)}/worker` : `target not reached (${s.stopReason})`;
  return `${row.name}: ${where}${row.speedup !== null ? `, ${row.speedup.toFixed(1)}x vs fp32` : ''}`;
}
