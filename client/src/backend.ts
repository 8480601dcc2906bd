/**
 * Picks the tfjs backend: WebGL by default (the GPU; without one, Chromium's software SwiftShader),
 * `?backend=wasm|cpu` to override. A backend that fails to start falls back to the next one, and
 * the fallback is reported with its reason: never silent.
 */
import * as tf from '@tensorflow/tfjs';

export const BACKENDS = ['webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendChoice {
  requested: BackendName;
  /** The backend really in use (`tf.getBackend()`). */
  active: string;
  /** Why the requested backend is not the active one, if it is not. */
  fallbackReason: string | null;
}

async function start(name: BackendName): Promise<void> {
  if (name === 'wasm') {
    const wasm = await import('./wasm-backend.ts');
    wasm.configureWasmPaths();
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
  if (tf.getBackend() !== name) throw new Error(`tfjs is running ${tf.getBackend()}, not ${name}`);
}

/**
 * A backend that cannot train the room's model, with the reason. The known case: tfjs 4.22's wasm
 * backend has no Conv2DBackpropFilter kernel, so it cannot train the cnn (dense models train on it).
 */
export interface BackendExclusion {
  name: string;
  reason: string;
}

export async function selectBackend(requested: BackendName, exclude?: BackendExclusion): Promise<BackendChoice> {
  const reasons: string[] = exclude ? [`${exclude.name} unavailable: ${exclude.reason}`] : [];
  for (const name of [requested, ...BACKENDS.filter((b) => b !== requested)]) {
    if (name === exclude?.name) continue;
    try {
      await start(name);
      return { requested, active: tf.getBackend(), fallbackReason: reasons.length ? reasons.join('; ') : null };
    } catch (err) {
      reasons.push(`${name} unavailable: ${(err as Error).message}`);
    }
  }
  throw new Error(`no tfjs backend could start: ${reasons.join('; ')}`);
}

export function parseBackend(value: string | null): BackendName {
  if (value === null) return 'webgl';
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`backend must be one of ${BACKENDS.join('|')}, got ${JSON.stringify(value)}`);
}
