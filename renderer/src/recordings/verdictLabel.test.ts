import { describe, expect, it } from 'vitest';
import { formatBytes, type RecordingVerdict, verdictLabel } from './verdictLabel.ts';

const verdict = (over: Partial<RecordingVerdict>): RecordingVerdict => ({
  sessionId: 's1',
  status: 'verified',
  verifiedThroughSeq: 10,
  firstBadSeq: null,
  message: '',
  recordingKeyFingerprint: 'SHA256:abc',
  ...over,
});

describe('verdictLabel', () => {
  it('labels each verdict as issue #5 words it', () => {
    expect(verdictLabel(verdict({}))).toEqual({ text: 'Verified', tone: 'ok' });
    expect(verdictLabel(verdict({ status: 'partial', verifiedThroughSeq: 41 }))).toEqual({
      text: 'Partial: verified to seq 41',
      tone: 'warn',
    });
    expect(verdictLabel(verdict({ status: 'failed', firstBadSeq: 7 }))).toEqual({
      text: 'Failed at seq 7',
      tone: 'bad',
    });
    expect(verdictLabel(verdict({ status: 'failed', firstBadSeq: null })).text).toBe(
      'Failed verification',
    );
  });
});

describe('formatBytes', () => {
  it('uses binary units with one decimal below ten', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(20 * 1024 * 1024)).toBe('20 MiB');
  });
});
