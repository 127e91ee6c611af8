import { describe, expect, it } from 'vitest';
import { type PlaybackVerdict, playbackVerdictLabel } from './playbackVerdictLabel.ts';

const base: PlaybackVerdict = {
  status: 'verified',
  verifiedThroughSeq: 41,
  firstBadSeq: null,
  message: 'Chain and signature hold.',
  recordingKeyFingerprint: 'SHA256:abc',
  keySource: 'pinned',
};

describe('playbackVerdictLabel', () => {
  it('verified names the pinned key', () => {
    const label = playbackVerdictLabel(base);
    expect(label).toMatchObject({ tone: 'ok', title: 'Verified' });
    expect(label.detail).toContain('pinned recording key SHA256:abc');
  });
  it('interrupted says how far it is verified', () => {
    expect(
      playbackVerdictLabel({ ...base, status: 'partial', verifiedThroughSeq: 96 }),
    ).toMatchObject({
      tone: 'warn',
      title: 'Interrupted: verified to seq 96',
    });
  });
  it('failed names the first bad seq and warns', () => {
    const label = playbackVerdictLabel({
      ...base,
      status: 'failed',
      firstBadSeq: 18,
      message: 'Frame 18 does not chain to frame 17.',
    });
    expect(label.tone).toBe('bad');
    expect(label.title).toBe('Failed at seq 18');
    expect(label.detail).toContain('from seq 18 on were altered');
    expect(label.detail.startsWith('Frame 18 does not chain to frame 17. Frames')).toBe(true);
  });
  it("a message without a final stop gets one before the banner's own sentence", () => {
    const label = playbackVerdictLabel({
      ...base,
      status: 'failed',
      firstBadSeq: 9,
      message: 'frame 9 was altered: its hash does not match the chain',
    });
    expect(label.detail).toContain('the chain. Frames from seq 9');
  });
  it('live: not finished is not "interrupted"; a failure stays a failure', () => {
    const partial = { ...base, status: 'partial' as const, verifiedThroughSeq: 0, message: 'live' };
    expect(playbackVerdictLabel(partial, true)).toMatchObject({
      tone: 'info',
      title: 'Live: checked as it arrives',
    });
    expect(playbackVerdictLabel({ ...partial, status: 'failed', firstBadSeq: 4 }, true).title).toBe(
      'Failed at seq 4',
    );
  });
  it('a key the user typed is named as such', () => {
    expect(playbackVerdictLabel({ ...base, keySource: 'fingerprint' }).detail).toContain(
      'the key you gave',
    );
  });
});
