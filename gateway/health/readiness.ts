/**
 * Whether this replica takes new sessions (issue #17), as `GET /v1/readyz` reports it to a load
 * balancer: its listeners are up, its store answers, and it is not draining. Liveness
 * (`/v1/healthz`) is only "the process answers": a replica that drains or lost its database is
 * alive but must not be sent new work, and restarting it would cut the sessions it still carries.
 */
import { GatewayError } from '../gatewayError.ts';

export interface ReadinessDeps {
  /** A cheap round trip to the store; rejects when it cannot be reached. */
  ping: () => Promise<void>;
  instanceId: string;
  /** How long a store ping may take before the replica counts as not ready. */
  pingTimeoutMs?: number;
}

export type ReadinessState =
  | { kind: 'starting' }
  | { kind: 'serving' }
  | { kind: 'draining'; since: number };

const DEFAULT_PING_TIMEOUT_MS = 2_000;

export class Readiness {
  private state: ReadinessState = { kind: 'starting' };

  constructor(private readonly deps: ReadinessDeps) {}

  get current(): ReadinessState {
    return this.state;
  }

  /** Every listener is up: from now on the replica is ready while its store answers. */
  markServing(): void {
    if (this.state.kind === 'starting') this.state = { kind: 'serving' };
  }

  /** SIGTERM: never ready again in this process. */
  startDraining(now: number): void {
    if (this.state.kind !== 'draining') this.state = { kind: 'draining', since: now };
  }

  /** The readyz answer, or a 503 GatewayError that says why not. */
  async check(): Promise<{ status: 'ready'; instance: string }> {
    switch (this.state.kind) {
      case 'starting':
        throw new GatewayError('unavailable', 'This gateway replica is still starting.');
      case 'draining':
        throw new GatewayError(
          'unavailable',
          'This gateway replica is shutting down and takes no new sessions.',
        );
      case 'serving':
        break;
    }
    const timeoutMs = this.deps.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.deps.ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      throw new GatewayError(
        'unavailable',
        `This gateway replica cannot reach its database (${error instanceof Error ? error.message : String(error)}).`,
      );
    } finally {
      clearTimeout(timer);
    }
    return { status: 'ready', instance: this.deps.instanceId };
  }
}
