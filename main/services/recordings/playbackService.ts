/**
 * Playbacks: recordings opened for replay, each owned by the window (client) that opened it and
 * closed with it. A playback is built from a verified file (recordingCache.ts, an offline
 * bundle, or a live watch's spool): an index of the terminal channel (recordingIndex.ts),
 * keyframes for seeking (keyframes.ts), or a query timeline for database sessions.
 *
 * Trust: a playback knows its verdict before anything is served. For a failed one, only frames
 * before the first bad seq are indexed at all, and even those are served only to a request that
 * says `acceptFailedVerification` (the renderer sets it once the person has seen the warning).
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { RECORDING_FORMAT_VERSION } from '../../../shared/recording/recordingFormat.ts';
import type { VerificationReport } from '../../../shared/recording/verifyRecording.ts';
import {
  type CallResponse,
  DesktopError,
  MAX_PLAYBACK_CHUNK_CHARS,
  type ParsedCallRequest,
  type PlaybackEvent,
  type PlaybackInfo,
} from '../../ipc/contract.ts';
import { EventTextReader } from './eventText.ts';
import { HeadlessTerminal } from './headlessTerminal.ts';
import {
  KEYFRAME_BYTES,
  Keyframes,
  lowerBound,
  replay,
  type SeekResult,
  upperBound,
} from './keyframes.ts';
import type { Island, ProgressiveRecording } from './progressiveRecording.ts';
import { buildQueryTimeline, type QueryTimelineEntry } from './queryTimeline.ts';
import {
  EV_EXIT,
  EV_INPUT,
  EV_OUTPUT,
  EV_RESIZE,
  EV_STDERR,
  emptyTerminalEvents,
  type RecordingIndex,
  scanRecording,
} from './recordingIndex.ts';

export interface VerifiedSource {
  sessionId: string;
  source: PlaybackInfo['source'];
  file: string;
  /** Where the recording stream starts in `file` (a bundle's prefix comes first). */
  startOffset: number;
  report: VerificationReport;
  keyFingerprint: string;
  keySource: 'pinned' | 'fingerprint';
  /** For keyframes.json; null: keep them in memory only. */
  cacheDir: string | null;
  /**
   * The index built while the file was downloaded and verified (recordingCache.ts); only for
   * a `verified` report, whose final signed checkpoint covers every frame it indexes.
   */
  index?: RecordingIndex;
  /** Deleted when the playback closes (an uploaded bundle). */
  deleteOnClose?: boolean;
  username?: string | null;
  resourceName?: string | null;
}

export type ProgressEmitter = (
  phase: 'index' | 'keyframes',
  done: number,
  total: number | null,
) => void;

interface Playback {
  id: string;
  clientId: string;
  info: PlaybackInfo;
  index: RecordingIndex;
  file: FileHandle;
  text: EventTextReader;
  keyframes: Keyframes;
  failed: boolean;
  maxSeq: number;
  source: VerifiedSource;
  queries: Promise<QueryTimelineEntry[]> | null;
  /** While a progressive open's download runs (issue #16); null once it has ended. */
  progressive: ProgressiveRecording | null;
  /** A progressive open's islands, kept after its download ended: the player may hold cursors. */
  progressiveIslands?: readonly Island[];
  /** The progressive recording whose file and reader the playback uses, closed with it. */
  progressiveOwner?: ProgressiveRecording;
}

/** What a progressive open needs besides the recording (issue #16). */
export interface ProgressiveOpen {
  keyFingerprint: string;
  username: string | null;
  resourceName: string | null;
  /** Sends the playback's new info (a growing verdict, then the final one). */
  onUpdate: (info: PlaybackInfo) => void;
  /**
   * Turns the download's verdict into the one shown (the gateway's judgement can only make it
   * worse), and says where derived data may be kept (a verified recording's cache directory).
   */
  /**
   * A recording of at most this many bytes is opened once its download ended, as before: it
   * takes a few milliseconds, and the verdict is then final at once. Default 4 MiB.
   */
  waitBelowBytes?: number;
  progress?: ProgressEmitter;
  finalize: (
    report: VerificationReport,
  ) => Promise<{ report: VerificationReport; cacheDir: string | null; file: string }>;
}

/**
 * Cursors into an island (a stretch verified on its own, issue #16) are told apart from
 * positions in the playback's index by this base: island n's position p is (n + 1)·base + p.
 */
