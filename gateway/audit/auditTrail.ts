/**
 * The one place that appends to the audit log (issue #14). The API's route wrapper (admin
 * actions, request decisions), the session service (access decisions) and the request desk
 * (grants issued) call `record`; nothing else writes the log.
 *
 * Each entry is chained to the one before (shared/recording/auditChain.ts) inside the store's
 * serialised append, and the head is signed with the gateway's recording key — every
 * `checkpointEvery` entries, and at most `checkpointAfterMs` after an entry arrives, so a
 * verifier can trust all but the last few seconds' entries even while nobody exports.
 */
import {
  AUDIT_GENESIS_HASH,
  auditCheckpointSigningBytes,
  auditEntryHash,
} from '../../shared/recording/auditChain.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { AuditCheckpointRecord, AuditEntryRecord, AuditStore } from '../store/auditStore.ts';

export interface AuditActor {
  id: string;
  name: string;
}

/** What happened, as the caller knows it; the trail adds seq, time and the chain. */
export interface AuditEvent {
  /** Null for the gateway itself. */
  actor: AuditActor | null;
  /** Dotted: `admin.createGrant`, `session.allowed`, `request.approve`, `grant.issued`. */
  action: string;
  /** What it was done to, as a path: `/grants/grt_1`, `/resources/db-1`. */
  target: string;
  outcome: AuditOutcome;
  details?: Record<string, unknown>;
}

/** `allowed`/`refused` are access decisions; `succeeded`/`refused`/`failed` are actions. */
export type AuditOutcome = 'succeeded' | 'failed' | 'refused' | 'allowed';

/** What callers hold of the trail. */
export interface AuditRecorder {
  record(event: AuditEvent): Promise<AuditEntryRecord>;
}

export interface AuditSigner {
  keyId: string;
  sign(bytes: Uint8Array): Buffer;
}

export interface AuditTrailOptions {
  store: Pick<
    AuditStore,
    'appendAuditEntry' | 'auditHead' | 'addAuditCheckpoint' | 'latestAuditCheckpoint'
  >;
  clock: Clock;
  signer: AuditSigner;
  /** Sign the head after this many entries since the last checkpoint; default 100. */
  checkpointEvery?: number;
  /** Sign the head at most this long after an unsigned entry was appended; default 2 s. */
  checkpointAfterMs?: number;
  log?: Logger;
}

export const DEFAULT_AUDIT_CHECKPOINT_EVERY = 100;
export const DEFAULT_AUDIT_CHECKPOINT_AFTER_MS = 2000;

export class AuditTrail implements AuditRecorder {
  private readonly every: number;
  private readonly afterMs: number;
  /** Entries appended by this process since its last checkpoint. */
  private sinceCheckpoint = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Checkpoints are made one at a time, so their seqs only grow. */
  private signing: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: AuditTrailOptions) {
    this.every = options.checkpointEvery ?? DEFAULT_AUDIT_CHECKPOINT_EVERY;
    this.afterMs = options.checkpointAfterMs ?? DEFAULT_AUDIT_CHECKPOINT_AFTER_MS;
  }

  async record(event: AuditEvent): Promise<AuditEntryRecord> {
    const { store, clock } = this.options;
    const details = JSON.stringify(event.details ?? {});
    const entry = await store.appendAuditEntry((head) => {
      const body = {
        seq: head.seq + 1,
        time: clock.now(),
        actorId: event.actor?.id ?? null,
        actorName: event.actor?.name ?? null,
        action: event.action,
        target: event.target,
        outcome: event.outcome,
        details,
      };
      const prevHash = head.hash ?? AUDIT_GENESIS_HASH;
      return { ...body, prevHash, hash: auditEntryHash(prevHash, body) };
    });
    this.sinceCheckpoint += 1;
    if (this.sinceCheckpoint >= this.every) {
      void this.checkpointNow().catch((error: unknown) => this.warn(error));
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.checkpointNow().catch((error: unknown) => this.warn(error));
      }, this.afterMs);
      this.timer.unref();
    }
    return entry;
  }

  /**
   * Signs the current head unless a checkpoint already covers it; returns the checkpoint that
   * covers the head (undefined while the log is empty). Exports call it first, so what they
   * carry is signed to its last entry.
   */
  checkpointNow(): Promise<AuditCheckpointRecord | undefined> {
    const run = this.signing.then(() => this.signHead());
    this.signing = run.catch(() => {});
    return run;
  }

  /** Signs what is left unsigned and stops the timer (the gateway is closing). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.checkpointNow().catch((error: unknown) => this.warn(error));
  }

  private async signHead(): Promise<AuditCheckpointRecord | undefined> {
    const { store, clock, signer } = this.options;
    this.sinceCheckpoint = 0;
    const head = await store.auditHead();
    if (head.seq === 0 || head.hash === null) return undefined;
    const latest = await store.latestAuditCheckpoint();
    if (latest && latest.seq >= head.seq) return latest;
    const unsigned = { seq: head.seq, hash: head.hash, time: clock.now(), keyId: signer.keyId };
    const checkpoint = {
      ...unsigned,
      signature: signer.sign(auditCheckpointSigningBytes(unsigned)),
    };
    await store.addAuditCheckpoint(checkpoint);
    return checkpoint;
  }

  private warn(error: unknown): void {
    this.options.log?.warn('could not sign the audit log', { error: String(error) });
  }
}
