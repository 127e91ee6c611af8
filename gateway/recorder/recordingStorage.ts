/**
 * Where recording bytes go. The recorder writes one append-only byte stream per session (the
 * format of shared/recording/recordingFormat.ts) into a `RecordingSink`; readers get
 * the same bytes back, in order, from `open`. Two deployments (DESIGN.md, Storage):
 *
 * - `SegmentFileStorage` (SQLite deployment): `<root>/<sessionId>/000000.seg, 000001.seg, …`,
 *   directories 0700 and files 0600, a new segment every 64 MiB, fsync on `sync()`.
 * - `DatabaseChunkStorage` (PostgreSQL deployment): rows of `recording_chunks` through the
 *   Store, at most 1 MiB each. Each `write` is committed before it resolves (issue #17): the
 *   recorder writes once per turn of the event loop (every frame appended meanwhile, as one
 *   batch) and the proxies forward bytes only once their append settled, so nothing a client
 *   or target saw is only in this process's memory — a replica killed mid-session leaves every
 *   forwarded byte in the database, as the segment files leave it in the kernel.
 *   (`commitEachWrite: false` buffers up to a chunk between syncs instead, as before #17.)
 *
 * Storage knows nothing of frames or checkpoints; the recorder decides when to `sync()` (before
 * every checkpoint, so a checkpoint on disk never covers bytes that are not) and `flush()`
 * (after every checkpoint, so the checkpoint itself is not held in a buffer).
 */
import { createReadStream, writevSync } from 'node:fs';
import { chmod, type FileHandle, mkdir, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordingChunkStore, RecordingStorageKind } from '../store/recordingStore.ts';

export interface RecordingSink {
  /**
   * Appends bytes after everything written before. The sink may keep a reference to `bytes`
   * until it is flushed: callers hand over a buffer they no longer change.
   */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Appends `chunks` one after the other, as `write` of their concatenation would, without
   * joining them first (vectored I/O for segment files). The caller does not change the
   * chunks until this settles; the sink keeps no reference after that. Optional: without it
   * the recorder joins the chunks and calls `write`.
   */
  writev?(chunks: readonly Uint8Array[]): Promise<void>;
  /**
   * Hands everything written so far to where a crash of this process cannot lose it (the
   * kernel, the database), without forcing it to disk. The recorder calls it after each
   * checkpoint, so a buffering sink cannot hold the last checkpoint back indefinitely.
   */
  flush(): Promise<void>;
  /** Makes everything written so far durable (fsync, or a database commit). */
  sync(): Promise<void>;
  /** Syncs and releases the sink; later writes fail. */
  close(): Promise<void>;
}

export interface RecordingStorage {
  readonly kind: RecordingStorageKind;
  /**
   * Starts the recording of `sessionId` with its header record, made durable before this
   * resolves. Fails if that session already has a recording: history is never overwritten.
   */
  create(sessionId: string, headerBytes: Uint8Array): Promise<RecordingSink>;
  /**
   * The recording's bytes in order, streamed (never the whole recording in memory). Works on
   * a recording that is still being written: it yields what is stored so far.
   * Throws `RecordingNotFoundError` when nothing is stored for the session.
   */
  open(sessionId: string): AsyncIterable<Buffer>;
  /**
   * Following a recording as it is written (live watch): yields the bytes stored after
   * `position` and advances it past them, so the next call goes on where this one stopped.
   * Start from `startOfRecording()`. Yields nothing when nothing new is stored yet (or nothing
   * at all: a recording whose header is not stored yet is not an error here). Optional so
   * test storages need not follow; both real storages do.
   */
  readFrom?(sessionId: string, position: StoredPosition): AsyncIterable<Buffer>;
  /**
   * The stored bytes [from, to), without reading what comes before (issue #16: a seek fetches
   * one stretch of a large recording). Optional: RecordingArchive skips through `open` when a
   * storage has none.
   */
  openRange?(sessionId: string, from: number, to: number): AsyncIterable<Buffer>;
  /** Bytes stored now (issue #16: sent as the stream's length). Optional; undefined: unknown. */
  storedBytes?(sessionId: string): Promise<number | undefined>;
  /**
   * A cheap token that changes whenever the stored bytes may have changed (issue #16), so a
   * verdict made on them can be reused while it holds; see `segmentsFingerprint`. Optional;
   * undefined: the storage cannot tell cheaply (or not yet), and every verdict is made afresh.
   */
  fingerprint?(sessionId: string): Promise<string | undefined>;
}

