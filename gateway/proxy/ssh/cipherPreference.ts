import { readFileSync } from 'node:fs';
import type { CipherAlgorithm } from 'ssh2';

/**
 * Ciphers the gateway's SSH listener offers. In SSH the client's preference order decides
 * (RFC 4253 §7.1), and OpenSSH lists chacha20-poly1305 first; on CPUs with AES instructions
 * AES-GCM costs both the gateway and the client noticeably less CPU per byte, and the
 * gateway's CPU is what bounds bulk throughput. So where AES is accelerated chacha20 is left
 * out — and so is AES-CTR, which OpenSSH would otherwise pick before GCM, paying for a
 * separate HMAC pass. Every OpenSSH since 6.2 (2013), PuTTY since 0.76, ssh2 and Go's
 * x/crypto speak AES-GCM. Without AES instructions chacha20 is the faster choice and stays.
 */
export const AES_GCM_CIPHERS: CipherAlgorithm[] = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
];
const WITH_CHACHA: CipherAlgorithm[] = [
  'chacha20-poly1305@openssh.com',
  ...AES_GCM_CIPHERS,
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
];

export function listenerCiphers(cpuFlags: string | null = readCpuFlags()): CipherAlgorithm[] {
  return cpuFlags !== null && /\baes\b/.test(cpuFlags) ? AES_GCM_CIPHERS : WITH_CHACHA;
}

function readCpuFlags(): string | null {
  try {
    return /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? null;
  } catch {
    return null; // not Linux: keep chacha20 on offer
  }
}
