/**
 * Saves text the renderer made (a result's CSV or JSON) through the browser's own download:
 * nothing crosses IPC, and the renderer gets no file-system verb (the contract has none).
 */
export function downloadText(fileName: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // After the click has started the download.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** `orders-db-2026-12-07T22-01-05.csv`: the resource and the time, safe in any file system. */
export function exportFileName(resourceName: string, extension: string, now = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/:/g, '-');
  const base = resourceName.replace(/[^A-Za-z0-9._-]+/g, '_') || 'result';
  return `${base}-${stamp}.${extension}`;
}
