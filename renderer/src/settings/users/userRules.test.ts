import { describe, expect, it } from 'vitest';
import { groupListProblem, parseGroupList, usernameProblem } from './userRules.ts';

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
