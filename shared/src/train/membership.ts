/**
 * The membership a session trains in, as the signaling server numbers it (the epoch), and the
 * signal that ends it: a newer epoch or stop() aborts the work of the current one.
 */
import { AbortedError } from '../errors.ts';
import { waitForAbort } from '../deadline.ts';

export interface MembershipView {
  epoch: number;
  /** Peer ids, sorted. */
  members: string[];
}

export class Membership {
  /** The newest view, members sorted; undefined until the first. */
  view: MembershipView | undefined;
  private controller = new AbortController();

  /** Aborted, with AbortedError, by the next epoch or by stop(). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Takes `view` if its epoch is newer than the current one, aborting the current signal; returns
   * the members it replaces, or null if the view was not newer and nothing changed.
   */
  update(view: MembershipView): string[] | null {
    if (this.view && view.epoch <= this.view.epoch) return null;
    const before = this.view?.members ?? [];
    this.view = { epoch: view.epoch, members: [...view.members].sort() };
    this.controller.abort(new AbortedError(`membership changed (epoch ${view.epoch})`));
    this.controller = new AbortController();
    return before;
  }

  /** Ends the current signal for good (the session stops). */
  stop(): void {
    this.controller.abort(new AbortedError('stopped'));
  }

  /** Resolves at the next epoch or stop(), or after `timeoutMs` if given. */
  next(timeoutMs?: number): Promise<void> {
    return waitForAbort(this.controller.signal, timeoutMs);
  }
}

/** `epoch 4: 3 peers; joined ab12cd34; left ef56ab78` (ids cut to 8 characters). */
export function describeChange(before: readonly string[], after: readonly string[], epoch: number): string {
  const joined = after.filter((id) => !before.includes(id)).map((id) => id.slice(0, 8));
  const left = before.filter((id) => !after.includes(id)).map((id) => id.slice(0, 8));
  const parts = [`epoch ${epoch}: ${after.length} peers`];
  if (joined.length) parts.push(`joined ${joined.join(', ')}`);
  if (left.length) parts.push(`left ${left.join(', ')}`);
  return parts.join('; ');
}
