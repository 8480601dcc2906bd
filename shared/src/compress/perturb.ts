/**
 * Shared-seed Gaussian perturbation of the update (docs/ALGORITHMS.md, Perturbation): N(0, std^2) noise
 * drawn per (seed, step, layer), so every replica adds the same noise and stays identical.
 * Only the returned update is perturbed; the inner aggregator's state is not.
 */
import type { Collective } from '../collective/collective.ts';
import { Rng } from '../rng.ts';
import type { CollectiveBytes, GradientAggregator } from './types.ts';

export class PerturbedAggregator implements GradientAggregator {
  readonly name: string;
  readonly codecId: number;

  constructor(
    private readonly inner: GradientAggregator,
    private readonly std: number,
    private readonly seed: number,
  ) {
    if (!(std >= 0 && Number.isFinite(std))) throw new RangeError(`perturbation std must be finite and >= 0, got ${std}`);
    this.name = `${inner.name}+perturb`;
    this.codecId = inner.codecId;
  }

  async aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    const update = await this.inner.aggregate(grads, collective);
    return update.map((u, l) => {
      const rng = Rng.derive(this.seed, collective.step, l, 'perturb');
      return Float32Array.from(u, (v) => v + this.std * rng.gaussian());
    });
  }

  bytesPerStep(peers: number): number {
    return this.inner.bytesPerStep(peers);
  }

  messageBytes(step: number): CollectiveBytes {
    return this.inner.messageBytes(step);
  }

  exportSharedState(): Uint8Array {
    return this.inner.exportSharedState();
  }

  importSharedState(bytes: Uint8Array): void {
    this.inner.importSharedState(bytes);
  }

  restart(): void {
    this.inner.restart();
  }

  dispose(): void {
    this.inner.dispose();
  }
}
