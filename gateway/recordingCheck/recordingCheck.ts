/**
 * The recordings check as the running gateway does it: on request (the API), and in the
 * background at start and every `intervalMs` (`serve --check-recordings-every`). A background
 * run logs one warning per problem and one line with the count (`recordingProblems`: the metric
 * an operator's log pipeline watches); the last run's result is kept for whoever asks.
 */
import type { RecordingProblem } from '../../shared/api/apiSchemas.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import { findRecordingProblems, type RecordingCheckSources } from './findRecordingProblems.ts';

export const DEFAULT_RECORDING_CHECK_INTERVAL_MS = 6 * 3600_000;

export interface RecordingCheckResult {
  checkedAt: number;
  problems: RecordingProblem[];
}

export class RecordingCheck {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RecordingCheckResult> | undefined;
  /** The last background run's result; undefined before the first one finishes. */
  last: RecordingCheckResult | undefined;

  constructor(
    private readonly sources: Omit<RecordingCheckSources, 'now'>,
    private readonly clock: Clock,
  ) {}

  /** Runs the check now. */
  async check(): Promise<RecordingCheckResult> {
    const checkedAt = this.clock.now();
    const problems = await findRecordingProblems({ ...this.sources, now: checkedAt });
    return { checkedAt, problems };
  }

  /** Checks now and then every `intervalMs`, logging what it finds; `stop()` ends it. */
  start(intervalMs: number, log: Logger): void {
    const run = () => {
      // A slow check (a large archive) must not pile up overlapping runs.
      this.running ??= this.check()
        .then((result) => {
          this.last = result;
          for (const problem of result.problems) {
            // `detail`, not `message`: that key is the log line's own.
            log.warn('recording problem', {
              kind: problem.kind,
              sessionId: problem.sessionId,
              detail: problem.message,
            });
          }
          log.info('recordings checked', { recordingProblems: result.problems.length });
          return result;
        })
        .catch((error: unknown) => {
          log.error('the recordings check failed', { error: String(error) });
          return { checkedAt: this.clock.now(), problems: [] };
        })
        .finally(() => {
          this.running = undefined;
        });
    };
    run();
    // setInterval takes at most 2^31-1 ms (about 24 days); longer would fire every millisecond.
    this.timer = setInterval(run, Math.min(intervalMs, 2 ** 31 - 1));
    this.timer.unref();
  }

  /** Stops the schedule and waits for a run in progress (the store is closed next). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
