/**
 * The organiser page (`/organise`, served by the signaling server behind the admin token): a form
 * that opens a room with a fixed configuration (and, if given, the organiser's own model: model.json
 * and its weights files, uploaded and checked first; the room's `task` names it), and every room with its members' progress (step,
 * accuracy, steps/s, bytes per step, backend), a Remove button per member, and the invite link
 * with its QR code, and Download model (download-model.ts: the model out over WebRTC, as an
 * observer). The list is fetched again every POLL_MS.
 */
import { CONFIG_KEYS, DEFAULT_CONFIG, errorMessage, type OrganiserMember, type OrganiserRoom } from '@tabswarm/shared/protocol';
import { formatBytes } from '../ui.ts';
import { createRoom, listRooms, qrUrl, removeMember, uploadModel } from './api.ts';

const POLL_MS = 2_000;

const STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  main { max-width: 980px; margin: 0 auto; padding: 12px; }
  h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 16px; margin: 0 0 6px; }
  .card { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 10px 12px; margin-bottom: 12px; overflow-x: auto; }
  form { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 6px 10px; }
  label { display: flex; flex-direction: column; font-size: 12px; color: #555; }
  input, select, button { font: inherit; }
  table { border-collapse: collapse; font-size: 13px; } td, th { padding: 2px 8px; text-align: left; }
  code { font-family: ui-monospace, monospace; word-break: break-all; }
  .room { display: grid; grid-template-columns: minmax(0, 1fr) 160px; gap: 12px; }
  .room img { width: 160px; height: 160px; }
  #error, .download-error { color: #a00; font-weight: 600; } #error:empty { display: none; }
  @media (max-width: 600px) { .room { grid-template-columns: minmax(0, 1fr); } }
`;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

const root = document.getElementById('organise')!;
const error = el('p', { id: 'error', role: 'alert' });
const rooms = el('div', { id: 'rooms' });
document.head.append(el('style', {}, STYLE));
root.append(el('h1', {}, 'tabswarm: organise'), error, newRoomForm(), rooms);

/** One input per configuration key, prefilled with the server's defaults' type of value; empty ones are not sent. */
function newRoomForm(): HTMLElement {
  const card = el('section', { class: 'card' });
  const form = el('form', { id: 'new-room' });
  const name = el('input', { name: 'room', required: '', pattern: '[A-Za-z0-9_.\\-]{1,64}', placeholder: 'room name' });
  form.append(labelled('room', name));
  for (const key of CONFIG_KEYS) form.append(labelled(key, el('input', { name: key, placeholder: String(DEFAULT_CONFIG[key]) })));
  const model = el('input', { type: 'file', name: 'model-file', multiple: '', accept: '.json,.bin' });
  form.append(labelled('model (model.json + .bin files)', model));
  const submit = el('button', { type: 'submit', id: 'create-room' }, 'Create room');
  form.append(submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const config: Record<string, string> = {};
    for (const key of CONFIG_KEYS) {
      const value = String(data.get(key) ?? '').trim();
      if (value !== '') config[key] = value;
    }
    withModel(model.files, config)
      .then((withTask) => createRoom({ room: String(data.get('room') ?? ''), config: withTask }))
      .then(() => { form.reset(); error.textContent = ''; return refresh(); })
      .catch((err: unknown) => { error.textContent = `creating the room failed: ${errorMessage(err)}`; });
  });
  card.append(el('h2', {}, 'New room (empty fields: the server\'s defaults)'), form);
  return card;
}

/** `config` with the `task` of the model file among `files` (uploaded first), or as it is without one. */
async function withModel(files: FileList | null, config: Record<string, string>): Promise<Record<string, string>> {
  const chosen = [...(files ?? [])];
  if (chosen.length === 0) return config;
  const json = chosen.filter((f) => f.name.endsWith('.json'));
  if (json.length !== 1) throw new Error(`choose one model.json and its weights files, got ${json.length} .json files`);
  const weights: Record<string, string> = {};
  for (const file of chosen.filter((f) => f !== json[0])) weights[file.name] = base64(new Uint8Array(await file.arrayBuffer()));
  const uploaded = await uploadModel({ modelJson: await json[0]!.text(), weights });
  return { ...config, task: uploaded.task };
}

function base64(bytes: Uint8Array): string {
  let text = '';
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function labelled(text: string, input: HTMLElement): HTMLElement {
  const label = el('label', {}, text);
  label.append(input);
  return label;
}

function roomCard(room: OrganiserRoom): HTMLElement {
  const card = el('section', { class: 'card room', 'data-room': room.room });
  const info = el('div');
  const changed = Object.entries(room.config).filter(([k, v]) => DEFAULT_CONFIG[k as keyof typeof DEFAULT_CONFIG] !== v);
  info.append(
    el('h2', {}, `${room.room}${room.organised ? ' (organised)' : ' (opened by a tab)'}`),
    el('p', { class: 'summary' }, [
      `${room.members.length} members`, `epoch ${room.epoch}`,
      `step ${room.step ?? '…'} / ${room.config.steps}`,
      `accuracy ${room.accuracy === null ? '…' : `${(100 * room.accuracy).toFixed(1)} %`}`,
      `${room.stepsPerSecond === null ? '…' : room.stepsPerSecond.toFixed(2)} steps/s`,
      `${room.bytesPerStep === null ? '…' : formatBytes(room.bytesPerStep)} per step`,
    ].join(' · ')),
    el('p', {}, `config: ${changed.length === 0 ? 'the defaults' : changed.map(([k, v]) => `${k}=${String(v)}`).join(' ')}`),
    invite(room.invite),
    downloadLine(room),
    memberTable(room),
  );
  card.append(info, qrImage(room.room));
  return card;
}

/** One image per room, kept across refreshes so the code is not fetched again every POLL_MS. */
const qrImages = new Map<string, HTMLImageElement>();

function qrImage(room: string): HTMLImageElement {
  let image = qrImages.get(room);
  if (!image) qrImages.set(room, (image = el('img', { src: qrUrl(room), alt: `QR code of the invite link of room ${room}`, class: 'qr' })));
  return image;
}

function invite(url: string): HTMLElement {
  const line = el('p', {}, 'invite: ');
  line.append(el('a', { href: url, class: 'invite', target: '_blank', rel: 'noopener' }, url));
  return line;
}

function memberTable(room: OrganiserRoom): HTMLElement {
  if (room.members.length === 0) return el('p', {}, 'no members yet: share the invite link');
  const table = el('table', { class: 'members' });
  const head = el('tr');
  for (const title of ['peer', 'step', 'accuracy', 'steps/s', 'bytes/step', 'backend', 'reported', '']) head.append(el('th', {}, title));
  table.append(head);
  for (const member of room.members) table.append(memberRow(room.room, member));
  return table;
}

function memberRow(room: string, member: OrganiserMember): HTMLElement {
  const p = member.progress;
  const row = el('tr', { 'data-peer': member.peerId });
  const cells = [
    member.peerId.slice(0, 8), p ? String(p.step) : '…', p?.accuracy == null ? '…' : `${(100 * p.accuracy).toFixed(1)} %`,
    p?.stepsPerSecond == null ? '…' : p.stepsPerSecond.toFixed(2), p ? formatBytes(p.bytesPerStep) : '…', p?.backend ?? '…',
    member.reportedAgoMs === null ? 'not yet' : `${Math.round(member.reportedAgoMs / 1000)} s ago`,
  ];
  for (const text of cells) row.append(el('td', {}, text));
  const remove = el('button', { type: 'button', class: 'remove' }, 'Remove');
  remove.addEventListener('click', () => {
    remove.disabled = true;
    removeMember({ room, peerId: member.peerId })
      .then(refresh)
      .catch((err: unknown) => { error.textContent = `removing ${member.peerId.slice(0, 8)} failed: ${errorMessage(err)}`; });
  });
  const cell = el('td');
  cell.append(remove);
  row.append(cell);
  return row;
}

/** Each room's download under way, or how the last one ended; kept across refreshes. */
const downloads = new Map<string, { busy: boolean; failed: boolean; text: string }>();

function downloadLine(room: OrganiserRoom): HTMLElement {
  const state = downloads.get(room.room);
  const line = el('p', { class: 'download' });
  const button = el('button', { type: 'button', class: 'download-model' }, 'Download model');
  button.disabled = state?.busy === true;
  button.addEventListener('click', () => void download(room));
  line.append(button);
  if (state) line.append(' ', el('span', { class: state.failed ? 'download-error' : 'download-status', role: 'status' }, state.text));
  return line;
}

async function download(room: OrganiserRoom): Promise<void> {
  const set = (busy: boolean, text: string, failed = false): void => {
    if (downloads.get(room.room)?.text === text) return;
    downloads.set(room.room, { busy, failed, text });
    render();
  };
  set(true, 'joining the room as an observer…');
  try {
    const { downloadRoomModel } = await import('./download-model.ts');
    const saved = await downloadRoomModel(room, (text) => set(true, text));
    set(false, `saved step ${saved.step} (weights ${saved.weightsHash}): ${saved.files.join(', ')}`);
  } catch (err) {
    set(false, `no model: ${errorMessage(err)}`, true);
  }
}

let listed: OrganiserRoom[] = [];

function render(): void {
  rooms.replaceChildren(...(listed.length === 0 ? [el('p', {}, 'no rooms yet')] : listed.map(roomCard)));
}

async function refresh(): Promise<void> {
  listed = await listRooms();
  render();
}

function poll(): void {
  refresh()
    .catch((err: unknown) => { error.textContent = `listing the rooms failed: ${errorMessage(err)}`; })
    .finally(() => setTimeout(poll, POLL_MS));
}
poll();
