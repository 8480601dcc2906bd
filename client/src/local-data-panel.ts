/**
 * The page's `data=local`: the volunteer chooses files of their own as this tab's training data,
 * a CSV (one or more files) or a folder of images in sub-folders named by label. The files are
 * read and checked here, against what the room's task takes (shared/src/data/local-data.ts), and
 * never leave the tab. A file that does not fit is said by name with its problem, and the page
 * waits for another choice: the tab joins the room only with data that fits.
 */
import { csvDataset, DataError, errorMessage, imageDataset, type LocalDataSpec, type LocalImage } from '@tabswarm/shared';
import type { LocalData } from './room-member.ts';

/** What the panel tells the volunteer about the files the task takes (also what tests read). */
export function localDataLines(spec: LocalDataSpec): string[] {
  const features = spec.shape.reduce((a, b) => a * b, 1);
  const labels = `0-${spec.classes - 1}`;
  const values = spec.scale === 1 ? 'the values as the model takes them' : `values 0-${spec.scale} (pixels, divided by ${spec.scale} here)`;
  const lines = [
    "Your data stays in this tab: the files are read and checked here and never uploaded. Nothing but the model's updates (compressed, as the room's configuration says) leaves this tab, to the other tabs of the room.",
    `CSV: a header row with a column named "label" (${labels}) and ${features} more columns (shape ${spec.shape.join('x')}), ${values}; one example per row.`,
  ];
  if (takesImages(spec)) lines.push(`Images: a folder with one sub-folder per label (${labels}), each image ${spec.shape[1]}x${spec.shape[0]} pixels${spec.shape[2] === 1 ? ' (turned to grey)' : ''}.`);
  return lines;
}

/** Shows the file choice above `before` until files that fit `spec` are chosen (or `signal` aborts). */
export function chooseLocalData(parent: HTMLElement, before: Element | null, spec: LocalDataSpec, signal: AbortSignal): Promise<LocalData> {
  const panel = document.createElement('section');
  panel.id = 'local-data';
  panel.className = 'card consent';
  const title = document.createElement('h2');
  title.textContent = 'Train on your own data';
  const list = document.createElement('ul');
  for (const line of localDataLines(spec)) list.append(Object.assign(document.createElement('li'), { textContent: line }));
  const csv = fileInput('local-csv', 'CSV files: ', { accept: '.csv,text/csv', multiple: true });
  const folder = takesImages(spec) ? fileInput('local-images', 'A folder of images: ', { multiple: true, webkitdirectory: true }) : null;
  const error = Object.assign(document.createElement('p'), { id: 'local-data-error', role: 'alert' });
  error.style.color = '#a00';
  panel.append(title, list, csv.label, ...(folder ? [folder.label] : []), error);
  parent.insertBefore(panel, before);

  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      panel.remove();
      reject(signal.reason instanceof Error ? signal.reason : new DataError('the choice of data was cancelled'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const take = (read: (files: File[]) => Promise<LocalData>, input: HTMLInputElement): void => {
      const files = [...(input.files ?? [])];
      error.textContent = 'Checking...';
      read(files).then(
        (data) => {
          signal.removeEventListener('abort', onAbort);
          panel.remove();
          resolve(data);
        },
        (err: unknown) => {
          // Wrong files: say why (a DataError's message names the file and the problem), and wait for another choice.
          error.textContent = err instanceof DataError ? err.message : errorMessage(err);
          input.value = '';
        },
      );
    };
    csv.input.addEventListener('change', () => take((files) => readCsv(files, spec), csv.input));
    folder?.input.addEventListener('change', () => take((files) => readImages(files, spec), folder.input));
  });
}

async function readCsv(files: File[], spec: LocalDataSpec): Promise<LocalData> {
  const texts = await Promise.all(files.map(async (f) => ({ name: f.name, text: await f.text() })));
  return { train: csvDataset(texts, spec), files: files.map((f) => f.name) };
}

/** Decodes each image of the folder (other files, a README or a hidden file, are skipped) into RGBA pixels. */
async function readImages(files: File[], spec: LocalDataSpec): Promise<LocalData> {
  const images: LocalImage[] = [];
  for (const file of files.filter((f) => f.type.startsWith('image/') || IMAGE_NAME.test(f.name))) images.push(await decode(file));
  return { train: imageDataset(images, spec), files: [...new Set(images.map((i) => i.path.split('/')[0]!))] };
}

async function decode(file: File): Promise<LocalImage> {
  const path = file.webkitRelativePath || file.name;
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new DataError(`${path}: not an image this browser can decode`);
  }
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d')!;
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { path, width, height, rgba: context.getImageData(0, 0, width, height).data };
}

/** Image files by name, where the browser gives no type. */
const IMAGE_NAME = /\.(png|jpe?g|gif|bmp|webp)$/i;

function takesImages(spec: LocalDataSpec): boolean {
  return spec.shape.length === 3 && (spec.shape[2] === 1 || spec.shape[2] === 3);
}

function fileInput(id: string, text: string, options: { accept?: string; multiple: boolean; webkitdirectory?: boolean }): { label: HTMLLabelElement; input: HTMLInputElement } {
  const input = document.createElement('input');
  input.type = 'file';
  input.id = id;
  input.multiple = options.multiple;
  if (options.accept) input.accept = options.accept;
  if (options.webkitdirectory) input.webkitdirectory = true;
  const label = document.createElement('label');
  label.style.display = 'block';
  label.append(text, input);
  return { label, input };
}
