import { describe, expect, it } from 'vitest';
import { statementClasses } from '../../shared/api/apiSchemas.ts';
import { calls } from '../ipc/contract.ts';
import { fingerprintOfKeyLine, formFieldOf } from './adminSettings.ts';

describe('admin settings: what crosses to the renderer', () => {
  it('shows a pinned host key as the fingerprint ssh-keygen -l prints', () => {
    // Vector from `ssh-keygen -lf` on this key.
    expect(
      fingerprintOfKeyLine(
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIONQdHBbHO4wTFVtEHMUhiYWKa9nqRDPJ0IoMsZHw4n4 v',
      ),
    ).toBe('SHA256:ltcX8RegVNZMrd6ukh8a7IDWZ5KYLVqx97cXp8uONWk');
  });

  it('names the form field an API issue concerns', () => {
    expect(formFieldOf('target.host')).toBe('host');
    expect(formFieldOf('secret.privateKey')).toBe('privateKey');
    expect(formFieldOf('labels.Env')).toBe('labels');
    expect(formFieldOf('hostKeyFingerprint')).toBe('hostKey');
    expect(formFieldOf('policy.masking.0.match.pattern')).toBe('masking.0.pattern');
    expect(formFieldOf('name')).toBe('name');
  });

  it("restates the gateway's statement classes exactly", () => {
    const save = calls['admin.policies.save'].request;
    const withClasses = (classes: string[]) =>
      save.safeParse({
        kind: 'resource',
        id: 'res_1',
        policy: {
          masking: [],
          guardrails: [{ kind: 'statement', name: 'g', classes }],
          maskingMode: 'strict',
        },
      }).success;
    expect(withClasses([...statementClasses])).toBe(true);
    expect(withClasses(['drop_everything'])).toBe(false);
  });

  it('answers no field that could hold a stored secret', () => {
    const forbidden =
      /"(password|privateKey|passphrase|secret|caPem|hostKey|ticket|accessToken|refreshToken)"/;
    for (const name of Object.keys(calls).filter((n) => n.startsWith('admin.'))) {
      const schema = calls[name as keyof typeof calls].response;
      expect(JSON.stringify(schema.toJSONSchema()), name).not.toMatch(forbidden);
    }
  });
});