const ISLAND_CURSOR_BASE = 2 ** 40;
/** A seek inside the verified prefix replays it from the start while it is this small. */
const PREFIX_REPLAY_BYTES = 2 * 1024 * 1024;
/** Recordings up to this size open once downloaded (see ProgressiveOpen.waitBelowBytes). */
const SMALL_RECORDING_BYTES = 4 * 1024 * 1024;
/** How long an open waits for the seek table before it plays without one. */
const SEEK_TABLE_WAIT_MS = 150;
/** Updates of a growing verdict are sent at most this often. */
const UPDATE_EVERY_MS = 250;

const DEFAULT_QUERY_PAGE = 50;

export class PlaybackService {
  private readonly playbacks = new Map<string, Playback>();
  /** index.json files being written in the background (dispose waits for them). */
  private readonly saving = new Set<Promise<void>>();

  constructor(private readonly log: (line: string) => void) {}

  /**
   * Indexes a verified file and registers it for `clientId`. A terminal session plays its first
   * terminal channel unless `channel` names another of its terminal channels.
   */
  async open(
    clientId: string,
    source: VerifiedSource,
    progress?: ProgressEmitter,
    channel?: number,
  ): Promise<PlaybackInfo> {
    const { report } = source;
    const failed = report.status === 'failed';
    const maxSeq = failed
      ? Math.max(0, Math.min(report.frames, (report.firstBadSeq ?? 1) - 1))
      : report.frames;
    let index: RecordingIndex;
    try {
      index = await this.indexOf(source, maxSeq);
    } catch (error) {
      if (!failed) throw error;
      // A rejected file may not even have a readable header: nothing to index, the verdict stands.
      index = emptyIndex(source.sessionId);
    }
    if (channel !== undefined && channel !== index.channel) {
      if (!index.channels.includes(channel)) {
        throw new DesktopError(
          'invalid_request',
          `Session ${source.sessionId} has no terminal channel ${channel}` +
            (index.channels.length > 0
              ? ` (its terminal channels: ${index.channels.join(', ')}).`
              : '.'),
        );
      }
      index = await this.indexOf(source, maxSeq, channel);
    }
    // The first channel keeps the plain names (caches made before channels could be chosen).
    const channelSuffix =
      channel === undefined || channel === index.channels[0] ? '' : `-ch${channel}`;
    progress?.('index', 1, 1);
    const file = await fs.open(source.file, 'r');
    const text = new EventTextReader(file, index.events);
    const keyframes = new Keyframes(
      index,
      text,
      source.cacheDir ? path.join(source.cacheDir, `keyframes${channelSuffix}.json`) : null,
    );
    const id = `pb-${randomUUID()}`;
    const info: PlaybackInfo = {
      playbackId: id,
      sessionId: source.sessionId,
      source: source.source,
      kind: index.kind,
      channel: index.channel,
      channels: index.channels,
      verdict: {
        status: report.status,
        verifiedThroughSeq: report.verifiedThroughSeq,
        firstBadSeq: report.firstBadSeq,
        message: report.message,
        recordingKeyFingerprint: source.keyFingerprint,
        keySource: source.keySource,
      },
      // Who, what and when from the signed session-start frame where it was indexed (#12).
      username: index.sessionStart?.user ?? source.username ?? metaString(index, 'username'),
      resourceName:
        index.sessionStart?.resource ?? source.resourceName ?? metaString(index, 'resourceName'),
      startedAt: index.sessionStart
        ? new Date(index.sessionStart.time).toISOString()
        : index.header.startedAt > 0
          ? new Date(index.header.startedAt).toISOString()
          : null,
      durationMs: index.durationMs,
      size: index.size,
      resizes: index.resizes,
      activity: index.activity,
      activityBucketMs: index.activityBucketMs,
      commands: index.commands,
      keyframeTimes: keyframes.times(),
      queryCount: 0,
      frames: maxSeq,
    };
    const playback: Playback = {
      id,
      clientId,
      info,
      index,
      file,
      text,
      keyframes,
      failed,
      maxSeq,
      source,
      queries: null,
      progressive: null,
    };
    if (index.kind === 'database') {
      playback.queries = buildQueryTimeline(source.file, {
        startOffset: source.startOffset,
        maxSeq,
        startedAt: index.header.startedAt,
      });
      try {
        info.queryCount = (await playback.queries).length;
      } catch (error) {
        // Not registered yet, so no close would ever release the file.
        await file.close().catch(() => {});
        throw error;
      }
    }
    this.playbacks.set(id, playback);
    if (index.kind === 'terminal' && index.events.count > 0) {
      // Built in the background: the first frame does not wait for them; seeks get faster as
      // they arrive (a seek before its keyframe replays from the one before).
      keyframes
        .build((done, total) => progress?.('keyframes', done, total))
        .catch((error: unknown) => this.log(`keyframes of ${source.sessionId}: ${String(error)}`));
    }
    return info;
  }

