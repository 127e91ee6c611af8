import { describe, expect, it } from 'vitest';
import { SETTINGS_GROUPS, sectionsFor, settingsSections } from './settingsSections.ts';

const ids = (role: 'admin' | 'auditor' | 'engineer') =>
  sectionsFor({ username: 'x', role }).map((s) => s.id);

describe('settings sections', () => {
  it('shows admins every admin page, in the issue’s order', () => {
    expect(ids('admin')).toEqual([
      'users',
      'groups',
      'identity-providers',
      'machine-identities',
      'resources',
      'grants',
      'requests',
      'live-sessions',
      'policies',
      'audit',
    ]);
  });

  it('shows engineers only Requests (their own, and a queue if they approve); auditors also the audit log', () => {
    expect(ids('engineer')).toEqual(['requests']);
    expect(ids('auditor')).toEqual(['requests', 'audit']);
  });

  it('has unique ids, and groups that the navigation knows, in navigation order', () => {
    const all = settingsSections.map((s) => s.id);
    expect(new Set(all).size).toBe(all.length);
    const groupOrder = settingsSections.map((s) => SETTINGS_GROUPS.indexOf(s.group));
    expect(groupOrder.every((g) => g >= 0)).toBe(true);
    expect([...groupOrder].sort((a, b) => a - b)).toEqual(groupOrder);
  });
});
