/**
 * The web host's way to open a bundle from disk: the browser cannot hand main a path, and the
 * renderer gets no generic file verb, so it sends the file's bytes in order, in pieces of at
 * most MAX_BUNDLE_CHUNK_BYTES, to a temp file under the app-data folder. Each upload belongs to
 * the client that began it and is dropped with it; a client may have a few at once.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DesktopError, MAX_BUNDLE_CHUNK_BYTES } from '../../ipc/contract.ts';

export const BUNDLE_UPLOADS_DIR = 'bundle-uploads';
const MAX_UPLOADS_PER_CLIENT = 4;

interface Upload {
  id: string;
  clientId: string;
  file: string;
  handle: FileHandle;
  size: number;
  received: number;
}

export class BundleUploads {
  private readonly uploads = new Map<string, Upload>();

  constructor(private readonly dir: string) {}

  async begin(
    clientId: string,
    size: number,
  ): Promise<{ uploadId: string; maxChunkBytes: number }> {
    const mine = [...this.uploads.values()].filter((u) => u.clientId === clientId).length;
    if (mine >= MAX_UPLOADS_PER_CLIENT) {
      throw new DesktopError(
        'rate_limited',
        'Too many bundle uploads at once — finish or cancel one.',
      );
    }
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const id = `up-${randomUUID()}`;
    const file = path.join(this.dir, `${id}.wbundle`);
    const handle = await fs.open(file, 'wx', 0o600);
    this.uploads.set(id, { id, clientId, file, handle, size, received: 0 });
    return { uploadId: id, maxChunkBytes: MAX_BUNDLE_CHUNK_BYTES };
  }

  async chunk(clientId: string, uploadId: string, offset: number, base64: string): Promise<number> {
    const upload = this.get(clientId, uploadId);
    if (offset !== upload.received) {
      throw new DesktopError(
        'invalid_request',
        `The upload continues at byte ${upload.received}, not ${offset}.`,
      );
    }
    const bytes = Buffer.from(base64, 'base64');
    if (bytes.length === 0 || bytes.length > MAX_BUNDLE_CHUNK_BYTES) {
      throw new DesktopError('invalid_request', 'A piece of the bundle is empty or too large.');
    }
    if (upload.received + bytes.length > upload.size) {
      throw new DesktopError('invalid_request', 'The upload is longer than the size announced.');
    }
    await upload.handle.write(bytes, 0, bytes.length, upload.received);
    upload.received += bytes.length;
    return upload.received;
  }

  /** The complete file, handed over: the caller deletes it when done. */
  async take(clientId: string, uploadId: string): Promise<string> {
    const upload = this.get(clientId, uploadId);
    if (upload.received !== upload.size) {
      throw new DesktopError(
        'invalid_request',
        `The upload has ${upload.received} of ${upload.size} bytes; send the rest first.`,
      );
    }
    this.uploads.delete(uploadId);
    await upload.handle.close();
    return upload.file;
  }

  async cancel(clientId: string, uploadId: string): Promise<void> {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.clientId !== clientId) return;
    await this.drop(upload);
  }

  async cancelAllFor(clientId: string): Promise<void> {
    for (const upload of [...this.uploads.values()]) {
      if (upload.clientId === clientId) await this.drop(upload);
    }
  }

  async dispose(): Promise<void> {
    for (const upload of [...this.uploads.values()]) await this.drop(upload);
  }

  private async drop(upload: Upload): Promise<void> {
    this.uploads.delete(upload.id);
    await upload.handle.close().catch(() => {});
    await fs.rm(upload.file, { force: true });
  }

  private get(clientId: string, uploadId: string): Upload {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.clientId !== clientId) {
      throw new DesktopError(
        'not_found',
        'There is no such upload (it was cancelled or finished).',
      );
    }
    return upload;
  }
}