  async frames(
    clientId: string,
    request: ParsedCallRequest<'playback.frames'>,
  ): Promise<CallResponse<'playback.frames'>> {
    const playback = this.get(clientId, request.playbackId, request.acceptFailedVerification);
    const progressive = playback.progressive;
    if (progressive) {
      const page = await progressive.foreground(() =>
        this.progressiveFrames(playback, progressive, request),
      );
      // The first page is on its way: the background download goes on.
      progressive.releaseFirstHold();
      return page;
    }
    const e = playback.index.events;
    const start =
      request.fromSeq === undefined
        ? lowerBound(e.t, request.fromMs, e.count)
        : this.positionOf(playback, request.fromSeq);
    let end = start;
    let bytes = 0;
    while (end < e.count && e.t[end]! < request.toMs) {
      if (end > start && bytes + e.length[end]! > MAX_PLAYBACK_CHUNK_CHARS) break;
      if (e.kind[end] !== EV_INPUT || request.includeInput) bytes += e.length[end]!;
      end++;
    }
    const texts = await playback.text.texts(start, end);
    const events: PlaybackEvent[] = [];
    for (let i = start; i < end; i++) {
      const kind = e.kind[i]!;
      if (kind === EV_INPUT && !request.includeInput) continue;
      events.push(toPlaybackEvent(e, i, texts[i - start]!));
    }
    const more = end < e.count && e.t[end]! < request.toMs;
    return { events, nextFromSeq: more ? end : null };
  }

  async seek(
    clientId: string,
    request: ParsedCallRequest<'playback.seek'>,
  ): Promise<CallResponse<'playback.seek'>> {
    const playback = this.get(clientId, request.playbackId, request.acceptFailedVerification);
    if (playback.index.kind !== 'terminal') {
      throw new DesktopError('invalid_request', 'A database session has no terminal to seek in.');
    }
    const progressive = playback.progressive;
    if (progressive) {
      // Not held in the foreground as a whole: a seek may wait for the download itself (no seek
      // table); the stretch it fetches holds the download back on its own (`extend`).
      progressive.releaseFirstHold();
      return this.progressiveSeek(playback, progressive, request);
    }
    const result = await playback.keyframes.seek(request.atMs, request.afterSeq);
    return {
      snapshot: result.snapshot,
      atMs: result.atMs,
      size: result.size,
      nextSeq: result.nextPosition,
    };
  }

  async queries(
    clientId: string,
    request: ParsedCallRequest<'playback.queries'>,
  ): Promise<CallResponse<'playback.queries'>> {
    const playback = this.get(clientId, request.playbackId, request.acceptFailedVerification);
    const entries = playback.queries ? await playback.queries : [];
    const from = request.cursor ?? 0;
    const to = Math.min(entries.length, from + (request.limit ?? DEFAULT_QUERY_PAGE));
    return { entries: entries.slice(from, to), nextCursor: to < entries.length ? to : null };
  }

  // --- progressive playback (issue #16) ------------------------------------------------------

