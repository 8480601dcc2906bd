/**
 * How the members of a new epoch agree on one state. Each says hello to every other (its step
 * and weights hash); every member then picks the same source (chooseSource: no fixed leader), and
 * whoever holds something else asks that source for a snapshot of its whole training state.
 *
 * Any member may be hostile, so nothing a peer says is taken on trust: a malformed hello fails
 * the sync naming its sender (PeerInputError); a hello past the run's last step is not counted
 * and its sender blamed; the majority's state wins before the highest step; and a snapshot is
 * adopted only if it is the state its source announced (step, weights hash), finite throughout.
 * If it is not, the sender is blamed and the member asks the next source (the choice made again
 * without it). The serving side is state-serve.ts.
 */
import { PeerInputError, TimeoutError, WireFormatError } from '../errors.ts';
import { MessageKind } from '../wire/frame.ts';
import type { MessageHeader, Messenger } from '../wire/messenger.ts';
import { hashArrays } from './hash.ts';
import type { MembershipView } from './membership.ts';
import type { Replica } from './replica.ts';
import { decodeSnapshot, snapshotFault, type Snapshot } from './snapshot.ts';
import type { StateServer } from './state-serve.ts';

/** What a member says about itself after a membership change. */
export interface Hello {
  step: number;
  hash: string;
}

/** A hello is a short JSON object; anything longer is refused before parsing. */
const MAX_HELLO_BYTES = 256;
/** The weights hash as hash.ts writes it. */
const HASH_PATTERN = /^[0-9a-f]{16}$/;

const header = (kind: MessageKind, epoch: number): MessageHeader => ({ kind, codec: 0, tag: 0, epoch, step: 0, seq: 0 });

export function encodeHello(hello: Hello): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ step: hello.step, hash: hello.hash }));
}

