/**
 * How long a step's collectives may take: long enough for a slow but healthy step, short enough
 * that a stalled peer is found out in seconds rather than minutes.
 */

/** Ceiling of a step's deadline when the session is not told otherwise. */
export const DEFAULT_STEP_CEILING_MS = 30_000;
/** Floor of a step's deadline when the session is not told otherwise. */
export const DEFAULT_STEP_FLOOR_MS = 5_000;
/** How many recent steps the median looks at. */
const WINDOW = 20;

export interface StepDeadlineLimits {
  /** The longest deadline, and the one given whenever there is nothing to go by. */
  ceilingMs: number;
  /** The shortest deadline (the ceiling wins if this is above it). */
  floorMs: number;
}

/**
 * Five times the median total of the last 20 steps plus 2 s, within [floor, ceiling]. The
 * ceiling when `freshSync` (the first step after a sync may include a newcomer's warm-up) or
 * with fewer than 3 steps to go by. `history` is oldest first; only `ms.total` is read. Pure.
 */
export function stepDeadlineMs(history: ReadonlyArray<{ ms: { total: number } }>, freshSync: boolean, limits: StepDeadlineLimits): number {
  const ceiling = limits.ceilingMs;
  const floor = Math.min(ceiling, limits.floorMs);
  if (freshSync || history.length < 3) return ceiling;
  const recent = history.slice(-WINDOW).map((r) => r.ms.total).sort((a, b) => a - b);
  const median = recent[Math.floor(recent.length / 2)]!;
  return Math.min(ceiling, Math.max(floor, 5 * median + 2000));
}
