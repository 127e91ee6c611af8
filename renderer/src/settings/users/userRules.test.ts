import { describe, expect, it } from 'vitest';
import {
  groupListProblem,
  inviteNoticeText,
  parseGroupList,
  resetNoticeText,
  usernameProblem,
} from './userRules.ts';

describe('invite form rules', () => {
  it('asks for a username the gateway will take', () => {
    expect(usernameProblem('')).toMatch(/Enter/);
    expect(usernameProblem('Bob')).toMatch(/lower-case/);
    expect(usernameProblem('-bob')).toMatch(/starting/);
    expect(usernameProblem('bob.smith_2')).toBeNull();
  });

  it('reads groups separated by commas or spaces, once each, and names bad ones', () => {
    expect(parseGroupList('oncall, dba  oncall')).toEqual(['oncall', 'dba']);
    expect(groupListProblem('oncall, Ops!')).toMatch(/Ops!/);
    expect(groupListProblem('')).toBeNull();
  });
});

describe('one-time link notice', () => {
  it('says what was reset and what the user does next', () => {
    expect(resetNoticeText('eve', { password: true, totp: true })).toEqual({
      heading: "eve's password and TOTP were reset",
      withLink: 'and choose a new password, then set up TOTP again',
      withoutLink: expect.stringMatching(/signed out everywhere/),
    });
    expect(resetNoticeText('eve', { password: true, totp: false }).heading).toBe(
      "eve's password was reset",
    );
    const totpOnly = resetNoticeText('eve', { password: false, totp: true });
    expect(totpOnly.heading).toBe("eve's TOTP was reset");
    expect(totpOnly.withoutLink).toMatch(/set up TOTP again/);
    expect(inviteNoticeText('eve').withLink).toBe('and choose a password');
  });
});
