/**
 * Entry point. URL parameters: `room` (default `default`), `backend` (webgl|wasm|cpu),
 * `signal` (signaling server URL, default this page's origin), `ticket` (a closed room's join
 * ticket, from the invite URL), `join=ok` (join without asking: an organiser's room or a heavy
 * configuration; `heavy=ok`, its older name, does the same), `role=observer` (follow the room
 * without training: its state from a member, the model out), `task` (an example task instead of
 * the built-in one, src/page-tasks.ts, or `model-<hash>`: a model file the server serves),
 * `data=local` (train on files chosen in the page, which stay in the tab, instead of a shard of
 * the task's data: src/local-data-panel.ts), and the run configuration keys (see
 * shared/src/train/config.ts), which apply if this tab creates the room (an organiser's room
 * ignores them).
 */
import { parseBackend } from './backend.ts';
import { askInPage } from './consent-panel.ts';
import { ignoredKeys } from './consent.ts';
import { chooseLocalData } from './local-data-panel.ts';
import { openMnist } from './data.ts';
import { downloadModelFiles } from './download.ts';
import { pageTask } from './page-tasks.ts';
import { roomTasks } from './served-model.ts';
import { startTabWorker } from './tab-worker.ts';
import { Ui } from './ui.ts';
import type { ModelDownload, TabswarmApi } from '@tabswarm/shared/protocol';
import { ConfigError, errorMessage, SERVED_MODEL_TASK, type Task, type RunConfig } from '@tabswarm/shared';

declare global {
  interface Window {
    /** For tests and tools: a stable interface (fields are added, never renamed or removed). */
    tabswarm: TabswarmApi;
  }
}

const params = new URLSearchParams(location.search);
const root = document.getElementById('app')!;
const agreed = params.get('join') === 'ok' || params.get('heavy') === 'ok';
let renderQueued = false;
let renderedAt = -Infinity;
/**
 * The page redraws at most this often: on a throttled device a redraw (layout, three plots) costs
 * about as much main-thread time as the tab's share of the all-reduce, and the room waits for it.
 */
const RENDER_EVERY_MS = 1000;

/**
 * The example `task` the URL names, or by the room's configuration: the model its server serves
 * (`task=model-<hash>`) or the built-in task its `model` key names, on MNIST by HTTP range requests.
 */
async function chooseTask(): Promise<Task | ((config: RunConfig) => Task)> {
  const name = params.get('task');
  if (name !== null && !SERVED_MODEL_TASK.test(name)) return pageTask(name);
  return roomTasks((signal) => openMnist(undefined, signal), params.get('signal') ?? location.href);
}

/** `data=local`: this tab trains on files the volunteer chooses; `builtin` (the default): a shard of the task's data. */
function wantsLocalData(): boolean {
  const data = params.get('data') ?? 'builtin';
  if (data !== 'local' && data !== 'builtin') throw new ConfigError(`data must be local|builtin, got ${JSON.stringify(data.slice(0, 64))}`);
  return data === 'local';
}

let task: Awaited<ReturnType<typeof chooseTask>>;
let localData: boolean;
try {
  localData = wantsLocalData();
  task = await chooseTask();
} catch (err) {
  root.textContent = `tabswarm: ${errorMessage(err)}`;
  throw err;
}

const ui = new Ui(root, {
  leave: () => void app.leave(),
  downloadModel: () => void downloadModel().catch((err: unknown) => console.error('tabswarm: download failed:', err)),
  refresh: () => void app.refresh(),
});

const app = startTabWorker({
  task,
  room: params.get('room') ?? 'default',
  ...(params.get('signal') !== null ? { signalingUrl: params.get('signal')! } : {}),
  params: Object.fromEntries(params),
  backend: parseBackend(params.get('backend')),
  role: params.get('role') === 'observer' ? 'observer' : 'member',
  // The tab joins only once files that fit the room's task are chosen: waiting holds nobody up.
  ...(localData && params.get('role') !== 'observer' ? { localData: (spec, signal) => chooseLocalData(root, root.children[1] ?? null, spec, signal) } : {}),
  // An organiser's room or a heavy configuration: the page says what joining means, and waits for Join.
  askConsent: (request) => (agreed ? Promise.resolve(true) : askInPage(root, root.children[1] ?? null, request, ignoredKeys(Object.fromEntries(params), request.offer.config))),
  onUpdate: (worker) => {
    // Drawing waits for a frame; training never does (rAF stops in background tabs, the loop must not).
    if (renderQueued) return;
    renderQueued = true;
    setTimeout(() => requestAnimationFrame(() => {
      renderQueued = false;
      renderedAt = performance.now();
      ui.render(worker.status(), worker.history());
    }), Math.max(0, renderedAt + RENDER_EVERY_MS - performance.now()));
  },
});

/** Saves the model this tab holds as two files: `<room>-step<N>.json` and its weights. */
async function downloadModel(): Promise<ModelDownload> {
  return downloadModelFiles(await app.exportModel());
}

window.tabswarm = { status: () => app.status(), history: () => app.history(), downloadModel, refresh: () => app.refresh() };
