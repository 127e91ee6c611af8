import { describe, expect, it } from 'vitest';
import { activeFilterCount, EMPTY_FILTERS, toRecordingFilters } from './recordingFilters.ts';

describe('toRecordingFilters', () => {
  it('no filters: undefined (the call carries none)', () => {
    expect(toRecordingFilters(EMPTY_FILTERS)).toBeUndefined();
    expect(toRecordingFilters({ ...EMPTY_FILTERS, user: '   ' })).toBeUndefined();
  });
  it('trims text, keeps the choices', () => {
    expect(
      toRecordingFilters({
        ...EMPTY_FILTERS,
        user: ' alice ',
        resource: 'web-1',
        protocol: 'ssh',
        status: 'verified',
      }),
    ).toEqual({ user: 'alice', resource: 'web-1', protocol: 'ssh', status: 'verified' });
  });
  it('dates cover whole local days', () => {
    const f = toRecordingFilters({ ...EMPTY_FILTERS, from: '2026-03-01', to: '2026-03-02' });
    expect(new Date(f?.from ?? '').getTime()).toBe(new Date(2026, 2, 1).getTime());
    expect(new Date(f?.to ?? '').getTime()).toBe(new Date(2026, 2, 3).getTime() - 1);
    expect(toRecordingFilters({ ...EMPTY_FILTERS, from: 'yesterday' })).toBeUndefined();
  });
  it('counts active filters', () => {
    expect(activeFilterCount({ ...EMPTY_FILTERS, protocol: 'postgres', from: '2026-01-01' })).toBe(
      2,
    );
  });
});
