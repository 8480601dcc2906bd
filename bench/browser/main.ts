/**
 * The benchmark page: the same core as in Node, on tfjs's webgl backend. Options come from the
 * URL (`?steps=15&simSteps=5&...`); the results go to `window.benchResults`, a failure to
 * `window.benchError`. Progress lines go to the console with a `[bench]` prefix.
 */
import * as tf from '@tensorflow/tfjs';
import { runBench, type BackendResult, type BenchOptions } from '../core.ts';

declare global {
  interface Window {
    benchResults?: BackendResult;
    benchError?: string;
  }
}

const logElement = document.getElementById('log');

function log(line: string): void {
  console.log(`[bench] ${line}`);
  if (logElement) logElement.textContent += `${line}\n`;
}

function numberParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a number, got ${raw}`);
  return value;
}

/** The renderer behind WebGL (SwiftShader on a machine without a GPU), as the driver reports it. */
function webglRenderer(): string {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return 'no webgl2 context';
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const cases = params.get('cases');
  const options: Omit<BenchOptions, 'backend' | 'log'> = {
    steps: numberParam(params, 'steps'),
    warmup: numberParam(params, 'warmup'),
    simSteps: numberParam(params, 'simSteps'),
    caseBudgetMs: numberParam(params, 'caseBudgetMs'),
    simBudgetMs: numberParam(params, 'simBudgetMs'),
    cases: cases ? cases.split(',') : undefined,
  };
  const environment = {
    runtime: 'Chromium page',
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    webglRenderer: webglRenderer(),
  };
  const result = await runBench({ ...options, backend: 'webgl', log }, environment);
  // Flags tfjs resolved on this backend (evaluated now that it is active).
  result.environment.WEBGL_VERSION = tf.env().getNumber('WEBGL_VERSION');
  result.environment.WEBGL_RENDER_FLOAT32_ENABLED = tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
  window.benchResults = result;
  log('done');
}

main().catch((err: unknown) => {
  window.benchError = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
  log(`failed: ${window.benchError}`);
});
