/**
 * The recordings API: list, metadata with verification, the raw stream, and exports (.cast,
 * signed bundle, .jsonl query log of a database session). Engineers see only their own
 * recordings; auditors and admins see all. Every read of a recording's content is audited in
 * `recording_access` before its content is read (DESIGN.md: "who watched which recording is
 * itself audited") — if the audit row cannot be written, nothing is sent. So is every search
 * inside recordings (issue #6), and every live watch.
 *
 * Paging: lists and searches answer a page and an opaque `nextCursor` (a position: the last
 * recording's startedAt and id, or the last hit's index id), so paging through a list that
 * grows meanwhile neither repeats nor skips.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Recording, RecordingSearchHit } from '../../shared/api/apiSchemas.ts';
import { encodeWatchEnd, WATCH_END_TRAILER } from '../../shared/api/watchEnd.ts';
import { NoTerminalOutputError, toAsciicast } from '../../shared/recording/asciicast.ts';
import { toQueryLog } from '../../shared/recording/queryLog.ts';
import type { Authenticated } from '../auth/authService.ts';
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import type { RecordingArchive } from '../recorder/recordingArchive.ts';
import { RecordingNotFoundError } from '../recorder/recordingStorage.ts';
import {
  rowDisagreements,
  signedDifferences,
  withRowChecked,
} from '../recorder/rowAgainstSigned.ts';
import { SeekTables } from '../recorder/seekTables.ts';
import { expectsRecording } from '../recordingCheck/findRecordingProblems.ts';
import type { RecordingCheck } from '../recordingCheck/recordingCheck.ts';
import type { RecordingJudge } from '../recordingCheck/recordingJudge.ts';
import type { RecordingReverifier } from '../recordingCheck/recordingReverifier.ts';
import { queryWords, snippetOf } from '../search/searchTerms.ts';
import type { LiveWatches } from '../sessions/liveWatches.ts';
import type { ResourceStore } from '../store/catalogStore.ts';
import type { UserDirectory, UserRecord } from '../store/identityStore.ts';
import type {
  RecordingAccessAction,
  RecordingAccessLog,
  RecordingCatalog,
  RecordingFilter,
  RecordingListPosition,
  RecordingMetadata,
  RecordingSeekTableStore,
} from '../store/recordingStore.ts';
import type { RecordingTextSearcher } from '../store/recordingTextStore.ts';
import type { SessionEnder } from '../store/sessionStore.ts';
import type { HandlersFor } from './apiRoute.ts';

export interface RecordingRouteServices {
  store: RecordingCatalog &
    RecordingAccessLog &
    RecordingSeekTableStore &
    Pick<RecordingTextSearcher, 'searchRecordingText'> &
    Pick<UserDirectory, 'getUserById' | 'getUserByUsername'> &
    Pick<ResourceStore, 'getResource'> &
    Pick<SessionEnder, 'getSession'>;
  clock: Clock;
  recordings: RecordingArchive;
  recordingCheck: Pick<RecordingCheck, 'check'>;
  /** Verifies a recording, judges its row against it, and stores the verdict (issue #12). */
  recordingJudge: Pick<RecordingJudge, 'judge'>;
  /** Re-verifies a recording whose bytes were read or whose row no longer matches its verdict. */
  reverifier: Pick<RecordingReverifier, 'request'>;
  /** Live watches by watcher, so offboarding can end them (sessions/accessReview.ts). */
  liveWatches: LiveWatches;
  /** Seek tables (issue #16); default: the stored ones, else built from `recordings`. */
  seekTables?: SeekTables;
}

/** Roles that may read every recording (auditors review, admins administer). */
const RECORDING_READERS: readonly string[] = ['admin', 'auditor'];

/** A user id no user has: a filter on it matches no recording. */
const NO_SUCH_USER = 'usr_none';

