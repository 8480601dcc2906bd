/**
 * A model file: TensorFlow.js's Layers format, `model.json` (a LayersModel topology, optionally
 * with a weights manifest) and the weights files it names, as an organiser gives a room its own
 * model. Checked here, without tfjs, before any tab builds it (the server at start or upload): the
 * JSON's shape, every layer's class against those tfjs-layers can build, what replicas could not
 * keep identical, one input and one output, the weights against the manifest and the server's
 * size limits. What only building can tell (a kernel's shape) the tab checks as it builds it.
 *
 * A checked file is served in one normal form (`servedModelJson`): its topology and manifest, the
 * weights as one file, `weights.bin`, in the manifest's order.
 */
import { z } from 'zod';
import { ModelFileError } from '../errors.ts';

/**
 * The layer classes tfjs-layers 4 registers (a test compares this with its registry), less the
 * nested models and the RNN cells (a cell lives inside its RNN layer's config, never as a layer).
 */
export const LAYER_CLASSES: ReadonlySet<string> = new Set([
  'Activation', 'Add', 'AlphaDropout', 'Average', 'AveragePooling1D', 'AveragePooling2D', 'AveragePooling3D',
  'BatchNormalization', 'Bidirectional', 'CategoryEncoding', 'CenterCrop', 'Concatenate', 'Conv1D', 'Conv2D',
  'Conv2DTranspose', 'Conv3D', 'Conv3DTranspose', 'ConvLSTM2D', 'Cropping2D', 'Dense', 'DepthwiseConv2D', 'Dot',
  'Dropout', 'ELU', 'Embedding', 'Flatten', 'GRU', 'GaussianDropout', 'GaussianNoise', 'GlobalAveragePooling1D',
  'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'InputLayer', 'LSTM', 'LayerNormalization',
  'LeakyReLU', 'Masking', 'MaxPooling1D', 'MaxPooling2D', 'MaxPooling3D', 'Maximum', 'Minimum', 'Multiply', 'PReLU',
  'Permute', 'RNN', 'RandomWidth', 'ReLU', 'RepeatVector', 'Rescaling', 'Reshape', 'Resizing', 'SeparableConv2D',
  'SimpleRNN', 'Softmax', 'SpatialDropout1D', 'ThresholdedReLU', 'TimeDistributed', 'UpSampling2D', 'ZeroPadding2D',
]);

/** Layer classes that hold non-trainable weights (moving statistics): no averaged update reaches them. */
const NON_TRAINABLE_CLASSES: ReadonlySet<string> = new Set(['BatchNormalization']);

/** The path a served model's weights have, next to its model.json. */
export const SERVED_WEIGHTS_PATH = 'weights.bin';

export interface ModelFileLimits {
  /** model.json and its weights together. */
  maxBytes: number;
  /** Values in the weights manifest. */
  maxParameters: number;
}

export const DEFAULT_MODEL_FILE_LIMITS: Readonly<ModelFileLimits> = Object.freeze({ maxBytes: 64 * 1024 * 1024, maxParameters: 4_000_000 });

const weightEntry = z.strictObject({
  name: z.string().min(1).max(256),
  shape: z.array(z.int().min(0).max(1 << 30)).max(8),
  dtype: z.literal('float32'),
});
const weightsGroup = z.object({
  paths: z.array(z.string().min(1).max(256)).min(1).max(64),
  weights: z.array(weightEntry).max(4096),
});
const layerSchema = z.looseObject({
  class_name: z.string().max(64),
  config: z.looseObject({ name: z.string().max(256).optional(), trainable: z.boolean().optional() }),
});
const topologySchema = z.looseObject({
  class_name: z.enum(['Sequential', 'Model', 'Functional']),
  config: z.looseObject({
    name: z.string().max(256).optional(),
    layers: z.array(layerSchema).min(1).max(1000),
    input_layers: z.array(z.unknown()).optional(),
    output_layers: z.array(z.unknown()).optional(),
  }),
});
const kerasTopologySchema = z.looseObject({ model_config: topologySchema });
/** model.json as tfjs's `model.save()` writes it, or its converter from Keras (the topology under `model_config`); other keys are kept, unread. */
export const MODEL_FILE_SCHEMA = z.looseObject({
  format: z.literal('layers-model').optional(),
  modelTopology: z.union([topologySchema, kerasTopologySchema]),
  weightsManifest: z.array(weightsGroup).max(64).optional(),
});

export type WeightEntry = z.infer<typeof weightEntry>;

/** A model file that passed every check, its weights (if any) as one buffer in the manifest's order. */
export interface CheckedModelFile {
  /** model.json's `modelTopology`, as given. */
  topology: z.infer<typeof MODEL_FILE_SCHEMA>['modelTopology'];
  /** Every weight of the manifest, in order; empty without weights. */
  weightSpecs: WeightEntry[];
  /** The weights, concatenated (4 bytes per value); null when the file has none. */
  weights: Uint8Array | null;
  layers: number;
  /** Values in the weights, null when the file has none (the tab counts them as it builds). */
  parameters: number | null;
}

/**
 * Checks `modelJson` (model.json's text) and the weights files its manifest names (by path as
 * written there; `./` and folders are ignored, as next to it). Throws ModelFileError naming the
 * first check it fails.
 */
