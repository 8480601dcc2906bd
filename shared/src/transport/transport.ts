/**
 * The narrow seam between tabswarm and a network: frames to and from connected peers.
 * Implementations: the in-memory transport (Node tests, simulations), ShapedTransport (a slower,
 * farther or lossier link over any other) and the WebRTC transport (simple-peer, in the client).
 * Chunking, reassembly and byte counting live above, in Messenger. Every implementation passes
 * the same contract suite (`transportContract` of `@tabswarm/shared/testing`).
 */
import { WireFormatError } from '../errors.ts';
import { MAX_FRAME_BYTES } from '../wire/frame.ts';

export interface Transport {
  readonly selfId: string;
  /**
   * Sends one frame to a connected peer. Resolves once the channel has room again
   * (backpressure). Rejects with WireFormatError if the frame is over MAX_FRAME_BYTES, and with
   * PeerLeftError if the peer is not connected or this transport is closed.
   */
  send(peerId: string, frame: Uint8Array): Promise<void>;
  /**
   * Called for every frame that arrives; returns an unsubscribe function. The frame is the
   * receiver's to keep: the transport never writes to it again (the messenger keeps views of it).
   */
  onFrame(handler: (from: string, frame: Uint8Array) => void): () => void;
  /** Called when the channel to a peer closes or fails (also for every peer when this transport closes). */
  onPeerClosed(handler: (peerId: string) => void): () => void;
  /** Peers with an open channel right now. */
  connectedPeers(): string[];
  /** Closes every channel; the peers see them close. Idempotent; sends afterwards reject. */
  close(): void;
}

/** The one check of the frame limit every transport makes, so all reject alike. */
export function oversizeFrameError(frame: Uint8Array): WireFormatError | undefined {
  if (frame.length <= MAX_FRAME_BYTES) return undefined;
  return new WireFormatError(`frame of ${frame.length} bytes is over the limit of ${MAX_FRAME_BYTES}`);
}
