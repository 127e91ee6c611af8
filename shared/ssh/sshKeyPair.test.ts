import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from './sshKeyPair.ts';

describe('generateEd25519KeyPair', () => {
  it('only returns keys ssh2 can parse (its own generator fails about 1 in 600)', () => {
    for (let i = 0; i < 2000; i++) {
      const pair = generateEd25519KeyPair('k');
      const parsed = ssh2.utils.parseKey(pair.private);
      expect(parsed instanceof Error ? parsed.message : 'ok').toBe('ok');
      expect(pair.public.startsWith('ssh-ed25519 ')).toBe(true);
    }
  });
});
