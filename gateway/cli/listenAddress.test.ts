import { describe, expect, it } from 'vitest';
import { parseListenAddress } from './listenAddress.ts';

describe('parseListenAddress', () => {
  it('parses IPv4, names, IPv6 and port 0', () => {
    expect(parseListenAddress('127.0.0.1:8443')).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(parseListenAddress('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseListenAddress('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
  });
  it('rejects missing or out-of-range ports with an example', () => {
    expect(() => parseListenAddress('127.0.0.1')).toThrow(/HOST:PORT/);
    expect(() => parseListenAddress('127.0.0.1:70000')).toThrow(/127.0.0.1:0/);
  });
});

import { parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it('reads s, m, h and d', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('7d')).toBe(604_800_000);
  });
  it('refuses other forms with an example', () => {
    expect(() => parseDuration('15')).toThrow(/15m or 7d/);
    expect(() => parseDuration('0s')).toThrow(/more than zero/);
  });
});
