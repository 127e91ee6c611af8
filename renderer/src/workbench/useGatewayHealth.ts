/** Checks the pinned gateway now and then (gatewayHealth.ts says how and why). */
import { useEffect, useState } from 'react';
import type { AppState, DesktopApi } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import {
  type GatewayHealth,
  HEALTH_INTERVAL_MS,
  HEALTH_RETRY_MS,
  healthAfterCheck,
} from './gatewayHealth.ts';

export function useGatewayHealth(api: DesktopApi, gateway: AppState['gateway']): GatewayHealth {
  const [health, setHealth] = useState<GatewayHealth>({ kind: 'checking' });
  // Keyed by the pin, not the AppState object, so a state broadcast does not re-check.
  const url = gateway?.url ?? null;
  const pinnedCa = gateway?.caFingerprint ?? '';
  useEffect(() => {
    if (url === null) return;
    setHealth({ kind: 'checking' });
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = async () => {
      const started = performance.now();
      let next: GatewayHealth;
      try {
        const identity = await api.call('gateway.inspect', { url });
        next = healthAfterCheck(pinnedCa, {
          caFingerprint: identity.caFingerprint,
          roundTripMs: performance.now() - started,
        });
      } catch (error) {
        next = healthAfterCheck(pinnedCa, { error: describeError(error) });
      }
      if (stopped) return;
      setHealth(next);
      timer = setTimeout(check, next.kind === 'reachable' ? HEALTH_INTERVAL_MS : HEALTH_RETRY_MS);
    };
    void check();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [api, url, pinnedCa]);
  return health;
}
