/**
 * What one gateway replica tells the others (issue #17). Events name what changed, never carry
 * the new state: the store stays the one source of truth, and a replica that hears an event
 * re-reads the rows it concerns. So an event that arrives twice, or late, does no harm, and
 * every payload stays far under PostgreSQL's 8000-byte NOTIFY limit.
 */
import { z } from 'zod';

export const gatewayEventSchema = z.discriminatedUnion('kind', [
  /**
   * A session's row was ended (terminate, an admin, a revoked grant, a disabled user, a lost
   * group membership) or its end moved earlier (a narrowed grant): whoever carries it re-reads it.
   */
  z.object({ kind: z.literal('session.changed'), sessionId: z.string() }),
  /**
   * What a user may see changed (disabled, a role change): every replica ends the live watches
   * this user has open on it (sessions/liveWatches.ts).
   */
  z.object({ kind: z.literal('user.accessChanged'), userId: z.string(), reason: z.string() }),
  /**
   * An access request was created or decided (approved, denied): every replica's request
   * streams hear it, whichever replica the requester or approver talked to.
   */
  z.object({
    kind: z.literal('request.changed'),
    requestId: z.string(),
    change: z.enum(['created', 'decided', 'approved', 'denied']),
    /** The replica whose streams already heard it (it fans out locally without a round trip). */
    origin: z.string(),
  }),
]);

export type GatewayEvent = z.infer<typeof gatewayEventSchema>;

/** An event as delivered: `id` orders events of one bus (monotonic; gaps are allowed). */
export interface DeliveredEvent {
  id: number;
  event: GatewayEvent;
}

/** Parses an event from the wire or a row; undefined for anything unknown (a newer replica). */
export function parseGatewayEvent(value: unknown): GatewayEvent | undefined {
  const parsed = gatewayEventSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
