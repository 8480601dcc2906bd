/**
 * The volunteer's question, in the page: what joining this room means (model and data, that the
 * data stays in the tab, the download and the compute per step, who set the configuration) with
 * Join and Leave. Shown before anything heavy starts; resolves with the answer.
 */
import { formatBytes } from './ui.ts';
import type { ConsentRequest } from './consent.ts';
import { pageTaskData } from './page-tasks.ts';

const MODELS: Record<string, string> = {
  mlp: 'a small multilayer perceptron',
  cnn: 'a small convolutional network',
};

/** The lines the panel shows (also what tests read). */
export function consentLines(request: ConsentRequest, ignored: readonly string[]): string[] {
  const { config, cost, organised, room } = request.offer;
  // A room's task other than the built-in MNIST ones names its own model; a page task, its own data too.
  const model = config.task ? `the task ${config.task}'s model` : (MODELS[config.model] ?? config.model);
  const pageTask = pageTaskData(config.task);
  const mnist = config.dataset.toUpperCase();
  const download = formatBytes(request.downloadBytes);
  const updates = `Only model updates (${config.compressor === 'none' ? 'uncompressed' : `compressed with ${config.compressor}`}) go to the other tabs of room ${room}, directly; the server never sees them.`;
  const trained = `Model: ${model} (${cost.params.toLocaleString('en')} weights), trained for ${config.steps.toLocaleString('en')} steps on`;
  const lines = request.ownData
    ? [
      `${trained} the files you choose next, with the other members' data.`,
      pageTask
        ? `Your files stay in this tab: it reads them here and measures accuracy on ${pageTask.data}${pageTask.downloadBytes > 0 ? ` (it downloads about ${download})` : ''}. ${updates}`
        : `Your files stay in this tab: it reads them here and downloads only about ${download} of ${mnist}'s test set, to measure accuracy. ${updates}`,
    ]
    : [
      `${trained} ${pageTask ? pageTask.data : `${mnist} handwritten digits`}.`,
      pageTask && pageTask.downloadBytes === 0
        ? `The data stays in this tab: it is made here, and nothing is downloaded for it. ${updates}`
        : `The data stays in this tab: it downloads about ${download} of ${pageTask ? 'it' : mnist} and trains on it here. ${updates}`,
    ];
  lines.push(
    `Compute: about ${Math.round(cost.mflopsPerStep).toLocaleString('en')} MFLOP per step (${cost.relative}x the default), using this device's graphics or processor while the tab is open.`,
  );
  if (organised) lines.push(`An organiser set this room's configuration${ignored.length > 0 ? `: this link's ${ignored.join(', ')} ${ignored.length === 1 ? 'is' : 'are'} ignored` : ''}.`);
  if (cost.heavy) lines.push(`Heavy: ${cost.reasons.join('; ')}.`);
  lines.push('Leave stops training and leaves the room, now or at any time.');
  return lines;
}

/** Shows the question above `before` until Join or Leave is pressed. */
export function askInPage(parent: HTMLElement, before: Element | null, request: ConsentRequest, ignored: readonly string[]): Promise<boolean> {
  const panel = document.createElement('section');
  panel.id = 'consent';
  panel.className = 'card consent';
  const title = document.createElement('h2');
  title.textContent = `Join room ${request.offer.room}?`;
  const list = document.createElement('ul');
  for (const line of consentLines(request, ignored)) {
    const item = document.createElement('li');
    item.textContent = line;
    list.append(item);
  }
  const join = button('consent-join', 'Join');
  const leave = button('consent-leave', 'Leave');
  panel.append(title, list, join, leave);
  parent.insertBefore(panel, before);
  join.focus();
  return new Promise((resolve) => {
    const answer = (yes: boolean): void => {
      panel.remove();
      resolve(yes);
    };
    join.addEventListener('click', () => answer(true), { once: true });
    leave.addEventListener('click', () => answer(false), { once: true });
  });
}

function button(id: string, text: string): HTMLButtonElement {
  const node = document.createElement('button');
  node.id = id;
  node.type = 'button';
  node.textContent = text;
  return node;
}