/**
 * How long after a segment's last change its fingerprint is trusted: file times come from a
 * coarse clock (a kernel tick, a few ms; some file systems round to a second or two), so a write
 * in the same tick as the last one could leave every time unchanged. Once this long has passed,
 * any later write gets a later time.
 */
export const FINGERPRINT_SETTLE_MS = 2_000;

/** Where a follower of a recording has read up to; only the storage that made it reads it. */
export interface StoredPosition {
  /** Bytes read so far (segment files). */
  bytes: number;
  /** The next chunk number to read (database chunks). */
  nextChunkNo: number;
}

export function startOfRecording(): StoredPosition {
  return { bytes: 0, nextChunkNo: 0 };
}

export class RecordingNotFoundError extends Error {
  override readonly name = 'RecordingNotFoundError';
  constructor(readonly sessionId: string) {
    super(`No recording bytes are stored for session ${sessionId}.`);
  }
}

/** Session ids become directory names: allow nothing that could leave the recordings root. */
const SAFE_SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

function checkSessionId(sessionId: string): void {
  if (!SAFE_SESSION_ID.test(sessionId)) {
    throw new Error(`"${sessionId}" is not a valid session id for a recording`);
  }
}

// ---------------------------------------------------------------------------------------------
// Segment files

export const SEGMENT_BYTES = 64 * 1024 * 1024;
const SEGMENT_NAME = /^(\d{6})\.seg$/;
const segmentName = (index: number) => `${String(index).padStart(6, '0')}.seg`;

export interface SegmentFileStorageOptions {
  /** Roll to a new segment file after this many bytes (tests make it small). */
  segmentBytes?: number;
  /** FINGERPRINT_SETTLE_MS unless given (tests make it short, and wait longer than it). */
  fingerprintSettleMs?: number;
}

export class SegmentFileStorage implements RecordingStorage {
  readonly kind = 'segments';
  private readonly segmentBytes: number;
  private readonly fingerprintSettleMs: number;

  /** `root` is `<dataDir>/recordings`. */
  constructor(
    private readonly root: string,
    options: SegmentFileStorageOptions = {},
  ) {
    this.segmentBytes = options.segmentBytes ?? SEGMENT_BYTES;
    this.fingerprintSettleMs = options.fingerprintSettleMs ?? FINGERPRINT_SETTLE_MS;
  }