/** Throws WireFormatError unless `bytes` hold a JSON `{ step: integer >= 0, hash: 16 hex digits }`. */
export function parseHello(bytes: Uint8Array): Hello {
  if (bytes.length > MAX_HELLO_BYTES) throw new WireFormatError(`hello of ${bytes.length} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new WireFormatError('hello is not JSON');
  }
  const v = value as Partial<Hello> | null;
  if (!v || !Number.isSafeInteger(v.step) || v.step! < 0 || typeof v.hash !== 'string' || !HASH_PATTERN.test(v.hash)) throw new WireFormatError('malformed hello');
  return { step: v.step!, hash: v.hash };
}

/**
 * Sends `mine` to every other member and waits (by `signal`) for their hellos; returns them all,
 * ours included, by peer id. Each is parsed as it arrives and handed to `heard`. A timeout names
 * the first member not heard from as the suspect; a malformed hello, its sender.
 */
export async function exchangeHellos(
  messenger: Messenger,
  selfId: string,
  members: readonly string[],
  epoch: number,
  mine: Hello,
  signal: AbortSignal,
  heard: (from: string, hello: Hello) => void = () => undefined,
): Promise<Map<string, Hello>> {
  const others = members.filter((id) => id !== selfId);
  const h = header(MessageKind.Hello, epoch);
  const payload = encodeHello(mine);
  const hellos = new Map<string, Hello>([[selfId, mine]]);
  const parse = (from: string, bytes: Uint8Array): void => {
    try {
      hellos.set(from, parseHello(bytes));
    } catch (err) {
      throw new PeerInputError(`hello from ${from.slice(0, 8)}: ${(err as Error).message}`, from);
    }
    heard(from, hellos.get(from)!);
  };
  await Promise.all([
    Promise.all(others.map((id) => messenger.send(id, h, payload))),
    Promise.all(others.map((id) => messenger.receive(id, h, signal).then((m) => parse(id, m.payload)))),
  ]).catch((err: unknown) => {
    const silent = others.find((id) => !hellos.has(id));
    throw (err as Error).name === 'TimeoutError' && silent ? new TimeoutError(`${(err as Error).message} (no hello from ${silent.slice(0, 8)})`, silent) : err;
  });
  return hellos;
}

/**
 * The member whose state everyone adopts. The state most members hold wins (a diverged replica or
 * a liar is outvoted), then the higher step, then the smaller hash; members still at step 0 do not
 * vote unless all are (a newcomer's initial weights say nothing about the run). Among the members
 * holding that state, the lowest id. No fixed leader. `hellos` must hold at least one entry.
 */
export function chooseSource(members: string[], hellos: Map<string, Hello>): string {
  const all = [...hellos.values()];
  const voters = all.some((h) => h.step > 0) ? all.filter((h) => h.step > 0) : all;
  const votes = new Map<string, { hello: Hello; count: number }>();
  for (const h of voters) {
    const key = `${h.step}|${h.hash}`;
    votes.set(key, { hello: h, count: (votes.get(key)?.count ?? 0) + 1 });
  }
  const best = [...votes.values()].sort((a, b) => b.count - a.count || b.hello.step - a.hello.step || (a.hello.hash < b.hello.hash ? -1 : 1))[0]!.hello;
  return [...members].sort().find((id) => hellos.get(id)?.step === best.step && hellos.get(id)?.hash === best.hash)!;
}

/**
 * Asks `source` for its state and waits (by `signal`) for the snapshot; `bytes` is its size on the
 * wire. Throws PeerInputError naming `source` unless it decodes and is the state `expected` (its
 * hello) with this model's `sizes`, finite throughout; a timeout names `source` too.
 */
export async function requestState(
  messenger: Messenger,
  source: string,
  epoch: number,
  expected: Hello,
  sizes: readonly number[],
  signal: AbortSignal,
): Promise<{ snapshot: Snapshot; bytes: number }> {
  const request = header(MessageKind.StateRequest, epoch);
  await messenger.send(source, request, new Uint8Array(0));
  const reply = await messenger.receive(source, { ...request, kind: MessageKind.State }, signal).catch((err: unknown) => {
    throw (err as Error).name === 'TimeoutError' ? new TimeoutError(`${(err as Error).message} (no state from ${source.slice(0, 8)})`, source) : err;
  });
  let snapshot: Snapshot;
  try {
    snapshot = decodeSnapshot(reply.payload);
  } catch (err) {
    throw new PeerInputError(`state from ${source.slice(0, 8)}: ${(err as Error).message}`, source);
  }
  const fault = snapshotFault(snapshot, expected, sizes, hashArrays);
  if (fault) throw new PeerInputError(`state from ${source.slice(0, 8)} refused: ${fault}`, source);
  return { snapshot, bytes: reply.payload.length };
}

export interface Agreement {
  /** The state adopted, or null if ours was the room's. */
  adopted: { source: string; step: number; bytes: number; ms: number } | null;
  /** Why a member's hello or snapshot was refused, naming it (`suspect`): to be blamed. */
  refused: PeerInputError[];
}

/**
 * Says hello to every other member (the `server` hears the hellos), picks the source
 * (chooseSource) among the hellos not past `lastStep` (the run's length) and, if its step or
 * weights differ from ours, asks it for its state and adopts it; a refused snapshot makes its
 * sender a suspect and the choice is made again without it (ours is always a candidate, so this
 * ends). Only waits and our own sends throw here.
 */
export async function agreeOnState(
  messenger: Messenger,
  selfId: string,
  view: MembershipView,
  replica: Replica,
  signal: AbortSignal,
  options: { lastStep: number; server?: StateServer },
): Promise<Agreement> {
  const mine = { step: replica.step, hash: replica.hash };
  options.server?.open(view, mine);
  const hellos = await exchangeHellos(messenger, selfId, view.members, view.epoch, mine, signal, (from, h) => options.server?.heard(from, h));
  const refused = [...hellos].filter(([, h]) => h.step > options.lastStep).map(([id, h]) => new PeerInputError(`hello from ${id.slice(0, 8)} at step ${h.step}, past the run's ${options.lastStep}`, id));
  const candidates = new Map([...hellos].filter(([id]) => !refused.some((e) => e.suspect === id)));
  for (;;) {
    const source = chooseSource(view.members, candidates);
    const best = candidates.get(source)!;
    if (best.step === replica.step && best.hash === replica.hash) return { adopted: null, refused };
    const began = Date.now();
    try {
      const { snapshot, bytes } = await requestState(messenger, source, view.epoch, best, replica.sizes, signal);
      try {
        replica.adopt(snapshot);
      } catch (err) {
        throw new PeerInputError(`state from ${source.slice(0, 8)} not adopted: ${(err as Error).message}`, source);
      }
      return { adopted: { source, step: snapshot.step, bytes, ms: Date.now() - began }, refused };
    } catch (err) {
      if ((err as Error).name !== 'PeerInputError') throw err;
      refused.push(err as PeerInputError);
      candidates.delete(source);
    }
  }
}
