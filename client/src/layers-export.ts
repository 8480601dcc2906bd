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
 * is the class; apply softmax for probabilities).
 *
 * A task's own model built with fromLayersModel is a LayersModel already: exportTaskModel saves its
 * topology with the room's weights (TrainableModel.layersArtifacts). A task whose model is none has
 * no topology to save: ModelExportError.
 */
import * as tf from '@tensorflow/tfjs';
import { savedArtifacts, type DataShape, type Task } from '@tabswarm/shared';
import { ModelExportError, type ModelName, type RunConfig } from '@tabswarm/shared/protocol';

/** What the export needs to know of a built-in model. */
export interface ModelSpec {
  name: ModelName;
  /** [height, width, channels]. */
  inputShape: [number, number, number];
  classes: number;
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
 * `spec` with `weights` (one array per parameter, in the model's order) as Layers artifacts. Throws
 * ModelExportError if the weights do not fit the topology (count or size).
 */
export async function exportLayersModel(spec: ModelSpec, weights: readonly Float32Array[], baseName = 'tabswarm-model'): Promise<LayersFiles> {
  const model = layersModelOf(spec);
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
    return layersFiles(await savedArtifacts(model), baseName);
  } finally {
    model.dispose();
  }
}

/**
 * The model of `task` (built for `data` and `config`) with `weights` as Layers files. The export
 * builds a model of its own: the one training must not see its weights change under an await.
 */
export async function exportTaskModel(task: Task, data: DataShape, config: RunConfig, weights: readonly Float32Array[], baseName = 'tabswarm-model'): Promise<LayersFiles> {
  const model = task.createModel(data, config);
  try {
    if (!model.layersArtifacts) throw new ModelExportError(`the model of the task ${task.name} is no tfjs LayersModel (fromLayersModel), so it has no Layers topology to export`);
    return layersFiles(await model.layersArtifacts([...weights]), baseName);
  } finally {
    model.dispose();
  }
}

/** Save artifacts as `model.json`'s contents and the weights file it names. */
function layersFiles(artifacts: tf.io.ModelArtifacts, baseName: string): LayersFiles {
  const weightsPath = `${baseName}.weights.bin`;
  return {
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
}

/** The exported files as tfjs's in-memory IO handler (tests, tools): `tf.loadLayersModel(inMemory(files))`. */
export function inMemory(files: LayersFiles): tf.io.IOHandler {
  return tf.io.fromMemory({ modelTopology: files.modelJson.modelTopology, weightSpecs: files.modelJson.weightsManifest[0]!.weights, weightData: files.weightData });
}
