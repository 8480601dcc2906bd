/**
 * report.html of one run: the summary, the configuration, per-worker facts and the plots, with
 * every worker's step records embedded as JSON (id `tabswarm-metrics`) for anyone who wants more.
 */
import { accuracyCurve, compressMs, phasesPerStep, type RunMetrics, type RunSummary } from './metrics.ts';
import { embedJson, escapeHtml, PAGE_STYLE, PLOT_SCRIPT } from './plots.ts';
import { formatBytes } from './progress.ts';

/** The plots' inputs, computed here so the page's script only draws. */
export interface RunPlotData {
  target: number | null;
  curve: Array<{ step: number; accuracy: number; seconds: number; bytes: number }>;
  phases: Array<{ step: number; compute: number; compress: number; communicate: number; apply: number; other: number }>;
  workers: Array<{ name: string; loss: Array<[number, number]>; bytesSent: Array<[number, number]> }>;
}

export function runPlotData(metrics: RunMetrics): RunPlotData {
  return {
    target: metrics.target,
    curve: accuracyCurve(metrics.workers),
    phases: phasesPerStep(metrics.workers).map((p) => ({
      step: p.step,
      compute: p.compute,
      compress: p.compress,
      communicate: p.communicate,
      apply: p.apply,
      other: Math.max(0, p.total - p.compute - p.compress - p.communicate - p.apply),
    })),
    workers: metrics.workers.map((w) => ({
      name: `${w.index} ${w.runtime}`,
      loss: w.records.map((r) => [r.step, r.loss] as [number, number]),
      bytesSent: w.records.map((r) => [r.step, r.bytesSent] as [number, number]),
    })),
  };
}

const RUN_SCRIPT = String.raw`
const plots = JSON.parse(document.getElementById('tabswarm-plots').textContent);
const host = (id) => document.getElementById(id);
const acc = plots.curve;
const target = plots.target === null ? undefined : plots.target;
linePlot(host('p-acc-step'), { title: 'Test accuracy by step', x: 'step', y: 'test accuracy', yFromZero: false, series: [{ name: '', points: acc.map((p) => [p.step, p.accuracy]) }], hline: target });
linePlot(host('p-acc-time'), { title: 'Test accuracy by wall time', x: 'seconds since the first step', y: 'test accuracy', yFromZero: false, series: [{ name: '', points: acc.map((p) => [p.seconds, p.accuracy]) }], hline: target });
linePlot(host('p-acc-bytes'), { title: 'Test accuracy by bytes sent', x: 'MB sent per worker', y: 'test accuracy', yFromZero: false, series: [{ name: '', points: acc.map((p) => [p.bytes / 1e6, p.accuracy]) }], hline: target });
linePlot(host('p-loss'), { title: 'Training loss by step, per worker', x: 'step', y: 'loss', series: plots.workers.map((w) => ({ name: w.name, points: w.loss })) });
stackedBars(host('p-phases'), { title: 'Time of each step (mean over workers)', x: 'step', y: 'ms', keys: ['compute', 'compress', 'communicate', 'apply', 'other'],
  rows: plots.phases.map((p) => ({ x: p.step, values: [p.compute, p.compress, p.communicate, p.apply, p.other] })) });
linePlot(host('p-bytes'), { title: 'Bytes sent per step, per worker', x: 'step', y: 'bytes', series: plots.workers.map((w) => ({ name: w.name, points: w.bytesSent })) });
`;

function fixed(value: number | null, digits: number, unit = ''): string {
  return value === null ? '-' : `${value.toFixed(digits)}${unit}`;
}

