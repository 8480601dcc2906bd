/**
 * The narrow seam between tabswarm and a network: frames to and from connected peers.
 * Implementations: the in-memory transport (Node tests, simulations) and the WebRTC transport
 * (simple-peer, in the client). Chunking, reassembly and byte counting live above, in Messenger.
 */
export interface Transport {
  readonly selfId: string;
  /**
   * Sends one frame (at most MAX_FRAME_BYTES) to a connected peer. Resolves once the channel has
   * room again (backpressure); rejects with PeerLeftError if the peer is not connected.
   */
  send(peerId: string, frame: Uint8Array): Promise<void>;
  /** Called for every frame that arrives; returns an unsubscribe function. */
  onFrame(handler: (from: string, frame: Uint8Array) => void): () => void;
  /** Called when the channel to a peer closes or fails. */
  onPeerClosed(handler: (peerId: string) => void): () => void;
  /** Peers with an open channel right now. */
  connectedPeers(): string[];
}
