/**
 * Web host: sends a bundle the user picked to main in bounded pieces (`bundles.upload*`), since
 * the renderer has no file-reading verb and main cannot open the browser's files. Each piece is
 * read from the File only when it is sent, so a 1 GiB bundle never sits in memory at once.
 */
import type { DesktopApi } from '../../../main/ipc/contract.ts';

export interface UploadSource {
  name: string;
  size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export async function uploadBundle(
  api: DesktopApi,
  file: UploadSource,
  onProgress: (sent: number, total: number) => void,
  signal?: AbortSignal,
): Promise<string> {
  const { uploadId, maxChunkBytes } = await api.call('bundles.uploadBegin', {
    fileName: file.name,
    size: file.size,
  });
  try {
    let offset = 0;
    while (offset < file.size) {
      if (signal?.aborted) throw new Error('Upload cancelled.');
      const end = Math.min(file.size, offset + maxChunkBytes);
      const bytes = new Uint8Array(await file.slice(offset, end).arrayBuffer());
      const { received } = await api.call('bundles.uploadChunk', {
        uploadId,
        offset,
        data: toBase64(bytes),
      });
      offset = received;
      onProgress(offset, file.size);
    }
    return uploadId;
  } catch (error) {
    await api.call('bundles.uploadCancel', { uploadId }).catch(() => {});
    throw error;
  }
}

/** btoa over a binary string, built in pieces (String.fromCharCode has an argument limit). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(binary);
}
