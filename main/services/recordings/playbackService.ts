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
import { Keyframes, lowerBound } from './keyframes.ts';
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
}

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
    const e = playback.index.events;
    const start = request.fromSeq ?? lowerBound(e.t, request.fromMs, e.count);
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
