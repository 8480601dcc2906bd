/**
 * What a messenger keeps for whom. Each peer has its own budget of buffered bytes and messages,
 * so a hostile peer fills only its own and honest peers' frames still fit; and only frames of the
 * current or next epoch, and of steps at most a few ahead, are kept at all.
 */
import { OutOfWindowError, PeerLimitError } from '../errors.ts';
import { MessageKind } from './frame.ts';

/**
 * Steps ahead of the current one whose collective frames are kept: a peer that finished this step
 * may send the next step's (and, with staleness 1 and a replica check, a little more) first.
 */
export const MAX_STEPS_AHEAD = 4;
/**
 * Epochs ahead of ours whose hellos and state messages are kept. Under churn (a hostile member
 * makes every epoch fail at once) an honest peer can be a few epochs ahead of us, and dropping
 * its hello would cost a sync deadline and blame it. Collective frames are kept one epoch ahead
 * only: an honest peer sends them only after our hello of that epoch.
 */
export const MAX_SYNC_EPOCHS_AHEAD = 8;
/** Bytes one peer may hold in partial and unclaimed messages: its largest message plus room for a step's segments. */
export const DEFAULT_PEER_BUFFER_BYTES = 80 * 1024 * 1024;
/**
 * Partial and unclaimed messages one peer may hold. A ring step of N peers has 2(N-1) hops a
 * predecessor may send ahead; 1024 covers the room cap (256) with steps to spare, and bounds
 * the bookkeeping of zero-length chunks that the byte cap does not see (a partial holds at most
 * 257 chunk slots, so about 2 MB per peer).
 */
export const DEFAULT_PEER_MESSAGES = 1024;

/** Kinds that belong to one step's collectives (dropped once their step is past). */
export const COLLECTIVE_KINDS = new Set<MessageKind>([MessageKind.Reduce, MessageKind.Gather, MessageKind.Blob]);

interface Usage {
  bytes: number;
  messages: number;
}

/** Bytes and messages buffered per peer, against per-peer caps. */
export class PeerBudget {
  private readonly used = new Map<string, Usage>();

  constructor(readonly maxBytes: number, readonly maxMessages: number) {}

  /** Why `from` may not buffer `bytes` more (and a new message if `opens`), or null if it may. */
  refuse(from: string, bytes: number, opens: boolean): PeerLimitError | null {
    const u = this.used.get(from) ?? { bytes: 0, messages: 0 };
    if (u.bytes + bytes > this.maxBytes) return new PeerLimitError(`${from.slice(0, 8)} holds ${u.bytes} buffered bytes; its limit is ${this.maxBytes}`);
    if (opens && u.messages + 1 > this.maxMessages) return new PeerLimitError(`${from.slice(0, 8)} holds ${u.messages} buffered messages; its limit is ${this.maxMessages}`);
    return null;
  }

  add(from: string, bytes: number, messages: number): void {
    const u = this.used.get(from) ?? { bytes: 0, messages: 0 };
    u.bytes += bytes;
    u.messages += messages;
    if (u.bytes === 0 && u.messages === 0) this.used.delete(from);
    else this.used.set(from, u);
  }

  release(from: string, bytes: number, messages: number): void {
    this.add(from, -bytes, -messages);
  }

  /** What `from` holds now (for tests and the fuzz test's bound). */
  usage(from: string): Usage {
    return { ...(this.used.get(from) ?? { bytes: 0, messages: 0 }) };
  }

  /** Bytes held for all peers together. */
  get totalBytes(): number {
    let n = 0;
    for (const u of this.used.values()) n += u.bytes;
    return n;
  }

  clear(): void {
    this.used.clear();
  }
}

export interface WindowHeader {
  kind: number;
  epoch: number;
  step: number;
}

/**
 * The range of (epoch, step) a messenger keeps: frames of past epochs and of past steps of this
 * epoch are stale (dropped quietly); collective frames more than one epoch ahead or past
 * `maxStep`, and others more than MAX_SYNC_EPOCHS_AHEAD ahead, are out of the window (dropped,
 * reported). Until the first `advance` everything
 * is kept: a bare messenger (tests, benchmarks) has no notion of the current step.
 */
export class ReceiveWindow {
  private floor: { epoch: number; step: number; maxStep: number } | undefined;

  get epoch(): number {
    return this.floor?.epoch ?? 0;
  }

  set(epoch: number, step: number, maxStep = step + MAX_STEPS_AHEAD): void {
    this.floor = { epoch, step, maxStep: Math.max(step, maxStep) };
  }

  isStale(h: WindowHeader): boolean {
    const f = this.floor;
    if (!f) return false;
    if (h.epoch < f.epoch) return true;
    return COLLECTIVE_KINDS.has(h.kind) && h.epoch === f.epoch && h.step < f.step;
  }

  /** Why a frame that is not stale is still not kept, or null. */
  refuse(h: WindowHeader): OutOfWindowError | null {
    const f = this.floor;
    if (!f) return null;
    const ahead = COLLECTIVE_KINDS.has(h.kind) ? 1 : MAX_SYNC_EPOCHS_AHEAD;
    if (h.epoch > f.epoch + ahead) return new OutOfWindowError(`${MessageKind[h.kind] ?? h.kind} frame of epoch ${h.epoch}, more than ${ahead} ahead of ${f.epoch}`);
    if (COLLECTIVE_KINDS.has(h.kind) && h.step > f.maxStep) return new OutOfWindowError(`frame of step ${h.step}, past the last step kept (${f.maxStep})`);
    return null;
  }
}