  /**
   * Registers a recording still downloading: it plays what is verified so far (at least the
   * first stretch), seeks anywhere through islands, and switches to the whole index, its
   * keyframes and the final verdict when the download ends. A database session waits for the
   * download (its query timeline is built from the whole file).
   */
  async openProgressive(
    clientId: string,
    recording: ProgressiveRecording,
    options: ProgressiveOpen,
  ): Promise<PlaybackInfo> {
    const header = recording.header;
    // The gateway scans an old recording's heads for its seek table on the first request (a
    // 1 GiB recording: seconds): the first frame does not wait for that, only a short while.
    // A small recording's download usually ends first: it then opens as before.
    // Without the stream's length (a gateway that does not send it) the table tells the size.
    // The whole length (`totalMs`) follows in `playback.updated` when the table is not here yet.
    const table =
      recording.totalBytes !== null
        ? recording.table
        : await Promise.race([
            recording.seekTable(),
            recording.done.then(
              () => null,
              () => null,
            ),
            delay(SEEK_TABLE_WAIT_MS),
          ]);
    const total = recording.totalBytes ?? table?.bytes ?? null;
    const small = total !== null && total <= (options.waitBelowBytes ?? SMALL_RECORDING_BYTES);
    if (!header || small || recording.prefix.isDatabase() || recording.report) {
      // Opened once downloaded: nothing is shown before, so nothing to hold the download for.
      recording.releaseFirstHold();
      const report = await recording.done.catch((error: unknown) => {
        throw error;
      });
      await recording.close();
      const final = await options.finalize(report);
      return this.open(
        clientId,
        {
          sessionId: recording.sessionId,
          source: 'gateway',
          file: final.file,
          startOffset: 0,
          report: final.report,
          keyFingerprint: options.keyFingerprint,
          keySource: 'pinned',
          cacheDir: final.cacheDir,
          username: options.username,
          resourceName: options.resourceName,
        },
        options.progress,
      );
    }
    options.progress?.('index', 1, 1);
    const id = `pb-${randomUUID()}`;
    const base = recording.prefixIndex();
    // No first page within a second (a closed window): the download goes on regardless.
    setTimeout(() => recording.releaseFirstHold(), 1000).unref();
    const verifying = (): PlaybackInfo['verdict'] => {
      const snapshot = recording.snapshot();
      return {
        status: 'verifying',
        verifiedThroughSeq: snapshot.verifiedThroughSeq,
        verifiedThroughMs: snapshot.verifiedThroughMs,
        totalMs: snapshot.totalMs,
        firstBadSeq: null,
        message: `verified through seq ${snapshot.verifiedThroughSeq}; the rest is being downloaded and verified`,
        recordingKeyFingerprint: options.keyFingerprint,
        keySource: 'pinned',
      };
    };
    const snapshot = recording.snapshot();
    const view = prefixView(recording);
    const info: PlaybackInfo = {
      playbackId: id,
      sessionId: recording.sessionId,
      source: 'gateway',
      kind: 'terminal',
      channel: base.channel,
      channels: base.channels,
      verdict: verifying(),
      username: base.sessionStart?.user ?? options.username,
      resourceName: base.sessionStart?.resource ?? options.resourceName,
      startedAt: base.sessionStart
        ? new Date(base.sessionStart.time).toISOString()
        : header.startedAt > 0
          ? new Date(header.startedAt).toISOString()
          : null,
      // The length from the seek table, so the timeline spans the whole recording at once.
      durationMs: Math.max(base.durationMs, snapshot.totalMs ?? 0),
      size: base.size,
      resizes: base.resizes,
      activity: base.activity,
      activityBucketMs: base.activityBucketMs,
      commands: base.commands,
      keyframeTimes: [],
      queryCount: 0,
      frames: table?.frames ?? base.frames,
    };
    const file = await fs.open(recording.file, 'r');
    const source: VerifiedSource = {
      sessionId: recording.sessionId,
      source: 'gateway',
      file: recording.file,
      startOffset: 0,
      report: {
        ok: true,
        status: 'partial',
        sessionId: recording.sessionId,
        keyId: header.keyId,
        frames: snapshot.verifiedThroughSeq,
        verifiedThroughSeq: snapshot.verifiedThroughSeq,
        lastCheckpointSeq: snapshot.verifiedThroughSeq,
        final: false,
        interrupted: false,
        firstBadSeq: null,
        message: 'downloading',
      },
      keyFingerprint: options.keyFingerprint,
      keySource: 'pinned',
      cacheDir: null,
    };
    const playback: Playback = {
      id,
      clientId,
      info,
      index: view,
      file,
      text: recording.text,
      keyframes: new Keyframes(view, recording.text, null),
      failed: false,
      maxSeq: snapshot.verifiedThroughSeq,
      source,
      queries: null,
      progressive: recording,
      progressiveIslands: recording.islands,
      progressiveOwner: recording,
    };
    this.playbacks.set(id, playback);
    let lastUpdate = 0;
    const stopListening = recording.onChange(() => {
      if (playback.progressive !== recording) return;
      // The events are shared with the builder: only how many are shown changes.
      playback.index = { ...base, events: { ...base.events, count: recording.visible } };
      const now = Date.now();
      if (now - lastUpdate < UPDATE_EVERY_MS) return;
      lastUpdate = now;
      const totalMs = recording.snapshot().totalMs ?? 0;
      playback.info = {
        ...playback.info,
        verdict: verifying(),
        durationMs: Math.max(playback.info.durationMs, totalMs),
        frames: Math.max(playback.info.frames, recording.table?.frames ?? 0),
      };
      options.onUpdate(playback.info);
    });
    recording.done
      .then(async (report) => {
        stopListening();
        const final = await options.finalize(report);
        if (!this.playbacks.has(id)) return;
        this.finishProgressive(playback, recording, final.report, final.cacheDir);
        options.onUpdate(playback.info);
      })
      .catch((error: unknown) => {
        stopListening();
        this.log(`download of ${recording.sessionId}: ${String(error)}`);
        if (!this.playbacks.has(id)) return;
        const message = `the download stopped before the end (${String(error)}): only what was verified is shown`;
        playback.info = {
          ...playback.info,
          verdict: { ...playback.info.verdict, status: 'partial', message },
        };
        options.onUpdate(playback.info);
      });
    return info;
  }

