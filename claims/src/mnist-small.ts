/**
 * MNIST at 7 x 7 (4 x 4 average pooling): the project's MLP on it has 49 x 256 and 256 x 10
 * kernels, small enough that 8 simulated workers step in milliseconds on two cores, yet its
 * gradients are real ones, with the low-rank structure the low-rank compressors rely on.
 */
import { loadMnistFromFs } from '@tabswarm/client/mnist-fs';
import { gather, hold, Rng, subset, type Dataset, type Examples } from '@tabswarm/shared';

const POOL = 4;

function pool(data: Dataset): Dataset {
  const [h = 0, w = 0] = data.shape;
  const oh = h / POOL;
  const ow = w / POOL;
  const images = new Float32Array(data.count * oh * ow);
  for (let e = 0; e < data.count; e++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let s = 0;
        for (let dy = 0; dy < POOL; dy++) for (let dx = 0; dx < POOL; dx++) s += data.images[e * h * w + (y * POOL + dy) * w + x * POOL + dx]!;
        images[e * oh * ow + y * ow + x] = s / (POOL * POOL);
      }
    }
  }
  return { images, labels: data.labels, count: data.count, shape: [oh, ow, 1], classes: data.classes };
}

export interface SmallMnist {
  train: Dataset;
  /** A fixed subset of the training set, for the training loss curves. */
  lossSet: Dataset;
  test: Dataset;
}

export async function loadSmallMnist(trainCount: number, testCount: number): Promise<SmallMnist> {
  const { train, test } = await loadMnistFromFs();
  // The files are read by range: only the picked examples are held, then turned into floats.
  const pick = async (data: Examples, count: number, purpose: string): Promise<Dataset> => {
    const indices = Rng.derive(1, purpose).sample(data.count, count);
    await hold(data, indices, AbortSignal.timeout(120_000));
    return gather(data, indices);
  };
  const smallTrain = pool(await pick(train, trainCount, 'claims-train'));
  return {
    train: smallTrain,
    lossSet: subset(smallTrain, Rng.derive(2, 'claims-loss').sample(smallTrain.count, Math.min(500, smallTrain.count))),
    test: pool(await pick(test, testCount, 'claims-test')),
  };
}
