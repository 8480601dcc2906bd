/** What status() says about the rounds: mode, round, the last contributions, time spent waiting. */
import type { RoundStatus, StepRecord } from '../../protocol/status.ts';
import type { RunConfig } from '../config.ts';
import { ROUND_UNITS } from './round-runner.ts';

/** Rounds over which the waiting share is measured. */
const WAITING_WINDOW = 10;

export function roundStatus(config: Pick<RunConfig, 'sync'>, round: number, history: readonly StepRecord[], sittingOut: readonly string[] = [], loadingShard = false): RoundStatus {
  const recent = history.slice(-WAITING_WINDOW);
  const total = recent.reduce((n, r) => n + r.ms.total, 0);
  const waited = recent.reduce((n, r) => n + r.ms.communicate, 0);
  return {
    sync: config.sync,
    round,
    unit: ROUND_UNITS[config.sync],
    contributions: history.at(-1)?.contributions ?? null,
    waitingShare: total > 0 ? Math.min(1, waited / total) : null,
    sittingOut: [...sittingOut],
    loadingShard,
  };
}
