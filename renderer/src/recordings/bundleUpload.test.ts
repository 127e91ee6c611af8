import { describe, expect, it } from 'vitest';
import type { DesktopApi } from '../../../main/ipc/contract.ts';
import { toBase64, uploadBundle } from './bundleUpload.ts';

const fromBase64 = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

function fakeMain(maxChunkBytes: number, failAt?: number) {
  const received: Uint8Array[] = [];
  const calls: string[] = [];
  const api = {
    async call(name: string, request: { offset?: number; data?: string }) {
      calls.push(name);
      if (name === 'bundles.uploadBegin') return { uploadId: 'up-1', maxChunkBytes };
      if (name === 'bundles.uploadChunk') {
        const total = received.reduce((n, b) => n + b.length, 0);
        if (request.offset !== total) throw { code: 'invalid_request', message: 'bad offset' };
        if (failAt !== undefined && total >= failAt)
          throw { code: 'internal', message: 'disk full' };
        received.push(fromBase64(request.data ?? ''));
        return { received: total + (received[received.length - 1]?.length ?? 0) };
      }
      return {};
    },
    on: () => () => {},
  } as unknown as DesktopApi;
  return { api, received, calls };
}

describe('uploadBundle', () => {
  const bytes = new Uint8Array(250_001).map((_, i) => (i * 31) % 256);
  const file = new Blob([bytes]);
  const source = {
    name: 'r.bundle',
    size: file.size,
    slice: (a: number, b: number) => file.slice(a, b),
  };

  it('sends the file in order, in pieces no bigger than main allows, byte-equal', async () => {
    const main = fakeMain(64 * 1024);
    const progress: number[] = [];
    const id = await uploadBundle(main.api, source, (sent) => progress.push(sent));
    expect(id).toBe('up-1');
    expect(concat(main.received)).toEqual(bytes);
    expect(Math.max(...main.received.map((b) => b.length))).toBeLessThanOrEqual(64 * 1024);
    expect(progress[progress.length - 1]).toBe(250_001);
  });

  it('cancels the upload on main when a piece fails', async () => {
    const main = fakeMain(64 * 1024, 100_000);
    await expect(uploadBundle(main.api, source, () => {})).rejects.toMatchObject({
      message: 'disk full',
    });
    expect(main.calls[main.calls.length - 1]).toBe('bundles.uploadCancel');
  });
});

describe('toBase64', () => {
  it('encodes known vectors and round-trips sizes across the piece boundary', () => {
    expect(toBase64(new TextEncoder().encode('foobar'))).toBe('Zm9vYmFy');
    expect(toBase64(new Uint8Array([0xff, 0, 0x80]))).toBe('/wCA');
    for (const n of [0, 1, 2, 3, 0x8000, 0x8001, 100_000]) {
      const b = new Uint8Array(n).map((_, i) => (i * 7) % 256);
      expect(fromBase64(toBase64(b))).toEqual(b);
    }
  });
});
