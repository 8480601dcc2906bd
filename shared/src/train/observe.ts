/**
 * The observer's side of a state transfer: a peer that follows a room without training asks a
 * member for its state and checks it as a late joiner would (state-sync.ts). The member answers
 * with a hello (its step and weights hash) and the snapshot (state-serve.ts); the snapshot is
 * taken only if it is the state announced, within the run's steps, of this model's shapes, finite
 * throughout, and, when the room's finished run is known, that run's step and hash.
 */
import { PeerInputError, TimeoutError } from '../errors.ts';
import { MessageKind } from '../wire/frame.ts';
import type { MessageHeader, Messenger } from '../wire/messenger.ts';
import { hashArrays } from './hash.ts';
import { decodeSnapshot, snapshotFault, type Snapshot } from './snapshot.ts';
import { parseHello, type Hello } from './state-sync.ts';

export interface ObservedState {
  source: string;
  snapshot: Snapshot;
  hash: string;
  /** Size of the snapshot on the wire. */
  bytes: number;
  ms: number;
}

export interface ObserveOptions {
  /** The room's membership epoch as the server last said (members drop requests of past epochs). */
  epoch: number;
  /** Length of each weight array of the room's model. */
  sizes: readonly number[];
  /** The run's last step: a state past it is refused. */
  lastStep: number;
  /** The state the room finished with, if it did: nothing else is taken. */
  expected?: Hello;
  signal: AbortSignal;
}

/**
 * Asks `source` for its state and waits (by the signal) for its hello and snapshot. Throws
 * PeerInputError naming `source` unless the snapshot passes every check above; a timeout names it too.
 */
export async function observeState(messenger: Messenger, source: string, options: ObserveOptions): Promise<ObservedState> {
  const began = Date.now();
  const header: MessageHeader = { kind: MessageKind.StateRequest, codec: 0, tag: 0, epoch: options.epoch, step: 0, seq: 0 };
  const blame = (why: string): PeerInputError => new PeerInputError(`state from ${source.slice(0, 8)} refused: ${why}`, source);
  const receive = (kind: MessageKind): Promise<Uint8Array> => messenger.receive(source, { ...header, kind }, options.signal).then((m) => m.payload, (err: unknown) => {
    throw (err as Error).name === 'TimeoutError' ? new TimeoutError(`${(err as Error).message} (no state from ${source.slice(0, 8)})`, source) : err;
  });
  // Both waits first: the answer may arrive before the send resolves.
  const helloBytes = receive(MessageKind.Hello);
  const stateBytes = receive(MessageKind.State);
  helloBytes.catch(() => undefined);
  stateBytes.catch(() => undefined);
  await messenger.send(source, header, new Uint8Array(0));
  let hello: Hello;
  try {
    hello = parseHello(await helloBytes);
  } catch (err) {
    if ((err as Error).name !== 'WireFormatError') throw err;
    throw blame((err as Error).message);
  }
  if (hello.step > options.lastStep) throw blame(`step ${hello.step} is past the run's ${options.lastStep}`);
  const expected = options.expected;
  if (expected && (hello.step !== expected.step || hello.hash !== expected.hash)) {
    throw blame(`it holds step ${hello.step} (${hello.hash}), the room finished at step ${expected.step} (${expected.hash})`);
  }
  const payload = await stateBytes;
  let snapshot: Snapshot;
  try {
    snapshot = decodeSnapshot(payload);
  } catch (err) {
    throw blame((err as Error).message);
  }
  const fault = snapshotFault(snapshot, hello, options.sizes, hashArrays);
  if (fault) throw blame(fault);
  return { source, snapshot, hash: hello.hash, bytes: payload.length, ms: Date.now() - began };
}