/** The routes this module serves. */
export type RecordingRouteName =
  | 'listRecordings'
  | 'searchRecordings'
  | 'getRecording'
  | 'listRecordingProblems'
  | 'streamRecording'
  | 'getRecordingSeekTable'
  | 'exportRecording'
  | 'listRecordingAccess';

/** `app` only to end live watches when the API closes. */
export function recordingHandlers(
  app: FastifyInstance,
  services: RecordingRouteServices,
): HandlersFor<RecordingRouteName> {
  const { store, clock, recordings, recordingCheck, recordingJudge, reverifier } = services;
  const { liveWatches } = services;
  const seekTables = services.seekTables ?? new SeekTables(recordings, store);
  app.addHook('preClose', async () => liveWatches.endAll());
  /**
   * The recording, if this user may see it; otherwise the same 404 as for no recording — unless
   * the session they may see was recorded and its row is gone: that is said, never hidden.
   */
  const visibleRecording = async (user: UserRecord, sessionId: string) => {
    const recording = await store.getRecording(sessionId);
    if (!recording) {
      const session = await store.getSession(sessionId);
      if (session && maySeeRecordingOf(user, session.userId) && expectsRecording(session)) {
        throw new GatewayError(
          'recording_missing',
          `Session ${sessionId} was recorded, but its recording is missing from the gateway's database. Tell an admin: \`witness-gateway admin check-recordings\` lists what is missing.`,
        );
      }
    }
    if (!recording || !maySeeRecordingOf(user, recording.userId)) {
      throw new GatewayError(
        'not_found',
        `There is no recording of session ${sessionId} you can see.`,
      );
    }
    return recording;
  };

  /**
   * Presents a page of recordings, looking each user and resource name up once, and each row
   * against what its last verification read of the signed content (issue #12).
   */
  const present = async (list: RecordingMetadata[]): Promise<Recording[]> => {
    const names = new Map<string, Promise<string | null>>();
    const name = (key: string, load: () => Promise<string | null>) => {
      let found = names.get(key);
      if (!found) {
        found = load();
        names.set(key, found);
      }
      return found;
    };
    return Promise.all(
      list.map(async (recording) => {
        const directory = {
          username: await name(`user:${recording.userId}`, async () => {
            const user = await store.getUserById(recording.userId);
            return user?.username ?? null;
          }),
          resourceName: await name(`resource:${recording.resourceId}`, async () => {
            const resource = await store.getResource(recording.resourceId);
            return resource?.name ?? null;
          }),
        };
        const presented = presentRecording(recording, directory);
        const stored = recording.lastVerification;
        if (presented.lastVerification?.status === 'failed' && stored?.status !== 'failed') {
          // The row was edited since its verdict: have the stored verdict catch up, so the
          // `failed` filter finds it too.
          reverifier.request(recording.sessionId);
        }
        return presented;
      }),
    );
  };

  /** Verifies a recording now, stores the verdict, and returns it with when it was made. */
  const judge = (recording: RecordingMetadata) => recordingJudge.judge(recording);

  const audit = (
    user: UserRecord,
    sessionId: string | null,
    action: RecordingAccessAction,
    detail?: unknown,
  ) =>
    store.insertRecordingAccess({
      id: `acc_${randomUUID()}`,
      sessionId,
      userId: user.id,
      action,
      at: clock.now(),
      detail: detail === undefined ? null : JSON.stringify(detail),
    });

  /**
   * The query's filters for the store. Engineers see only their own recordings: a filter naming
   * anyone else (by id or name) matches nothing. A name no user has matches nothing.
   */
  const storeFilter = async (
    user: UserRecord,
    query: {
      userId?: string | undefined;
      username?: string | undefined;
      resourceId?: string | undefined;
      status?: RecordingFilter['status'];
      protocol?: RecordingFilter['protocol'];
      from?: string | undefined;
      to?: string | undefined;
    },
  ): Promise<Omit<RecordingFilter, 'limit'>> => {
    let userId = query.userId;
    if (query.username !== undefined) {
      const named = (await store.getUserByUsername(query.username))?.id ?? NO_SUCH_USER;
      userId = userId === undefined || userId === named ? named : NO_SUCH_USER;
    }
    if (!RECORDING_READERS.includes(user.role)) {
      userId = userId === undefined || userId === user.id ? user.id : NO_SUCH_USER;
    }
    return {
      ...(userId !== undefined ? { userId } : {}),
      ...(query.resourceId !== undefined ? { resourceId: query.resourceId } : {}),
      ...(query.status !== undefined ? { status: query.status } : {}),
      ...(query.protocol !== undefined ? { protocol: query.protocol } : {}),
      ...(query.from !== undefined ? { from: Date.parse(query.from) } : {}),
      ...(query.to !== undefined ? { to: Date.parse(query.to) } : {}),
    };
  };

  return {
    listRecordings: async (ctx) => {
      const user = signedInUser(ctx);
      const { cursor, limit } = ctx.query;
      const after = cursor === undefined ? undefined : decodeListCursor(cursor);
      // One more than the page: whether there is a next page, without a count.
      const list = await store.listRecordings({
        ...(await storeFilter(user, ctx.query)),
        ...(after ? { after } : {}),
        limit: limit + 1,
      });
      const page = list.slice(0, limit);
      const last = page.at(-1);
      const presented = await present(page);
      return {
        // A row edited since it was verified is no longer "verified" (its verdict shows failed):
        // the filter says what the list shows. The page may then be short; the cursor holds.
        recordings:
          ctx.query.status === 'verified'
            ? presented.filter((r) => r.lastVerification?.status === 'verified')
            : presented,
        nextCursor: list.length > limit && last ? encodeListCursor(last) : null,
      };
    },

    listRecordingAccess: async (ctx) => {
      const rows = await store.listRecordingAccess(ctx.query);
      const usernames = new Map<string, Promise<string>>();
      const username = (userId: string) => {
        let found = usernames.get(userId);
        if (!found) {
          found = store.getUserById(userId).then((u) => u?.username ?? '(deleted user)');
          usernames.set(userId, found);
        }
        return found;
      };
      return {
        entries: await Promise.all(
          rows.map(async (row) => ({
            id: row.id,
            sessionId: row.sessionId,
            userId: row.userId,
            username: await username(row.userId),
            action: row.action,
            at: new Date(row.at).toISOString(),
            detail: row.detail ?? null,
          })),
        ),
      };
    },

    searchRecordings: async (ctx) => {
      const user = signedInUser(ctx);
      const { q, cursor, limit } = ctx.query;
      const terms = queryWords(q);
      if (terms.length === 0) {
        throw new GatewayError(
          'bad_request',
          `"${q}" has no words to search for: search for letters or digits (punctuation only separates words).`,
        );
      }
      const beforeId = cursor === undefined ? undefined : decodeSearchCursor(cursor);
      const filter = await storeFilter(user, ctx.query);
      const { cursor: _cursor, limit: _limit, ...asked } = ctx.query;
      await audit(user, null, 'search', asked);
      const found = await store.searchRecordingText({
        terms,
        filter,
        ...(beforeId !== undefined ? { beforeId } : {}),
        limit: limit + 1,
      });
      const page = found.slice(0, limit);
      const recordings = await present([
        ...new Map(page.map((hit) => [hit.sessionId, hit.recording])).values(),
      ]);
      const bySession = new Map(recordings.map((r) => [r.sessionId, r]));
      const hits = page.map((hit): RecordingSearchHit => {
        const recording = bySession.get(hit.sessionId) as Recording;
        return {
          sessionId: hit.sessionId,
          seq: hit.seq,
          t: Math.max(0, hit.time - hit.recording.startedAt),
          time: new Date(hit.time).toISOString(),
          channel: hit.channel,
          kind: hit.kind,
          ...snippetOf(hit.text, terms),
          username: recording.username,
          resourceName: recording.resourceName,
          protocol: recording.protocol,
          startedAt: recording.startedAt,
        };
      });
      const last = page.at(-1);
      return {
        hits,
        nextCursor: found.length > limit && last ? encodeSearchCursor(last.id) : null,
      };
    },

    listRecordingProblems: async () => {
      const { checkedAt, problems } = await recordingCheck.check();
      return { checkedAt: new Date(checkedAt).toISOString(), problems };
    },

    getRecording: async (ctx) => {
      const recording = await visibleRecording(signedInUser(ctx), ctx.params.sessionId);
      // The desktop asks at every open and after every download: unchanged bytes are not hashed
      // again for it (issue #16); exports and the scheduled pass always are.
      const { verification, signed, checkedAt } = await recordingJudge.judge(recording, {
        reuseUnchanged: true,
      });
      // Presented with the verdict just made, so the row is flagged against what was just read.
      const [presented] = await present([
        {
          ...recording,
          lastVerification: {
            status: verification.status,
            verifiedThroughSeq: verification.verifiedThroughSeq,
            at: checkedAt,
            firstBadSeq: verification.firstBadSeq,
            message: verification.message,
            signed,
          },
        },
      ]);
      // The access request that enabled the session, so a reviewer sees why it was allowed (#14).
      const requestId = (await store.getSession(recording.sessionId))?.requestId ?? null;
      return { ...(presented as Recording), requestId, verification };
    },

    streamRecording: async ({ auth: { user }, params, query, request, reply }) => {
      const follow = isSet(query.follow);
      if (follow && !RECORDING_READERS.includes(user.role)) {
        throw new GatewayError(
          'forbidden',
          `Watching a session live needs the admin or auditor role; you are signed in as ${user.role}. Play the recording once the session has ended.`,
        );
      }
      const recording = await visibleRecording(user, params.sessionId);
      if (follow) {
        await audit(user, recording.sessionId, 'live');
        // Ends the follow when the watcher goes away, even while it waits for new bytes, and
        // when the API closes (it would otherwise wait for the session to end).
        const stop = new AbortController();
        liveWatches.add(user.id, stop);
        request.raw.on('close', () => stop.abort());
        reply.raw.on('close', () => {
          stop.abort();
          // A watch read the recording's bytes too; verified once it has stopped being live.
          reverifier.request(recording.sessionId);
        });
        const live = recordings.follow(recording, {
          signal: stop.signal,
          stillRecording: async () =>
            (await store.getRecording(recording.sessionId))?.status === 'recording',
        });
        const body = await startStream(recording, live);
        // Said after the last byte, as the terminal says why a session ended (issue #14): a
        // watcher otherwise sees only a closed stream, whether the session ended or their access
        // was taken away.
        reply.trailer(WATCH_END_TRAILER, async () => {
          // Ended by LiveWatches (access taken away, the gateway stopping) with a reason; not the
          // watcher leaving (an AbortError, and nobody left to read a trailer).
          const reason: unknown = stop.signal.reason;
          if (reason instanceof Error && reason.name !== 'AbortError') {
            return encodeWatchEnd({
              kind: 'watch-ended',
              message: `Watching ended: ${reason.message}.`,
            });
          }
          const why = (await store.getSession(recording.sessionId))?.endReason;
          return encodeWatchEnd({
            kind: 'session-ended',
            message: why ? `The session ended: ${why}.` : 'The session ended.',
          });
        });
        return (
          reply
            .header('content-type', 'application/octet-stream')
            .header('cache-control', 'no-store')
            .header('x-accel-buffering', 'no')
            // A watch holds its connection for as long as the session; not worth keeping after.
            .header('connection', 'close')
            .send(body)
        );
      }
      if (query.from !== undefined || query.to !== undefined) {
        const from = query.from ?? 0;
        const to = query.to ?? Number.MAX_SAFE_INTEGER;
        if (to <= from) {
          throw new GatewayError(
            'bad_request',
            `The byte range from=${from} to=${to} is empty: \`to\` must be greater than \`from\`.`,
          );
        }
        // A stretch read for a seek is audited as a view like the whole stream; the whole
        // stream the same desktop fetches alongside is what queues the re-verification.
        await audit(user, recording.sessionId, 'stream');
        const body = await startStream(recording, recordings.openRange(recording, from, to));
        return reply.header('content-type', 'application/octet-stream').send(body);
      }
      await audit(user, recording.sessionId, 'stream');
      // Bytes read for someone are verified again (in the background, not in their way), so a
      // recording tampered with since its last verdict shows as failed (issue #12).
      reverifier.request(recording.sessionId);
      // A finished recording's length, so a client knows the size before the bytes (issue
      // #16: the desktop opens small recordings whole, large ones progressively).
      const length =
        recording.status === 'recording' ? undefined : await recordings.storedBytes(recording);
      const body = await startStream(recording, recordings.open(recording));
      if (length !== undefined) reply.header('content-length', length);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-disposition', attachment(`${recording.sessionId}.wrec`))
        .send(body);
    },

    getRecordingSeekTable: async (ctx) => {
      const recording = await visibleRecording(signedInUser(ctx), ctx.params.sessionId);
      try {
        return await seekTables.get(recording);
      } catch (error) {
        if (!(error instanceof RecordingNotFoundError)) throw error;
        throw new GatewayError(
          'not_found',
          `The recording of session ${recording.sessionId} has no stored bytes (status ${recording.status}); it may have failed before its header was written.`,
        );
      }
    },

    exportRecording: async ({ auth: { user }, params, query, reply }) => {
      const { format, channel } = query;
      const includeInput = isSet(query.includeInput);
      const recording = await visibleRecording(user, params.sessionId);
      // Verified when exported, so a file never carries bytes that fail as if they passed.
      const { verification } = await judge(recording);
      const allowUnverified = isSet(query.allowUnverified);
      const unverified = verification.status === 'failed';
      if (unverified && !allowUnverified) {
        throw new GatewayError(
          'conflict',
          `The recording of session ${recording.sessionId} fails verification, so it is not exported: ${verification.message}. ` +
            'To export it anyway, marked as unverified, pass allowUnverified=1 (witness recordings export --allow-unverified).',
        );
      }
      reply.header('x-witness-verification', verification.status);
      if (format === 'bundle') {
        await audit(user, recording.sessionId, 'export_bundle');
        const [presented] = await present([recording]);
        const body = await startStream(
          recording,
          recordings.bundle(
            recording,
            {
              userId: recording.userId,
              username: presented?.username,
              resourceId: recording.resourceId,
              resourceName: presented?.resourceName,
              protocol: recording.protocol,
              status: recording.status,
              startedAt: new Date(recording.startedAt).toISOString(),
              exportedBy: user.username,
            },
            {
              recording: {
                status: recording.status,
                frames: recording.frames,
                lastCheckpointSeq: recording.lastCheckpointSeq,
                finalCheckpointSeq:
                  recording.status === 'complete' ? recording.lastCheckpointSeq : null,
              },
              verification: { status: verification.status, message: verification.message },
            },
          ),
        );
        return reply
          .header('content-type', 'application/octet-stream')
          .header('content-disposition', attachment(`${recording.sessionId}.wbundle`))
          .send(body);
      }
      if (format === 'jsonl') {
        if (recording.protocol !== 'postgres') {
          throw new GatewayError(
            'bad_request',
            `Session ${recording.sessionId} is a ${recording.protocol} session; a jsonl query log exports database sessions — export a .cast or a bundle instead.`,
          );
        }
        await audit(user, recording.sessionId, 'export_jsonl');
        const log = toQueryLog(recordings.events(recording));
        const body = await startStream(
          recording,
          unverified ? markedUnverified(log, verification.message, 'jsonl') : log,
        );
        return reply
          .header('content-type', 'application/x-ndjson')
          .header('content-disposition', attachment(`${recording.sessionId}.jsonl`))
          .send(body);
      }
      if (recording.protocol !== 'ssh') {
        throw new GatewayError(
          'bad_request',
          `Session ${recording.sessionId} is a ${recording.protocol} session; .cast exports terminal sessions — export a bundle instead.`,
        );
      }
      await audit(user, recording.sessionId, 'export_cast');
      const cast = toAsciicast(recordings.events(recording), {
        ...(channel === undefined ? {} : { channel }),
        includeInput,
      });
      const body = await startStream(
        recording,
        unverified ? markedUnverified(cast, verification.message, 'cast') : cast,
      );
      const name =
        channel === undefined ? recording.sessionId : `${recording.sessionId}-ch${channel}`;
      return reply
        .header('content-type', 'text/plain; charset=utf-8')
        .header('content-disposition', attachment(`${name}.cast`))
        .send(body);
    },
  };
}