  async create(sessionId: string, headerBytes: Uint8Array): Promise<RecordingSink> {
    checkSessionId(sessionId);
    await ensurePrivateDirectory(this.root);
    const dir = join(this.root, sessionId);
    // Not recursive: EEXIST means this session already has a recording, which must not be
    // appended to by a second writer.
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o700); // mkdir's mode is filtered through the umask
    const sink = new SegmentFileSink(dir, this.segmentBytes);
    await sink.start(headerBytes);
    await syncDirectory(this.root); // the session's directory entry survives a crash
    return sink;
  }

  async *open(sessionId: string): AsyncIterable<Buffer> {
    checkSessionId(sessionId);
    const dir = join(this.root, sessionId);
    const indexes = await segmentIndexes(dir);
    if (!indexes?.length) throw new RecordingNotFoundError(sessionId);
    for (const [position, index] of indexes.entries()) {
      // A missing segment would splice two distant parts of the stream together.
      if (index !== position) {
        throw new Error(
          `Segment ${segmentName(position)} of the recording of ${sessionId} is missing; the recording is damaged after that point.`,
        );
      }
      for await (const chunk of createReadStream(join(dir, segmentName(index)), {
        highWaterMark: 1024 * 1024,
      })) {
        yield chunk as Buffer;
      }
    }
  }

  async storedBytes(sessionId: string): Promise<number | undefined> {
    checkSessionId(sessionId);
    const dir = join(this.root, sessionId);
    try {
      const names = (await readdir(dir)).filter((name) => SEGMENT_NAME.test(name));
      let total = 0;
      for (const name of names) total += (await stat(join(dir, name))).size;
      return names.length > 0 ? total : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Each segment's name, size, inode, and modification and change times in nanoseconds. Any
   * write, truncation, replacement (a new inode) or added or removed segment changes it; so does
   * setting the modification time back (`touch -d`), because that sets the change time to now,
   * which only the kernel's clock decides. What it cannot see is an edit of the raw disk or a
   * clock set back by root: the scheduled re-verification pass, which never uses it, is there
   * for that (DESIGN.md, issue #16). Undefined within the settle time of the last change.
   */
  async fingerprint(sessionId: string): Promise<string | undefined> {
    checkSessionId(sessionId);
    const dir = join(this.root, sessionId);
    try {
      const names = (await readdir(dir)).filter((name) => SEGMENT_NAME.test(name)).sort();
      if (names.length === 0) return undefined;
      const parts: string[] = [];
      let lastChangeMs = 0;
      for (const name of names) {
        const info = await stat(join(dir, name), { bigint: true });
        lastChangeMs = Math.max(lastChangeMs, Number(info.ctimeMs), Number(info.mtimeMs));
        parts.push(`${name}:${info.size}:${info.dev}:${info.ino}:${info.mtimeNs}:${info.ctimeNs}`);
      }
      if (Date.now() - lastChangeMs < this.fingerprintSettleMs) return undefined;
      return `segments ${parts.join(' ')}`;
    } catch {
      return undefined;
    }
  }

  async *openRange(sessionId: string, from: number, to: number): AsyncIterable<Buffer> {
    checkSessionId(sessionId);
    const dir = join(this.root, sessionId);
    const indexes = await segmentIndexes(dir);
    if (!indexes?.length) throw new RecordingNotFoundError(sessionId);
    let segmentStart = 0;
    for (const [expected, index] of indexes.entries()) {
      if (segmentStart >= to) return;
      if (index !== expected) {
        throw new Error(
          `Segment ${segmentName(expected)} of the recording of ${sessionId} is missing; the recording is damaged after that point.`,
        );
      }
      const path = join(dir, segmentName(index));
      const { size } = await stat(path);
      const start = Math.max(0, from - segmentStart);
      const end = Math.min(size, to - segmentStart);
      segmentStart += size;
      if (start >= end) continue;
      for await (const chunk of createReadStream(path, {
        start,
        end: end - 1, // inclusive
        highWaterMark: 1024 * 1024,
      })) {
        yield chunk as Buffer;
      }
    }
  }

  async *readFrom(sessionId: string, position: StoredPosition): AsyncIterable<Buffer> {
    checkSessionId(sessionId);
    const dir = join(this.root, sessionId);
    const indexes = await segmentIndexes(dir);
    if (!indexes) return;
    let skip = position.bytes;
    for (const [expected, index] of indexes.entries()) {
      if (index !== expected) {
        throw new Error(
          `Segment ${segmentName(expected)} of the recording of ${sessionId} is missing; the recording is damaged after that point.`,
        );
      }
      const path = join(dir, segmentName(index));
      const { size } = await stat(path);
      if (skip >= size) {
        skip -= size;
        continue;
      }
      // Reads to the end as it is now; bytes appended meanwhile come with the next call.
      for await (const chunk of createReadStream(path, {
        start: skip,
        highWaterMark: 1024 * 1024,
      })) {
        position.bytes += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      skip = 0;
    }
  }
}

class SegmentFileSink implements RecordingSink {
  private file: FileHandle | undefined;
  private index = 0;
  /** Bytes in the current segment. */
  private size = 0;
  /** A segment was created since the directory was last fsynced. */
  private directoryDirty = false;
  private closed = false;
  private broken: unknown;

  constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  async start(headerBytes: Uint8Array): Promise<void> {
    await this.openSegment();
    await this.write(headerBytes);
    await this.sync();
  }

  async write(bytes: Uint8Array): Promise<void> {
    let file = this.usable();
    let offset = 0;
    try {
      while (offset < bytes.length) {
        if (this.size >= this.segmentBytes) file = await this.roll();
        const length = Math.min(bytes.length - offset, this.segmentBytes - this.size);
        await writeFully(file, bytes, offset, length, this.size);
        offset += length;
        this.size += length;
      }
    } catch (error) {
      this.broken = error;
      throw error;
    }
  }

  async writev(chunks: readonly Uint8Array[]): Promise<void> {
    let file = this.usable();
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    if (this.size + total > this.segmentBytes || this.size >= this.segmentBytes) {
      // Crosses into the next segment (once per segment): the plain path splits and rolls.
      for (const chunk of chunks) await this.write(chunk);
      return;
    }
    try {
      let rest = chunks;
      let done = 0;
      for (;;) {
        const { bytesWritten } =
          total <= SYNC_WRITE_MAX_BYTES
            ? { bytesWritten: writevSync(file.fd, rest as Uint8Array[], this.size + done) }
            : await file.writev(rest, this.size + done);
        done += bytesWritten;
        if (done >= total) break;
        rest = dropBytes(rest, bytesWritten); // a short write: go on after what was written
        file = this.usable();
      }
      this.size += total;
    } catch (error) {
      this.broken = error;
      throw error;
    }
  }

  async flush(): Promise<void> {
    this.usable(); // every write already went to the kernel
  }

  async sync(): Promise<void> {
    const file = this.usable();
    try {
      await file.sync();
      if (this.directoryDirty) {
        await syncDirectory(this.dir);
        this.directoryDirty = false;
      }
    } catch (error) {
      this.broken = error;
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.broken === undefined) await this.sync();
    } finally {
      this.closed = true;
      await this.file?.close();
    }
  }

  /** After a failed write the end of the file is unknown: refuse everything after it. */
  private usable(): FileHandle {
    if (this.broken !== undefined) throw this.broken;
    if (this.closed || !this.file) throw new Error('the recording sink is closed');
    return this.file;
  }

  private async roll(): Promise<FileHandle> {
    // The finished segment must be on disk before anything lands in the next one: a later
    // checkpoint's sync() only covers the current file.
    const previous = this.file;
    this.file = undefined;
    try {
      await previous?.sync();
    } finally {
      await previous?.close();
    }
    this.index += 1;
    return this.openSegment();
  }

  private async openSegment(): Promise<FileHandle> {
    // 'wx': never reopen (and so never overwrite) an existing segment.
    const file = await open(join(this.dir, segmentName(this.index)), 'wx', 0o600);
    this.file = file;
    this.size = 0;
    this.directoryDirty = true;
    return file;
  }
}

/**
 * Batches up to this size are written with writevSync. A small write into the page cache takes
 * a couple of microseconds, while an fs/promises write costs ~40 µs of CPU in thread-pool
 * hand-offs and promise machinery — for a database session (two small appends per query) that
 * overhead, not the disk, bounded throughput. Durability is unchanged: checkpoints still fsync
 * (asynchronously) before they are written. Larger batches stay asynchronous so one big write
 * never holds the event loop.
 */
const SYNC_WRITE_MAX_BYTES = 64 * 1024;

async function writeFully(
  file: FileHandle,
  bytes: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await file.write(bytes, offset + done, length - done, position + done);
    done += bytesWritten;
  }
}

/** `chunks` without their first `bytes` bytes (after a short vectored write). */
function dropBytes(chunks: readonly Uint8Array[], bytes: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  let skip = bytes;
  for (const chunk of chunks) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
    skip = 0;
  }
  return rest;
}