  /** The download ended: the whole index, its keyframes, the final verdict. */
  private finishProgressive(
    playback: Playback,
    recording: ProgressiveRecording,
    report: VerificationReport,
    cacheDir: string | null,
  ): void {
    const failed = report.status === 'failed';
    const full = recording.prefixIndex();
    // Only frames a signed checkpoint covers (a failure after a checkpoint shows up to it).
    const index: RecordingIndex = {
      ...full,
      events: { ...full.events, count: recording.visible },
    };
    playback.index = index;
    playback.failed = failed;
    playback.maxSeq = recording.verifiedThroughSeq;
    playback.source = { ...playback.source, report, cacheDir };
    playback.keyframes = new Keyframes(
      index,
      playback.text,
      cacheDir ? path.join(cacheDir, 'keyframes.json') : null,
    );
    playback.progressive = null;
    playback.info = {
      ...playback.info,
      verdict: {
        status: report.status,
        verifiedThroughSeq: report.verifiedThroughSeq,
        firstBadSeq: report.firstBadSeq,
        message: report.message,
        recordingKeyFingerprint: playback.info.verdict.recordingKeyFingerprint,
        keySource: 'pinned',
      },
      durationMs: failed ? index.durationMs : Math.max(index.durationMs, playback.info.durationMs),
      activity: index.activity,
      activityBucketMs: index.activityBucketMs,
      commands: index.commands,
      resizes: index.resizes,
      keyframeTimes: playback.keyframes.times(),
      frames: failed ? recording.verifiedThroughSeq : report.frames,
    };
    if (index.events.count > 0) {
      playback.keyframes
        .build()
        .catch((error: unknown) =>
          this.log(`keyframes of ${recording.sessionId}: ${String(error)}`),
        );
    }
  }

  private async progressiveFrames(
    playback: Playback,
    recording: ProgressiveRecording,
    request: ParsedCallRequest<'playback.frames'>,
  ): Promise<CallResponse<'playback.frames'>> {
    let island: Island | null = null;
    let islandNo = -1;
    let start: number;
    if (request.fromSeq !== undefined && request.fromSeq >= ISLAND_CURSOR_BASE) {
      islandNo = Math.floor(request.fromSeq / ISLAND_CURSOR_BASE) - 1;
      island = recording.islands[islandNo] ?? null;
      start = request.fromSeq % ISLAND_CURSOR_BASE;
      if (!island) throw new DesktopError('invalid_request', 'That playback position is unknown.');
    } else if (request.fromSeq !== undefined) {
      start = request.fromSeq;
    } else if (request.fromMs <= recording.verifiedThroughMs || recording.table === null) {
      start = lowerBound(playback.index.events.t, request.fromMs, playback.index.events.count);
    } else {
      island = await recording.islandAt(request.fromMs);
      if (island) {
        islandNo = recording.islands.indexOf(island);
        start = lowerBound(island.builder.events.t, request.fromMs, island.visible);
      } else {
        start = playback.index.events.count;
      }
    }
    if (island) {
      // Played to the end of what the island has verified: fetch the next stretch.
      while (
        start >= island.visible &&
        island.failure === null &&
        (await recording.extend(island))
      ) {}
      const events = islandView(recording, island).events;
      const page = await pageOf(events, island.text, start, request);
      return {
        events: page.events,
        nextFromSeq: page.next === null ? null : (islandNo + 1) * ISLAND_CURSOR_BASE + page.next,
      };
    }
    const page = await pageOf(playback.index.events, playback.text, start, request);
    return { events: page.events, nextFromSeq: page.next };
  }

