import { describe, expect, it } from 'vitest';
import type { TunnelView } from '../../../main/ipc/contract.ts';
import { openTunnels, parsePortField, tunnelActivity } from './tunnelText.ts';

const lines = { conninfo: '', psql: '', uri: '', jdbcUrl: '' };
const tunnel = (over: Partial<TunnelView>): TunnelView => ({
  tunnelId: 'tun_1',
  resourceId: 'res_1',
  resourceName: 'orders-db',
  host: '127.0.0.1',
  port: 15432,
  openedAt: '2026-01-01T00:00:00.000Z',
  state: { kind: 'open' },
  connections: [],
  sessionsOpened: 0,
  lines,
  ...over,
});

describe('tunnel text', () => {
  it('counts only listening tunnels as open', () => {
    const ended = tunnel({
      tunnelId: 'tun_2',
      state: { kind: 'ended', reason: 'grant-ended', message: 'gone' },
    });
    expect(openTunnels([tunnel({}), ended]).map((t) => t.tunnelId)).toEqual(['tun_1']);
  });

  it('says how many connections are live or connecting, and how many sessions were recorded', () => {
    expect(tunnelActivity(tunnel({}))).toBe('No live connections · 0 sessions recorded so far');
    const since = '2026-01-01T00:00:01.000Z';
    expect(
      tunnelActivity(
        tunnel({
          connections: [
            { sessionId: 'ses_1', state: 'live', since },
            { sessionId: 'ses_2', state: 'connecting', since },
          ],
          sessionsOpened: 1,
        }),
      ),
    ).toBe('1 live connection · 1 connecting · 1 session recorded so far');
  });

  it('reads the port field: blank, a port, or a sentence', () => {
    expect(parsePortField(' ')).toEqual({ port: undefined });
    expect(parsePortField('15432')).toEqual({ port: 15432 });
    expect(parsePortField('0')).toEqual({ port: 0 });
    for (const bad of ['65536', 'abc', '-1', '1.5']) {
      expect(parsePortField(bad)).toEqual({
        error: 'A port is a number from 1 to 65535 (0 picks a free one).',
      });
    }
  });
});
