/**
 * The trained model in TensorFlow.js's own Layers format (`model.json` + one weights file), which
 * `tf.loadLayersModel` loads. The built-in models train as plain tfjs variables
 * (shared/src/model/model.ts); here each becomes the equivalent Sequential topology, whose
 * weights map one to one, in order and layout, onto the trained arrays:
 *
 * - mlp: Flatten -> Dense(256, relu) -> Dense(classes). Dense kernels are [in, out], as ours.
 * - cnn: Conv2D(8, 3x3, valid, relu) -> MaxPooling2D(2) -> Conv2D(16, ...) -> MaxPooling2D(2)
 *   -> Flatten -> Dense(classes). Conv kernels are [h, w, in, out] and everything is channels-last,
 *   so Flatten orders values as our reshape does.
 *
 * The last layer has no activation: the model outputs logits, as training computed them (argmax
 * is the class; apply softmax for probabilities). One place for the export, with a small interface:
 * a task whose model is a LayersModel (a served model, `LayersTask`) hands in a fresh copy of it
 * instead of a built-in spec.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelExportError, type ModelName } from '@tabswarm/shared/protocol';

/** What the export needs to know of a built-in model. */
export interface ModelSpec {
  name: ModelName;
  /** [height, width, channels]. */
  inputShape: [number, number, number];
  classes: number;
}

/** A task that can build its model again as a tfjs LayersModel (served-model.ts): its export is that model. */
export interface LayersTask {
  /** A fresh model, which the export disposes. */
  layersModel(): tf.LayersModel;
}

export function isLayersTask(task: object): task is LayersTask {
  return typeof (task as Partial<LayersTask>).layersModel === 'function';
}

/** `model.json`'s contents (topology + weights manifest) and the weights file it names. */
export interface LayersFiles {
  /** The JSON object to write as `<base>.json`. */
  modelJson: { modelTopology: object; weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>; format: string; generatedBy: string; convertedBy: null };
  weightData: ArrayBuffer;
  /** The weights file's name, as the manifest names it. */
  weightsPath: string;
}

/** The Sequential topology of `spec`, its layers in the order of our parameters. */
export function layersModelOf(spec: ModelSpec): tf.Sequential {
  const model = tf.sequential();
  const inputShape = spec.inputShape;
  if (spec.name === 'mlp') {
    model.add(tf.layers.flatten({ inputShape, name: 'flatten' }));
    model.add(tf.layers.dense({ units: 256, activation: 'relu', name: 'dense1' }));
    model.add(tf.layers.dense({ units: spec.classes, name: 'dense2' }));
  } else {
    model.add(tf.layers.conv2d({ inputShape, filters: 8, kernelSize: 3, padding: 'valid', activation: 'relu', name: 'conv1' }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: 'pool1' }));
    model.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'valid', activation: 'relu', name: 'conv2' }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: 'pool2' }));
    model.add(tf.layers.flatten({ name: 'flatten' }));
    model.add(tf.layers.dense({ units: spec.classes, name: 'dense' }));
  }
  return model;
}

/**
 * `spec` (a built-in model, or a LayersModel, which this disposes) with `weights` (one array per
 * parameter, in the model's order) as Layers artifacts. Throws ModelExportError if the weights do
 * not fit the topology (count or size).
 */
export async function exportLayersModel(spec: ModelSpec | tf.LayersModel, weights: readonly Float32Array[], baseName = 'tabswarm-model'): Promise<LayersFiles> {
  const model = spec instanceof tf.LayersModel ? spec : layersModelOf(spec);
  try {
    const shapes = model.weights.map((w) => w.shape as number[]);
    if (shapes.length !== weights.length) throw new ModelExportError(`${spec.name} has ${shapes.length} weight arrays, got ${weights.length}`);
    const tensors = shapes.map((shape, i) => {
      const size = shape.reduce((a, b) => a * b, 1);
      if (weights[i]!.length !== size) throw new ModelExportError(`weight ${i} of ${spec.name} has ${size} values, got ${weights[i]!.length}`);
      return tf.tensor(weights[i]!, shape);
    });
    model.setWeights(tensors);
    tf.dispose(tensors);
    const weightsPath = `${baseName}.weights.bin`;
    let files: LayersFiles | undefined;
    await model.save(tf.io.withSaveHandler((artifacts) => {
      files = {
        modelJson: {
          modelTopology: artifacts.modelTopology as object,
          weightsManifest: [{ paths: [`./${weightsPath}`], weights: artifacts.weightSpecs ?? [] }],
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
          convertedBy: null,
        },
        weightData: artifacts.weightData as ArrayBuffer,
        weightsPath,
      };
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    }));
    return files!;
  } finally {
    model.dispose();
  }
}

/** The exported files as tfjs's in-memory IO handler (tests, tools): `tf.loadLayersModel(inMemory(files))`. */
export function inMemory(files: LayersFiles): tf.io.IOHandler {
  return tf.io.fromMemory({ modelTopology: files.modelJson.modelTopology, weightSpecs: files.modelJson.weightsManifest[0]!.weights, weightData: files.weightData });
}
