/**
 * What every experiment hands to the report: the claim in words, how it was tested, the verdict
 * the figures give, and its plots. The numbers themselves stay in each experiment's result type,
 * which the unit test asserts on.
 */
import type { PlotSpec } from '@tabswarm/swarm/svg';

export type Verdict = 'supported' | 'partly supported' | 'contradicted';

export interface ExperimentReport {
  /** Slug: the section anchor and the prefix of its plot files. */
  id: string;
  title: string;
  claim: string;
  source: string;
  /** Markdown. */
  setup: string;
  verdict: Verdict;
  /** One line for the summary table: the figure that decides the verdict. */
  keyFigure: string;
  /** Markdown: tables and what they show, including what was tried when the claim fails. */
  body: string;
  plots: Array<{ name: string; spec: PlotSpec }>;
}

/** Full size for `npm run claims`; quick for the unit test (the same code, fewer steps and seeds). */
export type Scale = 'full' | 'quick';

export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}
