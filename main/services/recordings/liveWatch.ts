/**
 * Watching an active session read-only (admins and auditors; the gateway decides): the
 * gateway's follow stream (`GET /v1/recordings/:id/stream?follow=1`) is verified as it arrives
 * — each frame's seq and chain hash are checked before it is shown, checkpoint signatures as
 * they come — and the terminal channel's events go to the watching window as `live.frames`
 * (a database session's queries, each once its results are complete, as `live.queries`).
 * When the session ends the stream ends, and `live.ended` carries the verdict on what was seen.
 */
import { randomUUID } from 'node:crypto';
import { TextDecoder } from 'node:util';
import type { Download } from '../../../gateway-client/gatewayClient.ts';
import { decodeWatchEnd, WATCH_END_TRAILER } from '../../../shared/api/watchEnd.ts';
import {
  type RecordingEvent,
  RecordingFormatError,
  type RecordingHeader,
  RecordingReader,
} from '../../../shared/recording/recordingFormat.ts';
import { RecordingVerifier } from '../../../shared/recording/verifyRecording.ts';
import {
  type CallerContext,
  DesktopError,
  MAX_PLAYBACK_CHUNK_CHARS,
  type PlaybackEvent,
  type PlaybackInfo,
} from '../../ipc/contract.ts';
import { QueryTimelineBuilder } from './queryTimeline.ts';
import { EV_EXIT, EV_INPUT, EV_OUTPUT, EV_RESIZE, IndexBuilder } from './recordingIndex.ts';

/** Queries in one `live.queries` event (each carries up to MAX_ROWS_PER_ENTRY rows). */
const LIVE_QUERIES_PER_EVENT = 20;
/** Waiting this long for the recording's header before answering live.watch. */
const HEADER_TIMEOUT_MS = 10_000;

interface Watch {
  id: string;
  clientId: string;
  body: Download['body'];
  stopped: boolean;
}