  private async progressiveSeek(
    playback: Playback,
    recording: ProgressiveRecording,
    request: ParsedCallRequest<'playback.seek'>,
  ): Promise<CallResponse<'playback.seek'>> {
    const view = playback.index;
    const e = view.events;
    const inPrefix =
      request.atMs <= recording.verifiedThroughMs &&
      (request.afterSeq === undefined || request.afterSeq <= recording.verifiedThroughSeq);
    const target = lowerBound(e.t, request.atMs, e.count);
    const prefixBytes = target > 0 ? e.offset[Math.min(target, e.count) - 1]! : 0;
    const island =
      inPrefix && prefixBytes <= PREFIX_REPLAY_BYTES
        ? null
        : await recording.islandAt(request.atMs);
    if (!island) {
      if (!inPrefix) {
        // No seek table (the gateway did not answer it): never a screen from another time
        // presented as this one — wait for the download to verify up to it.
        await recording.reach(request.atMs);
      }
      const result = await new Keyframes(playback.index, playback.text, null).seek(
        request.atMs,
        request.afterSeq,
      );
      return {
        snapshot: result.snapshot,
        atMs: result.atMs,
        size: result.size,
        nextSeq: result.nextPosition,
      };
    }
    while (
      island.failure === null &&
      (request.atMs > island.throughMs ||
        (request.afterSeq !== undefined && request.afterSeq > island.verifiedThroughSeq)) &&
      (await recording.extend(island))
    ) {}
    if (
      island.failure !== null &&
      (request.atMs > island.throughMs ||
        (request.afterSeq !== undefined && request.afterSeq >= island.failure.seq))
    ) {
      // Issue #16: a stretch that fails is never shown as verified, whatever was shown before.
      throw new DesktopError(
        'verification_failed',
        `The part of the recording at this moment failed verification at seq ${island.failure.seq} (${island.failure.message}); nothing from seq ${island.failure.seq} on is shown.`,
      );
    }
    const islandNo = recording.islands.indexOf(island);
    const result = await islandSnapshot(
      islandView(recording, island),
      island.text,
      request.atMs,
      request.afterSeq,
    );
    return {
      snapshot: result.snapshot,
      atMs: result.atMs,
      size: result.size,
      nextSeq: (islandNo + 1) * ISLAND_CURSOR_BASE + result.nextPosition,
    };
  }

  /**
   * A cursor from `frames` or `seek` as a position in the playback's index: an island's
   * cursor kept by the player after the download ended is found again by its frame's seq.
   */
  private positionOf(playback: Playback, cursor: number): number {
    if (cursor < ISLAND_CURSOR_BASE) return cursor;
    const island = playback.progressiveIslands?.[Math.floor(cursor / ISLAND_CURSOR_BASE) - 1];
    const e = playback.index.events;
    const seq = island?.builder.events.seq[cursor % ISLAND_CURSOR_BASE];
    if (seq === undefined) return e.count;
    return lowerBound(e.seq, seq, e.count);
  }

