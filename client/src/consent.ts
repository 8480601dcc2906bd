/**
 * What a volunteer is asked before joining, from the server's preview of the room (`room:preview`):
 * whether anything calls for asking, in words, and which of the tab's own keys the room ignores.
 * The page (consent-panel.ts) shows it with Join and Leave; Node workers ask nothing.
 */
import { CONFIG_KEYS, pickConfigParams, type RoomOffer, type RunConfig } from '@tabswarm/shared/protocol';

export interface ConsentRequest {
  offer: RoomOffer;
  /** Why the volunteer is asked (consentReasons). */
  reasons: string[];
  /** Roughly what joining downloads (its shard at the room's member count, the evaluation subset, the labels). */
  downloadBytes: number;
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
