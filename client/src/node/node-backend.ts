/**
 * tfjs in Node: the pure-JS `cpu` backend or `wasm` (no native binary either). A backend that
 * cannot train the room's model (`exclude`) gives way to cpu, and the fallback says why: a Node
 * worker never falls back silently.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendChoice, BackendExclusion } from '../backend.ts';
import type { NodeBackend } from './args.ts';

export async function startNodeBackend(requested: NodeBackend, exclude?: BackendExclusion): Promise<BackendChoice> {
  const name: NodeBackend = exclude?.name === requested ? 'cpu' : requested;
  // Silences tfjs's banner advising tfjs-node, which cannot install here (it downloads a binary);
  // PROD changes nothing else than tfjs's own log lines.
  tf.enableProdMode();
  // In Node the wasm backend reads its .wasm files from its own package folder.
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
  if (tf.getBackend() !== name) throw new Error(`tfjs is running ${tf.getBackend()}, not ${name}`);
  return { requested, active: tf.getBackend(), fallbackReason: name === requested ? null : `${requested} unavailable: ${exclude!.reason}` };
}