export function renderRunReport(metrics: RunMetrics, summary: RunSummary): string {
  const config = metrics.config;
  const link = Object.entries(metrics.link).map(([k, v]) => `${k}=${v}`).join(' ') || 'unshaped';
  const reached = metrics.target === null
    ? 'no target set'
    : summary.reachedTarget
      ? `<span class="ok">reached ${metrics.target} at step ${summary.stepsToTarget} after ${fixed(summary.secondsToTarget, 1, ' s')} and ${formatBytes(summary.bytesToTarget ?? 0)} sent per worker</span>`
      : `<span class="bad">not reached</span>`;
  const ms = summary.meanStepMs;
  const rows: Array<[string, string]> = [
    ['workers', `${summary.workers} (${metrics.runtime})`],
    ['compressor', `${config?.compressor ?? '-'}${config && ['powersgd', 'greedylore', 'sketch-gaussian', 'sketch-haar'].includes(config.compressor) ? ` rank ${config.rank}` : ''}${config && config.ef !== 'none' ? `, ${config.ef}` : ''}`],
    ['link', escapeHtml(link)],
    ['target accuracy', reached],
    ['stopped by', `${metrics.stopReason}${metrics.error ? `: ${escapeHtml(metrics.error)}` : ''}`],
    ['steps', String(summary.steps)],
    ['final / best test accuracy', `${fixed(summary.finalAccuracy, 3)} / ${fixed(summary.bestAccuracy, 3)}`],
    ['training time', `${summary.trainingSeconds.toFixed(1)} s (${summary.wallSeconds.toFixed(1)} s with start-up)`],
    ['steps per second', fixed(summary.stepsPerSecond, 2)],
    ['bytes sent per worker per step', summary.bytesPerStep === null ? '-' : formatBytes(summary.bytesPerStep)],
    ['mean step (ms)', `compute ${ms.compute.toFixed(1)}, compress ${ms.compress.toFixed(1)}, communicate ${ms.communicate.toFixed(1)}, apply ${ms.apply.toFixed(1)}; total ${ms.total.toFixed(1)}`],
    ['identical weights', summary.identicalWeights === null ? 'workers ended at different steps' : summary.identicalWeights ? '<span class="ok">yes</span>' : '<span class="bad">no</span>'],
  ];
  const configRows = config ? Object.entries(config).map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(String(v))}</td></tr>`).join('') : '';
  const workerRows = metrics.workers.map((w) => {
    const last = w.records.at(-1);
    const compress = w.records.reduce((n, r) => n + compressMs(r), 0);
    return `<tr><td>${w.index}</td><td>${w.runtime}</td><td>${escapeHtml(w.backend ?? '-')}</td><td>${escapeHtml(w.peerId?.slice(0, 8) ?? '-')}</td>`
      + `<td>${escapeHtml(w.state)}</td><td>${w.step}</td><td><code>${escapeHtml(w.weightsHash || '-')}</code></td><td>${w.records.length}</td>`
      + `<td>${formatBytes(w.records.reduce((n, r) => n + r.bytesSent, 0))}</td><td>${last ? last.loss.toFixed(4) : '-'}</td><td>${compress ? compress.toFixed(0) : '-'}</td>`
      + `<td class="${w.error ? 'bad' : ''}">${escapeHtml(w.error ?? '')}</td></tr>`;
  }).join('');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tabswarm run: ${escapeHtml(config?.compressor ?? '')} ${escapeHtml(link)}</title>
<style>${PAGE_STYLE}</style></head>
<body>
<h1>tabswarm run</h1>
<pre>${escapeHtml(metrics.command)}</pre>
<p>${new Date(metrics.startedAt).toISOString()}. Every number below comes from the workers' step records, embedded in this page (script <code>#tabswarm-metrics</code>) and in metrics.json.</p>
<table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>
<h2>Plots</h2>
<div class="plots"><div id="p-acc-step"></div><div id="p-acc-time"></div><div id="p-acc-bytes"></div><div id="p-phases"></div><div id="p-loss"></div><div id="p-bytes"></div></div>
<h2>Workers</h2>
<table><tr><th>#</th><th>runtime</th><th>backend</th><th>peer</th><th>state</th><th>step</th><th>weights hash</th><th>records</th><th>sent</th><th>last loss</th><th>compress ms</th><th>error</th></tr>${workerRows}</table>
<h2>Run configuration</h2>
<table>${configRows}</table>
${embedJson('tabswarm-metrics', metrics)}
${embedJson('tabswarm-plots', runPlotData(metrics))}
<script>${PLOT_SCRIPT}
${RUN_SCRIPT}</script>
</body></html>
`;
}
