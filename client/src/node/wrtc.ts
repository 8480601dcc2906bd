/**
 * WebRTC for simple-peer in Node, from `node-datachannel`'s W3C polyfill (libdatachannel, shipped
 * as a binary inside the npm package). simple-peer rewrites `offer.sdp` before it sets the local
 * description, but the polyfill hands out descriptions whose `sdp` cannot be assigned: this thin
 * subclass returns plain `{ type, sdp }` objects instead (and round trips in seconds, below). Everything else is the polyfill as is,
 * including the `bufferedamountlow` event that the transport's backpressure waits on.
 */
import { createRequire } from 'node:module';
import { cleanup as cleanupNodeDataChannel } from 'node-datachannel';
import {
  RTCIceCandidate,
  RTCPeerConnection as PolyfillPeerConnection,
  RTCSessionDescription,
} from 'node-datachannel/polyfill';

class PeerConnection extends PolyfillPeerConnection {
  override async createOffer(): Promise<RTCSessionDescriptionInit> {
    const offer = await super.createOffer();
    return { type: offer.type, sdp: offer.sdp ?? '' };
  }

  override async setLocalDescription(description: RTCSessionDescriptionInit): Promise<void> {
    // libdatachannel made and set its offer on its own when the data channel was created; setting
    // it again would start a second negotiation while the answer may already be on its way.
    if (description.type === 'offer' && this.signalingState === 'have-local-offer') return;
    return super.setLocalDescription(description);
  }

  /**
   * The polyfill reports libdatachannel's round-trip time in milliseconds where the standard has
   * seconds (`currentRoundTripTime`, `totalRoundTripTime`): given back in seconds, as in a browser.
   */
  override async getStats(): Promise<RTCStatsReport> {
    const report = await super.getStats();
    const fixed = new Map<string, unknown>();
    report.forEach((entry: Record<string, unknown>, id: string) => {
      if (entry.type !== 'candidate-pair') return void fixed.set(id, entry);
      const seconds = (ms: unknown): unknown => (typeof ms === 'number' ? ms / 1000 : ms);
      fixed.set(id, { ...entry, currentRoundTripTime: seconds(entry.currentRoundTripTime), totalRoundTripTime: seconds(entry.totalRoundTripTime) });
    });
    return fixed as unknown as RTCStatsReport;
  }

  override async createAnswer(): Promise<RTCSessionDescriptionInit> {
    const answer = await super.createAnswer();
    return { type: answer.type, sdp: answer.sdp ?? '' };
  }
}

/** simple-peer's `wrtc` option. */
export const nodeWrtc = {
  RTCPeerConnection: PeerConnection,
  RTCSessionDescription,
  RTCIceCandidate,
};

export const WRTC_IMPLEMENTATIONS = ['node-datachannel', 'roamhq'] as const;
export type WrtcName = (typeof WRTC_IMPLEMENTATIONS)[number];

/**
 * simple-peer's `wrtc` option from `node-datachannel` (libdatachannel) or `@roamhq/wrtc`
 * (Chromium's libwebrtc, built for Node). The latter has no `bufferedamountlow` event.
 */
export function loadWrtc(name: WrtcName): unknown {
  if (name === 'node-datachannel') return nodeWrtc;
  return createRequire(import.meta.url)('@roamhq/wrtc') as unknown;
}

/**
 * Ends what the implementation keeps running on its own once every connection is closed:
 * libdatachannel's threads would otherwise keep the process alive. Call it last: no connection
 * of that implementation may be opened afterwards.
 */
export function releaseWrtc(name: WrtcName): void {
  if (name === 'node-datachannel') cleanupNodeDataChannel();
}
