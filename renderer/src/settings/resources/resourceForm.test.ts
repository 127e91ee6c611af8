import { describe, expect, it } from 'vitest';
import { draftOf, emptyForm, filterAdminResources, formOf, validateForm } from './resourceForm.ts';

describe('the resource form', () => {
  it('checks as you type, and asks for a pinned host key on SSH', () => {
    const form = { ...emptyForm('ssh'), name: 'Web 1', host: 'web-1', username: '', labels: 'env' };
    expect(validateForm(form)).toEqual({
      name: expect.stringContaining('Lower-case'),
      username: expect.any(String),
      labels: '"env" is not key=value',
      hostKey: expect.stringContaining('Scan the host key'),
    });
    const ready = {
      ...form,
      name: 'web-1',
      username: 'deploy',
      labels: 'env=prod',
      confirmedFingerprint: 'SHA256:x',
    };
    expect(validateForm(ready)).toEqual({});
    expect(draftOf(ready)).toEqual({
      name: 'web-1',
      description: '',
      labels: { env: 'prod' },
      target: { kind: 'ssh', host: 'web-1', port: 22, username: 'deploy' },
      credential: { kind: 'generate' },
      hostKeyFingerprint: 'SHA256:x',
    });
  });

  it('keeps the stored credential and CA on edit unless replaced', () => {
    const form = formOf({
      id: 'res_1',
      name: 'orders-db',
      description: '',
      labels: { tier: 'db' },
      target: {
        kind: 'postgres',
        host: 'db',
        port: 5432,
        database: 'orders',
        username: 'w',
        tlsMode: 'verify-full',
        hasCa: true,
      },
      stored: { hasPrivateKey: false, hasPassword: true },
      updatedAt: '2026-01-01T00:00:00Z',
    });
    expect(validateForm(form)).toEqual({});
    const draft = draftOf(form);
    expect(draft.credential).toEqual({ kind: 'keep' });
    expect(draft.target).toMatchObject({ caPem: null, keepCa: true });
    expect(validateForm({ ...form, hasStoredCa: false })).toHaveProperty('caPem');
  });

  it('filters by text and by label', () => {
    const resources = [
      {
        id: '1',
        name: 'web-1',
        description: '',
        labels: { env: 'prod' },
        target: {
          kind: 'ssh' as const,
          host: 'a',
          port: 22,
          username: 'u',
          hostKeyFingerprint: null,
        },
        stored: { hasPrivateKey: true, hasPassword: false },
        updatedAt: '',
      },
      {
        id: '2',
        name: 'web-2',
        description: '',
        labels: { env: 'dev' },
        target: {
          kind: 'ssh' as const,
          host: 'b',
          port: 22,
          username: 'u',
          hostKeyFingerprint: null,
        },
        stored: { hasPrivateKey: true, hasPassword: false },
        updatedAt: '',
      },
    ];
    expect(filterAdminResources(resources, 'web', 'env=dev').map((r) => r.name)).toEqual(['web-2']);
    expect(filterAdminResources(resources, 'A', '').map((r) => r.name)).toEqual(['web-1']);
  });
});
