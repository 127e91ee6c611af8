/**
 * Keeps the stored verdicts fresh (issue #12): a recording verified once and tampered with
 * afterwards must not keep saying "verified" in the list until someone reopens it.
 *
 * Two triggers: a pass over every stored recording at start and every `intervalMs` (`serve
 * --reverify-recordings-every`), and a request whenever the API reads a recording's bytes for
 * someone (a stream; exports judge inline; a request takes the stored verdict while the bytes
 * it was made on are unchanged, recordingJudge.ts). Both feed one worker that verifies one recording at
 * a time and yields to the event loop between recordings, so a pass over a large archive uses
 * at most one core's share and never delays a session's traffic by more than one recording's
 * read; requests go before the rest of a pass. Live recordings are left to their recorder.
 *
 * Each pass logs one line (`recordings re-verified`, with the count of failed ones:
 * `recordingsFailingVerification`, the metric to alert on) and one warning per recording that
 * newly fails.
 */
import type { Logger } from '../logger.ts';
import { silentLogger } from '../logger.ts';
import type {
  RecordingCatalog,
  RecordingListPosition,
  RecordingMetadata,
} from '../store/recordingStore.ts';
import type { JudgeOptions, RecordingJudge } from './recordingJudge.ts';

export const DEFAULT_REVERIFY_INTERVAL_MS = 3600_000;

/** Rows read per page of a pass: enough to keep queries few, small enough to hold. */
const PAGE = 200;

export interface ReverifyPassResult {
  checked: number;
  failed: number;
  /** Recordings whose verdict turned failed in this pass. */
  newlyFailed: number;
  ms: number;
}

export class RecordingReverifier {
  /** Recordings asked for, with when they were asked for. */
  private readonly requested = new Map<string, number>();
  private passDue = false;
  private working: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private log: Logger = silentLogger;
  /** Whoever waits for the next pass to start and finish (tests). */
  private passWaiters: Array<(result: ReverifyPassResult) => void> = [];
  /** The last pass's result; undefined before the first one finishes. */
  last: ReverifyPassResult | undefined;

  constructor(
    private readonly sources: {
      store: Pick<RecordingCatalog, 'getRecording' | 'listRecordings'>;
      judge: Pick<RecordingJudge, 'judge'>;
      now?: () => number;
    },
  ) {}

  /** Passes now and then every `intervalMs`; `stop()` ends it. */
  start(intervalMs: number, log: Logger): void {
    this.log = log;
    this.stopped = false;
    this.schedulePass();
    // setInterval takes at most 2^31-1 ms (about 24 days); longer would fire every millisecond.
    this.timer = setInterval(() => this.schedulePass(), Math.min(intervalMs, 2 ** 31 - 1));
    this.timer.unref();
  }

  /** Re-verifies this recording soon (its bytes were just read for someone). */
  request(sessionId: string): void {
    if (this.stopped) return;
    if (!this.requested.has(sessionId))
      this.requested.set(sessionId, (this.sources.now ?? Date.now)());
    this.wake();
  }

  /** Runs a pass now (or after the one running) and resolves with that pass's result. */
  pass(): Promise<ReverifyPassResult> {
    const done = new Promise<ReverifyPassResult>((resolve) => this.passWaiters.push(resolve));
    this.schedulePass();
    return done;
  }

  /** Stops the schedule and waits for the recording being verified (the store closes next). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.requested.clear();
    await this.working;
  }

  private schedulePass(): void {
    if (this.stopped) return;
    // A pass still running when the next is due is not doubled: one more follows it.
    this.passDue = true;
    this.wake();
  }

  private wake(): void {
    this.working ??= this.work()
      .catch((error: unknown) => {
        this.log.error('the recordings re-verification failed', { error: String(error) });
      })
      .finally(() => {
        this.working = undefined;
        if (!this.stopped && (this.requested.size > 0 || this.passDue)) this.wake();
      });
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      if (this.requested.size > 0) {
        await this.checkRequested();
      } else if (this.passDue) {
        this.passDue = false;
        await this.runPass();
      } else {
        return;
      }
    }
  }

  private async checkRequested(): Promise<void> {
    for (const [sessionId, requestedAt] of this.requested) {
      this.requested.delete(sessionId);
      if (this.stopped) return;
      const recording = await this.sources.store.getRecording(sessionId);
      if (!recording || recording.status === 'recording') continue;
      // Verified since the read that asked (the desktop's open reads the stream and asks for
      // the gateway's judgement at once): that verdict already covers the bytes read.
      if ((recording.lastVerification?.at ?? -Infinity) >= requestedAt) continue;
      // A read for someone takes the stored verdict while the bytes it was made on are
      // unchanged (issue #16: hashing a GiB per stream request held up the next first byte);
      // the pass below reads every byte whatever the fingerprint says.
      await this.check(recording, { reuseUnchanged: true });
      await yieldToEventLoop();
    }
  }

  private async runPass(): Promise<void> {
    const now = this.sources.now ?? Date.now;
    const started = now();
    // A pass answers those who asked before it began: one begun earlier may have passed a
    // recording they changed.
    const waiters = this.passWaiters.splice(0);
    const result: ReverifyPassResult = { checked: 0, failed: 0, newlyFailed: 0, ms: 0 };
    let after: RecordingListPosition | undefined;
    for (;;) {
      const page = await this.sources.store.listRecordings({
        ...(after ? { after } : {}),
        limit: PAGE,
      });
      for (const recording of page) {
        if (this.stopped) return;
        // Someone is waiting on a read: theirs first.
        if (this.requested.size > 0) await this.checkRequested();
        if (recording.status === 'recording') continue;
        const failed = await this.check(recording);
        result.checked += 1;
        if (failed) {
          result.failed += 1;
          if (recording.lastVerification?.status !== 'failed') result.newlyFailed += 1;
        }
        await yieldToEventLoop();
      }
      const last = page.at(-1);
      if (page.length < PAGE || !last) break;
      after = { startedAt: last.startedAt, sessionId: last.sessionId };
    }
    result.ms = now() - started;
    this.last = result;
    this.log.info('recordings re-verified', {
      recordings: result.checked,
      recordingsFailingVerification: result.failed,
      newlyFailed: result.newlyFailed,
      ms: result.ms,
    });
    for (const resolve of waiters) resolve(result);
  }

  /** Judges one recording (storing the verdict); true when it fails. */
  private async check(recording: RecordingMetadata, options: JudgeOptions = {}): Promise<boolean> {
    try {
      const { verification } = await this.sources.judge.judge(recording, options);
      if (verification.status !== 'failed') return false;
      if (recording.lastVerification?.status !== 'failed') {
        // `detail`, not `message`: that key is the log line's own.
        this.log.warn('recording fails verification', {
          sessionId: recording.sessionId,
          firstBadSeq: verification.firstBadSeq,
          detail: verification.message,
        });
      }
      return true;
    } catch (error) {
      // One unreadable recording must not end the pass.
      this.log.error('could not re-verify a recording', {
        sessionId: recording.sessionId,
        error: String(error),
      });
      return false;
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
