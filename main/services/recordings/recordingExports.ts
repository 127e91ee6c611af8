/**
 * Exports as the gateway makes them (`.cast`, the signed bundle, the `.jsonl` query log),
 * streamed byte for byte into a file main writes, with `export.progress` events to the window
 * that asked. Where the file goes: Electron asks with a save dialog (`chooseSaveFile`); the web
 * host, which has no dialog, writes into `<app data>/downloads/` under a name not yet taken and
 * returns that path — the browser never receives the bytes, so no file API is needed there.
 * The file appears only when complete (written as `.part`, then renamed).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Download } from '../../../gateway-client/gatewayClient.ts';
import { type CallerContext, type CallResponse, DesktopError } from '../../ipc/contract.ts';
import { toDesktopError } from '../desktopErrors.ts';
import { safeName } from './recordingCache.ts';

export const DOWNLOADS_DIR = 'downloads';
const PROGRESS_EVERY_MS = 100;

export type ExportFormat = 'cast' | 'bundle' | 'jsonl';

const extensions: Record<ExportFormat, string> = {
  cast: 'cast',
  bundle: 'wbundle',
  jsonl: 'jsonl',
};

export interface ExportTarget {
  /** Electron's save dialog: the chosen path, or null when cancelled. */
  chooseSaveFile?: (suggestedName: string) => Promise<string | null>;
  /** Where files go without a dialog. */
  downloadsDir: string;
}

export class RecordingExports {
  private readonly running = new Map<string, { clientId: string; cancel: () => void }>();

  constructor(private readonly target: ExportTarget) {}

  async run(
    caller: CallerContext,
    request: { exportId: string; sessionId: string; format: ExportFormat },
    open: () => Promise<Download>,
  ): Promise<CallResponse<'recordings.export'>> {
    const { exportId } = request;
    if (this.running.has(exportId)) {
      throw new DesktopError('conflict', 'An export with this id is already running.');
    }
    const fileName = `${safeName(request.sessionId)}.${extensions[request.format]}`;
    let cancelled = false;
    let body: Download['body'] | null = null;
    this.running.set(exportId, {
      clientId: caller.clientId,
      cancel: () => {
        cancelled = true;
        body?.destroy();
      },
    });
    const progress = (
      state: 'running' | 'done' | 'failed' | 'cancelled',
      bytes: number,
      total: number | null,
      message: string | null = null,
    ) => caller.emit('export.progress', { exportId, bytes, totalBytes: total, state, message });
    let temp: string | null = null;
    let reserved: string | null = null;
    try {
      const destination = await this.destination(fileName);
      if (!this.target.chooseSaveFile) reserved = destination;
      if (cancelled) throw new DesktopError('cancelled', 'The export was cancelled.');
      const download = await open();
      body = download.body;
      if (cancelled) download.body.destroy();
      temp = `${destination}.part`;
      const handle = await fs.open(temp, 'w');
      let bytes = 0;
      let last = 0;
      try {
        progress('running', 0, download.contentLength);
        for await (const chunk of download.body as AsyncIterable<Buffer>) {
          await handle.write(chunk);
          bytes += chunk.length;
          const now = Date.now();
          if (now - last >= PROGRESS_EVERY_MS) {
            last = now;
            progress('running', bytes, download.contentLength);
          }
        }
      } finally {
        await handle.close();
      }
      if (cancelled) throw new DesktopError('cancelled', 'The export was cancelled.');
      await fs.rename(temp, destination);
      temp = null;
      reserved = null;
      progress('done', bytes, bytes);
      return { exportId, savedTo: destination, fileName: path.basename(destination), bytes };
    } catch (error) {
      if (temp) await fs.rm(temp, { force: true });
      // The empty file that reserved the name in the downloads folder.
      if (reserved) await fs.rm(reserved, { force: true });
      if (cancelled || (error instanceof DesktopError && error.code === 'cancelled')) {
        progress('cancelled', 0, null, 'The export was cancelled.');
        throw new DesktopError('cancelled', 'The export was cancelled.');
      }
      // A download that broke off mid-way fails outside the account's error mapping.
      let described: unknown = error;
      try {
        described = toDesktopError(error);
      } catch {
        // Not a gateway failure (a disk error, say): it goes on as it is.
      }
      progress(
        'failed',
        0,
        null,
        described instanceof Error ? described.message : String(described),
      );
      throw described;
    } finally {
      this.running.delete(exportId);
    }
  }

  cancel(clientId: string, exportId: string): void {
    const running = this.running.get(exportId);
    if (running && running.clientId === clientId) running.cancel();
  }

  cancelAllFor(clientId: string): void {
    for (const [exportId, running] of this.running) {
      if (running.clientId === clientId) this.cancel(clientId, exportId);
    }
  }

  private async destination(fileName: string): Promise<string> {
    if (this.target.chooseSaveFile) {
      const chosen = await this.target.chooseSaveFile(fileName);
      if (!chosen) throw new DesktopError('cancelled', 'The export was cancelled.');
      return chosen;
    }
    await fs.mkdir(this.target.downloadsDir, { recursive: true });
    const ext = path.extname(fileName);
    const stem = fileName.slice(0, fileName.length - ext.length);
    for (let n = 0; n < 1000; n++) {
      const candidate = path.join(
        this.target.downloadsDir,
        n === 0 ? fileName : `${stem}-${n}${ext}`,
      );
      try {
        // Reserve the name so two exports of the same recording do not pick the same one.
        await (await fs.open(candidate, 'wx')).close();
        return candidate;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    throw new DesktopError(
      'conflict',
      'The downloads folder has too many exports of this recording.',
    );
  }
}
