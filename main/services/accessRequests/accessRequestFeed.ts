/**
 * Follows the gateway's access-request events (`GET /v1/access-requests/events`, Server-Sent
 * Events) for as long as someone is signed in, so a requester sees "approved" the moment it
 * happens — an event, not polling (issue #14). One stream per signed-in user: `sync` starts it
 * on sign-in, restarts it when another user signs in, and stops it on sign-out. A stream that
 * drops (gateway restart, network) is opened again after a short, growing delay.
 */

import type { Download } from '../../../gateway-client/gatewayClient.ts';
import {
  type AccessRequestEvent,
  accessRequestEventSchema,
} from '../../../shared/api/apiSchemas.ts';
import { ServerSentEventReader } from './serverSentEvents.ts';

export interface AccessRequestFeedDeps {
  /** Opens the stream as the signed-in user. */
  follow(): Promise<Download>;
  onEvent(event: AccessRequestEvent): void;
  log(line: string): void;
  /** Delays before reopening a dropped stream; the last repeats. */
  retryDelaysMs?: readonly number[];
}

const DEFAULT_RETRY_DELAYS_MS = [500, 1000, 2000, 5000, 15_000];

export class AccessRequestFeed {
  private userId: string | null = null;
  /** Bumped on every start and stop, so an old stream's late callbacks are ignored. */
  private generation = 0;
  private body: Download['body'] | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;

  constructor(private readonly deps: AccessRequestFeedDeps) {}

  /** The signed-in user now (null: nobody): starts, restarts or stops the stream. */
  sync(userId: string | null): void {
    if (userId === this.userId) return;
    this.stop();
    this.userId = userId;
    if (userId !== null) this.open(this.generation);
  }

  stop(): void {
    this.generation++;
    this.userId = null;
    this.failures = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.body?.destroy();
    this.body = null;
  }

  private open(generation: number): void {
    this.deps
      .follow()
      .then((download) => {
        if (generation !== this.generation) {
          download.body.destroy();
          return;
        }
        this.body = download.body;
        const reader = new ServerSentEventReader();
        download.body.on('data', (chunk: Buffer) => {
          if (generation !== this.generation) return;
          this.failures = 0;
          for (const data of reader.push(chunk)) this.take(data);
        });
        download.body.on('error', (error) => this.dropped(generation, error));
        download.body.on('end', () => this.dropped(generation, new Error('the gateway ended it')));
      })
      .catch((error: unknown) => this.dropped(generation, error));
  }

  private take(data: string): void {
    let parsed: ReturnType<typeof accessRequestEventSchema.safeParse>;
    try {
      parsed = accessRequestEventSchema.safeParse(JSON.parse(data));
    } catch {
      this.deps.log('access-request events: a line that is not JSON was skipped');
      return;
    }
    if (!parsed.success) {
      this.deps.log('access-request events: an event of an unknown shape was skipped');
      return;
    }
    try {
      this.deps.onEvent(parsed.data);
    } catch (error) {
      this.deps.log(`access-request events: ${messageOf(error)}`);
    }
  }

  private dropped(generation: number, error: unknown): void {
    if (generation !== this.generation || this.userId === null) return;
    this.body = null;
    const delays = this.deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    const delay = delays[Math.min(this.failures, delays.length - 1)] ?? 1000;
    this.failures++;
    this.deps.log(`access-request events stopped (${messageOf(error)}); again in ${delay} ms`);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (generation === this.generation) this.open(generation);
    }, delay);
    this.retryTimer.unref?.();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
