import { describe, expect, it } from 'vitest';
import { listenerCiphers } from './cipherPreference.ts';

describe('listenerCiphers', () => {
  it('leaves chacha20 out where the CPU has AES instructions, and CTR, so clients pick AES-GCM', () => {
    const ciphers = listenerCiphers('fpu vme sse2 aes avx2');
    expect(ciphers[0]).toBe('aes128-gcm@openssh.com');
    expect(ciphers).not.toContain('chacha20-poly1305@openssh.com');
    expect(ciphers).not.toContain('aes128-ctr');
  });
  it('keeps chacha20 without AES instructions or when the flags are unknown', () => {
    expect(listenerCiphers('fpu vme sse2 avx2')).toContain('chacha20-poly1305@openssh.com');
    expect(listenerCiphers(null)).toContain('chacha20-poly1305@openssh.com');
  });
});
