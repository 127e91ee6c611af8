/**
 * Words the tunnel panel and a status bar show for tunnels (issue #15): pure, so they are
 * tested without a browser.
 */
import type { TunnelView } from '../../../main/ipc/contract.ts';

/** Tunnels listening now (ended ones stay listed, with their message, until dismissed). */
export function openTunnels(tunnels: readonly TunnelView[]): TunnelView[] {
  return tunnels.filter((tunnel) => tunnel.state.kind === 'open');
}

/** "2 live connections · 7 sessions recorded" — one line under the tunnel's title. */
export function tunnelActivity(tunnel: TunnelView): string {
  const live = tunnel.connections.filter((c) => c.state === 'live').length;
  const connecting = tunnel.connections.length - live;
  const parts = [
    live === 0 ? 'No live connections' : `${live} live connection${live === 1 ? '' : 's'}`,
  ];
  if (connecting > 0) parts.push(`${connecting} connecting`);
  parts.push(
    `${tunnel.sessionsOpened} session${tunnel.sessionsOpened === 1 ? '' : 's'} recorded so far`,
  );
  return parts.join(' · ');
}

/**
 * What the port field holds, as a port to ask for: blank means "the remembered one, else any
 * free one"; anything else must be 0–65535. Returns an error sentence for a bad entry.
 */
export function parsePortField(text: string): { port: number | undefined } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { port: undefined };
  if (!/^\d{1,5}$/.test(trimmed) || Number(trimmed) > 65_535) {
    return { error: 'A port is a number from 1 to 65535 (0 picks a free one).' };
  }
  return { port: Number(trimmed) };
}
