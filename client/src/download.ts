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