export function checkModelFile(modelJson: string, files: ReadonlyMap<string, Uint8Array>, limits: ModelFileLimits = DEFAULT_MODEL_FILE_LIMITS): CheckedModelFile {
  const jsonBytes = new TextEncoder().encode(modelJson).length;
  if (jsonBytes > limits.maxBytes) throw new ModelFileError(`model.json is ${jsonBytes} bytes, over this server's ${limits.maxBytes}`, 'too-large');
  let json: unknown;
  try {
    json = JSON.parse(modelJson);
  } catch {
    throw new ModelFileError('model.json is not JSON', 'malformed');
  }
  const parsed = MODEL_FILE_SCHEMA.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue && issue.path.length > 0 ? issue.path.join('.') : 'model.json';
    throw new ModelFileError(`${at} ${(issue?.message ?? 'is invalid').slice(0, 120)} (expected tfjs's Layers format: modelTopology and an optional weightsManifest)`, 'malformed');
  }
  const { modelTopology, weightsManifest } = parsed.data;
  const nested = kerasTopologySchema.safeParse(modelTopology);
  const topology = nested.success ? nested.data.model_config : topologySchema.parse(modelTopology);
  const layers = topology.config.layers;
  for (const layer of layers) {
    const what = `layer ${quoteName(layer.config.name ?? '?')} of class ${quoteName(layer.class_name)}`;
    if (!LAYER_CLASSES.has(layer.class_name)) throw new ModelFileError(`${what} is not a layer class tfjs-layers can build`, 'unknown-layer');
    if (NON_TRAINABLE_CLASSES.has(layer.class_name) || layer.config.trainable === false) {
      throw new ModelFileError(`${what} has non-trainable weights, which replicas cannot keep identical; use layers without them`, 'non-trainable');
    }
  }
  if (topology.class_name !== 'Sequential') {
    const inputs = topology.config.input_layers?.length ?? 0;
    const outputs = topology.config.output_layers?.length ?? 0;
    if (inputs !== 1 || outputs !== 1) throw new ModelFileError(`the model has ${inputs} inputs and ${outputs} outputs; a room's model takes one input and gives one output`, 'inputs-outputs');
  }
  const weightSpecs = (weightsManifest ?? []).flatMap((g) => g.weights);
  const parameters = weightSpecs.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  if (parameters > limits.maxParameters) throw new ModelFileError(`the weights hold ${parameters} values, over this server's ${limits.maxParameters}`, 'too-large');
  if (jsonBytes + 4 * parameters > limits.maxBytes) throw new ModelFileError(`model.json and its weights are ${jsonBytes + 4 * parameters} bytes, over this server's ${limits.maxBytes}`, 'too-large');
  checkWeightNames(weightSpecs, new Set(layers.map((l) => l.config.name ?? '')));
  const weights = weightSpecs.length === 0 ? null : concatWeights(weightsManifest ?? [], files);
  return { topology: modelTopology, weightSpecs, weights, layers: layers.length, parameters: weights ? parameters : null };
}

/** The normal form a checked file is served in: its topology, one manifest group, `weights.bin`. */
export function servedModelJson(file: CheckedModelFile): string {
  return JSON.stringify({
    format: 'layers-model',
    modelTopology: file.topology,
    ...(file.weights ? { weightsManifest: [{ paths: [`./${SERVED_WEIGHTS_PATH}`], weights: file.weightSpecs }] } : {}),
  });
}

/** Every weight belongs to a layer of the topology (`layer/kernel`), once. */
function checkWeightNames(specs: readonly WeightEntry[], layerNames: ReadonlySet<string>): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name)) throw new ModelFileError(`the weights manifest names ${quoteName(spec.name)} twice`, 'weights');
    seen.add(spec.name);
    const layer = spec.name.split('/')[0]!;
    if (!layerNames.has(layer)) throw new ModelFileError(`the weight ${quoteName(spec.name)} belongs to no layer of the topology`, 'weights');
  }
}

/** The manifest's groups' files, each group's exactly its weights' size, as one buffer. */
function concatWeights(groups: z.infer<typeof weightsGroup>[], files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const byName = new Map([...files].map(([path, bytes]) => [baseName(path), bytes]));
  const parts: Uint8Array[] = [];
  for (const group of groups) {
    const expected = 4 * group.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
    let size = 0;
    for (const path of group.paths) {
      const bytes = byName.get(baseName(path));
      if (!bytes) throw new ModelFileError(`the weights manifest names the file ${quoteName(path)}, which was not given`, 'weights');
      parts.push(bytes);
      size += bytes.length;
    }
    if (size !== expected) throw new ModelFileError(`the files ${group.paths.map(quoteName).join(', ')} hold ${size} bytes; their weights in the manifest are ${expected}`, 'weights');
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A file's name without its folders (`./a/b.bin` -> `b.bin`): the weights lie next to model.json. */
function baseName(path: string): string {
  return path.split(/[\\/]/).at(-1)!;
}

function quoteName(name: string): string {
  return JSON.stringify(name.slice(0, 64));
}

/** The room key `task` of a room training a served model file: `model-` and 16 hex digits of its content's hash. */
export const SERVED_MODEL_TASK = /^model-[0-9a-f]{16}$/;

/** Where the server serves the model file a room's `task` names (its weights: `weights.bin` next to it). */
export function servedModelUrl(task: string): string {
  return `/models/${task}/model.json`;
}
