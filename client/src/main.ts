/**
 * Entry point. URL parameters: `room` (default `default`), `backend` (webgl|wasm|cpu),
 * `signal` (signaling server URL, default this page's origin), `ticket` (a closed room's join
 * ticket, from the invite URL), `heavy=ok` (train a heavy room configuration without asking), `task`
 * (an example task instead of the built-in one, src/page-tasks.ts), and the run configuration keys
 * (see shared/src/train/config.ts), which apply if this tab creates the room.
 */
import { parseBackend } from './backend.ts';
import { openMnist } from './data.ts';
import { pageTask } from './page-tasks.ts';
import { startTabWorker } from './tab-worker.ts';
import { Ui } from './ui.ts';
import type { TabswarmApi } from '@tabswarm/shared/protocol';
import { builtinTasks, errorMessage, type Task, type RunConfig } from '@tabswarm/shared';

declare global {
  interface Window {
    /** For tests and tools: a stable interface (fields are added, never renamed or removed). */
    tabswarm: TabswarmApi;
  }
}

const params = new URLSearchParams(location.search);
const ui = new Ui(document.getElementById('app')!);
let renderQueued = false;

/** The example `task` the URL names, or the built-in task the room's `model` key names (MNIST by HTTP range requests). */
async function chooseTask(): Promise<Task | ((config: RunConfig) => Task)> {
  const name = params.get('task');
  return name === null ? builtinTasks((signal) => openMnist(undefined, signal)) : pageTask(name);
}

let task: Awaited<ReturnType<typeof chooseTask>>;
try {
  task = await chooseTask();
} catch (err) {
  document.getElementById('app')!.textContent = `tabswarm: ${errorMessage(err)}`;
  throw err;
}

const app = startTabWorker({
  task,
  room: params.get('room') ?? 'default',
  ...(params.get('signal') !== null ? { signalingUrl: params.get('signal')! } : {}),
  params: Object.fromEntries(params),
  backend: parseBackend(params.get('backend')),
  // A heavy room configuration (the server's estimate) is shown and asked about before training.
  acceptHeavy: (cost) => Promise.resolve(params.get('heavy') === 'ok' || window.confirm(
    `This room's configuration is heavy for your tab: ${cost.reasons.join('; ')} (about ${Math.round(cost.mflopsPerStep)} MFLOP per step). Train it?`,
  )),
  onUpdate: (worker) => {
    // Drawing waits for a frame; training never does (rAF stops in background tabs, the loop must not).
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      ui.render(worker.status(), worker.history());
    });
  },
});

window.tabswarm = { status: () => app.status(), history: () => app.history() };
