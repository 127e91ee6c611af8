/**
 * Startup recovery, the sessions' half: a gateway process killed mid-session never ended the
 * sessions it carried, so their rows would stay `live` forever. At restart, once the
 * recorder has marked this instance's unfinished recordings interrupted, the sessions those
 * recordings belong to end with `gateway stopped`. Sessions are tied to an instance through
 * their recording's owner (recorder/gatewayInstanceId.ts), so replicas sharing PostgreSQL
 * never end each other's live sessions.
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import { GATEWAY_STOPPED_REASON, type SessionStore } from '../store/sessionStore.ts';

export async function endCarriedSessions(
  store: Pick<SessionStore, 'endSessionsRecordedBy'>,
  instanceId: string,
  clock: Clock,
  log: Logger,
): Promise<string[]> {
  const ended = await store.endSessionsRecordedBy(instanceId, GATEWAY_STOPPED_REASON, clock.now());
  const ids = ended.map((session) => session.id);
  if (ids.length > 0) {
    log.warn('sessions carried by a stopped gateway process were ended', { sessions: ids });
  }
  return ids;
}
