/**
 * The page: who this tab is, its connection to the signaling server, who it trains with (the
 * peers' data channels), how training goes, and why anything failed.
 */
import { formatLinkSettings, type DataStatus, type PeerPath, type SignalingStatus, type StepRecord, type TabStatus } from '@tabswarm/shared/protocol';
import { LinePlot } from './plot.ts';

const STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  main { max-width: 980px; margin: 0 auto; padding: 16px; }
  h1 { font-size: 20px; margin: 0 0 8px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 12px; }
  .card { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 10px 12px; }
  .card h2 { font-size: 13px; text-transform: uppercase; color: #666; margin: 0 0 6px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 0; }
  dt { color: #666; } dd { margin: 0; font-family: ui-monospace, monospace; word-break: break-all; }
  .state { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #ddd; }
  .state.training { background: #cde8ff; } .state.done { background: #cdf5d2; } .state.error { background: #ffd3d3; }
  progress { width: 100%; height: 14px; }
  #error { color: #a00; font-weight: 600; white-space: pre-wrap; }
  #error:empty { display: none; }
  .warn { color: #a60; }
  ul { margin: 0; padding-left: 18px; font-family: ui-monospace, monospace; font-size: 12px; }
  #events { max-height: 160px; overflow: auto; }
  canvas { display: block; width: 100%; height: 160px; }
  .card button { margin: 6px 6px 0 0; }
  .state.observing { background: #efe3ff; }
  dl.compact { grid-template-columns: repeat(3, max-content minmax(60px, 1fr)); }
  header { display: flex; align-items: center; justify-content: space-between; gap: 8px; }
  button { font: inherit; padding: 4px 14px; border-radius: 4px; border: 1px solid #888; background: #fff; cursor: pointer; }
  #consent-join { background: #0a6; border-color: #0a6; color: #fff; margin-right: 8px; }
  .consent { border-color: #0a6; margin-bottom: 12px; } .consent ul { font-family: inherit; font-size: 14px; margin: 0 0 10px; }
  #notice { margin: 0 0 8px; } #notice:empty { display: none; }
  /* A phone: one column, and the configuration as one key per row. */
  @media (max-width: 600px) {
    main { padding: 8px; }
    .grid { grid-template-columns: minmax(0, 1fr); }
    dl.compact { grid-template-columns: max-content minmax(0, 1fr); }
  }
`;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

/** What the page's buttons do. */
export interface UiActions {
  /** The Leave button: stops training and leaves the room at any time. */
  leave(): void;
  /** Downloads the model this tab holds (model.json + weights). */
  downloadModel(): void;
  /** An observer fetches the room's state again. */
  refresh(): void;
}

export class Ui {
  private readonly fields = new Map<string, HTMLElement>();
  private readonly progress = el('progress', { max: '1', value: '0' });
  private readonly progressText = el('span');
  private readonly stateBadge = el('span', { class: 'state' });
  private readonly error = el('div', { id: 'error', role: 'alert' });
  /** Who set the configuration (an organiser), which keys are ignored, why the tab left. */
  private readonly notice = el('p', { id: 'notice', class: 'warn' });
  private readonly leave = el('button', { id: 'leave', type: 'button' }, 'Leave');
  private readonly peers = el('ul', { id: 'peers' });
  private readonly events = el('ul', { id: 'events' });
  private readonly config = el('dl', { class: 'compact' });
  private readonly lossPlot: LinePlot;
  private readonly accuracyPlot: LinePlot;
  private readonly bytesPlot: LinePlot;
  private readonly downloadButton = el('button', { id: 'download-model', type: 'button', disabled: '' }, 'Download model (model.json + weights)');
  private readonly refreshButton = el('button', { id: 'refresh-state', type: 'button', hidden: '' }, 'Refresh from a member');

  constructor(root: HTMLElement, actions: UiActions) {
    document.head.append(el('style', {}, STYLE));
    const title = el('h1', {}, 'tabswarm ');
    title.append(this.stateBadge);
    this.leave.addEventListener('click', () => {
      this.leave.disabled = true;
      actions.leave();
    });
    const header = el('header');
    header.append(title, this.leave);
    const identity = this.card('This tab', ['peerId', 'room', 'server', 'epoch', 'backend', 'compressor', 'weightsHash', 'link']);
    const training = this.card('Training', ['step', 'rounds', 'loss', 'testAccuracy', 'stepsPerSecond', 'bytesPerStep', 'bytesTotal', 'data', 'lastRecovery']);
    training.append(this.progress, this.progressText);
    const peers = el('div', { class: 'card' });
    peers.append(el('h2', {}, 'Peers (data channels)'), this.peers);
    const model = this.card('Model', ['role', 'finished']);
    model.append(this.downloadButton, this.refreshButton);
    this.downloadButton.addEventListener('click', () => actions.downloadModel());
    this.refreshButton.addEventListener('click', () => actions.refresh());
    const config = el('div', { class: 'card' });
    config.append(el('h2', {}, 'Room configuration'), this.config);
    const canvases = ['loss', 'accuracy', 'bytes'].map((id) => el('canvas', { id: `plot-${id}`, class: 'plot', width: '900', height: '160' }));
    const plots = el('div', { class: 'card' });
    plots.append(el('h2', {}, 'Live'), ...canvases);
    this.lossPlot = new LinePlot(canvases[0]!, 'training loss', (v) => v.toFixed(3));
    this.accuracyPlot = new LinePlot(canvases[1]!, 'test accuracy', (v) => v.toFixed(3));
    this.bytesPlot = new LinePlot(canvases[2]!, 'bytes per step (sent, received)', formatBytes, { fromZero: true });
    const events = el('div', { class: 'card' });
    events.append(el('h2', {}, 'Events'), this.events);
    const grid = el('div', { class: 'grid' });
    grid.append(identity, training, peers, model);
    root.append(header, this.error, this.notice, grid, config, plots, events);
  }

  render(status: TabStatus, history: readonly StepRecord[]): void {
    this.stateBadge.textContent = status.state;
    this.stateBadge.className = `state ${status.state}`;
    this.error.textContent = status.error ?? '';
    this.notice.textContent = status.left ? `Out of the room: ${status.left}.` : describeRoomOwner(status);
    this.leave.disabled = status.state === 'left';
    const backend = status.backendFallback ? `${status.backend} (fallback: ${status.backendFallback})` : status.backend;
    this.set('peerId', status.peerId ?? '…');
    this.set('room', status.room);
    this.set('server', describeServer(status.signaling, Date.now()), status.signaling.state === 'connected' && !status.signaling.paused ? '' : 'warn');
    this.set('epoch', String(status.epoch));
    this.set('backend', backend ?? '…', status.backendFallback ? 'warn' : '');
    this.set('compressor', status.compressor === null ? '…' : `${status.compressor}${status.compressionRatio ? ` (${status.compressionRatio.toFixed(1)}x fewer bytes than fp32)` : ''}`);
    this.set('lastRecovery', status.lastRecoveryMs === null ? 'none' : `${(status.lastRecoveryMs / 1000).toFixed(1)} s`);
    this.set('weightsHash', status.weightsHash || '…');
    this.set('link', formatLinkSettings(status.link));
    const steps = status.config?.steps ?? 0;
    this.set('step', steps ? `${status.step} / ${steps}` : String(status.step));
    this.set('rounds', describeRounds(status));
    this.set('loss', status.loss === null ? '…' : status.loss.toFixed(4));
    this.set('testAccuracy', status.testAccuracy === null ? '…' : `${(100 * status.testAccuracy).toFixed(2)} %`);
    this.set('stepsPerSecond', status.stepsPerSecond === null ? '…' : status.stepsPerSecond.toFixed(2));
    this.set('bytesPerStep', `${formatBytes(status.lastStepBytesSent)} sent, ${formatBytes(status.lastStepBytesReceived)} received`);
    this.set('bytesTotal', `${formatBytes(status.bytesSent)} sent, ${formatBytes(status.bytesReceived)} received`);
    this.set('data', describeData(status.data));
    this.set('role', status.role === 'observer' ? 'observer: follows the room, trains nothing' : (status.role ?? '…'));
    this.set('finished', describeFinished(status));
    this.downloadButton.disabled = status.weightsHash === '' || (status.role === 'observer' && status.step === 0 && status.state !== 'done');
    this.refreshButton.hidden = status.role !== 'observer';
    this.progress.value = steps ? status.step / steps : 0;
    this.progressText.textContent = steps ? ` ${Math.floor((100 * status.step) / steps)} %` : '';
    replaceIfChanged(this.peers, [
      ...(status.peers.length === 0
        ? [el('li', {}, status.role === 'observer' ? 'no member in the room' : 'alone in the room: open this URL in another tab')]
        : status.peers.map((id) => {
          const path = status.peerPaths.find((p) => p.peerId === id);
          // An observer connects to the one member it fetches from.
          const idle = status.role === 'observer' ? '(member)' : '(connecting…)';
          return el('li', { class: path?.path === 'relay' ? 'warn' : '' }, `${id} ${status.connectedPeers.includes(id) ? `(connected${path ? `, ${describePath(path)}` : ''})` : idle}`);
        })),
    ]);
    if (status.config && this.config.childElementCount === 0) {
      if (status.cost) {
        const { mflopsPerStep, relative, heavy, reasons } = status.cost;
        this.config.append(el('dt', {}, 'cost'), el('dd', {}, `${Math.round(mflopsPerStep)} MFLOP/step (${relative}x default)${heavy ? `: heavy, ${reasons.join('; ')}` : ''}`));
      }
      for (const [k, v] of Object.entries(status.config)) this.config.append(el('dt', {}, k), el('dd', {}, String(v)));
    }
    replaceIfChanged(this.events, status.events.slice(-30).reverse().map((e) => el('li', {}, `${new Date(e.time).toLocaleTimeString()} ${e.kind}: ${e.message}${e.ms !== undefined ? ` (${Math.round(e.ms)} ms)` : ''}`)));
    this.lossPlot.draw([{ label: 'loss', color: '#d33', points: history.map((r) => [r.step, r.loss]) }]);
    this.accuracyPlot.draw([{
      label: 'accuracy', color: '#070',
      points: history.filter((r) => r.testAccuracy !== undefined).map((r) => [r.step, r.testAccuracy!]),
    }]);
    this.bytesPlot.draw([
      { label: 'sent', color: '#06c', points: history.map((r) => [r.step, r.bytesSent]) },
      { label: 'received', color: '#c60', points: history.map((r) => [r.step, r.bytesReceived]) },
    ]);
  }

  private card(title: string, keys: string[]): HTMLElement {
    const card = el('div', { class: 'card' });
    const list = el('dl');
    for (const key of keys) {
      const value = el('dd', { id: `field-${key}` }, '…');
      this.fields.set(key, value);
      list.append(el('dt', {}, key), value);
    }
    card.append(el('h2', {}, title), list);
    return card;
  }

  private set(key: string, text: string, className = ''): void {
    const field = this.fields.get(key)!;
    // Unchanged text is left alone: every write invalidates the layout, which a slow device pays for.
    if (field.textContent !== text) field.textContent = text;
    if (field.className !== className) field.className = className;
  }
}

/** Puts `items` in `list` unless it holds the same already (a rebuilt list is laid out again). */
function replaceIfChanged(list: HTMLElement, items: HTMLElement[]): void {
  const same = list.children.length === items.length && items.every((item, i) => list.children[i]!.isEqualNode(item));
  if (!same) list.replaceChildren(...items);
}

/** `accumulate, last round: 3 of this tab's 12 micro-batches ..., 8 % waiting` and the like. */
export function describeRounds(status: Pick<TabStatus, 'rounds' | 'peerId'>): string {
  const r = status.rounds;
  if (!r) return '…';
  const parts = [`sync=${r.sync}`];
  if (r.contributions) {
    const mine = status.peerId !== null ? r.contributions[status.peerId] : undefined;
    const all = Object.values(r.contributions);
    parts.push(`last round ${all.join(' + ')} ${r.unit}${mine !== undefined ? ` (this tab ${mine})` : ''}`);
  }
  if (r.waitingShare !== null) parts.push(`${Math.round(100 * r.waitingShare)} % of the time waiting`);
  const out = r.sittingOut ?? [];
  if (r.loadingShard) parts.push('this tab still loads its shard: it takes part with nothing until it holds it');
  else if (status.peerId !== null && out.includes(status.peerId)) parts.push('this tab sits the next round out (too slow for it; it computes meanwhile)');
  else if (out.length > 0) parts.push(`${out.length} ${out.length === 1 ? 'member sits' : 'members sit'} the next round out`);
  return parts.join(', ');
}

/** `An organiser set this room's configuration: this tab's model, compressor are ignored.`, or nothing for a tab's own room. */
export function describeRoomOwner(status: Pick<TabStatus, 'organised' | 'ignoredKeys'>): string {
  if (!status.organised) return '';
  const ignored = status.ignoredKeys ?? [];
  return `An organiser set this room's configuration${ignored.length > 0 ? `: this tab's ${ignored.join(', ')} ${ignored.length === 1 ? 'is' : 'are'} ignored` : ' (URL keys are ignored)'}.`;
}

/** `step 40, weights 0123..., test accuracy 87.90 %` once the room's run finished; `not yet` before. */
export function describeFinished(status: Pick<TabStatus, 'finished' | 'peers' | 'role'>): string {
  const run = status.finished;
  if (!run) return 'not yet';
  const accuracy = run.testAccuracy === null ? '' : `, test accuracy ${(100 * run.testAccuracy).toFixed(2)} %`;
  // An observer's peers are the members; a member's are the others.
  const holders = status.peers.length + (status.role === 'observer' ? 0 : 1);
  return `at step ${run.step}, weights ${run.hash}${accuracy}; ${holders} member${holders === 1 ? '' : 's'} still hold${holders === 1 ? 's' : ''} it`;
}

/** `connected`, `reconnecting for 12 s`, ...; and whether training waits for the server. */
export function describeServer(s: SignalingStatus, now: number): string {
  const lasted = s.since === null ? '' : ` for ${Math.max(0, Math.round((now - s.since) / 1000))} s`;
  if (s.paused) return `${s.state === 'reconnecting' ? `reconnecting${lasted}` : s.state}; training paused until it is back`;
  if (s.state === 'reconnecting') return `reconnecting${lasted} (training goes on over the data channels)`;
  return s.state === 'connecting' ? 'connecting…' : s.state;
}

/** `direct (host-host, udp), rtt 2.3 ms`, `relayed by TURN (relay-host, udp), rtt 41 ms`, `path not measured yet`. */
export function describePath(p: PeerPath): string {
  if (p.path === 'unknown') return 'path not measured yet';
  const how = p.path === 'relay' ? 'relayed by TURN' : 'direct';
  const pair = [p.localCandidateType ?? '?', p.remoteCandidateType ?? '?'].join('-');
  const rtt = p.roundTripMs === null ? '' : `, rtt ${p.roundTripMs < 10 ? p.roundTripMs.toFixed(1) : Math.round(p.roundTripMs)} ms`;
  return `${how} (${pair}${p.protocol ? `, ${p.protocol}` : ''})${rtt}`;
}

/** What the tab downloaded of MNIST and what it holds: its shard and the evaluation subset. */
export function describeData(d: DataStatus | null): string {
  if (!d) return '…';
  const held = `${formatBytes(d.bytesDownloaded)} downloaded in ${d.requests} requests; holds ${d.trainExamples} training + ${d.testExamples} test examples`;
  if (d.source !== 'local') return held;
  return `this tab's own data (never leaves it): ${d.files?.join(', ') ?? ''}, ${d.trainExamples} examples, per class ${d.classCounts?.join(' / ') ?? ''}; ${held}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}
