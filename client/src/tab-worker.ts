/**
 * A worker in a tab, started from code: tfjs on the best backend that starts (WebGL by default;
 * a fallback is reported with its reason), the browser's own WebRTC.
 */
import { selectBackend, type BackendName } from './backend.ts';
import { startWorker, type Worker, type WorkerInit } from './worker.ts';

export interface TabWorkerInit extends WorkerInit {
  /** @default webgl */
  backend?: BackendName;
}

export function startTabWorker(init: TabWorkerInit): Worker {
  return startWorker(init, { startBackend: (exclude) => selectBackend(init.backend ?? 'webgl', exclude) });
}
