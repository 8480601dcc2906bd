/**
 * The serving side of a state transfer. A snapshot is the whole training state (megabytes), so
 * it goes only to a current member whose hello in this epoch showed a state other than ours
 * (behind, or on the losing side of the vote), at most once per epoch, and only while our state
 * is still the one we announced (else the requester would rightly refuse it and blame us).
 * A request may overtake the requester's hello (we may not have begun this epoch's sync yet): it
 * waits, one per peer, until the hello is heard or the epoch is over.
 *
 * Observers (peers the signaling server names as such: not members, no part in any step) get
 * the state whenever they ask, at most once per OBSERVER_INTERVAL_MS each: a hello announcing our
 * step and weights hash, then the snapshot, which they check against it (observe.ts).
 */
import { PeerInputError } from '../errors.ts';
import { MessageKind } from '../wire/frame.ts';
import type { Message, Messenger } from '../wire/messenger.ts';
import type { MembershipView } from './membership.ts';
import type { Replica } from './replica.ts';
import { encodeHello, type Hello } from './state-sync.ts';

/** How often one observer may be sent the state (megabytes each time). */
export const OBSERVER_INTERVAL_MS = 2_000;

export class StateServer {
  private epoch = -1;
  private members = new Set<string>();
  private mine: Hello | undefined;
  private readonly hellos = new Map<string, Hello>();
  private readonly served = new Set<string>();
  /** Requests waiting for their sender's hello, at most one per peer. */
  private readonly pending = new Map<string, Message>();
  /** When each observer was last sent the state. */
  private readonly observed = new Map<string, number>();

  /** `onRefused` hears of every request refused (a PeerInputError naming the requester) and every failed send. */
  constructor(
    private readonly messenger: Messenger,
    private readonly replica: Replica,
    private readonly onError: (error: unknown, to: string) => void,
    private readonly isObserver: (peerId: string) => boolean = () => false,
  ) {
    messenger.handle(MessageKind.StateRequest, (request) => this.onRequest(request));
  }

  /** This member's sync of `view` begins, announcing `mine`. */
  open(view: MembershipView, mine: Hello): void {
    this.epoch = view.epoch;
    this.members = new Set(view.members);
    this.mine = mine;
    this.hellos.clear();
    this.served.clear();
    for (const [peer, request] of this.pending) if (request.header.epoch < view.epoch) this.pending.delete(peer);
  }

  /** `from`'s hello of the current epoch arrived. */
  heard(from: string, hello: Hello): void {
    this.hellos.set(from, hello);
    const waiting = this.pending.get(from);
    if (waiting?.header.epoch === this.epoch) {
      this.pending.delete(from);
      this.consider(waiting);
    }
  }

  private onRequest(request: Message): void {
    if (this.isObserver(request.from)) return this.serveObserver(request);
    const { epoch } = request.header;
    if (epoch < this.epoch) return this.refuse(request, `a request of past epoch ${epoch}`);
    if (epoch > this.epoch || !this.hellos.has(request.from)) {
      this.pending.set(request.from, request);
      return;
    }
    this.consider(request);
  }

  private consider(request: Message): void {
    const from = request.from;
    const hello = this.hellos.get(from)!;
    const mine = this.mine!;
    if (!this.members.has(from)) return this.refuse(request, 'not a member of this epoch');
    if (this.served.has(from)) return this.refuse(request, 'already served in this epoch');
    if (hello.step === mine.step && hello.hash === mine.hash) return this.refuse(request, 'its hello showed our state');
    if (this.replica.step !== mine.step || this.replica.hash !== mine.hash) return this.refuse(request, 'our state moved on since our hello');
    this.served.add(from);
    const answer = async (): Promise<void> => this.messenger.send(from, { ...request.header, kind: MessageKind.State }, this.replica.snapshot());
    answer().catch((error: unknown) => this.onError(error, from));
  }

  private serveObserver(request: Message): void {
    const from = request.from;
    const now = Date.now();
    const last = this.observed.get(from);
    if (last !== undefined && now - last < OBSERVER_INTERVAL_MS) return this.refuse(request, `an observer asks at most every ${OBSERVER_INTERVAL_MS} ms`);
    this.observed.set(from, now);
    // The hello and the snapshot are taken together, so the snapshot is the state announced.
    const hello = encodeHello({ step: this.replica.step, hash: this.replica.hash });
    const snapshot = this.replica.snapshot();
    const answer = async (): Promise<void> => {
      await this.messenger.send(from, { ...request.header, kind: MessageKind.Hello }, hello);
      await this.messenger.send(from, { ...request.header, kind: MessageKind.State }, snapshot);
    };
    answer().catch((error: unknown) => this.onError(error, from));
  }

  private refuse(request: Message, why: string): void {
    this.onError(new PeerInputError(`state request from ${request.from.slice(0, 8)} refused: ${why}`, request.from), request.from);
  }
}
