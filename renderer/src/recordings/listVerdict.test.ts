import { describe, expect, it } from 'vitest';
import { differenceWarning, listVerdictLabel, type RecordingSummary } from './listVerdict.ts';

const at = '2026-12-07T17:03:12.000Z';
const time = (iso: string) => iso.slice(11, 16);
const verdict = (
  over: Partial<NonNullable<RecordingSummary['lastVerification']>>,
): RecordingSummary['lastVerification'] => ({
  status: 'verified',
  verifiedThroughSeq: 40,
  at,
  checkedAt: at,
  firstBadSeq: null,
  ...over,
});

describe('listVerdictLabel', () => {
  it('says what the gateway found and when it checked', () => {
    expect(listVerdictLabel({ lastVerification: verdict({}) }, time)).toMatchObject({
      text: 'Verified · checked 17:03',
      tone: 'ok',
    });
    expect(
      listVerdictLabel(
        { lastVerification: verdict({ status: 'partial', verifiedThroughSeq: 9 }) },
        time,
      ),
    ).toMatchObject({ text: 'Partial to seq 9 · checked 17:03', tone: 'warn' });
    const failed = listVerdictLabel(
      {
        lastVerification: verdict({
          status: 'failed',
          firstBadSeq: 7,
          message: 'frame 7: the hash chain is broken',
        }),
      },
      time,
    );
    expect(failed).toMatchObject({ text: 'Failed at seq 7 · checked 17:03', tone: 'bad' });
    expect(failed.detail).toContain('frame 7: the hash chain is broken');
  });

  it('calls an altered row so, and a never-checked recording not verified', () => {
    expect(
      listVerdictLabel(
        {
          lastVerification: verdict({ status: 'failed', firstBadSeq: 0 }),
          differsFromSigned: [{ field: 'user', shown: 'usr_m', signed: 'usr_a' }],
        },
        time,
      ).text,
    ).toBe('Failed: record altered · checked 17:03');
    // A verdict stored by an older gateway: `at` only.
    expect(
      listVerdictLabel(
        { lastVerification: { status: 'verified', verifiedThroughSeq: 1, at } },
        time,
      ).text,
    ).toBe('Verified · checked 17:03');
    expect(listVerdictLabel({ lastVerification: null })).toMatchObject({
      text: 'Not verified yet',
      tone: 'none',
    });
  });
});

describe('differenceWarning', () => {
  it('warns on a contradicted value only', () => {
    const recording = {
      differsFromSigned: [
        {
          field: 'startedAt' as const,
          shown: '2026-12-07T16:00:00.000Z',
          signed: '2026-12-07T17:00:00.000Z',
        },
      ],
    };
    expect(differenceWarning(recording, 'startedAt')).toBe(
      `The gateway's start time is "2026-12-07T16:00:00.000Z", but the signed recording says "2026-12-07T17:00:00.000Z".`,
    );
    expect(differenceWarning(recording, 'user')).toBeNull();
    expect(differenceWarning({}, 'user')).toBeNull();
  });
});
