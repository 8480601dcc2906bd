/**
 * The outer optimizer of `sync=local` (DiLoCo, Douillard et al. 2023): SGD with Nesterov momentum
 * applied to the averaged pseudo-gradient (start weights minus local weights). It takes the place
 * of the room's optimizer in the replica, so its state is shared, identical on every member, and
 * travels in the snapshot like the optimizer state of `sync=step`.
 *
 *   v = mu v + d;  w = w - lr (d + mu v)
 *
 * (the Nesterov form of PyTorch's SGD, as DiLoCo uses it; lr 0.7, mu 0.9 there).
 */
import { WireFormatError } from '../../errors.ts';
import type { Optimizer } from '../optimizer.ts';

export class NesterovSgd implements Optimizer {
  private velocity: Float32Array[];
  private t = 0;

  constructor(sizes: number[], private readonly lr: number, private readonly momentum: number) {
    this.velocity = sizes.map((n) => new Float32Array(n));
  }

  apply(weights: Float32Array[], update: Float32Array[], lrScale = 1): void {
    const lr = this.lr * lrScale;
    const mu = this.momentum;
    for (let l = 0; l < weights.length; l++) {
      const w = weights[l]!;
      const d = update[l]!;
      const v = this.velocity[l]!;
      for (let i = 0; i < w.length; i++) {
        v[i] = mu * v[i]! + d[i]!;
        w[i] = w[i]! - lr * (d[i]! + mu * v[i]!);
      }
    }
    this.t++;
  }

  exportState(): { t: number; buffers: Float32Array[] } {
    return { t: this.t, buffers: this.velocity.map((v) => v.slice()) };
  }

  importState(state: { t: number; buffers: Float32Array[] }): void {
    if (state.buffers.length !== this.velocity.length || state.buffers.some((b, i) => b.length !== this.velocity[i]!.length)) {
      throw new WireFormatError('outer optimizer state does not match the model');
    }
    this.t = state.t;
    this.velocity = state.buffers.map((b) => b.slice());
  }
}
