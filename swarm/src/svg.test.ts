import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderSvg } from './svg.ts';

test('a line plot renders to an SVG document with one path per series and escaped text', () => {
  const svg = renderSvg({
    kind: 'line',
    title: 'a < b & c',
    x: 'step',
    y: 'loss',
    series: [
      { name: 'one', points: [[0, 1], [1, 0.5], [2, 0.25]] },
      { name: 'two', points: [[0, 2], [2, 1]], dashed: true },
    ],
  });
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal(svg.match(/<path /g)?.length, 2);
  assert.ok(svg.includes('a &lt; b &amp; c'));
  assert.equal(svg.match(/<circle /g)?.length, 5, 'a marker per point');
});

test('a log axis labels powers of ten and drops non-positive values', () => {
  const svg = renderSvg({ kind: 'line', title: 't', x: 'x', y: 'y', yLog: true, series: [{ name: 's', points: [[0, 1], [1, 1e-3], [2, 0], [3, 1e-6]] }] });
  assert.ok(svg.includes('>1e-6<') && svg.includes('>1e0<'), svg);
  assert.equal(svg.match(/<circle /g)?.length, 3);
  // y of the points: 1, 1e-3, 1e-6 equally spaced on the axis.
  const ys = [...svg.matchAll(/<circle [^>]*cy="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.ok(Math.abs(ys[1]! - ys[0]! - (ys[2]! - ys[1]!)) < 0.5, String(ys));
});

test('horizontal bars render one rect per value and a note for a missing one', () => {
  const svg = renderSvg({ kind: 'hbars', title: 'b', unit: 'x', bars: [{ label: 'a', value: 2 }, { label: 'b', value: null, note: 'never' }] });
  assert.equal(svg.match(/<rect /g)?.length, 2, 'the background and one bar');
  assert.ok(svg.includes('>never<'));
});
