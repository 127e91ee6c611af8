import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildSshRecording, generateRecordingKey } from './fixtures/recordingFixture.ts';
import { BUNDLE_MAGIC, type BundleHeader, verifyBundle, writeBundle } from './recordingBundle.ts';

const key = generateRecordingKey();
const recording = buildSshRecording(key); // 12 frames, checkpoints at 4 and 8, final at 12

async function signedBundle(
  bytes: Uint8Array,
  status: string,
  finalCheckpointSeq: number | null,
): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of writeBundle(bytes, {
    publicKeyPem: key.publicKeyPem,
    meta: { userId: 'usr_alice', username: 'alice', resourceName: 'web-1', status },
    exportedAt: new Date('2025-06-01T12:00:00Z'),
    statement: {
      recording: {
        status,
        frames: 12,
        lastCheckpointSeq: finalCheckpointSeq ?? 8,
        finalCheckpointSeq,
      },
      verification: { status: 'verified', message: 'verified' },
      sign: (data) => sign(null, data, key.privateKey),
    },
  })) {
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Rewrites the description line with `edit`, keeping the stream as it is. */
function editHeader(bundle: Buffer, edit: (header: BundleHeader) => void): Buffer {
  const end = bundle.indexOf(0x0a, BUNDLE_MAGIC.length);
  const header = JSON.parse(bundle.subarray(BUNDLE_MAGIC.length, end).toString('utf8'));
  edit(header);
  return Buffer.concat([
    Buffer.from(`${BUNDLE_MAGIC}${JSON.stringify(header)}\n`),
    bundle.subarray(end + 1),
  ]);
}

/** The recording cut right after the checkpoint at seq 8: whole records, nothing torn. */
function cutAfterCheckpoint8(): Buffer {
  const kept = [];
  for (const record of recording.records) {
    kept.push(record);
    if (record.type === 'checkpoint' && record.seq === 8) break;
  }
  return recording.bytes(kept);
}

const trust = { publicKeyPem: key.publicKeyPem };

describe('the signed statement in a bundle', () => {
  it('covers the description, so it is shown as signed, beside the signed facts', async () => {
    const report = await verifyBundle(await signedBundle(recording.bytes(), 'complete', 12), trust);
    expect(report).toMatchObject({ ok: true, status: 'verified', headerSigned: true });
    expect(report.unsignedHeader).toBeNull();
    expect(report.bundle?.meta.username).toBe('alice');
    expect(report.signed).toMatchObject({
      user: 'alice',
      resource: 'web-1',
      protocol: 'ssh',
      status: 'complete',
      sessionStartSeq: 1,
    });
  });

  it.each([
    ['meta.userId', (h: BundleHeader) => Object.assign(h.meta, { userId: 'usr_mallory' })],
    ['meta.status', (h: BundleHeader) => Object.assign(h.meta, { status: 'interrupted' })],
    ['exportedAt', (h: BundleHeader) => Object.assign(h, { exportedAt: '2020-01-01T00:00:00Z' })],
  ])('fails a bundle whose %s was edited', async (field, edit) => {
    const bundle = editHeader(await signedBundle(recording.bytes(), 'complete', 12), edit);
    const report = await verifyBundle(bundle, trust);
    expect(report).toMatchObject({
      ok: false,
      status: 'failed',
      firstBadSeq: 0,
      headerSigned: false,
    });
    expect(report.message).toContain(`${field} is`);
    // The edited description is kept apart, never beside a verdict.
    expect(report.bundle?.meta).toEqual({});
    expect(report.unsignedHeader).not.toBeNull();
  });

  it('fails a bundle whose statement was removed but whose header contradicts the frames', async () => {
    const bundle = editHeader(await signedBundle(recording.bytes(), 'complete', 12), (h) => {
      delete h.statement;
      delete h.statementSignature;
      h.meta.username = 'mallory';
    });
    const report = await verifyBundle(bundle, trust);
    expect(report).toMatchObject({ ok: false, status: 'failed', firstBadSeq: 0 });
    expect(report.message).toMatch(
      /meta.username is "mallory", but the signed session-start frame says "alice"/,
    );
  });

  it('fails a complete recording cut after a checkpoint as truncated, at the seq where it ends', async () => {
    const report = await verifyBundle(
      await signedBundle(cutAfterCheckpoint8(), 'complete', 12),
      trust,
    );
    expect(report).toMatchObject({
      ok: false,
      status: 'failed',
      firstBadSeq: 9,
      verifiedThroughSeq: 8,
    });
    expect(report.message).toMatch(
      /^truncated after the session ended: .*final checkpoint is at seq 12/,
    );
  });

  it('says it cannot tell when nothing signed says how far the recording went', async () => {
    const bundle = editHeader(await signedBundle(cutAfterCheckpoint8(), 'complete', 12), (h) => {
      delete h.statement;
      delete h.statementSignature;
      delete h.meta.status;
    });
    const report = await verifyBundle(bundle, trust);
    expect(report).toMatchObject({ status: 'partial', headerSigned: false });
    expect(report.message).toContain('cannot tell whether the tail is missing');
  });

  it('keeps an interrupted recording partial when the statement says it was interrupted', async () => {
    const interrupted = buildSshRecording(key, { final: false });
    const report = await verifyBundle(
      await signedBundle(interrupted.bytes(), 'interrupted', null),
      trust,
    );
    expect(report).toMatchObject({ ok: true, status: 'partial', headerSigned: true });
    expect(report.message).not.toContain('cannot tell');
  });

  it('fails a statement signed by another key', async () => {
    const other = generateRecordingKey();
    const bundle = editHeader(await signedBundle(recording.bytes(), 'complete', 12), (h) => {
      h.statementSignature = sign(null, Buffer.from('x'), other.privateKey).toString('base64');
    });
    const report = await verifyBundle(bundle, trust);
    expect(report).toMatchObject({ status: 'failed', firstBadSeq: 0 });
    expect(report.message).toMatch(/does not verify with the key you trust/);
  });
});
