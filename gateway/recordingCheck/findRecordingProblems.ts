/**
 * Recordings are never silently missing (issue #12): compares the three places a recording
 * lives — the session row that says it happened, the recording row that describes it, the
 * bytes (segment files under `<dataDir>/recordings/<session>/`, or `recording_chunks`) — and
 * reports every recording one of them lacks:
 * - `missing_row`: a session that reached its target and ended has no recording row;
 * - `missing_bytes`: a recording row whose bytes are gone (or a segment file in the middle);
 * - `orphan_bytes`: bytes stored that no recording row describes (and no recorded session
 *   names: those are `missing_row`, with a note that the bytes are still there).
 * It reads only; deciding what to do about a problem is a person's job.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { RecordingProblem } from '../../shared/api/apiSchemas.ts';
import type {
  RecordingCatalog,
  RecordingListPosition,
  RecordingMetadata,
  RecordingStore,
} from '../store/recordingStore.ts';
import type { SessionRecord, SessionStore } from '../store/sessionStore.ts';

export interface RecordingCheckSources {
  store: RecordingCatalog &
    Pick<RecordingStore, 'listRecordingChunkSessionIds'> &
    Pick<SessionStore, 'listSessions'>;
  /** `<dataDir>/recordings`: the segment files of the SQLite deployment. */
  segmentRoot: string;
  now: number;
}

/**
 * A recording row still being written is given this long to store its header (the row is
 * created first, the bytes right after); older ones without bytes are reported.
 */
const STARTING_GRACE_MS = 60_000;
const PAGE = 500;
const SEGMENT_NAME = /^(\d{6})\.seg$/;

/**
 * End reasons of sessions that ended before their recording started: refused at connect (the
 * target or the policy said no), or the client left during login. These have no recording by
 * design. The reasons are written by the proxies (gateway/proxy/ssh/sshListener.ts,
 * gateway/proxy/postgres/postgresSession.ts); a reason not listed here counts as recorded.
 */
const NEVER_RECORDED_REASONS = [
  'refused at connect',
  'the client disconnected during login',
  'ended before it started',
  'recording failed',
];

export async function findRecordingProblems(
  sources: RecordingCheckSources,
): Promise<RecordingProblem[]> {
  const [rows, sessions, segments, chunks] = await Promise.all([
    allRecordings(sources.store),
    sources.store.listSessions({ state: 'ended', limit: Number.MAX_SAFE_INTEGER }),
    segmentDirectories(sources.segmentRoot),
    sources.store.listRecordingChunkSessionIds(),
  ]);
  const byId = new Map(rows.map((row) => [row.sessionId, row]));
  const chunked = new Set(chunks);
  const problems: RecordingProblem[] = [];

  for (const session of sessions) {
    if (!expectsRecording(session) || byId.has(session.id)) continue;
    const stored = segments.has(session.id) || chunked.has(session.id);
    problems.push({
      kind: 'missing_row',
      sessionId: session.id,
      message: `Session ${session.id} ended (${session.endReason ?? 'no reason'}) but has no recording row${stored ? '; its bytes are still stored' : ' and no stored bytes'}: the recording is missing.`,
    });
  }

  for (const row of rows) {
    if (row.status === 'recording' && sources.now - row.startedAt < STARTING_GRACE_MS) continue;
    const missing =
      row.storage === 'segments'
        ? segmentGap(row.sessionId, segments.get(row.sessionId))
        : chunked.has(row.sessionId)
          ? undefined
          : 'no chunks are stored';
    if (missing !== undefined) {
      problems.push({
        kind: 'missing_bytes',
        sessionId: row.sessionId,
        message: `The recording of session ${row.sessionId} (${row.status}) has lost its bytes: ${missing}.`,
      });
    }
  }

  const reported = new Set(problems.map((problem) => problem.sessionId));
  for (const sessionId of new Set([...segments.keys(), ...chunked])) {
    // A session's lost row with its bytes still stored is one problem, reported above.
    if (byId.has(sessionId) || reported.has(sessionId)) continue;
    problems.push({
      kind: 'orphan_bytes',
      sessionId,
      message: `Recording bytes are stored for ${sessionId}, but no recording row describes them.`,
    });
  }
  return problems;
}

/** A session that reached its target (its ticket was redeemed) and did not end before recording. */
export function expectsRecording(session: SessionRecord): boolean {
  if (session.startedAt === null) return false;
  const reason = session.endReason ?? '';
  return !NEVER_RECORDED_REASONS.some((prefix) => reason.startsWith(prefix));
}

/** Why a recording's segment files are incomplete, or undefined when 0…N are all there. */
function segmentGap(sessionId: string, indexes: number[] | undefined): string | undefined {
  if (indexes === undefined) return `its directory recordings/${sessionId} is gone`;
  if (indexes.length === 0) return `recordings/${sessionId} holds no segment file`;
  const gap = indexes.findIndex((index, position) => index !== position);
  return gap === -1
    ? undefined
    : `segment ${String(gap).padStart(6, '0')}.seg is missing from recordings/${sessionId}`;
}

/** Every session directory under the segment root, with its segment numbers in order. */
async function segmentDirectories(root: string): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>();
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return found;
    throw error;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const names = await readdir(path.join(root, entry.name));
    found.set(
      entry.name,
      names
        .map((name) => SEGMENT_NAME.exec(name)?.[1])
        .filter((index) => index !== undefined)
        .map(Number)
        .sort((a, b) => a - b),
    );
  }
  return found;
}

async function allRecordings(store: RecordingCatalog): Promise<RecordingMetadata[]> {
  const all: RecordingMetadata[] = [];
  let after: RecordingListPosition | undefined;
  for (;;) {
    const page = await store.listRecordings({ limit: PAGE, ...(after ? { after } : {}) });
    all.push(...page);
    const last = page.at(-1);
    if (!last || page.length < PAGE) return all;
    after = { startedAt: last.startedAt, sessionId: last.sessionId };
  }
}
