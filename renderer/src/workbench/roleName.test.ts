import { describe, expect, it } from 'vitest';
import { accountLine, roleName } from './roleName.ts';

describe('roles in words', () => {
  it('says each role as a person would', () => {
    expect(roleName('admin')).toBe('Administrator');
    expect(roleName('auditor')).toBe('Auditor');
    expect(roleName('engineer')).toBe('Engineer');
  });

  it('"admin · Administrator"', () => {
    expect(accountLine({ username: 'admin', role: 'admin' })).toBe('admin · Administrator');
    expect(accountLine({ username: 'alice', role: 'engineer' })).toBe('alice · Engineer');
  });
});
