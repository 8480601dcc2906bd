/**
 * How one step's time and traffic are measured into its StepRecord. The phases: compute (the
 * local gradient, and with staleness 1 the next one), compress (the aggregator's own work: the
 * exchange minus the waits inside collectives and minus the prefetch), communicate (those waits),
 * apply (optimizer, hashing, evaluation; the replica check's own work on its steps). The replica
 * check's wait counts as communicate, so a step's total spans from its start to its record.
 */
import type { StepRecord } from '../protocol/status.ts';
import type { TrafficStats } from '../wire/messenger.ts';

export class StepMeter {
  private readonly began = performance.now();
  private readonly sentBefore: number;
  private readonly payloadBefore: number;
  private readonly receivedBefore: number;
  private exchangeBegan = 0;
  private exchangeEnded = 0;

  /** Starts the step's clock and notes the traffic so far. */
  constructor(private readonly stats: Readonly<TrafficStats>) {
    this.sentBefore = stats.bytesSent;
    this.payloadBefore = stats.payloadBytesSent;
    this.receivedBefore = stats.bytesReceived;
  }

  /** The aggregator starts: the local gradient is done. */
  exchangeStarts(): void {
    this.exchangeBegan = performance.now();
  }

  /** The aggregator's update is in: what follows is applying it. */
  exchangeEnds(): void {
    this.exchangeEnded = performance.now();
  }

  /**
   * The step's record, at its end. `computeMs` is the local gradient's time, `prefetchMs` that of
   * the next step's gradient computed during the exchange, `waitedMs` the time inside the step's
   * collectives, `checkMs` that inside the replica check after it.
   */
  record(
    fields: Pick<StepRecord, 'step' | 'epoch' | 'peers' | 'loss' | 'testAccuracy' | 'weightsHash'>,
    times: { computeMs: number; prefetchMs: number; waitedMs: number; checkMs?: number },
  ): StepRecord {
    const ended = performance.now();
    return {
      step: fields.step,
      epoch: fields.epoch,
      peers: fields.peers,
      loss: fields.loss,
      ...(fields.testAccuracy !== undefined ? { testAccuracy: fields.testAccuracy } : {}),
      bytesSent: this.stats.bytesSent - this.sentBefore,
      payloadBytesSent: this.stats.payloadBytesSent - this.payloadBefore,
      bytesReceived: this.stats.bytesReceived - this.receivedBefore,
      weightsHash: fields.weightsHash,
      ms: {
        compute: times.computeMs + times.prefetchMs,
        // With staleness 1 the prefetch may run inside a collective's wait: the split is approximate.
        compress: Math.max(0, this.exchangeEnded - this.exchangeBegan - times.waitedMs - times.prefetchMs),
        communicate: times.waitedMs + (times.checkMs ?? 0),
        apply: ended - this.exchangeEnded - (times.checkMs ?? 0),
        total: ended - this.began,
      },
      time: Date.now(),
    };
  }
}
