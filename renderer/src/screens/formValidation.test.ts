import { describe, expect, it } from 'vitest';
import {
  adminFormProblem,
  enrollLinkProblem,
  newPasswordProblem,
  normalizeGatewayUrl,
  normalizeTotp,
} from './formValidation.ts';

describe('form validation', () => {
  it('asks for passwords of at least 10 characters that match', () => {
    expect(newPasswordProblem({ password: 'short', confirm: 'short' })).toContain('10 characters');
    expect(newPasswordProblem({ password: '0123456789', confirm: '0123456788' })).toContain(
      'do not match',
    );
    expect(newPasswordProblem({ password: '0123456789', confirm: '0123456789' })).toBeNull();
  });

  it('checks the admin username the way the gateway does', () => {
    const ok = { password: '0123456789', confirm: '0123456789' };
    expect(adminFormProblem({ ...ok, username: '' })).toBe('Enter a username.');
    expect(adminFormProblem({ ...ok, username: 'Admin' })).toContain('lower-case');
    expect(adminFormProblem({ ...ok, username: 'admin' })).toBeNull();
  });

  it('recognises enroll links', () => {
    expect(enrollLinkProblem('')).toContain('Paste');
    expect(enrollLinkProblem('https://example.com')).toContain('not an enroll link');
    expect(enrollLinkProblem(' witness://enroll?gateway=a&token=b&fingerprint=c ')).toBeNull();
  });

  it('normalizes gateway addresses to an https origin', () => {
    expect(normalizeGatewayUrl('gw.example:8443')).toEqual({ url: 'https://gw.example:8443' });
    expect(normalizeGatewayUrl('https://gw.example:8443/')).toEqual({
      url: 'https://gw.example:8443',
    });
    expect(normalizeGatewayUrl('http://gw.example')).toEqual({
      problem: 'The gateway is reached over https:// only.',
    });
    expect(normalizeGatewayUrl('')).toHaveProperty('problem');
  });

  it('accepts a six-digit code with spaces', () => {
    expect(normalizeTotp('123 456')).toEqual({ code: '123456' });
    expect(normalizeTotp('12345')).toHaveProperty('problem');
  });
});