/**
 * A recording as the API shows it. With a stored verdict that read the signed content, the
 * user and resource are named as the signed session-start frame names them, the row's values
 * are checked against it (`differsFromSigned`), and a difference makes the verdict shown
 * `failed` whatever was stored: a row edited after it was verified never shows as verified
 * (issue #12). `directory` holds the current names of the row's ids (null when deleted).
 */
export function presentRecording(
  recording: RecordingMetadata,
  directory: { username: string | null; resourceName: string | null },
): Recording {
  const stored = recording.lastVerification;
  const signed = stored?.signed ?? null;
  const differences = signed ? signedDifferences(recording, directory, signed) : undefined;
  let lastVerification: Recording['lastVerification'] = null;
  if (stored !== null) {
    const at = new Date(stored.at).toISOString();
    const verdict = {
      status: stored.status,
      verifiedThroughSeq: stored.verifiedThroughSeq,
      firstBadSeq: stored.firstBadSeq ?? null,
      message: stored.message ?? `${stored.status} when checked`,
    };
    // A failed verdict already says why; a row edited since a passing one is said here.
    const shown =
      signed && differences && differences.length > 0 && stored.status !== 'failed'
        ? withRowChecked(verdict, rowDisagreements(recording, directory, signed))
        : verdict;
    lastVerification = {
      status: shown.status,
      verifiedThroughSeq: shown.verifiedThroughSeq,
      checkedAt: at,
      at,
      firstBadSeq: shown.firstBadSeq,
      ...(stored.message !== undefined || shown !== verdict ? { message: shown.message } : {}),
    };
  }
  // Names from the signed frame where it has them: the directory can be edited, or renamed.
  const signedNames = signed && signed.sessionStartSeq !== null ? signed : null;
  return {
    sessionId: recording.sessionId,
    userId: recording.userId,
    username: signedNames?.user ?? directory.username ?? '(deleted user)',
    resourceId: recording.resourceId,
    resourceName: signedNames?.resource ?? directory.resourceName ?? '(deleted resource)',
    protocol: recording.protocol,
    status: recording.status,
    startedAt: new Date(recording.startedAt).toISOString(),
    endedAt: recording.endedAt === null ? null : new Date(recording.endedAt).toISOString(),
    frames: recording.frames,
    bytes: recording.bytes,
    lastCheckpointSeq: recording.lastCheckpointSeq,
    lastVerification,
    ...(differences !== undefined ? { differsFromSigned: differences } : {}),
  };
}