export class LiveWatches {
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly log: (line: string) => void) {}

  async watch(
    caller: CallerContext,
    sessionId: string,
    pinned: { recordingPublicKeyPem: string; recordingKeyFingerprint: string },
    download: Download,
  ): Promise<PlaybackInfo> {
    const id = `live-${randomUUID()}`;
    const watch: Watch = { id, clientId: caller.clientId, body: download.body, stopped: false };
    this.watches.set(id, watch);
    const accepted: RecordingEvent[] = [];
    const verifier = new RecordingVerifier({
      publicKeyPem: pinned.recordingPublicKeyPem,
      expectedSessionId: sessionId,
      onEvent: (event) => accepted.push(event),
    });
    const headerReader = new RecordingReader();
    let header: RecordingHeader | null = null;
    let builder: IndexBuilder | null = null;
    const decoders = new Map<number, TextDecoder>();
    let announcedSize: string | null = null;
    let failed = false;
    // Events wait until live.watch has answered, so the window knows the playbackId first.
    let answered = false;
    const held: (() => void)[] = [];
    const emit: typeof caller.emit = (name, payload) => {
      if (answered) caller.emit(name, payload);
      else held.push(() => caller.emit(name, payload));
    };

    const verdictNow = () => {
      const report = verifier.finish();
      return {
        status: report.status,
        verifiedThroughSeq: report.verifiedThroughSeq,
        firstBadSeq: report.firstBadSeq,
        message: report.message,
        recordingKeyFingerprint: pinned.recordingKeyFingerprint,
        keySource: 'pinned' as const,
      };
    };

    /** Turns accepted frames into playback events for the window, in bounded batches. */
    const flush = () => {
      if (!builder) return;
      const out: PlaybackEvent[] = [];
      let chars = 0;
      const send = () => {
        if (out.length > 0) emit('live.frames', { playbackId: id, events: out.splice(0) });
        chars = 0;
      };
      if (builder.isDatabase()) {
        flushQueries(accepted.splice(0));
        return;
      }
      for (const event of accepted.splice(0)) {
        const before = builder.events.count;
        builder.frame(event, 0);
        const size = builder.currentSize();
        const sizeKey = size ? `${size.cols}x${size.rows}` : null;
        if (sizeKey && sizeKey !== announcedSize && builder.events.count === before && size) {
          // The pty's size (or a first resize) arrives as a resize event of its own.
          announcedSize = sizeKey;
          out.push({ seq: event.seq, t: builder.lastTime(), kind: 'resize', data: '', size });
        }
        const e = builder.events;
        for (let i = before; i < e.count; i++) {
          const kind = e.kind[i]!;
          const base = { seq: e.seq[i]!, t: e.t[i]! };
          if (kind === EV_RESIZE) {
            announcedSize = `${e.cols[i]}x${e.rows[i]}`;
            out.push({
              ...base,
              kind: 'resize',
              data: '',
              size: { cols: e.cols[i]!, rows: e.rows[i]! },
            });
          } else if (kind === EV_EXIT) {
            out.push({ ...base, kind: 'exit', data: '' });
          } else {
            const piece = event.data.subarray(
              e.offset[i]! - e.offset[before]!,
              e.offset[i]! - e.offset[before]! + e.length[i]!,
            );
            let decoder = decoders.get(kind);
            if (!decoder) {
              decoder = new TextDecoder('utf-8');
              decoders.set(kind, decoder);
            }
            const data = decoder.decode(piece, { stream: true });
            out.push({ ...base, kind: kind === EV_INPUT ? 'input' : 'output', data });
            chars += data.length;
          }
          if (chars >= MAX_PLAYBACK_CHUNK_CHARS / 2) send();
        }
        // Events past the index's memory are not needed: live frames are not replayed later.
        builder.forgetEvents();
      }
      send();
    };

    /** A database session: its queries, each once complete, as `live.queries`. */
    let queries: QueryTimelineBuilder | null = null;
    const flushQueries = (events: RecordingEvent[], sessionEnded = false) => {
      if (!header) return;
      queries ??= new QueryTimelineBuilder(header.startedAt);
      const entries = events.flatMap((event) => queries!.accept(event));
      if (sessionEnded) entries.push(...queries.end());
      for (let at = 0; at < entries.length; at += LIVE_QUERIES_PER_EVENT) {
        emit('live.queries', {
          playbackId: id,
          entries: entries.slice(at, at + LIVE_QUERIES_PER_EVENT),
        });
      }
    };

    const ended = (reason: 'session-ended' | 'stopped' | 'error', message: string | null) => {
      if (!this.watches.has(id)) return;
      if (reason === 'session-ended' && builder?.isDatabase()) flushQueries([], true);
      this.watches.delete(id);
      emit('live.ended', {
        playbackId: id,
        reason,
        message,
        verdict: header ? verdictNow() : null,
      });
    };

    const headerArrived = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new DesktopError('gateway_error', 'The gateway sent no recording to watch.')),
        HEADER_TIMEOUT_MS,
      );
      const pump = async () => {
        try {
          for await (const chunk of download.body as AsyncIterable<Buffer>) {
            if (!header) {
              try {
                for (const record of headerReader.push(chunk)) {
                  if (record.type === 'header') header = record.header;
                }
              } catch (error) {
                if (!(error instanceof RecordingFormatError)) throw error;
              }
              if (header) {
                builder = new IndexBuilder(0, Number.MAX_SAFE_INTEGER);
                builder.header = header;
                clearTimeout(timer);
                resolve();
              }
            }
            const ok = verifier.push(chunk);
            flush();
            if (!ok) {
              failed = true;
              download.body.destroy();
              ended('error', `Watching stopped: ${verdictNow().message}`);
              return;
            }
          }
          clearTimeout(timer);
          reject(new DesktopError('not_found', 'The session ended before anything was recorded.'));
          // The gateway says why in a trailer (issue #14): the session's end reason, or that
          // the watch itself was ended (the watcher's access taken away).
          const said = decodeWatchEnd(download.trailers?.()[WATCH_END_TRAILER]);
          if (watch.stopped) ended('stopped', null);
          else if (said?.kind === 'watch-ended') ended('stopped', said.message);
          else ended('session-ended', said?.message ?? null);
        } catch (error) {
          clearTimeout(timer);
          reject(error);
          if (!failed) {
            ended(
              watch.stopped ? 'stopped' : 'error',
              watch.stopped ? null : `The live stream broke off: ${String(error)}`,
            );
          }
        }
      };
      void pump();
    });
    try {
      await headerArrived;
    } catch (error) {
      this.watches.delete(id);
      download.body.destroy();
      throw error;
    }
    const h = header as RecordingHeader | null;
    this.log(`watching session ${sessionId} live`);
    // After the answer has gone out (it is sent once this call's promise settles).
    setTimeout(() => {
      answered = true;
      for (const send of held.splice(0)) send();
    }, 0);
    return {
      playbackId: id,
      sessionId,
      source: 'live',
      kind: builder && (builder as IndexBuilder).isDatabase() ? 'database' : 'terminal',
      // A live watch follows the first terminal channel; which one is not known this early.
      channel: null,
      channels: [],
      verdict: {
        status: 'partial',
        verifiedThroughSeq: 0,
        firstBadSeq: null,
        message:
          'live: frames are checked against the chain as they arrive; signatures follow at each checkpoint',
        recordingKeyFingerprint: pinned.recordingKeyFingerprint,
        keySource: 'pinned',
      },
      username: null,
      resourceName: null,
      startedAt: h ? new Date(h.startedAt).toISOString() : null,
      durationMs: 0,
      size: { cols: 80, rows: 24 },
      resizes: [],
      activity: [0],
      activityBucketMs: 1000,
      commands: [],
      keyframeTimes: [],
      queryCount: 0,
      frames: 0,
    };
  }

  stop(clientId: string, playbackId: string): void {
    const watch = this.watches.get(playbackId);
    if (!watch || watch.clientId !== clientId) return;
    watch.stopped = true;
    watch.body.destroy();
  }

  stopAllFor(clientId: string): void {
    for (const watch of [...this.watches.values()]) {
      if (watch.clientId === clientId) this.stop(clientId, watch.id);
    }
  }

  dispose(): void {
    for (const watch of [...this.watches.values()]) this.stop(watch.clientId, watch.id);
  }
}

export { EV_OUTPUT };
