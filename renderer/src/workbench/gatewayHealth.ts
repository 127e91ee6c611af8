/**
 * Whether the pinned gateway answers, as the status bar shows it. Checked by asking it for its
 * identity (`gateway.inspect`: one unauthenticated HTTPS round trip, no change anywhere), so a
 * gateway that is down, or that now presents another CA, shows before a terminal fails to open.
 */
import type { AppState } from '../../../main/ipc/contract.ts';

export type GatewayHealth =
  | { kind: 'checking' }
  | { kind: 'reachable'; roundTripMs: number }
  /** It answered, but not with the CA that was pinned: nothing is sent to it. */
  | { kind: 'changed' }
  | { kind: 'unreachable'; message: string };

/** How often the status bar asks again while the gateway is reachable, and after a failure. */
export const HEALTH_INTERVAL_MS = 30_000;
export const HEALTH_RETRY_MS = 5_000;

export function healthAfterCheck(
  pinnedCaFingerprint: string,
  outcome: { caFingerprint: string; roundTripMs: number } | { error: string },
): GatewayHealth {
  if ('error' in outcome) return { kind: 'unreachable', message: outcome.error };
  if (outcome.caFingerprint !== pinnedCaFingerprint) return { kind: 'changed' };
  return { kind: 'reachable', roundTripMs: Math.round(outcome.roundTripMs) };
}

export function healthLabel(health: GatewayHealth): string {
  switch (health.kind) {
    case 'checking':
      return 'Checking…';
    case 'reachable':
      return `Reachable (${health.roundTripMs} ms)`;
    case 'changed':
      return 'Certificate changed';
    case 'unreachable':
      return 'Unreachable';
  }
}

/** "Local gateway" or the host:port of a remote one, as the person pinned it. */
export function gatewayName(gateway: NonNullable<AppState['gateway']>): string {
  if (gateway.isLocal) return 'Local gateway';
  try {
    return new URL(gateway.url).host;
  } catch {
    return gateway.url;
  }
}