// Cursors are base64url JSON: opaque to clients, checked on the way back in.

function encodeListCursor(recording: RecordingMetadata): string {
  return Buffer.from(JSON.stringify(['r', recording.startedAt, recording.sessionId])).toString(
    'base64url',
  );
}

function decodeListCursor(cursor: string): RecordingListPosition {
  const value = decodeCursor(cursor);
  if (
    Array.isArray(value) &&
    value[0] === 'r' &&
    Number.isSafeInteger(value[1]) &&
    typeof value[2] === 'string'
  ) {
    return { startedAt: value[1] as number, sessionId: value[2] };
  }
  throw badCursor();
}

function encodeSearchCursor(id: number): string {
  return Buffer.from(JSON.stringify(['s', id])).toString('base64url');
}

function decodeSearchCursor(cursor: string): number {
  const value = decodeCursor(cursor);
  if (Array.isArray(value) && value[0] === 's' && Number.isSafeInteger(value[1])) {
    return value[1] as number;
  }
  throw badCursor();
}

function decodeCursor(cursor: string): unknown {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
}

function badCursor(): GatewayError {
  return new GatewayError(
    'bad_request',
    'The cursor is not one this gateway gave out for this list; start again from the first page.',
  );
}

/**
 * Pulls the first chunk before any header is sent, so a recording whose bytes are missing or
 * unreadable is a clean 404/500 instead of a response cut off after its 200.
 */
