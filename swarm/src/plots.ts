/**
 * The report pages' plotting code: plain browser JavaScript kept as a string, inlined into every
 * page so a report is one self-contained file (no scripts, styles or fonts from elsewhere). It
 * draws SVG: line plots (`linePlot`), stacked bars (`stackedBars`) and horizontal bars (`hBars`).
 */
export const PLOT_SCRIPT = String.raw`
const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const W = 560, H = 310, M = { l: 58, r: 16, t: 44, b: 44 };

function el(name, attrs, parent, text) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function ticks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(0) + 'k';
  return +v.toPrecision(4) + '';
}

/** Tick label of a log10 axis: powers of ten only. */
function fmtPow(v) {
  return Math.abs(v - Math.round(v)) < 1e-9 ? '1e' + Math.round(v) : '';
}

function frame(host, o, xlo, xhi, ylo, yhi) {
  const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img' });
  host.appendChild(svg);
  el('text', { x: M.l, y: 18, 'font-weight': 'bold', 'font-size': 13 }, svg, o.title);
  const X = (v) => M.l + (v - xlo) / (xhi - xlo || 1) * (W - M.l - M.r);
  const Y = (v) => H - M.b - (v - ylo) / (yhi - ylo || 1) * (H - M.t - M.b);
  for (const v of ticks(ylo, yhi, 5)) {
    el('line', { x1: M.l, x2: W - M.r, y1: Y(v), y2: Y(v), stroke: '#e4e4e4' }, svg);
    el('text', { x: M.l - 6, y: Y(v) + 4, 'text-anchor': 'end', 'font-size': 11 }, svg, o.yLog ? fmtPow(v) : fmt(v));
  }
  if (o.xTicks !== false) for (const v of ticks(xlo, xhi, 6)) {
    el('line', { x1: X(v), x2: X(v), y1: H - M.b, y2: H - M.b + 4, stroke: '#555' }, svg);
    el('text', { x: X(v), y: H - M.b + 16, 'text-anchor': 'middle', 'font-size': 11 }, svg, fmt(v));
  }
  el('line', { x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b, stroke: '#555' }, svg);
  el('line', { x1: M.l, x2: M.l, y1: M.t, y2: H - M.b, stroke: '#555' }, svg);
  el('text', { x: (M.l + W - M.r) / 2, y: H - 8, 'text-anchor': 'middle', 'font-size': 12 }, svg, o.x);
  el('text', { x: 14, y: (M.t + H - M.b) / 2, 'text-anchor': 'middle', 'font-size': 12, transform: 'rotate(-90 14 ' + (M.t + H - M.b) / 2 + ')' }, svg, o.y);
  return { svg, X, Y };
}

function legend(svg, names, colors) {
  let x = M.l, y = 25;
  names.forEach((name, i) => {
    if (x > W - 120) { x = M.l; y += 13; }
    el('rect', { x, y, width: 10, height: 10, fill: colors[i % colors.length] }, svg);
    const t = el('text', { x: x + 14, y: y + 9, 'font-size': 11 }, svg, name);
    x += 24 + 6.5 * name.length;
    void t;
  });
}

/** o: { title, x, y, series: [{ name, points: [[x, y], ...], dashed? }], yMin?, yMax?, hline?, yFromZero? (default true), yLog? (log10 axis; drops y <= 0) } */
function linePlot(host, o) {
  if (o.yLog) {
    const lg = (v) => v === undefined ? undefined : Math.log10(v);
    o = Object.assign({}, o, { yFromZero: false, yMin: lg(o.yMin), yMax: lg(o.yMax), hline: lg(o.hline),
      series: o.series.map((s) => Object.assign({}, s, { points: s.points.filter((p) => p[1] > 0).map((p) => [p[0], Math.log10(p[1])]) })) });
  }
  const pts = o.series.flatMap((s) => s.points);
  if (!pts.length) { host.appendChild(document.createTextNode(o.title + ': no data')); return; }
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let ylo = o.yMin !== undefined ? o.yMin : Math.min(...ys), yhi = o.yMax !== undefined ? o.yMax : Math.max(...ys);
  if (o.hline !== undefined) { ylo = Math.min(ylo, o.hline); yhi = Math.max(yhi, o.hline); }
  if (o.yFromZero !== false) ylo = Math.min(0, ylo);
  else { const pad = (yhi - ylo) * 0.05 || 0.01; ylo -= pad; yhi += pad; }
  const f = frame(host, o, Math.min(0, ...xs), Math.max(...xs), ylo, o.yFromZero !== false ? yhi * 1.02 || 1 : yhi);
  if (o.hline !== undefined) el('line', { x1: M.l, x2: W - M.r, y1: f.Y(o.hline), y2: f.Y(o.hline), stroke: '#999', 'stroke-dasharray': '4 3' }, f.svg);
  o.series.forEach((s, i) => {
    const d = s.points.map((p, j) => (j ? 'L' : 'M') + f.X(p[0]).toFixed(1) + ' ' + f.Y(p[1]).toFixed(1)).join(' ');
    el('path', { d, fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 1.6, 'stroke-dasharray': s.dashed ? '5 3' : 'none' }, f.svg);
    if (s.points.length < 60) for (const p of s.points) el('circle', { cx: f.X(p[0]), cy: f.Y(p[1]), r: 2.2, fill: COLORS[i % COLORS.length] }, f.svg);
  });
  if (o.series.length > 1 || o.series[0].name) legend(f.svg, o.series.map((s) => s.name), COLORS);
}

/** o: { title, x, y, keys: [names], rows: [{ x, values: [...] }] }: one stacked bar per row. */
function stackedBars(host, o) {
  if (!o.rows.length) { host.appendChild(document.createTextNode(o.title + ': no data')); return; }
  const tops = o.rows.map((r) => r.values.reduce((a, b) => a + b, 0));
  const xs = o.rows.map((r) => r.x);
  const xlo = Math.min(...xs) - 0.5, xhi = Math.max(...xs) + 0.5;
  const f = frame(host, o, xlo, xhi, 0, Math.max(...tops) * 1.05 || 1);
  const bw = Math.max(1, (W - M.l - M.r) / o.rows.length * 0.8);
  const colors = ['#1f77b4', '#9467bd', '#ff7f0e', '#2ca02c', '#7f7f7f'];
  for (const r of o.rows) {
    let base = 0;
    r.values.forEach((v, k) => {
      if (v > 0) el('rect', { x: f.X(r.x) - bw / 2, y: f.Y(base + v), width: bw, height: Math.max(0, f.Y(base) - f.Y(base + v)), fill: colors[k % colors.length] }, f.svg);
      base += v;
    });
  }
  legend(f.svg, o.keys, colors);
}

/** o: { title, unit, bars: [{ label, value, note? }] }: horizontal bars, one per label. */
function hBars(host, o) {
  const rowH = 22, left = 170, right = 150;
  const h = 40 + rowH * o.bars.length;
  const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + h, width: W, height: h, role: 'img' });
  host.appendChild(svg);
  el('text', { x: 8, y: 18, 'font-weight': 'bold', 'font-size': 13 }, svg, o.title);
  const max = Math.max(...o.bars.map((b) => b.value === null ? 0 : b.value), 1e-9);
  o.bars.forEach((b, i) => {
    const y = 32 + i * rowH;
    el('text', { x: left - 6, y: y + 14, 'text-anchor': 'end', 'font-size': 11 }, svg, b.label);
    if (b.value === null) { el('text', { x: left, y: y + 14, 'font-size': 11, fill: '#a00' }, svg, b.note || 'not reached'); return; }
    const w = b.value / max * (W - left - right);
    el('rect', { x: left, y: y + 3, width: Math.max(1, w), height: rowH - 6, fill: COLORS[i % COLORS.length] }, svg);
    el('text', { x: left + w + 4, y: y + 14, 'font-size': 11 }, svg, fmt(b.value) + ' ' + o.unit + (b.note ? '  ' + b.note : ''));
  });
}
`;

/** Embeds `data` as JSON in a script element that the page's code reads; `<` is escaped so no `</script>` can end it early. */
export function embedJson(id: string, data: unknown): string {
  return `<script type="application/json" id="${id}">${JSON.stringify(data).replace(/</g, '\\u003c')}</script>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const PAGE_STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
code, pre { font: 12px ui-monospace, monospace; background: #f4f4f4; padding: 2px 4px; }
pre { padding: 8px; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; } .plots > div { border: 1px solid #eee; }
.ok { color: #060; } .bad { color: #a00; }
`;
