import { describe, expect, it } from 'vitest';
import { groupsFromClaims, proposedUsername, witnessName } from './providerClaims.ts';

describe("a provider's claims in Witness's names (issue #18)", () => {
  it('folds names into the Witness alphabet, or leaves them out', () => {
    expect(witnessName('Data Team')).toBe('data-team');
    expect(witnessName('Zoë.Smith')).toBe('zoe.smith');
    expect(witnessName('---')).toBeUndefined();
    expect(witnessName('')).toBeUndefined();
  });

  it('reads groups from an array, a space or comma separated string, or Keycloak paths', () => {
    expect(groupsFromClaims({ groups: ['ops', 'Ops', '/platform/sre'] }, 'groups')).toEqual([
      'ops',
      'platform-sre',
    ]);
    expect(groupsFromClaims({ roles: 'admins, dba' }, 'roles')).toEqual(['admins', 'dba']);
    // A missing claim is no groups: the provider is the source, so lost is lost.
    expect(groupsFromClaims({}, 'groups')).toEqual([]);
    expect(groupsFromClaims({ groups: [1, null] }, 'groups')).toEqual([]);
  });

  it('proposes preferred_username, then the e-mail local part, then sub', () => {
    expect(proposedUsername({ sub: 's', preferred_username: 'Alice', email: 'a@x' })).toBe('alice');
    expect(proposedUsername({ sub: 's', email: 'bob.smith@example.com' })).toBe('bob.smith');
    expect(proposedUsername({ sub: '00u1ABC' })).toBe('00u1abc');
  });
});
