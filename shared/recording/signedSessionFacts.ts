/**
 * What a recording's signed content says about its session (issue #12): who, on what, over which
 * protocol, from when to when, and whether it was closed. A row in a database or a bundle's
 * description line can be edited by anyone with the file; these facts can only be believed
 * when a signed checkpoint covers the frames they come from, so every view shows these (or
 * checks what it shows against them) rather than the unsigned copies.
 *
 * Fed the frames a verifier accepts (`observe`, from `onEvent`), then asked with the verified
 * seq (`facts`): a session-start frame beyond it is not signed and is not used.
 */
import { metaType, parseEventJson } from './eventMeta.ts';
import { eventKinds, type RecordingEvent } from './recordingFormat.ts';
import type { VerificationReport } from './verifyRecording.ts';

export interface SignedSessionFacts {
  /** Seq of the signed session-start frame; null when there is none (or it is not signed). */
  sessionStartSeq: number | null;
  /** The user's name and id as the gateway wrote them when the session started. */
  user: string | null;
  /** Absent in recordings written before ids were recorded. */
  userId: string | null;
  resource: string | null;
  resourceId: string | null;
  protocol: 'ssh' | 'postgres' | null;
  /** ISO time of the session-start frame. */
  startedAt: string | null;
  /** ISO time of the last signed frame of a closed recording; null when not closed. */
  endedAt: string | null;
  /** `complete` when a final checkpoint is signed; otherwise nothing signed says it ended. */
  status: 'complete' | 'not closed';
}

interface SessionStart {
  seq: number;
  time: number;
  meta: Record<string, unknown>;
}

export class SignedSessionFactsCollector {
  private start: SessionStart | null = null;
  private lastTime: number | null = null;
  private lastSeq = 0;

  observe(event: RecordingEvent): void {
    this.lastTime = event.time;
    this.lastSeq = event.seq;
    if (this.start || event.channel !== 0 || event.kind !== eventKinds.meta) return;
    const meta = parseEventJson(event.data);
    if (metaType(meta) !== 'session-start') return;
    this.start = { seq: event.seq, time: event.time, meta: meta as Record<string, unknown> };
  }

  facts(
    report: Pick<VerificationReport, 'verifiedThroughSeq' | 'final' | 'status'>,
  ): SignedSessionFacts {
    const start = this.start && this.start.seq <= report.verifiedThroughSeq ? this.start : null;
    const closed = report.status === 'verified' && report.final;
    const text = (key: string) => {
      const value = start?.meta[key];
      return typeof value === 'string' ? value : null;
    };
    const target = start?.meta.target;
    const client = start?.meta.client;
    let protocol: SignedSessionFacts['protocol'] = null;
    if (start) {
      // The session-start of each proxy names its own target fields (FORMAT.md §5.1).
      const hasDatabase = typeof target === 'object' && target !== null && 'database' in target;
      const hasApplication =
        typeof client === 'object' && client !== null && 'application' in client;
      protocol = hasDatabase || hasApplication ? 'postgres' : 'ssh';
    }
    return {
      sessionStartSeq: start?.seq ?? null,
      user: text('user'),
      userId: text('userId'),
      resource: text('resource'),
      resourceId: text('resourceId'),
      protocol,
      startedAt: start ? new Date(start.time).toISOString() : null,
      endedAt:
        closed && this.lastTime !== null && this.lastSeq <= report.verifiedThroughSeq
          ? new Date(this.lastTime).toISOString()
          : null,
      status: closed ? 'complete' : 'not closed',
    };
  }
}

/** One place that words "the row (or header) says X, the signed recording says Y". */
export function describeMismatch(field: string, claimed: string, signed: string): string {
  return `${field} is ${JSON.stringify(claimed)} here, but the signed session-start frame says ${JSON.stringify(signed)}`;
}