  /** Resolves once a progressive playback's download has ended (at once for any other). */
  async downloaded(playbackId: string): Promise<void> {
    const recording = this.playbacks.get(playbackId)?.progressive;
    if (!recording) return;
    await recording.done.catch(() => {});
    // The switch to the whole index runs after the verdict is final (a gateway call).
    while (this.playbacks.get(playbackId)?.progressive) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Islands a progressive playback fetched for seeks (the benchmark counts them). */
  islandsOf(playbackId: string): number {
    return this.playbacks.get(playbackId)?.progressiveIslands?.length ?? 0;
  }

  /** Keyframes of an open playback (tests and the benchmark wait for them). */
  keyframesOf(playbackId: string): Keyframes | null {
    return this.playbacks.get(playbackId)?.keyframes ?? null;
  }

  async close(clientId: string, playbackId: string): Promise<void> {
    const playback = this.playbacks.get(playbackId);
    if (!playback || playback.clientId !== clientId) return;
    await this.release(playback);
  }

  async closeAllFor(clientId: string): Promise<void> {
    for (const playback of [...this.playbacks.values()]) {
      if (playback.clientId === clientId) await this.release(playback);
    }
  }

  async dispose(): Promise<void> {
    for (const playback of [...this.playbacks.values()]) await this.release(playback);
    await this.settled();
  }

  /** Waits for the index files being saved in the background (before emptying the cache). */
  async settled(): Promise<void> {
    await Promise.all(this.saving);
  }

  /**
   * The index of a cached (verified, final) recording is kept beside it, so re-opening a long
   * recording reads a few MB of JSON instead of scanning the whole file again. An index built
   * in the download pass is used as it is, and saved in the background: the first frame does
   * not wait for the JSON.
   */
  private async indexOf(
    source: VerifiedSource,
    maxSeq: number,
    channel?: number,
  ): Promise<RecordingIndex> {
    const prebuilt =
      channel === undefined &&
      source.index &&
      source.report.status === 'verified' &&
      source.index.frames === maxSeq
        ? source.index
        : null;
    const scan = () =>
      scanRecording(source.file, {
        startOffset: source.startOffset,
        maxSeq,
        ...(channel === undefined ? {} : { channel }),
      });
    if (!source.cacheDir) return prebuilt ?? scan();
    const cacheFile = path.join(
      source.cacheDir,
      channel === undefined ? 'index.json' : `index-ch${channel}.json`,
    );
    const bytes = (await fs.stat(source.file)).size;
    if (prebuilt) {
      const saving = saveIndex(cacheFile, bytes, maxSeq, prebuilt).catch((error: unknown) =>
        this.log(`index of ${source.sessionId} not kept: ${String(error)}`),
      );
      this.saving.add(saving);
      void saving.finally(() => this.saving.delete(saving));
      return prebuilt;
    }
    const saved = await readIndex(cacheFile, bytes, maxSeq);
    if (saved) return saved;
    const index = await scan();
    await saveIndex(cacheFile, bytes, maxSeq, index);
    return index;
  }

  private async release(playback: Playback): Promise<void> {
    this.playbacks.delete(playback.id);
    playback.keyframes.stop();
    const owner = playback.progressiveOwner;
    if (owner) {
      await owner.close();
      // Closed before its download ended: the part file is no use to anyone (issue #16).
      if (!owner.report) await fs.rm(owner.file, { force: true });
    }
    await playback.file.close().catch(() => {});
    if (playback.source.deleteOnClose) await fs.rm(playback.source.file, { force: true });
  }

  private get(clientId: string, playbackId: string, acceptFailed: boolean | undefined): Playback {
    const playback = this.playbacks.get(playbackId);
    // Another window's playback is as unknown as one that never existed.
    if (!playback || playback.clientId !== clientId) {
      throw new DesktopError('not_found', 'That recording is no longer open — open it again.');
    }
    if (playback.failed && !acceptFailed) {
      throw new DesktopError(
        'verification_failed',
        `This recording failed verification (${playback.info.verdict.message}); nothing is shown unless you choose to look at the frames before seq ${playback.info.verdict.firstBadSeq}.`,
      );
    }
    return playback;
  }
}

const INDEX_CACHE_VERSION = 2;

async function readIndex(
  cacheFile: string,
  bytes: number,
  maxSeq: number,
): Promise<RecordingIndex | null> {
  try {
    const saved = JSON.parse(await fs.readFile(cacheFile, 'utf8')) as {
      version: number;
      bytes: number;
      maxSeq: number;
      index: RecordingIndex;
    };
    if (saved.version === INDEX_CACHE_VERSION && saved.bytes === bytes && saved.maxSeq === maxSeq) {
      return saved.index;
    }
  } catch {
    // Not there yet, or unreadable: scan.
  }
  return null;
}

async function saveIndex(
  cacheFile: string,
  bytes: number,
  maxSeq: number,
  index: RecordingIndex,
): Promise<void> {
  const temp = `${cacheFile}.${process.pid}.${randomUUID()}.tmp`;
  await fs.writeFile(temp, JSON.stringify({ version: INDEX_CACHE_VERSION, bytes, maxSeq, index }));
  await fs.rename(temp, cacheFile);
}

/**
 * The screen at `atMs` in an island: no keyframe is built there, so the output before the
 * target is replayed — at most about a keyframe's spacing of it (KEYFRAME_BYTES), as a seek
 * from a keyframe would, not the whole stretch (a bulk transfer's is a MiB, 16 MiB in
 * recordings made before issue #16).
 */
async function islandSnapshot(
  index: RecordingIndex,
  text: EventTextReader,
  atMs: number,
  afterSeq: number | undefined,
): Promise<SeekResult> {
  const e = index.events;
  const target =
    afterSeq === undefined ? upperBound(e.t, atMs, e.count) : upperBound(e.seq, afterSeq, e.count);
  let from = target;
  let bytes = 0;
  while (from > 0 && bytes < KEYFRAME_BYTES) {
    from--;
    bytes += e.length[from]!;
  }
  let size = index.size;
  for (let i = from - 1; i >= 0; i--) {
    if (e.kind[i] === EV_RESIZE) {
      size = { cols: e.cols[i]!, rows: e.rows[i]! };
      break;
    }
  }
  const term = new HeadlessTerminal(size.cols, size.rows);
  try {
    await replay(term, index, text, from, target, () => false);
    return {
      snapshot: term.serialize(),
      atMs,
      size: { cols: term.cols, rows: term.rows },
      nextPosition: target,
    };
  } finally {
    term.dispose();
  }
}

function delay(ms: number): Promise<null> {
  return new Promise((resolve) => setTimeout(() => resolve(null), ms));
}

/** The verified prefix of a progressive download as an index (arrays shared, count bounded). */
function prefixView(recording: ProgressiveRecording): RecordingIndex {
  const index = recording.prefixIndex();
  return { ...index, events: { ...index.events, count: recording.visible } };
}

/** An island as an index: its events up to the last checkpoint verified in it. */
function islandView(recording: ProgressiveRecording, island: Island): RecordingIndex {
  const index = island.builder.finish();
  const size = recording.sizeSoFar();
  return { ...index, size: index.size ?? size, events: { ...index.events, count: island.visible } };
}

/** One `playback.frames` page of `events` from position `start`. */
async function pageOf(
  e: RecordingIndex['events'],
  text: EventTextReader,
  start: number,
  request: ParsedCallRequest<'playback.frames'>,
): Promise<{ events: PlaybackEvent[]; next: number | null }> {
  let end = start;
  let bytes = 0;
  while (end < e.count && e.t[end]! < request.toMs) {
    if (end > start && bytes + e.length[end]! > MAX_PLAYBACK_CHUNK_CHARS) break;
    if (e.kind[end] !== EV_INPUT || request.includeInput) bytes += e.length[end]!;
    end++;
  }
  const texts = await text.texts(start, end);
  const events: PlaybackEvent[] = [];
  for (let i = start; i < end; i++) {
    if (e.kind[i] === EV_INPUT && !request.includeInput) continue;
    events.push(toPlaybackEvent(e, i, texts[i - start]!));
  }
  const more = end < e.count && e.t[end]! < request.toMs;
  return { events, next: more ? end : null };
}

function toPlaybackEvent(e: RecordingIndex['events'], i: number, data: string): PlaybackEvent {
  const kind = e.kind[i]!;
  const base = { seq: e.seq[i]!, t: e.t[i]! };
  if (kind === EV_RESIZE) {
    return { ...base, kind: 'resize', data: '', size: { cols: e.cols[i]!, rows: e.rows[i]! } };
  }
  if (kind === EV_EXIT) return { ...base, kind: 'exit', data: '' };
  return { ...base, kind: kind === EV_INPUT ? 'input' : 'output', data };
}

function metaString(index: RecordingIndex, key: string): string | null {
  const value = index.header.meta?.[key];
  return typeof value === 'string' ? value : null;
}

function emptyIndex(sessionId: string): RecordingIndex {
  return {
    header: { formatVersion: RECORDING_FORMAT_VERSION, sessionId, keyId: '', startedAt: 0 },
    kind: 'terminal',
    channel: null,
    channels: [],
    frames: 0,
    durationMs: 0,
    size: { cols: 80, rows: 24 },
    resizes: [],
    activity: [0],
    activityBucketMs: 100,
    commands: [],
    events: emptyTerminalEvents(),
  };
}

// Re-exported for the live watcher, which serves the same shapes.
export { EV_OUTPUT, EV_STDERR, toPlaybackEvent };
