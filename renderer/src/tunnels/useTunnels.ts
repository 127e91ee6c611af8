/**
 * The tunnel list as main announces it: read once, then replaced by every `tunnels.changed`
 * (a connection came or went, a tunnel opened or ended). A status bar can use it too.
 */
import { useEffect, useState } from 'react';
import type { DesktopApi, TunnelView } from '../../../main/ipc/contract.ts';

export function useTunnels(api: DesktopApi): TunnelView[] {
  const [tunnels, setTunnels] = useState<TunnelView[]>([]);
  useEffect(() => {
    let changed = false;
    const off = api.on('tunnels.changed', (event) => {
      changed = true;
      setTunnels(event.tunnels);
    });
    api
      .call('tunnels.list', {})
      .then((result) => {
        // An event that arrived meanwhile is newer than this answer.
        if (!changed) setTunnels(result.tunnels);
      })
      .catch(() => {});
    return off;
  }, [api]);
  return tunnels;
}
