import { describe, expect, it } from 'vitest';
import { type Verdict, worseOf } from './gatewayJudgement.ts';

const verified: Verdict = {
  status: 'verified',
  verifiedThroughSeq: 40,
  firstBadSeq: null,
  message: 'every frame is covered by a valid signed checkpoint',
};
const partial: Verdict = {
  status: 'partial',
  verifiedThroughSeq: 25,
  firstBadSeq: null,
  message: 'interrupted (no final checkpoint)',
};

describe('worseOf', () => {
  it("takes the gateway's failure over bytes that verify here (owner changed in its database)", () => {
    const shown = worseOf(verified, {
      status: 'complete',
      verification: {
        status: 'failed',
        verifiedThroughSeq: 40,
        firstBadSeq: 0,
        message: 'the owner (user id) is "usr_mallory" here',
      },
    });
    expect(shown).toEqual({
      status: 'failed',
      verifiedThroughSeq: 40,
      firstBadSeq: 0,
      message: `the owner (user id) is "usr_mallory" here (the gateway's check)`,
    });
  });

  it('keeps its own failure and seq, whatever the gateway says', () => {
    const local: Verdict = { ...verified, status: 'failed', firstBadSeq: 7, message: 'hash' };
    expect(worseOf(local, { status: 'complete', verification: verified })).toBe(local);
    expect(
      worseOf(local, {
        status: 'complete',
        verification: { ...verified, status: 'failed', firstBadSeq: 0 },
      }),
    ).toBe(local);
  });

  it('never lets the gateway make a verdict better', () => {
    expect(worseOf(partial, { status: 'interrupted', verification: verified })).toBe(partial);
  });

  it('fails bytes without a final checkpoint when the row says the session completed', () => {
    expect(worseOf(partial, { status: 'complete' })).toMatchObject({
      status: 'failed',
      firstBadSeq: 26,
      verifiedThroughSeq: 25,
      message: expect.stringMatching(/^truncated after the session ended/),
    });
    // Interrupted at the gateway too: a crash, not a cut.
    expect(worseOf(partial, { status: 'interrupted' })).toBe(partial);
  });
});
