/**
 * What a volunteer is asked before joining, from the server's preview of the room (`room:preview`):
 * whether anything calls for asking, in words, the answer, and which of the tab's own keys the
 * room ignores. The page (consent-panel.ts) shows the question with Join and Leave; Node workers
 * ask nothing.
 */
import { raceSignal } from '@tabswarm/shared';
import { CONFIG_KEYS, estimateDownloadBytes, pickConfigParams, type ConsentStatus, type RoomOffer, type RunConfig } from '@tabswarm/shared/protocol';
import { pageTaskData } from './page-tasks.ts';

export interface ConsentRequest {
  offer: RoomOffer;
  /** Why the volunteer is asked (consentReasons). */
  reasons: string[];
  /** Roughly what joining downloads: a page task's data; of MNIST, its shard at the room's member count (at least `workers`) unless `ownData`, the evaluation subset, the labels. */
  downloadBytes: number;
  /** The member trains on files it chooses in the tab (`data=local`), not on a shard it downloads. */
  ownData: boolean;
}

/** Why joining `offer` needs a yes first: an organiser's room, a heavy configuration (the server's reasons). Empty: no need to ask. */
export function consentReasons(offer: Pick<RoomOffer, 'organised' | 'cost'>): string[] {
  const reasons: string[] = [];
  if (offer.organised) reasons.push('an organiser runs this room');
  if (offer.cost.heavy) reasons.push(`a heavy configuration: ${offer.cost.reasons.join('; ')}`);
  return reasons;
}

/** The configuration keys among `params` (URL or flags) whose value the room's `config` does not have. */
export function ignoredKeys(params: Record<string, unknown>, config: RunConfig): string[] {
  const proposed = pickConfigParams(params);
  return CONFIG_KEYS.filter((key) => {
    if (!(key in proposed)) return false;
    const value = proposed[key];
    const held = config[key];
    return typeof held === 'number' ? Number(value) !== held : String(value) !== held;
  });
}

/**
 * The member's consent: asks (through `ask`) when an offer calls for it, once per configuration
 * (a room found heavier at the join than in its preview is asked about again), and keeps the
 * answer for status().
 */
export class ConsentGate {
  private current: ConsentStatus | null = null;
  private agreedTo: RunConfig | null = null;

  constructor(
    private readonly ask: ((request: ConsentRequest) => Promise<boolean>) | undefined,
    private readonly onChange: () => void,
    /** The member trains on its own files (`data=local`). */
    private readonly ownData = false,
  ) {}

  /** What was asked and answered; null if nothing was. */
  get status(): ConsentStatus | null {
    return this.current && { ...this.current, reasons: [...this.current.reasons] };
  }

  /** May this member join `offer`? Yes without asking when nothing calls for it, it was agreed already, or there is nobody to ask; false when declined or `signal` aborts. */
  async agree(offer: RoomOffer, signal: AbortSignal): Promise<boolean> {
    const reasons = consentReasons(offer);
    if (reasons.length === 0 || !this.ask || sameConfig(this.agreedTo, offer.config)) return !signal.aborted;
    // A page task's data is downloaded whole (if at all). An MNIST member downloads its shard, and
    // the first step waits for `workers` members, so the shard is at most 1/workers of the set.
    const downloadBytes = pageTaskData(offer.config.task)?.downloadBytes
      ?? estimateDownloadBytes(offer.config, Math.max(offer.members + 1, offer.config.workers), this.ownData);
    const request: ConsentRequest = { offer, reasons, downloadBytes, ownData: this.ownData };
    this.current = { state: 'asking', reasons, downloadBytes: request.downloadBytes };
    this.onChange();
    const yes = await raceSignal(this.ask(request), signal, 'asking to join').catch(() => false);
    if (signal.aborted) return false;
    this.current = { ...this.current, state: yes ? 'given' : 'declined' };
    if (yes) this.agreedTo = offer.config;
    this.onChange();
    return yes;
  }
}

function sameConfig(a: RunConfig | null, b: RunConfig): boolean {
  return a !== null && CONFIG_KEYS.every((key) => a[key] === b[key]);
}
