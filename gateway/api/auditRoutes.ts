import { Readable } from 'node:stream';
import type { AuditEntry, Instant } from '../../shared/api/apiSchemas.ts';
import {
  AUDIT_FORMAT_VERSION,
  auditCheckpointToLine,
  auditEntryToLine,
} from '../../shared/recording/auditChain.ts';
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { Clock } from '../clock.ts';
import type { AuditEntryRecord, AuditStore } from '../store/auditStore.ts';
import type { HandlersFor } from './apiRoute.ts';
import { iso } from './presenters.ts';

export type AuditRouteName = 'listAudit' | 'exportAudit';

export interface AuditRouteServices {
  store: Pick<AuditStore, 'listAuditEntries' | 'readAuditEntries' | 'listAuditCheckpoints'>;
  audit: Pick<AuditTrail, 'checkpointNow'>;
  clock: Clock;
  keyId: string;
}

/** Entries read from the store per page of an export: bounded memory for any log size. */
const EXPORT_PAGE = 1000;

/** Reading the audit log (issue #14); the table lets admins and auditors only. */
export function auditHandlers({
  store,
  audit,
  clock,
  keyId,
}: AuditRouteServices): HandlersFor<AuditRouteName> {
  const instant = (value: Instant | undefined) =>
    value === undefined
      ? undefined
      : 'at' in value
        ? value.at
        : clock.now() - value.agoSeconds * 1000;
  return {
    listAudit: async ({ query }) => {
      const entries = await store.listAuditEntries({
        ...(query.q !== undefined && { text: query.q }),
        ...(query.actor !== undefined && { actor: query.actor }),
        ...(query.action !== undefined && { action: query.action }),
        ...(query.since !== undefined && { since: instant(query.since) }),
        ...(query.until !== undefined && { until: instant(query.until) }),
        ...(query.cursor !== undefined && { beforeSeq: Number(query.cursor) }),
        // One more than asked says whether there is a next page.
        limit: query.limit + 1,
      });
      const page = entries.slice(0, query.limit);
      const last = page.at(-1);
      return {
        entries: page.map(presentAuditEntry),
        nextCursor: entries.length > query.limit && last ? String(last.seq) : null,
      };
    },
    exportAudit: async ({ reply }) => {
      // Signed to the head first, so the file verifies to its last entry.
      const upTo = (await audit.checkpointNow())?.seq ?? 0;
      const exportedAt = iso(clock.now());
      async function* lines(): AsyncGenerator<string> {
        yield `${JSON.stringify({ type: 'audit-log', formatVersion: AUDIT_FORMAT_VERSION, exportedAt, keyId })}\n`;
        for (let from = 1; from <= upTo; from += EXPORT_PAGE) {
          const to = Math.min(upTo, from + EXPORT_PAGE - 1);
          const [entries, checkpoints] = await Promise.all([
            store.readAuditEntries(from, to, EXPORT_PAGE),
            store.listAuditCheckpoints(from, to),
          ]);
          let text = '';
          let next = 0;
          for (const entry of entries) {
            text += `${JSON.stringify(auditEntryToLine(entry))}\n`;
            while (checkpoints[next] && (checkpoints[next]?.seq ?? 0) <= entry.seq) {
              const checkpoint = checkpoints[next++];
              if (checkpoint?.seq === entry.seq) {
                text += `${JSON.stringify(auditCheckpointToLine(checkpoint))}\n`;
              }
            }
          }
          yield text;
        }
      }
      return reply
        .header('content-type', 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', 'attachment; filename="audit.jsonl"')
        .header('cache-control', 'no-store')
        .send(Readable.from(lines()));
    },
  };
}

export function presentAuditEntry(entry: AuditEntryRecord): AuditEntry {
  return {
    seq: entry.seq,
    time: iso(entry.time),
    actor:
      entry.actorId === null ? null : { id: entry.actorId, name: entry.actorName ?? entry.actorId },
    action: entry.action,
    target: entry.target,
    outcome: entry.outcome,
    details: JSON.parse(entry.details) as Record<string, unknown>,
    hash: entry.hash.toString('hex'),
  };
}