async function startStream(
  recording: RecordingMetadata,
  source: AsyncIterable<Uint8Array | string>,
): Promise<Readable> {
  const iterator = source[Symbol.asyncIterator]();
  let first: IteratorResult<Uint8Array | string>;
  try {
    first = await iterator.next();
  } catch (error) {
    if (error instanceof RecordingNotFoundError) {
      throw new GatewayError(
        'not_found',
        `The recording of session ${recording.sessionId} has no stored bytes (status ${recording.status}); it may have failed before its header was written.`,
      );
    }
    if (error instanceof NoTerminalOutputError) {
      throw new GatewayError(
        'not_found',
        `Nothing to export as .cast from session ${recording.sessionId}: ${error.message}. Pick another channel, or export a bundle.`,
      );
    }
    throw error;
  }
  async function* rest(): AsyncGenerator<Uint8Array | string> {
    if (first.done) return;
    yield first.value;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  // Reads ahead up to STREAM_READ_AHEAD_BYTES (the storage reads 1 MiB at a time), so the next
  // disk read overlaps sending the previous one instead of waiting for the socket to drain.
  return Readable.from(rest(), { objectMode: false, highWaterMark: STREAM_READ_AHEAD_BYTES });
}

const STREAM_READ_AHEAD_BYTES = 4 * 1024 * 1024;

/**
 * Marks an export made with allowUnverified in the file itself: a .cast header gets a title
 * saying so (asciicast v2 players show it), a query log a first line saying so.
 */
async function* markedUnverified(
  source: AsyncIterable<string | Uint8Array>,
  reason: string,
  format: 'cast' | 'jsonl',
): AsyncGenerator<string | Uint8Array> {
  const warning = `UNVERIFIED: this recording failed verification (${reason})`;
  if (format === 'jsonl') yield `${JSON.stringify({ unverified: true, warning })}\n`;
  let first = format === 'cast';
  for await (const chunk of source) {
    if (!first) {
      yield chunk;
      continue;
    }
    first = false;
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const end = text.indexOf('\n');
    const line = end < 0 ? text : text.slice(0, end);
    try {
      const header = JSON.parse(line) as Record<string, unknown>;
      yield `${JSON.stringify({ ...header, title: warning, unverified: true })}${end < 0 ? '' : text.slice(end)}`;
    } catch {
      yield chunk;
    }
  }
}

function attachment(filename: string): string {
  // Session ids are [a-z0-9_]: nothing to quote or escape.
  return `attachment; filename="${filename}"`;
}

function signedInUser(ctx: { auth: Authenticated | null }): UserRecord {
  if (!ctx.auth) throw new GatewayError('unauthenticated', 'Sign in first.');
  return ctx.auth.user;
}

/** Whether `user` may see a recording of `ownerId`'s session (readers see every recording). */
function maySeeRecordingOf(user: UserRecord, ownerId: string): boolean {
  return RECORDING_READERS.includes(user.role) || ownerId === user.id;
}

/** A `0|1|true|false` query flag. */
function isSet(flag: string | undefined): boolean {
  return flag === '1' || flag === 'true';
}
