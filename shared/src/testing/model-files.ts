/**
 * A tfjs-layers model as the files `model.save()` writes: model.json's text (with a weights
 * manifest naming one file, or none) and that file's bytes. The model comes in by the one member
 * used (`save`), so this module needs tfjs-core only.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface ModelFiles {
  modelJson: string;
  /** The weights file's name as the manifest names it, and its bytes; absent without weights. */
  weights?: { name: string; bytes: Uint8Array };
}

/** Saves `model` to memory; `withWeights: false` keeps the topology only. */
export async function modelFiles(model: { save(handler: tf.io.IOHandler): Promise<unknown> }, withWeights = true, weightsName = 'net.weights.bin'): Promise<ModelFiles> {
  let files: ModelFiles | undefined;
  await model.save(tf.io.withSaveHandler((artifacts) => {
    const manifest = withWeights ? { weightsManifest: [{ paths: [`./${weightsName}`], weights: artifacts.weightSpecs ?? [] }] } : {};
    files = {
      modelJson: JSON.stringify({ format: 'layers-model', modelTopology: artifacts.modelTopology, ...manifest }),
      ...(withWeights ? { weights: { name: weightsName, bytes: new Uint8Array(artifacts.weightData as ArrayBuffer) } } : {}),
    };
    return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
  }));
  return files!;
}
