import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../rng.ts';
import type { RunConfig } from './config.ts';
import { assignShard, dirichlet } from './shard.ts';

const CLASSES = 10;
/** 6,000 labels, classes of unequal size (400..800), in a seeded order. */
const labels = (() => {
  const list: number[] = [];
  for (let c = 0; c < CLASSES; c++) for (let i = 0; i < 400 + ((c * 47) % 400); i++) list.push(c);
  return Uint8Array.from(new Rng(3).shuffle(list) as number[]);
})();

type ShardConfig = Pick<RunConfig, 'shard' | 'classes' | 'alpha' | 'seed'>;
const base: ShardConfig = { shard: 'iid', classes: 2, alpha: 0.5, seed: 42 };

function allShards(config: ShardConfig, size: number): Int32Array[] {
  return Array.from({ length: size }, (_, r) => assignShard(config, labels, CLASSES, r, size));
}

function classesOf(shard: Int32Array): Set<number> {
  return new Set(Array.from(shard, (i) => labels[i]!));
}

/** Shannon entropy (bits) of the shard's label distribution. */
function labelEntropy(shard: Int32Array): number {
  const counts = new Array<number>(CLASSES).fill(0);
  for (const i of shard) counts[labels[i]!]!++;
  return -counts.reduce((h, n) => (n ? h + (n / shard.length) * Math.log2(n / shard.length) : h), 0);
}

function assertDisjoint(shards: Int32Array[]): Set<number> {
  const seen = new Set<number>();
  for (const shard of shards) {
    for (const i of shard) {
      assert.ok(!seen.has(i), `example ${i} is in two shards`);
      assert.ok(i >= 0 && i < labels.length);
      seen.add(i);
    }
  }
  return seen;
}

describe('shards', () => {
  for (const shard of ['iid', 'label-skew', 'dirichlet'] as const) {
    it(`${shard}: disjoint, covering and non-empty for 1..16 workers`, () => {
      for (let size = 1; size <= 16; size++) {
        const shards = allShards({ ...base, shard }, size);
        const seen = assertDisjoint(shards);
        for (const s of shards) assert.ok(s.length >= 1, `${shard}, ${size} workers: an empty shard`);
        // label-skew covers the data set once the workers hold every class between them.
        if (shard !== 'label-skew' || size * base.classes >= CLASSES) assert.equal(seen.size, labels.length, `${shard}, ${size} workers`);
      }
    });

    it(`${shard}: the same seed gives the same shards, another seed others`, () => {
      // 7 workers: label-skew then splits some classes between two workers, which the seed decides.
      const config = { ...base, shard };
      assert.deepEqual(allShards(config, 7), allShards(config, 7));
      assert.notDeepEqual(allShards({ ...config, seed: 43 }, 7), allShards(config, 7));
    });
  }

  it('label-skew gives each worker exactly `classes` classes, in nearly equal parts', () => {
    for (const classes of [1, 2, 3, 5, 10, 20]) {
      for (const size of [1, 2, 3, 5, 8, 16]) {
        const shards = allShards({ ...base, shard: 'label-skew', classes }, size);
        for (const s of shards) assert.equal(classesOf(s).size, Math.min(classes, CLASSES), `classes=${classes}, ${size} workers`);
      }
    }
    // 5 workers x 2 classes: each class on exactly one worker, so worker r holds classes 2r and 2r+1 whole.
    const shards = allShards({ ...base, shard: 'label-skew', classes: 2 }, 5);
    shards.forEach((s, r) => assert.deepEqual([...classesOf(s)].sort(), [2 * r, 2 * r + 1]));
    // 10 workers x 2 classes: each class on two workers, split evenly between them.
    for (const s of allShards({ ...base, shard: 'label-skew', classes: 2 }, 10)) {
      const perClass = new Map<number, number>();
      for (const i of s) perClass.set(labels[i]!, (perClass.get(labels[i]!) ?? 0) + 1);
      for (const [c, n] of perClass) {
        const classSize = labels.filter((y) => y === c).length;
        assert.ok(Math.abs(n - classSize / 2) <= 1, `class ${c}: ${n} of ${classSize}`);
      }
    }
  });

  it('dirichlet with small alpha is far more skewed than with large alpha', () => {
    const meanEntropy = (alpha: number): number => {
      const shards = allShards({ ...base, shard: 'dirichlet', alpha }, 8);
      return shards.reduce((h, s) => h + labelEntropy(s), 0) / shards.length;
    };
    const skewed = meanEntropy(0.1);
    const mild = meanEntropy(1);
    const flat = meanEntropy(100);
    console.log(`mean label entropy per worker (bits, max ${Math.log2(CLASSES).toFixed(2)}): alpha 0.1 -> ${skewed.toFixed(2)}, 1 -> ${mild.toFixed(2)}, 100 -> ${flat.toFixed(2)}`);
    assert.ok(skewed < mild && mild < flat);
    assert.ok(skewed < 1.8, `alpha 0.1: ${skewed} bits`);
    assert.ok(flat > 3.2, `alpha 100: ${flat} bits`);
  });

  it('dirichlet draws are proportions, and survive tiny alpha without underflow', () => {
    for (const alpha of [0.001, 0.1, 1, 50]) {
      const p = dirichlet(new Rng(9), alpha, 16);
      assert.ok(p.every((x) => x >= 0 && Number.isFinite(x)));
      assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    }
    // Mean of each part is 1/n whatever alpha: check it over many draws.
    const rng = new Rng(11);
    const mean = new Float64Array(4);
    for (let i = 0; i < 4000; i++) dirichlet(rng, 0.5, 4).forEach((x, k) => (mean[k]! += x / 4000));
    for (const m of mean) assert.ok(Math.abs(m - 0.25) < 0.02, `part mean ${m}`);
  });

  it('refuses a rank outside the membership', () => {
    for (const shard of ['iid', 'label-skew', 'dirichlet'] as const) {
      assert.throws(() => assignShard({ ...base, shard }, labels, CLASSES, 3, 3), RangeError);
    }
  });
});
