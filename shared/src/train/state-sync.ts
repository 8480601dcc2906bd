/**
 * How the members of a new epoch agree on one state. Each says hello to every other (its step
 * and weights hash); every member then picks the same source (chooseSource: no fixed leader), and
 * whoever holds something else asks that source for a snapshot of its whole training state.
 */
import { TimeoutError, WireFormatError } from '../errors.ts';
import { MessageKind } from '../wire/frame.ts';
import type { Message, MessageHeader, Messenger } from '../wire/messenger.ts';
import type { MembershipView } from './membership.ts';
import type { Replica } from './replica.ts';
import { decodeSnapshot, type Snapshot } from './snapshot.ts';

/** What a member says about itself after a membership change. */
export interface Hello {
  step: number;
  hash: string;
}

const header = (kind: MessageKind, epoch: number): MessageHeader => ({ kind, codec: 0, tag: 0, epoch, step: 0, seq: 0 });

export function encodeHello(hello: Hello): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ step: hello.step, hash: hello.hash }));
}

/** Throws WireFormatError unless `bytes` hold a JSON `{ step: integer, hash: string }`. */
export function parseHello(bytes: Uint8Array): Hello {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new WireFormatError('hello is not JSON');
  }
  const v = value as Partial<Hello> | null;
  if (!v || !Number.isInteger(v.step) || typeof v.hash !== 'string') throw new WireFormatError('malformed hello');
  return { step: v.step!, hash: v.hash };
}

/**
 * Sends `mine` to every other member and waits (by `signal`) for their hellos; returns them all,
 * ours included, by peer id. A timeout names the first member not heard from as the suspect.
 */
export async function exchangeHellos(
  messenger: Messenger,
  selfId: string,
  members: readonly string[],
  epoch: number,
  mine: Hello,
  signal: AbortSignal,
): Promise<Map<string, Hello>> {
  const others = members.filter((id) => id !== selfId);
  const h = header(MessageKind.Hello, epoch);
  const payload = encodeHello(mine);
  const heard = new Set<string>();
  const [, replies] = await Promise.all([
    Promise.all(others.map((id) => messenger.send(id, h, payload))),
    Promise.all(others.map((id) => messenger.receive(id, h, signal).then((m) => (heard.add(id), m)))),
  ]).catch((err: unknown) => {
    const silent = others.find((id) => !heard.has(id));
    throw (err as Error).name === 'TimeoutError' && silent ? new TimeoutError(`${(err as Error).message} (no hello from ${silent.slice(0, 8)})`, silent) : err;
  });
  const hellos = new Map<string, Hello>([[selfId, mine]]);
  for (const reply of replies) hellos.set(reply.from, parseHello(reply.payload));
  return hellos;
}

/**
 * The member whose state everyone adopts: among those at the highest step, the weights hash most
 * of them hold (a diverged replica is outvoted), then the lowest id. No fixed leader.
 */
export function chooseSource(members: string[], hellos: Map<string, Hello>): string {
  const top = Math.max(...[...hellos.values()].map((h) => h.step));
  const votes = new Map<string, number>();
  for (const h of hellos.values()) if (h.step === top) votes.set(h.hash, (votes.get(h.hash) ?? 0) + 1);
  const bestHash = [...votes.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
  return [...members].sort().find((id) => hellos.get(id)?.step === top && hellos.get(id)?.hash === bestHash)!;
}

/**
 * Asks `source` for its state and waits (by `signal`) for the snapshot; `bytes` is its size on the
 * wire. Throws WireFormatError unless its weights have the lengths in `sizes` (this model's).
 */
export async function requestState(
  messenger: Messenger,
  source: string,
  epoch: number,
  sizes: readonly number[],
  signal: AbortSignal,
): Promise<{ snapshot: Snapshot; bytes: number }> {
  const request = header(MessageKind.StateRequest, epoch);
  await messenger.send(source, request, new Uint8Array(0));
  const reply = await messenger.receive(source, { ...request, kind: MessageKind.State }, signal);
  const snapshot = decodeSnapshot(reply.payload);
  if (snapshot.weights.length !== sizes.length || snapshot.weights.some((w, i) => w.length !== sizes[i])) {
    throw new WireFormatError('received state does not match this model');
  }
  return { snapshot, bytes: reply.payload.length };
}

/**
 * Says hello to every other member, picks the source (chooseSource) and, if its step or weights
 * differ from ours, asks it for its state and adopts it. Returns what was adopted, or null.
 */
export async function agreeOnState(
  messenger: Messenger,
  selfId: string,
  view: MembershipView,
  replica: Replica,
  signal: AbortSignal,
): Promise<{ source: string; step: number; bytes: number; ms: number } | null> {
  const hellos = await exchangeHellos(messenger, selfId, view.members, view.epoch, { step: replica.step, hash: replica.hash }, signal);
  const source = chooseSource(view.members, hellos);
  const best = hellos.get(source)!;
  if (best.step === replica.step && best.hash === replica.hash) return null;
  const began = Date.now();
  const { snapshot, bytes } = await requestState(messenger, source, view.epoch, replica.sizes, signal);
  replica.adopt(snapshot);
  return { source, step: snapshot.step, bytes, ms: Date.now() - began };
}

/** Answers every state request with a snapshot of `replica` as it is then; failures go to `onError`. */
export function serveState(messenger: Messenger, replica: Replica, onError: (error: unknown, to: string) => void): void {
  messenger.handle(MessageKind.StateRequest, (request: Message) => {
    const answer = async (): Promise<void> => messenger.send(request.from, { ...request.header, kind: MessageKind.State }, replica.snapshot());
    answer().catch((error: unknown) => onError(error, request.from));
  });
}
