import { describe, expect, it } from 'vitest';
import type { SignedSessionFacts } from '../../shared/recording/signedSessionFacts.ts';
import {
  END_SLACK_MS,
  rowDisagreements,
  type SignedRow,
  START_SLACK_MS,
  signedDifferences,
  withRowChecked,
} from './rowAgainstSigned.ts';

const T = Date.UTC(2026, 11, 7, 17, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

/** What a closed recording of alice on web-1 signs: started at T + 2 s, last frame at T + 60 s. */
const signed: SignedSessionFacts = {
  sessionStartSeq: 1,
  user: 'alice',
  userId: 'usr_alice',
  resource: 'web-1',
  resourceId: 'res_web1',
  protocol: 'ssh',
  startedAt: iso(T + 2000),
  endedAt: iso(T + 60_000),
  status: 'complete',
};
/** Its row as the gateway wrote it: created just before the frame, closed just after. */
const row: SignedRow = {
  userId: 'usr_alice',
  resourceId: 'res_web1',
  protocol: 'ssh',
  status: 'complete',
  startedAt: T,
  endedAt: T + 60_050,
};
const names = { username: 'alice', resourceName: 'web-1' };

describe('signedDifferences', () => {
  it('finds nothing in a row the gateway wrote', () => {
    expect(signedDifferences(row, names, signed)).toEqual([]);
    // A renamed resource is no edit of the row: ids are compared, the signed name is shown.
    expect(signedDifferences(row, { ...names, resourceName: 'web-one' }, signed)).toEqual([]);
  });

  it('finds each edited value, with what the row and the signed recording say', () => {
    const edited: SignedRow = {
      userId: 'usr_mallory',
      resourceId: 'res_other',
      protocol: 'postgres',
      status: 'interrupted',
      startedAt: T - 3600_000,
      endedAt: T + 7200_000,
    };
    expect(signedDifferences(edited, names, signed)).toEqual([
      { field: 'user', shown: 'usr_mallory', signed: 'usr_alice' },
      { field: 'resource', shown: 'res_other', signed: 'res_web1' },
      { field: 'protocol', shown: 'postgres', signed: 'ssh' },
      { field: 'startedAt', shown: iso(T - 3600_000), signed: iso(T + 2000) },
      { field: 'status', shown: 'interrupted', signed: 'complete' },
      { field: 'endedAt', shown: iso(T + 7200_000), signed: iso(T + 60_000) },
    ]);
  });

  it('allows the row its slack around the signed times, never the wrong side of them', () => {
    const start = (startedAt: number) =>
      signedDifferences({ ...row, startedAt }, names, signed).map((d) => d.field);
    expect(start(T + 2000 - START_SLACK_MS)).toEqual([]);
    expect(start(T + 2000 - START_SLACK_MS - 1)).toEqual(['startedAt']);
    expect(start(T + 2001)).toEqual(['startedAt']);
    const end = (endedAt: number | null) =>
      signedDifferences({ ...row, endedAt }, names, signed).map((d) => d.field);
    expect(end(T + 60_000 + END_SLACK_MS)).toEqual([]);
    expect(end(T + 60_000 + END_SLACK_MS + 1)).toEqual(['endedAt']);
    expect(end(T + 59_999)).toEqual(['endedAt']);
    expect(end(null)).toEqual(['endedAt']);
  });

  it('compares end and status only with a final checkpoint, and not while the row records', () => {
    const open: SignedSessionFacts = { ...signed, endedAt: null, status: 'not closed' };
    expect(
      signedDifferences({ ...row, status: 'interrupted', endedAt: T + 30_000 }, names, open),
    ).toEqual([]);
    // The row follows the final checkpoint by a moment: still `recording` is not an edit.
    expect(
      signedDifferences({ ...row, status: 'recording', endedAt: null }, names, signed),
    ).toEqual([]);
  });

  it('compares older recordings, whose frame has names only, by name', () => {
    const older: SignedSessionFacts = { ...signed, userId: null, resourceId: null };
    expect(signedDifferences(row, names, older)).toEqual([]);
    expect(signedDifferences(row, { ...names, username: 'mallory' }, older)).toEqual([
      { field: 'user', shown: 'mallory', signed: 'alice' },
    ]);
    expect(rowDisagreements(row, { ...names, username: 'mallory' }, older)).toEqual([
      'the owner is "mallory" here, but the signed session-start frame says "alice"',
    ]);
  });
});

describe('withRowChecked', () => {
  it('fails a verified recording whose row disagrees, naming both values', () => {
    const verified = {
      status: 'verified' as const,
      verifiedThroughSeq: 9,
      firstBadSeq: null,
      message: 'verified: all 9 frames',
    };
    expect(withRowChecked(verified, [])).toBe(verified);
    const failed = withRowChecked(
      verified,
      rowDisagreements({ ...row, status: 'failed' }, names, signed),
    );
    expect(failed).toMatchObject({ status: 'failed', firstBadSeq: 0, verifiedThroughSeq: 9 });
    expect(failed.message).toBe(
      `the gateway's record of this recording was altered: the status is "failed" here, but the signed final checkpoint says "complete" (the recording itself: verified: all 9 frames)`,
    );
  });
});
