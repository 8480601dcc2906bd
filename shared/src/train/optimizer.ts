/**
 * Optimizers on plain Float32Arrays, one per layer. They run in deterministic TypeScript, not on
 * the GPU: every replica applies the same averaged update to the same weights and must get the
 * same bits, whatever backend computed its local gradient.
 */
import type { RunConfig } from './config.ts';

export interface Optimizer {
  /** Applies `update` (the averaged gradient) to `weights` in place. */
  apply(weights: Float32Array[], update: Float32Array[], lrScale?: number): void;
  /** The optimizer's state as arrays (for state transfer to a late joiner). */
  exportState(): { t: number; buffers: Float32Array[] };
  importState(state: { t: number; buffers: Float32Array[] }): void;
}

/** SGD with heavy-ball momentum: v = mu v + g; w = w - lr v. */
export class SgdMomentum implements Optimizer {
  private velocity: Float32Array[];
  private t = 0;

  constructor(sizes: number[], private readonly lr: number, private readonly momentum: number) {
    this.velocity = sizes.map((n) => new Float32Array(n));
  }

  apply(weights: Float32Array[], update: Float32Array[], lrScale = 1): void {
    const lr = this.lr * lrScale;
    for (let l = 0; l < weights.length; l++) {
      const w = weights[l]!;
      const g = update[l]!;
      const v = this.velocity[l]!;
      for (let i = 0; i < w.length; i++) {
        v[i] = this.momentum * v[i]! + g[i]!;
        w[i] = w[i]! - lr * v[i]!;
      }
    }
    this.t++;
  }

  exportState(): { t: number; buffers: Float32Array[] } {
    return { t: this.t, buffers: this.velocity.map((v) => v.slice()) };
  }

  importState(state: { t: number; buffers: Float32Array[] }): void {
    checkShapes(this.velocity, state.buffers);
    this.t = state.t;
    this.velocity = state.buffers.map((b) => b.slice());
  }
}

/** Adam (Kingma & Ba 2015) with bias correction. */
export class Adam implements Optimizer {
  private m: Float32Array[];
  private v: Float32Array[];
  private t = 0;

  constructor(
    sizes: number[],
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.m = sizes.map((n) => new Float32Array(n));
    this.v = sizes.map((n) => new Float32Array(n));
  }

  apply(weights: Float32Array[], update: Float32Array[], lrScale = 1): void {
    this.t++;
    const { beta1, beta2, epsilon } = this;
    const stepSize = (this.lr * lrScale * Math.sqrt(1 - beta2 ** this.t)) / (1 - beta1 ** this.t);
    for (let l = 0; l < weights.length; l++) {
      const w = weights[l]!;
      const g = update[l]!;
      const m = this.m[l]!;
      const v = this.v[l]!;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        m[i] = beta1 * m[i]! + (1 - beta1) * gi;
        v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
        w[i] = w[i]! - (stepSize * m[i]!) / (Math.sqrt(v[i]!) + epsilon);
      }
    }
  }

  exportState(): { t: number; buffers: Float32Array[] } {
    return { t: this.t, buffers: [...this.m, ...this.v].map((b) => b.slice()) };
  }

  importState(state: { t: number; buffers: Float32Array[] }): void {
    const half = state.buffers.length / 2;
    checkShapes(this.m, state.buffers.slice(0, half));
    checkShapes(this.v, state.buffers.slice(half));
    this.t = state.t;
    this.m = state.buffers.slice(0, half).map((b) => b.slice());
    this.v = state.buffers.slice(half).map((b) => b.slice());
  }
}

function checkShapes(own: Float32Array[], incoming: Float32Array[]): void {
  if (own.length !== incoming.length || own.some((b, i) => b.length !== incoming[i]!.length)) {
    throw new RangeError('optimizer state does not match the model');
  }
}

export function createOptimizer(config: Pick<RunConfig, 'optimizer' | 'lr' | 'momentum'>, sizes: number[]): Optimizer {
  return config.optimizer === 'adam' ? new Adam(sizes, config.lr) : new SgdMomentum(sizes, config.lr, config.momentum);
}
