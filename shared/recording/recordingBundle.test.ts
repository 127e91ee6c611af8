import { createHash, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildSshRecording, generateRecordingKey } from './fixtures/recordingFixture.ts';
import {
  BUNDLE_MAGIC,
  BundleKeyRequiredError,
  InvalidFingerprintError,
  keyMatchesFingerprint,
  parseKeyFingerprint,
  publicKeyFingerprint,
  verifyBundle,
  writeBundle,
} from './recordingBundle.ts';

const key = generateRecordingKey();
const otherKey = generateRecordingKey();
const recording = buildSshRecording(key);

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function bundleOf(
  bytes: Uint8Array = recording.bytes(),
  publicKeyPem = key.publicKeyPem,
): Promise<Buffer> {
  return collect(
    writeBundle(chunked(bytes, 100), {
      publicKeyPem,
      meta: { resourceName: 'web-1', username: 'alice' },
      exportedAt: new Date('2025-06-01T12:00:00Z'),
    }),
  );
}

/** SHA256:… computed independently: the last 32 bytes of an Ed25519 SPKI are the raw key. */
function independentFingerprint(pem: string): string {
  const spki = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  const raw = spki.subarray(spki.length - 32);
  return `SHA256:${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
}

describe('writeBundle', () => {
  it('writes the magic, one JSON line, then the recording byte for byte', async () => {
    const bundle = await bundleOf();
    expect(bundle.subarray(0, 10).toString('ascii')).toBe(BUNDLE_MAGIC);
    const newline = bundle.indexOf(0x0a, 10);
    expect(JSON.parse(bundle.subarray(10, newline).toString('utf8'))).toEqual({
      formatVersion: 1,
      sessionId: 'ses_main',
      keyId: key.keyId,
      publicKeyPem: key.publicKeyPem,
      exportedAt: '2025-06-01T12:00:00.000Z',
      meta: { resourceName: 'web-1', username: 'alice' },
    });
    expect(bundle.subarray(newline + 1).equals(recording.bytes())).toBe(true);
  });

  it('refuses to bundle a recording with a key that did not sign it', async () => {
    await expect(bundleOf(recording.bytes(), otherKey.publicKeyPem)).rejects.toThrow(
      `signed by key ${key.keyId}, not by the given key ${otherKey.keyId}`,
    );
    await expect(bundleOf(Buffer.from('not a recording at all'))).rejects.toThrow(
      /not a Witness recording/,
    );
  });
});

describe('fingerprints', () => {
  it('are SHA256:<base64 of SHA-256 of the raw key>, as computed independently', () => {
    const fingerprint = publicKeyFingerprint(key.publicKeyPem);
    expect(fingerprint).toBe(independentFingerprint(key.publicKeyPem));
    expect(fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('match by SHA256 or by key id, and nothing else', () => {
    const fingerprint = publicKeyFingerprint(key.publicKeyPem);
    expect(keyMatchesFingerprint(key.publicKeyPem, fingerprint)).toBe(true);
    expect(keyMatchesFingerprint(key.publicKeyPem, ` ${fingerprint}= `)).toBe(true);
    expect(
      keyMatchesFingerprint(key.publicKeyPem, key.keyId.toUpperCase().replace('ED', 'ed')),
    ).toBe(true);
    expect(keyMatchesFingerprint(otherKey.publicKeyPem, fingerprint)).toBe(false);
    expect(keyMatchesFingerprint(otherKey.publicKeyPem, key.keyId)).toBe(false);
    expect(parseKeyFingerprint('SHA256:abc')).toBeNull();
    expect(parseKeyFingerprint('ed25519:123')).toBeNull();
    expect(() => keyMatchesFingerprint(key.publicKeyPem, 'AB:CD')).toThrow(InvalidFingerprintError);
  });
});

describe('verifyBundle', () => {
  it('verifies with the PEM, the SHA256 fingerprint or the key id, streamed or whole', async () => {
    const bundle = await bundleOf();
    const fingerprint = publicKeyFingerprint(key.publicKeyPem);
    for (const trust of [
      { publicKeyPem: key.publicKeyPem },
      { fingerprint },
      { fingerprint: key.keyId },
      { publicKeyPem: key.publicKeyPem, fingerprint },
    ]) {
      for (const source of [bundle, chunked(bundle, 13)]) {
        const report = await verifyBundle(source, trust);
        expect(report).toMatchObject({
          ok: true,
          status: 'verified',
          sessionId: 'ses_main',
          frames: 12,
          verifiedThroughSeq: 12,
          keyFingerprint: fingerprint,
        });
        // No signed statement covers this description: shown apart, never as verified.
        expect(report.headerSigned).toBe(false);
        expect(report.bundle?.meta).toEqual({});
        expect(report.unsignedHeader?.meta).toEqual({ resourceName: 'web-1', username: 'alice' });
      }
    }
  });

  it('fails a bundle whose embedded key does not match the trusted fingerprint', async () => {
    // Someone re-signed a doctored recording with their own key and embedded that key.
    const forged = await bundleOf(buildSshRecording(otherKey).bytes(), otherKey.publicKeyPem);
    const report = await verifyBundle(forged, {
      fingerprint: publicKeyFingerprint(key.publicKeyPem),
    });
    expect(report).toMatchObject({ ok: false, status: 'failed', firstBadSeq: 0 });
    expect(report.message).toBe(
      `the bundle's key ${publicKeyFingerprint(otherKey.publicKeyPem)} (${otherKey.keyId}) does not ` +
        `match the fingerprint you trust, ${publicKeyFingerprint(key.publicKeyPem)}: this bundle ` +
        "was not signed with that gateway's key",
    );
    const byPem = await verifyBundle(forged, { publicKeyPem: key.publicKeyPem });
    expect(byPem).toMatchObject({ status: 'failed', firstBadSeq: 0 });
    expect(byPem.message).toMatch(`says it is signed by key ${otherKey.keyId}`);
  });

  it('fails at the exact seq when the recording inside was tampered with', async () => {
    const bundle = await bundleOf();
    const offset = bundle.length - recording.bytes().length;
    const frame6 = offset + recording.offsetOf(recording.indexOf('frame', 6)) + 5 + 20;
    bundle.writeUInt8(bundle.readUInt8(frame6) ^ 1, frame6);
    const report = await verifyBundle(chunked(bundle, 64), { fingerprint: key.keyId });
    expect(report).toMatchObject({ status: 'failed', firstBadSeq: 6, verifiedThroughSeq: 4 });
  });

  it('fails when the description names another session than the recording', async () => {
    const bundle = await bundleOf();
    const edited = Buffer.from(
      bundle.toString('latin1').replace('"ses_main"', '"ses_else"'),
      'latin1',
    );
    const report = await verifyBundle(edited, { publicKeyPem: key.publicKeyPem });
    expect(report).toMatchObject({ status: 'failed', firstBadSeq: 0 });
    expect(report.message).toBe('this recording is of session ses_main, not ses_else');
  });

  it('is partial for an interrupted recording', async () => {
    const bundle = await bundleOf(buildSshRecording(key, { final: false }).bytes());
    const report = await verifyBundle(bundle, { fingerprint: key.keyId });
    expect(report).toMatchObject({ ok: true, status: 'partial', verifiedThroughSeq: 8 });
  });

  it('needs a key or a fingerprint from the caller, never only the embedded one', async () => {
    const bundle = await bundleOf();
    await expect(verifyBundle(bundle, {})).rejects.toThrow(BundleKeyRequiredError);
    await expect(verifyBundle(bundle, {})).rejects.toThrow(/--key .* or --fingerprint/);
    await expect(verifyBundle(bundle, { fingerprint: 'nope' })).rejects.toThrow(
      InvalidFingerprintError,
    );
    await expect(
      verifyBundle(bundle, { publicKeyPem: key.publicKeyPem, fingerprint: otherKey.keyId }),
    ).rejects.toThrow(/pass only the one you trust/);
  });

  it('rejects what is not a bundle', async () => {
    const trust = { publicKeyPem: key.publicKeyPem };
    expect((await verifyBundle(recording.bytes(), trust)).message).toBe(
      'this is a bare recording, not a bundle',
    );
    expect((await verifyBundle(Buffer.from('hello'), trust)).message).toMatch(
      /not a Witness bundle/,
    );
    expect(
      (await verifyBundle(Buffer.from(`${BUNDLE_MAGIC}{"formatVersion":1`), trust)).message,
    ).toBe('the bundle is cut off inside its description line');
    expect(
      (await verifyBundle(chunked(Buffer.from(`${BUNDLE_MAGIC}{"formatVersion":2}\n`), 3), trust))
        .message,
    ).toMatch(/bundle format version 2 is not one this verifier knows/);
  });
});
