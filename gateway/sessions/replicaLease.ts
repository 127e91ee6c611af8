/**
 * Each replica's heartbeat, and what the others do when it stops (issue #17). A replica renews
 * its lease (a `gateway_leases` row) every second; any replica that sees another's lease run
 * out (5 s) takes over what the dead one left: its unfinished recordings are marked interrupted,
 * ended at their last checkpoint, and the sessions they belong to end with `gateway stopped` —
 * the same two steps a restarted gateway runs for itself at start-up (recorder's
 * recoverInterruptedRecordings, endCarriedSessions.ts), now run by whichever replica notices
 * first. Both steps are conditional updates, so two replicas noticing at once do no harm.
 *
 * One lease per replica, not per session: a replica's sessions die together with its process,
 * so one row written once a second says for all of them what a row per session would, at a
 * cost that does not grow with the sessions carried.
 *
 * Limit: a replica stalled for longer than the lease (a stopped VM, an event loop blocked for
 * seconds) is taken for dead; its recordings are marked interrupted while it may still write
 * them (their rows no longer say 'recording'; the bytes it still writes stay in the chunks).
 * The lease is five renewals long so that only a stall of seconds does this.
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { RecordingStore } from '../store/recordingStore.ts';
import type { ReplicaStore } from '../store/replicaStore.ts';
import { GATEWAY_STOPPED_REASON, type SessionStore } from '../store/sessionStore.ts';

export const LEASE_RENEW_MS = 1000;
export const LEASE_TTL_MS = 5000;

export interface ReplicaLeaseStore
  extends Pick<ReplicaStore, 'renewLease' | 'listExpiredLeases' | 'releaseLease'>,
    Pick<RecordingStore, 'markUnfinishedRecordingsInterrupted'>,
    Pick<SessionStore, 'endSessionsRecordedBy'> {}

export interface TakenOver {
  instanceId: string;
  recordings: string[];
  sessions: string[];
}

export class ReplicaLease {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly renewMs: number;
  private readonly ttlMs: number;

  constructor(
    private readonly deps: {
      store: ReplicaLeaseStore;
      instanceId: string;
      clock: Clock;
      log: Logger;
      renewMs?: number;
      ttlMs?: number;
      /** Told each time this replica took over a dead one (tests, metrics). */
      onTakeOver?: (takenOver: TakenOver) => void;
    },
  ) {
    this.renewMs = deps.renewMs ?? LEASE_RENEW_MS;
    this.ttlMs = deps.ttlMs ?? LEASE_TTL_MS;
  }

  /** Takes the lease (before any session starts here), then renews it and watches the others. */
  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => {
        this.ticking = undefined;
      });
    }, this.renewMs);
    this.timer.unref();
  }

  /** Stops renewing and gives the lease back (a clean stop leaves nothing to take over). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.deps.store.releaseLease(this.deps.instanceId, null).catch((error: unknown) => {
      this.deps.log.warn('could not release the replica lease', { error: String(error) });
    });
  }

  /** Takes over every replica whose lease ran out; what it took over. */
  async takeOverExpired(): Promise<TakenOver[]> {
    const { store, instanceId, clock, log } = this.deps;
    const taken: TakenOver[] = [];
    for (const dead of await store.listExpiredLeases(clock.now(), instanceId)) {
      const now = clock.now();
      const recordings = await store.markUnfinishedRecordingsInterrupted(dead, now);
      const sessions = await store.endSessionsRecordedBy(dead, GATEWAY_STOPPED_REASON, now);
      await store.releaseLease(dead, now);
      const takenOver = { instanceId: dead, recordings, sessions: sessions.map((s) => s.id) };
      log.warn('a gateway replica stopped renewing its lease; its sessions were ended', {
        replica: dead,
        recordingsInterrupted: recordings,
        sessionsEnded: takenOver.sessions,
      });
      this.deps.onTakeOver?.(takenOver);
      taken.push(takenOver);
    }
    return taken;
  }

  private async renew(): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.renewLease(this.deps.instanceId, now, now + this.ttlMs);
  }

  private async tick(): Promise<void> {
    try {
      await this.renew();
      await this.takeOverExpired();
    } catch (error) {
      this.deps.log.warn('replica lease check failed; retrying', { error: String(error) });
    }
  }
}
