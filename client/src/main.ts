/**
 * Entry point. URL parameters: `room` (default `default`), `backend` (webgl|wasm|cpu),
 * `signal` (signaling server URL, default this page's origin), `ticket` (a closed room's join
 * ticket, from the invite URL), `heavy=ok` (train a heavy room configuration without asking), and
 * the run configuration keys (see shared/src/train/config.ts), which apply if this tab creates the room.
 */
import { parseBackend, selectBackend } from './backend.ts';
import { openMnist } from './data.ts';
import { RoomMember } from './room-member.ts';
import { Ui } from './ui.ts';
import type { TabswarmApi } from '@tabswarm/shared/protocol';
import { builtinTasks } from '@tabswarm/shared';

declare global {
  interface Window {
    /** For tests and tools: a stable interface (fields are added, never renamed or removed). */
    tabswarm: TabswarmApi;
  }
}

const params = new URLSearchParams(location.search);
const ui = new Ui(document.getElementById('app')!);
let renderQueued = false;

const app = new RoomMember(
  {
    room: params.get('room') ?? 'default',
    signalingUrl: params.get('signal') ?? undefined,
    params: Object.fromEntries(params),
    startBackend: (exclude) => selectBackend(parseBackend(params.get('backend')), exclude),
    task: builtinTasks((signal) => openMnist(undefined, signal)),
    // A heavy room configuration (the server's estimate) is shown and asked about before training.
    acceptHeavy: (cost) => Promise.resolve(params.get('heavy') === 'ok' || window.confirm(
      `This room's configuration is heavy for your tab: ${cost.reasons.join('; ')} (about ${Math.round(cost.mflopsPerStep)} MFLOP per step). Train it?`,
    )),
  },
  () => {
    // Drawing waits for a frame; training never does (rAF stops in background tabs, the loop must not).
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      ui.render(app.status(), app.history());
    });
  },
);

window.tabswarm = { status: () => app.status(), history: () => app.history() };
void app.start();
