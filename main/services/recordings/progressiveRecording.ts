/**
 * A recording played while it downloads (issue #16). The whole stream is fetched once, in
 * order, and verified as it arrives by the same RecordingVerifier as any download; what the
 * player may show grows with it, one signed checkpoint at a time: the first frame shows as soon
 * as the stretch from the header to the first checkpoint verifies, whatever the recording's
 * size. A seek past what has arrived fetches the stretch that holds the target by byte range
 * (the gateway's seek table says where it lies) and verifies it on its own, from the hash its
 * first checkpoint signs (shared/recording/verifyStretch.ts) — an "island" the player shows
 * until the download reaches it.
 *
 * Trust is never ahead of a signature: the prefix shows frames up to the last checkpoint
 * verified in order from the header; an island shows the frames of its stretches up to the
 * last checkpoint verified in it. Bytes go to one file at their offsets in the stream, so when
 * the download ends the file is the whole stream, as a plain download leaves it.
 */
import { closeSync, openSync, writeSync, writevSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { Download } from '../../../gateway-client/gatewayClient.ts';
import type { RecordingHeader } from '../../../shared/recording/recordingFormat.ts';
import {
  type SeekTable,
  type StretchRange,
  stretchIndexAt,
  stretchRange,
} from '../../../shared/recording/seekTable.ts';
import {
  RecordingVerifier,
  type VerificationReport,
} from '../../../shared/recording/verifyRecording.ts';
import { StretchVerifier } from '../../../shared/recording/verifyStretch.ts';
import { type ChunkOutcome, pumpChunks, STOP_READING } from './chunkPump.ts';
import { EventTextReader } from './eventText.ts';
import { upperBound } from './keyframes.ts';
import { IndexBuilder, type RecordingIndex, type TerminalSize } from './recordingIndex.ts';

/** What a progressive open needs of the gateway. */
export interface ProgressiveSource {
  downloadRecording(sessionId: string): Promise<Download>;
  downloadRecordingRange(sessionId: string, from: number, to: number): Promise<Download>;
  getRecordingSeekTable(sessionId: string): Promise<SeekTable>;
}

/** An island starts this many bytes of stream before its target, so the screen has context. */
const ISLAND_CONTEXT_BYTES = 256 * 1024;
/** An island grows by at least this many bytes of stream at a time. */
const ISLAND_STEP_BYTES = 1024 * 1024;
/**
 * A stretch before the target's this short is fetched with it, in the same request: since the
 * recorder checkpoints every MiB (issue #16) a target often lies early in its stretch, or in the
 * quiet gap before its first frame, and the screen there comes from the stretch before. One
 * request of two stretches instead of a second island (islandAt): bench:replay's 40 cold seeks
 * fetched 36–38 islands instead of 60. Longer ones (16 MiB, recordings made before) are not
 * fetched just for context.
 */
const CONTEXT_STRETCH_BYTES = 4 * 1024 * 1024;

/** `playback.progress` of the download at most this often. */
const PROGRESS_EVERY_MS = 100;

/** A stretch run verified on its own: its index, and how far a signature covers it. */
export interface Island {
  /** Stretch indexes [first, next) fetched so far. */
  first: number;
  next: number;
  builder: IndexBuilder;
  /** Events [0, visible) are covered by a checkpoint signed and verified in the island. */
  visible: number;
  verifiedThroughSeq: number;
  /** First frame of the island (the stretch after this seq). */
  afterSeq: number;
  /** When a stretch failed: where and why (nothing from it on is shown). */
  failure: { seq: number; message: string } | null;
  /** ms from the session's start of the first and last visible events. */
  fromMs: number;
  throughMs: number;
  text: EventTextReader;
}

export interface ProgressiveSnapshot {
  /** Frames through this seq are verified in order from the header. */
  verifiedThroughSeq: number;
  /** ms from the session's start of the last verified frame. */
  verifiedThroughMs: number;
  /** From the seek table (unsigned until verified): ms from the start of the last frame. */
  totalMs: number | null;
  bytes: number;
  totalBytes: number | null;
}

export class ProgressiveRecording {
  readonly prefix: IndexBuilder;
  header: RecordingHeader | null = null;
  table: SeekTable | null = null;
  /** Prefix events [0, visible) are covered by a verified checkpoint. */
  visible = 0;
  verifiedThroughSeq = 0;
  verifiedThroughMs = 0;
  bytes = 0;
  totalBytes: number | null = null;
  /** The prefix's verdict, once the download has ended. */
  report: VerificationReport | null = null;
  readonly islands: Island[] = [];
  /** Resolves with the whole download's verdict (the file then holds every byte received). */
  readonly done: Promise<VerificationReport>;
  readonly text: EventTextReader;

  private readonly verifier: RecordingVerifier;
  private readonly fd: number;
  private pending: Buffer[] = [];
  private pendingAt = 0;
  private written = 0;
  private candidateSeq = 0;
  private candidateTime = 0;
  private candidateCheckpoint = false;
  private stopped = false;
  private download: Download | null = null;
  private readonly firstStretch: Promise<void>;
  private onFirstStretch: () => void = () => {};
  private listeners = new Set<() => void>();
  /** Stretches being fetched for a seek; the background download waits for them. */
  private readonly seeks = new Set<Promise<void>>();
  /** Holds the download from the first stretch until the first frame is served. */
  private firstHold: (() => void) | null = null;

  /** The first frame is served (or the open gave up): the download goes on. */
  releaseFirstHold(): void {
    const release = this.firstHold;
    this.firstHold = () => {};
    release?.();
  }
  private progress: ((phase: 'download', bytes: number, total: number | null) => void) | null =
    null;
  private progressAt = 0;

  private constructor(
    private readonly source: ProgressiveSource,
    private readonly publicKeyPem: string,
    readonly sessionId: string,
    readonly file: string,
    readonly handle: FileHandle,
  ) {
    this.fd = openSync(file, 'r+');
    this.prefix = new IndexBuilder(0, Number.MAX_SAFE_INTEGER);
    this.text = new EventTextReader(handle, this.prefix.events);
    this.verifier = new RecordingVerifier({
      publicKeyPem,
      expectedSessionId: sessionId,
      onHeader: (header) => {
        this.header = header;
        this.prefix.header = header;
      },
      onEvent: (event, recordOffset) => {
        this.prefix.frame(event, recordOffset);
      },
      onCheckpoint: (checkpoint) => {
        this.candidateSeq = checkpoint.seq;
        this.candidateTime = checkpoint.time;
        this.candidateCheckpoint = true;
      },
    });
    this.firstStretch = new Promise((resolve) => {
      this.onFirstStretch = () => {
        // Until the first frame is shown, it goes first (see `foreground`); the open releases.
        if (this.firstHold === null && !this.report) this.firstHold = this.hold();
        resolve();
      };
    });
    this.done = this.run();
    // Awaited by whoever needs the verdict; a failed download is reported through it.
    this.done.catch(() => {});
  }

  /**
   * Starts the download into `file` (created) and resolves once the first stretch is verified
   * (or the download ended before: the verdict then says why).
   */
  static async start(
    source: ProgressiveSource,
    publicKeyPem: string,
    sessionId: string,
    file: string,
    onProgress?: (phase: 'download' | 'verify', bytes: number, total: number | null) => void,
  ): Promise<ProgressiveRecording> {
    // Created empty; written at offsets, read back for the events shown.
    closeSync(openSync(file, 'w'));
    const handle = await open(file, 'r');
    const recording = new ProgressiveRecording(source, publicKeyPem, sessionId, file, handle);
    if (onProgress) {
      recording.progress = onProgress;
      recording.done.then(
        () => onProgress('verify', recording.bytes, recording.bytes),
        () => {},
      );
    }
    await Promise.race([
      recording.firstStretch,
      recording.done.then(
        () => {},
        () => {},
      ),
    ]);
    return recording;
  }

  /** Resolves once the verified prefix reaches `atMs`, or the download has ended. */
  async reach(atMs: number): Promise<void> {
    while (this.verifiedThroughMs < atMs && !this.report) {
      await new Promise<void>((resolve) => {
        const off = this.onChange(() => {
          off();
          resolve();
        });
      });
    }
  }

  /** Called whenever more becomes visible, and at the end. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): ProgressiveSnapshot {
    const table = this.table;
    const startedAt = this.header?.startedAt ?? 0;
    return {
      verifiedThroughSeq: this.verifiedThroughSeq,
      verifiedThroughMs: this.verifiedThroughMs,
      totalMs:
        table && table.lastFrameTime > 0 ? Math.max(0, table.lastFrameTime - startedAt) : null,
      bytes: this.bytes,
      totalBytes: this.totalBytes ?? table?.bytes ?? null,
    };
  }

  /** The terminal size known at the prefix's end (for an island, which starts mid-session). */
  sizeSoFar(): TerminalSize {
    const resizes = this.prefix.resizesSoFar();
    return resizes.at(-1) ?? this.prefix.currentSize() ?? { cols: 80, rows: 24 };
  }

  /** The prefix as an index (events shared, not copied: they keep growing). */
  prefixIndex(): RecordingIndex {
    return this.prefix.finish();
  }

  stop(): void {
    this.stopped = true;
    this.releaseFirstHold();
    this.download?.body.destroy();
  }

  async close(): Promise<void> {
    this.stop();
    await this.done.catch(() => {});
    try {
      closeSync(this.fd);
    } catch {
      // closed already
    }
    await this.handle.close().catch(() => {});
  }

  /**
   * The island holding `atMs` (ms from the session's start), fetched and verified now if no
   * island or verified prefix holds it yet. Null when the seek table is not known or empty.
   */
  async islandAt(atMs: number): Promise<Island | null> {
    const table = await this.seekTable();
    if (!table || table.points.length === 0 || !this.header) return null;
    for (const island of this.islands) {
      // Only an island with output at or before the target: one that starts in a quiet gap
      // after it would show an empty screen (issue #16, seen in bench:replay's cold seeks).
      const e = island.builder.events;
      if (
        island.failure === null &&
        atMs >= island.fromMs &&
        atMs <= island.throughMs &&
        e.count > 0 &&
        e.t[0]! <= atMs
      ) {
        return island;
      }
    }
    const target = stretchIndexAt(table, this.header.startedAt + atMs);
    // Short stretches (a second of a quiet session) get the ones before them as context for the
    // screen; a long one (a bulk transfer checkpoints every MiB, every 16 MiB before issue #16)
    // has plenty of its own.
    let first = target;
    while (
      first > 0 &&
      stretchRange(table, target).to - stretchRange(table, first).from < ISLAND_CONTEXT_BYTES
    ) {
      first--;
    }
    if (first === target && first > 0) {
      const before = stretchRange(table, first - 1);
      if (before.to - before.from <= CONTEXT_STRETCH_BYTES) first--;
    }
    let island = this.newIsland(first);
    this.islands.push(island);
    await this.extend(island, target + 1);
    // The target fell in a quiet gap before the stretch's first frame: the screen then is the
    // one the stretch before leaves, so that one is fetched too.
    const e = island.builder.events;
    if (first > 0 && island.failure === null && (e.count === 0 || e.t[0]! > atMs)) {
      island = this.newIsland(first - 1);
      this.islands.push(island);
      await this.extend(island, target + 1);
    }
    return island;
  }

  /**
   * Holds the background download back while a person waits for `work` (an open, a page of
   * frames, a seek): the download verifies on this thread, and at full speed it would queue
   * its chunks ahead of the answer.
   */
  async foreground<T>(work: () => Promise<T>): Promise<T> {
    let resume: () => void = () => {};
    const waiting = new Promise<void>((resolve) => {
      resume = resolve;
    });
    this.seeks.add(waiting);
    try {
      return await work();
    } finally {
      this.seeks.delete(waiting);
      resume();
    }
  }

  /** Holds the background download back until the returned function is called. */
  hold(): () => void {
    let resume: () => void = () => {};
    const waiting = new Promise<void>((resolve) => {
      resume = resolve;
    });
    this.seeks.add(waiting);
    return () => {
      this.seeks.delete(waiting);
      resume();
    };
  }

  /** Fetches more stretches of `island` (at least through stretch `until` - 1). */
  async extend(island: Island, until = island.next + 1): Promise<boolean> {
    const table = this.table;
    if (!table || island.failure || island.next >= table.points.length) return false;
    let last = Math.max(until, island.next + 1) - 1;
    const from = stretchRange(table, island.next);
    while (
      last + 1 < table.points.length &&
      stretchRange(table, last).to - from.from < ISLAND_STEP_BYTES
    ) {
      last++;
    }
    last = Math.min(last, table.points.length - 1);
    const range: StretchRange = {
      index: last,
      from: from.from,
      to: stretchRange(table, last).to,
      after: from.after,
    };
    const verifier = new StretchVerifier({
      publicKeyPem: this.publicKeyPem,
      sessionId: this.sessionId,
      range,
      header: this.header,
      onEvent: (event, recordOffset) => {
        island.builder.frame(event, recordOffset);
      },
    });
    // The person waits for this stretch: the background download holds back meanwhile (it
    // shares this thread and the link).
    const release = this.hold();
    try {
      const download = await this.source.downloadRecordingRange(
        this.sessionId,
        range.from,
        range.to,
      );
      let at = range.from;
      await pumpChunks(download.body, (chunk): ChunkOutcome => {
        writeSync(this.fd, chunk, 0, chunk.length, at);
        at += chunk.length;
        return verifier.push(chunk) ? undefined : STOP_READING;
      }).finally(() => download.body.destroy());
    } finally {
      release();
    }
    const verdict = verifier.finish();
    island.next = last + 1;
    island.verifiedThroughSeq = verdict.throughSeq;
    const e = island.builder.events;
    island.visible = upperBound(e.seq, verdict.throughSeq, e.count);
    island.throughMs = island.visible > 0 ? e.t[island.visible - 1]! : island.fromMs;
    if (verdict.status !== 'verified') {
      island.failure = {
        seq: verdict.firstBadSeq ?? verdict.throughSeq + 1,
        message: verdict.message,
      };
    }
    return verdict.status === 'verified';
  }

  private newIsland(first: number): Island {
    const table = this.table!;
    const range = stretchRange(table, first);
    const builder = new IndexBuilder(0, Number.MAX_SAFE_INTEGER, this.prefix.channelPlayed());
    builder.header = this.header;
    builder.assumeSize(this.sizeSoFar());
    const startedAt = this.header?.startedAt ?? 0;
    const fromMs = Math.max(0, (range.after?.frameTime ?? startedAt) - startedAt);
    return {
      first,
      next: first,
      builder,
      visible: 0,
      verifiedThroughSeq: range.after?.seq ?? 0,
      afterSeq: range.after?.seq ?? 0,
      failure: null,
      fromMs,
      throughMs: fromMs,
      text: new EventTextReader(this.handle, builder.events),
    };
  }

  private seekTablePromise: Promise<SeekTable | null> | null = null;

  seekTable(): Promise<SeekTable | null> {
    this.seekTablePromise ??= this.source.getRecordingSeekTable(this.sessionId).then(
      (table) => {
        this.table = table;
        return table;
      },
      () => {
        // Asked again next time (the gateway may have been busy scanning a large recording).
        this.seekTablePromise = null;
        return null;
      },
    );
    return this.seekTablePromise;
  }

  private async run(): Promise<VerificationReport> {
    void this.seekTable();
    try {
      const download = await this.source.downloadRecording(this.sessionId);
      this.download = download;
      this.totalBytes = download.contentLength;
      if (this.stopped) download.body.destroy();
      await pumpChunks(download.body, this.accept).finally(() => download.body.destroy());
      this.flush();
      this.report = this.verifier.finish();
      // Only what a signature covers stays visible (a failure may have come after a checkpoint).
      this.reveal(Math.min(this.report.verifiedThroughSeq, this.verifiedThroughSeq));
      return this.report;
    } finally {
      this.onFirstStretch();
      for (const listener of this.listeners) listener();
    }
  }

  private readonly accept = (chunk: Buffer): ChunkOutcome => {
    if (this.stopped) return STOP_READING;
    this.pending.push(chunk);
    this.bytes += chunk.length;
    if (this.progress) {
      const now = Date.now();
      if (now - this.progressAt >= PROGRESS_EVERY_MS) {
        this.progressAt = now;
        this.progress('download', this.bytes, this.totalBytes);
      }
    }
    const ok = this.verifier.push(chunk);
    if (this.candidateCheckpoint) {
      this.candidateCheckpoint = false;
      // What a checkpoint covers is on disk before it is shown.
      this.flush();
      this.reveal(this.candidateSeq);
    }
    if (!ok) return STOP_READING;
    // Awaited one at a time: a hold added while waiting is seen before reading on.
    return this.seeks.size > 0 ? this.whileHeld() : undefined;
  };

  private async whileHeld(): Promise<void> {
    while (this.seeks.size > 0) await Promise.all(this.seeks);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const length = this.pending.reduce((sum, chunk) => sum + chunk.length, 0);
    writevSync(this.fd, this.pending, this.pendingAt);
    this.pendingAt += length;
    this.written = this.pendingAt;
    this.pending = [];
  }

  private reveal(seq: number): void {
    const e = this.prefix.events;
    this.verifiedThroughSeq = seq;
    this.visible = upperBound(e.seq, seq, e.count);
    // The frames it covers were seen before the checkpoint was made, so no later than it.
    const startedAt = this.header?.startedAt ?? 0;
    const through = Math.min(this.candidateTime - startedAt, this.prefix.lastTime());
    this.verifiedThroughMs = Math.max(this.verifiedThroughMs, through);
    this.onFirstStretch();
    for (const listener of this.listeners) listener();
  }

  /** Bytes of the stream written to the file so far. */
  get writtenBytes(): number {
    return this.written;
  }
}
