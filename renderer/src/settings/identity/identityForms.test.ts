import { describe, expect, it } from 'vitest';
import {
  claimsProblem,
  issuerProblem,
  machineNameProblem,
  parseClaims,
  parseScopes,
  providerNameProblem,
  scopesProblem,
} from './identityForms.ts';

describe('identity forms', () => {
  it('takes provider names the gateway takes, and says why others are refused', () => {
    expect(providerNameProblem('okta')).toBeNull();
    expect(providerNameProblem('corp-sso')).toBeNull();
    expect(providerNameProblem('Okta')).toMatch(/Lower-case/);
    expect(providerNameProblem('')).toMatch(/short name/);
    expect(machineNameProblem('ci.deploy_1')).toBeNull();
    expect(machineNameProblem('CI')).toMatch(/Lower-case/);
  });

  it('wants https issuers, http only on loopback', () => {
    expect(issuerProblem('https://acme.okta.com')).toBeNull();
    expect(issuerProblem('http://127.0.0.1:8080')).toBeNull();
    expect(issuerProblem('http://idp.example.com')).toMatch(/https:\/\//);
    expect(issuerProblem('acme.okta.com')).toMatch(/not a URL/);
  });

  it('splits scopes on spaces and commas and wants openid', () => {
    expect(parseScopes('openid, profile  email')).toEqual(['openid', 'profile', 'email']);
    expect(scopesProblem('profile email')).toMatch(/openid/);
    expect(scopesProblem('openid')).toBeNull();
  });

  it('reads claims one name=value per line, refusing none, duplicates and bare names', () => {
    expect(parseClaims('repository=acme/app\nref = refs/heads/main')).toEqual({
      claims: { repository: 'acme/app', ref: 'refs/heads/main' },
    });
    expect(claimsProblem('')).toMatch(/at least one claim/);
    expect(claimsProblem('repository')).toMatch(/name=value/);
    expect(claimsProblem('a=1, a=2')).toMatch(/named twice/);
    // A value may itself hold '=' (a workflow ref with a query, say): only the first splits.
    expect(parseClaims('job_workflow_ref=x@refs/heads/main?a=b')).toEqual({
      claims: { job_workflow_ref: 'x@refs/heads/main?a=b' },
    });
  });
});