async function ensurePrivateDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
}

/** fsync of a directory makes the entries created in it durable (POSIX leaves it to the caller). */
async function syncDirectory(path: string): Promise<void> {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync there
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Database chunks

export const CHUNK_BYTES = 1024 * 1024;
/**
 * Chunks fetched per query when reading: at most this many MiB in memory at once. Was 4;
 * committing every write (issue #17) makes an interactive session many small chunks, and 4 a
 * query made reading one a query per few hundred bytes.
 */
const CHUNKS_PER_PAGE = 32;

export interface DatabaseChunkStorageOptions {
  /** Largest chunk row, and how much is buffered before a flush. */
  chunkBytes?: number;
  /** Commit every write before it resolves (default); false buffers up to `chunkBytes`. */
  commitEachWrite?: boolean;
  chunksPerPage?: number;
}

export class DatabaseChunkStorage implements RecordingStorage {
  readonly kind = 'database';
  private readonly chunkBytes: number;
  private readonly chunksPerPage: number;
  private readonly commitEachWrite: boolean;

  constructor(
    private readonly store: RecordingChunkStore,
    options: DatabaseChunkStorageOptions = {},
  ) {
    this.chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
    this.chunksPerPage = options.chunksPerPage ?? CHUNKS_PER_PAGE;
    this.commitEachWrite = options.commitEachWrite ?? true;
  }

  async create(sessionId: string, headerBytes: Uint8Array): Promise<RecordingSink> {
    checkSessionId(sessionId);
    // Chunk 0 is the header; its primary key makes a second recording of the session fail.
    await this.store.appendRecordingChunk(sessionId, 0, headerBytes);
    return new DatabaseChunkSink(this.store, sessionId, this.chunkBytes, this.commitEachWrite);
  }

  async *open(sessionId: string): AsyncIterable<Buffer> {
    checkSessionId(sessionId);
    let after = -1;
    for (;;) {
      const page = await this.store.listRecordingChunks(sessionId, after, this.chunksPerPage);
      if (after === -1 && page.length === 0) throw new RecordingNotFoundError(sessionId);
      for (const chunk of page) {
        if (chunk.chunkNo !== after + 1) {
          throw new Error(
            `Chunk ${after + 1} of the recording of ${sessionId} is missing; the recording is damaged after that point.`,
          );
        }
        after = chunk.chunkNo;
        yield chunk.data;
      }
      if (page.length < this.chunksPerPage) return;
    }
  }

  async *readFrom(sessionId: string, position: StoredPosition): AsyncIterable<Buffer> {
    checkSessionId(sessionId);
    for (;;) {
      const page = await this.store.listRecordingChunks(
        sessionId,
        position.nextChunkNo - 1,
        this.chunksPerPage,
      );
      for (const chunk of page) {
        if (chunk.chunkNo !== position.nextChunkNo) {
          // Chunks commit one by one in order; a gap is damage, not a write in progress.
          throw new Error(
            `Chunk ${position.nextChunkNo} of the recording of ${sessionId} is missing; the recording is damaged after that point.`,
          );
        }
        position.nextChunkNo += 1;
        position.bytes += chunk.data.length;
        yield chunk.data;
      }
      if (page.length < this.chunksPerPage) return;
    }
  }
}

class DatabaseChunkSink implements RecordingSink {
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  private nextChunkNo = 1;
  private closed = false;
  /** After a failed insert the chunk numbering is uncertain: refuse everything after it. */
  private broken: unknown;
  /** The inserts in flight, in order. */
  private inserting: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: RecordingChunkStore,
    private readonly sessionId: string,
    private readonly chunkBytes: number,
    private readonly commitEachWrite: boolean,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    this.check();
    if (bytes.length === 0) return;
    this.buffered.push(bytes);
    this.bufferedBytes += bytes.length;
    if (this.commitEachWrite || this.bufferedBytes >= this.chunkBytes) await this.insertBuffered();
  }

  /** Copies the chunks (one copy; they are joined anyway) so none is referenced after this. */
  async writev(chunks: readonly Uint8Array[]): Promise<void> {
    this.check();
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    if (total === 0) return;
    await this.write(Buffer.concat(chunks, total));
  }

  async flush(): Promise<void> {
    this.check();
    await this.insertBuffered();
  }

  /** Each insert commits on its own, so flushing is syncing. */
  sync(): Promise<void> {
    return this.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.broken === undefined) await this.insertBuffered();
    } finally {
      this.closed = true;
    }
  }

  private check(): void {
    if (this.closed) throw new Error('the recording sink is closed');
    if (this.broken !== undefined) throw this.broken;
  }

  /**
   * Inserts what is buffered, after every insert started before (the recorder may write while
   * a sync runs): chunk numbers stay in order, and a sync resolves only once everything
   * written before it is committed.
   */
  private insertBuffered(): Promise<void> {
    const taken = this.buffered;
    const takenBytes = this.bufferedBytes;
    this.buffered = [];
    this.bufferedBytes = 0;
    const run = this.inserting.then(() => this.insert(taken, takenBytes));
    this.inserting = run.catch(() => {});
    return run;
  }

  private async insert(buffered: Uint8Array[], bytes: number): Promise<void> {
    if (this.broken !== undefined) throw this.broken;
    if (bytes === 0) return;
    const all = Buffer.concat(buffered, bytes);
    try {
      for (let offset = 0; offset < all.length; offset += this.chunkBytes) {
        const chunk = all.subarray(offset, Math.min(all.length, offset + this.chunkBytes));
        await this.store.appendRecordingChunk(this.sessionId, this.nextChunkNo, chunk);
        this.nextChunkNo += 1;
      }
    } catch (error) {
      this.broken = error;
      throw error;
    }
  }
}

/** The segment numbers in a session's directory, in order; undefined when it has no directory. */
async function segmentIndexes(dir: string): Promise<number[] | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return names
    .map((name) => SEGMENT_NAME.exec(name)?.[1])
    .filter((index) => index !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}
