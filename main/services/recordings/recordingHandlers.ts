/**
 * The replay calls of the contract (issue #6) — list/search passthrough, open (download +
 * verify + cache), offline bundles, playback, exports, live watch — composed from the pieces in
 * this folder. desktopApp.ts spreads these handlers into its own.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { GatewayClient } from '../../../gateway-client/gatewayClient.ts';
import { type CallerContext, type CallHandlers, DesktopError } from '../../ipc/contract.ts';
import type { GatewayAccount } from '../gatewayAccount.ts';
import { toRecordingSummary } from '../recordingVerdicts.ts';
import { BackgroundVerifier } from './backgroundVerifier.ts';
import { verifyBundleFile } from './bundleFiles.ts';
import { BUNDLE_UPLOADS_DIR, BundleUploads } from './bundleUploads.ts';
import { missingBytes, worseOf } from './gatewayJudgement.ts';
import { LiveWatches } from './liveWatch.ts';
import { PlaybackService } from './playbackService.ts';
import { ProgressiveRecording } from './progressiveRecording.ts';
import { RECORDINGS_CACHE_DIR, RecordingCache } from './recordingCache.ts';
import { DOWNLOADS_DIR, RecordingExports } from './recordingExports.ts';

export type RecordingCallName =
  | 'recordings.list'
  | 'recordings.search'
  | 'recordings.problems'
  | 'recordings.open'
  | 'recordings.openBundle'
  | 'bundles.uploadBegin'
  | 'bundles.uploadChunk'
  | 'bundles.uploadCancel'
  | 'playback.frames'
  | 'playback.seek'
  | 'playback.queries'
  | 'playback.close'
  | 'recordings.export'
  | 'recordings.cancelExport'
  | 'live.watch'
  | 'live.stop';

export interface RecordingHandlerDeps {
  account: Pick<GatewayAccount, 'run' | 'pinned' | 'account'>;
  appDataDir: string;
  /** Electron: an open dialog for bundles (null when cancelled). Absent in the web host. */
  chooseOpenFile?: () => Promise<string | null>;
  /** Electron: a save dialog for exports (null when cancelled). Absent in the web host. */
  chooseSaveFile?: (suggestedName: string) => Promise<string | null>;
  log: (line: string) => void;
  /**
   * Open recordings progressively (issue #16): the first verified stretch plays while the rest
   * downloads. Default on; false keeps the download-then-play open (the bench compares both).
   */
  progressive?: boolean;
}

export interface RecordingHandlers {
  handlers: Pick<CallHandlers, RecordingCallName>;
  /** Open playbacks (tests and the benchmark wait for keyframes through it). */
  playbacks: PlaybackService;
  clientDisconnected(clientId: string): Promise<void>;
  dispose(): Promise<void>;
}

type Filters = NonNullable<Parameters<CallHandlers['recordings.list']>[0]['filters']>;

/** Names remembered from lists and searches, to label a playback without another call. */
const MAX_REMEMBERED = 20_000;

