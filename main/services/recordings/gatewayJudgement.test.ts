import { describe, expect, it } from 'vitest';
import { GatewayApiError } from '../../../gateway-client/gatewayClient.ts';
import type { Recording } from '../../../shared/api/apiSchemas.ts';
import { DesktopError } from '../../ipc/contract.ts';
import { missingBytes, type Verdict, worseOf } from './gatewayJudgement.ts';

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

describe('missingBytes', () => {
  const notFound = new GatewayApiError(404, { code: 'not_found', message: 'no stored bytes' });
  const listed = {
    getRecording: async () =>
      ({
        status: 'complete',
        verification: {
          status: 'failed',
          verifiedThroughSeq: 0,
          firstBadSeq: 0,
          message: "the recording's bytes are missing from storage.",
        },
      }) as Recording,
  };

  it('says "missing" for a stream not found of a recording the gateway still lists', async () => {
    const error = await missingBytes(listed, 'ses_1', notFound);
    expect(error).toBeInstanceOf(DesktopError);
    expect(error).toMatchObject({
      code: 'recording_missing',
      message: expect.stringMatching(
        /^The recording of session ses_1 is missing: the gateway lists it \(complete\), but the recording's bytes are missing from storage\. Tell an admin/,
      ),
    });
  });

  it('says "missing" too when the 404 already came through the account as a DesktopError', async () => {
    const wrapped = new DesktopError('not_found', 'no stored bytes');
    const error = await missingBytes(listed, 'ses_1', wrapped);
    expect(error).toMatchObject({ code: 'recording_missing' });
  });

  it('passes on anything else as it is', async () => {
    const refused = new GatewayApiError(403, { code: 'forbidden', message: 'no' });
    expect(await missingBytes(listed, 'ses_1', refused)).toBe(refused);
    const gone = {
      getRecording: async () => {
        throw new GatewayApiError(404, { code: 'not_found', message: 'no such recording' });
      },
    };
    expect(await missingBytes(gone, 'ses_1', notFound)).toBe(notFound);
  });
});
