import type { ModelDownload } from '@tabswarm/shared/protocol';
import type { LayersFiles } from './layers-export.ts';

/** Saves blobs as files through the browser's downloads (one anchor click each). */
export function downloadFiles(files: Array<{ name: string; blob: Blob }>): void {
  for (const { name, blob } of files) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    // The download has its own copy once it started; the URL can go a moment later.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

/** Saves an exported model as two files, `<base>.json` and the weights file it names (tf.loadLayersModel reads both). */
export function downloadModelFiles({ files, step, weightsHash }: { files: LayersFiles; step: number; weightsHash: string }): ModelDownload {
  const jsonName = files.weightsPath.replace(/\.weights\.bin$/, '.json');
  downloadFiles([
    { name: jsonName, blob: new Blob([JSON.stringify(files.modelJson)], { type: 'application/json' }) },
    { name: files.weightsPath, blob: new Blob([files.weightData], { type: 'application/octet-stream' }) },
  ]);
  return { files: [jsonName, files.weightsPath], step, weightsHash };
}