export function createRecordingHandlers(deps: RecordingHandlerDeps): RecordingHandlers {
  const { account, log } = deps;
  const verifiers = new BackgroundVerifier(log);
  const cache = new RecordingCache(path.join(deps.appDataDir, RECORDINGS_CACHE_DIR), verifiers);
  const playbacks = new PlaybackService(log);
  const uploads = new BundleUploads(path.join(deps.appDataDir, BUNDLE_UPLOADS_DIR));
  const exports = new RecordingExports({
    downloadsDir: path.join(deps.appDataDir, DOWNLOADS_DIR),
    ...(deps.chooseSaveFile ? { chooseSaveFile: deps.chooseSaveFile } : {}),
  });
  const live = new LiveWatches(log);
  const names = new Map<string, { username: string; resourceName: string }>();
  const remember = (sessionId: string, username: string, resourceName: string) => {
    if (names.size >= MAX_REMEMBERED) names.clear();
    names.set(sessionId, { username, resourceName });
  };

  const requirePinned = () => {
    const pinned = account.pinned();
    if (!pinned) throw new DesktopError('no_gateway', 'No gateway is set up yet.');
    return pinned;
  };

  /** The contract's filters as the gateway takes them (names become ids). */
  const gatewayFilters = async (client: GatewayClient, filters: Filters | undefined) => {
    const query: Record<string, string> = {};
    if (!filters) return query;
    if (filters.userId) query.userId = filters.userId;
    if (filters.resourceId) query.resourceId = filters.resourceId;
    if (filters.user) query.username = filters.user;
    if (filters.resource) {
      const resources = await client.listResources();
      const match = resources.find((r) => r.name === filters.resource);
      // No such resource: nothing can match; an id that exists nowhere says so to the gateway.
      query.resourceId = match?.id ?? 'res-none';
    }
    if (filters.protocol) query.protocol = filters.protocol;
    if (filters.status) query.status = filters.status;
    if (filters.from) query.from = filters.from;
    if (filters.to) query.to = filters.to;
    return query;
  };

  const progressTo = (caller: CallerContext, sessionId: string) => {
    return (
      phase: 'download' | 'verify' | 'index' | 'keyframes',
      bytes: number,
      totalBytes: number | null,
    ) => caller.emit('playback.progress', { sessionId, phase, bytes, totalBytes });
  };

  /**
   * Issue #16: the first verified stretch plays at once; the rest downloads and verifies in
   * the background into the cache, and seeks past it fetch their stretch by range.
   */
  const openProgressively = async (sessionId: string, username: string, caller: CallerContext) => {
    const pinned = requirePinned();
    const dir = cache.dirOf(pinned, username, sessionId);
    await fs.mkdir(dir, { recursive: true });
    const temp = path.join(dir, `stream.wrec.${process.pid}.${Date.now()}.part`);
    const source = {
      downloadRecording: (id: string) => account.run((client) => client.downloadRecording(id)),
      downloadRecordingRange: (id: string, from: number, to: number) =>
        account.run((client) => client.downloadRecordingRange(id, from, to)),
      getRecordingSeekTable: (id: string) =>
        account.run((client) => client.getRecordingSeekTable(id)),
    };
    const progress = progressTo(caller, sessionId);
    const known = names.get(sessionId);
    let recording: ProgressiveRecording | undefined;
    try {
      // Inside the try: a recording whose bytes or row are gone fails here, at its first
      // request, and must come out as "missing" like every other open (issue #12).
      recording = await ProgressiveRecording.start(
        source,
        pinned.recordingPublicKeyPem,
        sessionId,
        temp,
        progress,
      );
      return await playbacks.openProgressive(caller.clientId, recording, {
        keyFingerprint: pinned.recordingKeyFingerprint,
        username: known?.username ?? null,
        resourceName: known?.resourceName ?? null,
        onUpdate: (info) => caller.emit('playback.updated', { info }),
        progress,
        finalize: async (report) => {
          // The gateway's judgement of its copy can only make the verdict worse (issue #12).
          const judged = await account
            .run((client) => client.getRecording(sessionId))
            .catch(() => null);
          const shown = judged ? worseOf(report, judged) : report;
          return { report: shown, ...(await cache.adopt(dir, temp, sessionId, shown)) };
        },
      });
    } catch (error) {
      await recording?.close();
      await fs.rm(temp, { force: true });
      throw await account.run((client) => missingBytes(client, sessionId, error));
    }
  };

  const handlers: RecordingHandlers['handlers'] = {
    'recordings.list': async ({ limit, filters, cursor }) => {
      // The recordings view is open: a recording may be opened next, have its verifier ready.
      verifiers.warmUp();
      return account.run(async (client) => {
        const query = await gatewayFilters(client, filters);
        const page = await client.listRecordingsPage({
          ...query,
          ...(limit === undefined ? {} : { limit }),
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const r of page.recordings) remember(r.sessionId, r.username, r.resourceName);
        return {
          recordings: page.recordings.map(toRecordingSummary),
          nextCursor: page.nextCursor ?? null,
        };
      });
    },

    'recordings.search': async ({ q, filters, cursor, limit }) =>
      account.run(async (client) => {
        const query = await gatewayFilters(client, filters);
        const result = await client.searchRecordings({
          q,
          ...query,
          ...(limit === undefined ? {} : { limit }),
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const h of result.hits) remember(h.sessionId, h.username, h.resourceName);
        return {
          hits: result.hits.map((h) => ({
            sessionId: h.sessionId,
            seq: h.seq,
            t: h.t,
            kind: h.kind,
            snippet: h.snippet,
            highlights: h.highlights,
            username: h.username,
            resourceName: h.resourceName,
            startedAt: h.startedAt,
            protocol: h.protocol,
            time: h.time,
          })),
          nextCursor: result.nextCursor,
        };
      }),

    'recordings.open': async ({ sessionId, channel }, caller) => {
      const pinned = requirePinned();
      const user = account.account();
      if (!user) throw new DesktopError('not_signed_in', 'You are not signed in — sign in first.');
      const progress = progressTo(caller, sessionId);
      if (
        deps.progressive !== false &&
        channel === undefined &&
        !(await cache.hasVerified(pinned, user.username, sessionId))
      ) {
        return openProgressively(sessionId, user.username, caller);
      }
      // The gateway judges its stored copy while this one is fetched and verified (a verified
      // copy from the cache is still judged against today's bytes and row), in parallel: on
      // a large recording both read every byte, and the open waits for the slower only.
      const { verified, judged } = await account.run(async (client) => {
        const judging = client.getRecording(sessionId);
        // Awaited below; when the bytes cannot be fetched, that failure is the one reported.
        judging.catch(() => {});
        const verified = await cache
          .fetch(client, pinned, user.username, sessionId, progress)
          .catch(async (error: unknown) => {
            throw await missingBytes(client, sessionId, error);
          });
        return { verified, judged: await judging };
      });
      const known = names.get(sessionId);
      return playbacks.open(
        caller.clientId,
        {
          sessionId,
          source: 'gateway',
          file: verified.file,
          startOffset: 0,
          report: worseOf(verified.report, judged),
          keyFingerprint: pinned.recordingKeyFingerprint,
          keySource: 'pinned',
          cacheDir: verified.cacheDir,
          ...(verified.index ? { index: verified.index } : {}),
          username: known?.username ?? null,
          resourceName: known?.resourceName ?? null,
        },
        (phase, done, total) => progress(phase, done, total),
        channel,
      );
    },

    'recordings.openBundle': async ({ uploadId, fingerprint }, caller) => {
      const pinned = account.pinned();
      if (!fingerprint && !pinned) {
        throw new DesktopError(
          'invalid_request',
          'No gateway is pinned here: type the recording-key fingerprint you trust (SHA256:… or ed25519:…).',
        );
      }
      let file: string;
      let uploaded = false;
      if (uploadId) {
        file = await uploads.take(caller.clientId, uploadId);
        uploaded = true;
      } else if (deps.chooseOpenFile) {
        const chosen = await deps.chooseOpenFile();
        if (!chosen) throw new DesktopError('cancelled', 'No bundle was chosen.');
        file = chosen;
      } else {
        throw new DesktopError(
          'invalid_request',
          'Send the bundle with bundles.uploadBegin first.',
        );
      }
      try {
        const trust = fingerprint
          ? { fingerprint }
          : { publicKeyPem: pinned!.recordingPublicKeyPem };
        const bundle = await verifyBundleFile(file, trust);
        // Who and what come from the signed session-start frame (issue #12); the description
        // line is only a fallback, and verifyBundle empties it unless a signature covers it.
        const signed = bundle.report.signed;
        const meta = bundle.report.bundle?.meta ?? {};
        return await playbacks.open(caller.clientId, {
          sessionId: bundle.sessionId,
          source: 'bundle',
          file,
          startOffset: bundle.startOffset,
          report: bundle.report,
          keyFingerprint:
            bundle.report.keyFingerprint ?? fingerprint ?? pinned?.recordingKeyFingerprint ?? '',
          keySource: fingerprint ? 'fingerprint' : 'pinned',
          cacheDir: null,
          deleteOnClose: uploaded,
          username: signed?.user ?? (typeof meta.username === 'string' ? meta.username : null),
          resourceName:
            signed?.resource ?? (typeof meta.resourceName === 'string' ? meta.resourceName : null),
        });
      } catch (error) {
        if (uploaded) await fs.rm(file, { force: true });
        throw error;
      }
    },

    'recordings.problems': async () =>
      account.run(async (client) => {
        const { checkedAt, problems } = await client.listRecordingProblems();
        return {
          checkedAt,
          problems: problems.map(({ kind, sessionId, message }) => ({ kind, sessionId, message })),
        };
      }),

    'bundles.uploadBegin': async ({ size }, caller) => uploads.begin(caller.clientId, size),
    'bundles.uploadChunk': async ({ uploadId, offset, data }, caller) => ({
      received: await uploads.chunk(caller.clientId, uploadId, offset, data),
    }),
    'bundles.uploadCancel': async ({ uploadId }, caller) => {
      await uploads.cancel(caller.clientId, uploadId);
      return {};
    },

    'playback.frames': async (request, caller) => playbacks.frames(caller.clientId, request),
    'playback.seek': async (request, caller) => playbacks.seek(caller.clientId, request),
    'playback.queries': async (request, caller) => playbacks.queries(caller.clientId, request),
    'playback.close': async ({ playbackId }, caller) => {
      await playbacks.close(caller.clientId, playbackId);
      return {};
    },

    // Registered before anything is awaited, so a cancel sent right after the call finds it.
    'recordings.export': async (request, caller) =>
      exports.run(caller, request, () =>
        account.run((client) =>
          client.exportRecording(request.sessionId, {
            format: request.format,
            ...(request.channel === undefined ? {} : { channel: request.channel }),
            ...(request.includeInput ? { includeInput: '1' as const } : {}),
          }),
        ),
      ),
    'recordings.cancelExport': async ({ exportId }, caller) => {
      exports.cancel(caller.clientId, exportId);
      return {};
    },

    'live.watch': async ({ sessionId }, caller) => {
      const pinned = requirePinned();
      const download = await account.run((client) => client.followRecording(sessionId));
      return live.watch(caller, sessionId, pinned, download);
    },
    'live.stop': async ({ playbackId }, caller) => {
      live.stop(caller.clientId, playbackId);
      return {};
    },
  };

  return {
    handlers,
    playbacks,
    async clientDisconnected(clientId) {
      live.stopAllFor(clientId);
      exports.cancelAllFor(clientId);
      await uploads.cancelAllFor(clientId);
      await playbacks.closeAllFor(clientId);
    },
    async dispose() {
      live.dispose();
      await verifiers.dispose();
      await uploads.dispose();
      await playbacks.dispose();
    },
  };
}
