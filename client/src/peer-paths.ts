/**
 * Which network path each peer connection took, and its round trip: read every few seconds from
 * the connection's WebRTC stats (the selected candidate pair and its two candidates). Across the
 * internet a pair behind NATs that cannot reach each other talks through a TURN relay; the member
 * shows that, since a relay costs bandwidth and time.
 */
import { deadline } from '@tabswarm/shared';
import type { PeerPath } from '@tabswarm/shared/protocol';

/** How often the paths are measured. */
export const PATH_REFRESH_MS = 3_000;
/** A stats call that has not answered by then is given up (the last measurement stays). */
const STATS_TIMEOUT_MS = 2_000;

/** One entry of an RTCStatsReport, as a plain object (`type`, `id` and the type's fields). */
export type StatsEntry = Record<string, unknown>;

export interface PathSource {
  connectedPeers(): string[];
  /** The stats of the connection to `peerId`; [] when there is none. */
  stats(peerId: string, signal: AbortSignal): Promise<StatsEntry[]>;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Not measured yet. */
export function unmeasured(peerId: string): PeerPath {
  return { peerId, path: 'unknown', localCandidateType: null, remoteCandidateType: null, protocol: null, roundTripMs: null, measuredAt: null };
}

/**
 * The path in `stats`: the pair the transport selected (`selectedCandidatePairId`, the standard),
 * else one marked `selected` (Firefox), else the nominated pair that succeeded (what
 * node-datachannel reports); direct or relay by its candidates' types.
 */
export function selectedPath(peerId: string, stats: readonly StatsEntry[], now: number): PeerPath {
  const byId = new Map(stats.map((entry) => [entry.id, entry]));
  const pairs = stats.filter((entry) => entry.type === 'candidate-pair');
  const chosen = stats.filter((entry) => entry.type === 'transport').map((t) => byId.get(t.selectedCandidatePairId)).find((pair) => pair?.type === 'candidate-pair');
  const pair = chosen ?? pairs.find((p) => p.selected === true) ?? pairs.find((p) => p.nominated === true && p.state === 'succeeded');
  if (!pair) return { ...unmeasured(peerId), measuredAt: now };
  const local = byId.get(pair.localCandidateId);
  const remote = byId.get(pair.remoteCandidateId);
  const localType = text(local?.candidateType);
  const remoteType = text(remote?.candidateType);
  const known = localType !== null || remoteType !== null;
  const rtt = pair.currentRoundTripTime;
  return {
    peerId,
    path: !known ? 'unknown' : localType === 'relay' || remoteType === 'relay' ? 'relay' : 'direct',
    localCandidateType: localType,
    remoteCandidateType: remoteType,
    protocol: text(local?.relayProtocol) ?? text(local?.protocol),
    // The standard gives seconds.
    roundTripMs: typeof rtt === 'number' && Number.isFinite(rtt) ? rtt * 1000 : null,
    measuredAt: now,
  };
}

/** Measures the paths of `source`'s connected peers every PATH_REFRESH_MS until closed. */
export class PathMonitor {
  private readonly latest = new Map<string, PeerPath>();
  private readonly timer: ReturnType<typeof setInterval>;
  private measuring = false;
  private closed = false;

  constructor(private readonly source: PathSource, private readonly onChange: () => void, intervalMs = PATH_REFRESH_MS) {
    this.timer = setInterval(() => void this.measure(), intervalMs);
  }

  /** The path to each of `peers` (the connected ones), unmeasured where nothing is known yet. */
  paths(peers: readonly string[]): PeerPath[] {
    return peers.map((id) => this.latest.get(id) ?? unmeasured(id));
  }

  /** Measures every connected peer once (skipped while a measurement is under way). */
  async measure(): Promise<void> {
    if (this.measuring || this.closed) return;
    this.measuring = true;
    try {
      const peers = this.source.connectedPeers();
      for (const id of this.latest.keys()) if (!peers.includes(id)) this.latest.delete(id);
      for (const id of peers) {
        const limit = deadline(STATS_TIMEOUT_MS, `stats of the connection to ${id}`);
        try {
          const stats = await this.source.stats(id, limit.signal);
          if (this.closed) return;
          this.latest.set(id, selectedPath(id, stats, Date.now()));
        } catch {
          // A connection closing meanwhile, or a slow answer: keep the last measurement.
        } finally {
          limit.clear();
        }
      }
      this.onChange();
    } finally {
      this.measuring = false;
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }
}
