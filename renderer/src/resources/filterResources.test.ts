import { describe, expect, it } from 'vitest';
import type { ResourceSummary } from '../../../main/ipc/contract.ts';
import { filterResources, labelOptions, NO_FILTER } from './filterResources.ts';
import { canOpenConsole, canOpenTerminal, grantStatus } from './grantStatus.ts';

const resource = (over: Partial<ResourceSummary> & { name: string }): ResourceSummary => ({
  id: over.name,
  description: '',
  kind: 'ssh',
  labels: {},
  access: 'granted',
  grantExpiresAt: null,
  ...over,
});

const list = [
  resource({
    name: 'web-1',
    labels: { env: 'prod', team: 'web' },
    description: 'Front web server',
  }),
  resource({ name: 'orders-db', kind: 'postgres', labels: { env: 'prod' } }),
  resource({ name: 'staging-box', labels: { env: 'staging' }, access: 'requestable' }),
  resource({ name: 'demo-ssh', labels: { demo: 'true' } }),
];
const names = (rs: ResourceSummary[]) => rs.map((r) => r.name);

describe('filterResources', () => {
  it('returns everything, sorted by name, with no filter', () => {
    expect(names(filterResources(list, NO_FILTER))).toEqual([
      'demo-ssh',
      'orders-db',
      'staging-box',
      'web-1',
    ]);
  });

  it('filters by kind', () => {
    expect(names(filterResources(list, { ...NO_FILTER, kind: 'postgres' }))).toEqual(['orders-db']);
  });

  it('filters by one key=value label', () => {
    expect(names(filterResources(list, { ...NO_FILTER, label: 'env=prod' }))).toEqual([
      'orders-db',
      'web-1',
    ]);
  });

  it('searches name, description and labels, every word must match, any case', () => {
    expect(names(filterResources(list, { ...NO_FILTER, search: 'FRONT' }))).toEqual(['web-1']);
    expect(names(filterResources(list, { ...NO_FILTER, search: 'prod db' }))).toEqual([
      'orders-db',
    ]);
    expect(names(filterResources(list, { ...NO_FILTER, search: 'team=web' }))).toEqual(['web-1']);
    expect(filterResources(list, { ...NO_FILTER, search: 'nothing-like-this' })).toEqual([]);
  });

  it('combines search, kind and label', () => {
    const filter = { search: 'web', kind: 'ssh' as const, label: 'env=prod' };
    expect(names(filterResources(list, filter))).toEqual(['web-1']);
  });

  it('offers each distinct label once', () => {
    expect(labelOptions(list)).toEqual(['demo=true', 'env=prod', 'env=staging', 'team=web']);
  });
});

describe('grantStatus and canOpenTerminal', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const inMinutes = (m: number) => new Date(now + m * 60_000).toISOString();

  it('shows time left on a granted resource, warning when it ends soon', () => {
    expect(grantStatus(resource({ name: 'a', grantExpiresAt: inMinutes(90) }), now)).toEqual({
      badge: 'Granted',
      tone: 'ok',
      timeLeft: '1 h 30 min left',
    });
    expect(grantStatus(resource({ name: 'a', grantExpiresAt: inMinutes(5) }), now).tone).toBe(
      'warn',
    );
    expect(grantStatus(resource({ name: 'a' }), now).timeLeft).toBe('no end');
  });

  it('says an access request is needed, with no time left', () => {
    expect(grantStatus(resource({ name: 'a', access: 'requestable' }), now)).toMatchObject({
      badge: 'Needs access request',
      timeLeft: null,
    });
  });

  it('offers a terminal only on ssh resources the user may use now', () => {
    expect(canOpenTerminal(resource({ name: 'a' }), now)).toBe(true);
    expect(canOpenTerminal(resource({ name: 'a', access: 'admin' }), now)).toBe(true);
    expect(canOpenTerminal(resource({ name: 'a', access: 'requestable' }), now)).toBe(false);
    expect(canOpenTerminal(resource({ name: 'a', kind: 'postgres' }), now)).toBe(false);
    expect(canOpenTerminal(resource({ name: 'a', grantExpiresAt: inMinutes(-1) }), now)).toBe(
      false,
    );
  });

  it('offers a console only on postgres resources the user may use now (issue #15)', () => {
    const pg = (over: Partial<ResourceSummary>) =>
      resource({ name: 'db', kind: 'postgres', ...over });
    expect(canOpenConsole(pg({}), now)).toBe(true);
    expect(canOpenConsole(pg({ access: 'admin' }), now)).toBe(true);
    expect(canOpenConsole(pg({ access: 'requestable' }), now)).toBe(false);
    expect(canOpenConsole(pg({ grantExpiresAt: inMinutes(-1) }), now)).toBe(false);
    expect(canOpenConsole(resource({ name: 'a' }), now)).toBe(false);
  });
});
