/**
 * A bundle's verdict beyond its stream (issue #12): the description line checked against the
 * gateway's signed statement and against the signed frames, and a stream that ends early
 * checked against the final checkpoint the statement names. The stream's own verdict
 * (verifyRecording.ts) only knows the bytes it was given; these checks know what the bundle
 * claims, and fail it when the claims and the signatures disagree.
 */

import type { BundleHeader, BundleVerificationReport } from './bundleReport.ts';
import { type BundleStatement, checkStatement } from './bundleStatement.ts';
import type { SignedSessionFacts } from './signedSessionFacts.ts';
import type { VerificationReport } from './verifyRecording.ts';

export const UNSIGNED_HEADER_NOTE =
  'unsigned, not checked: no signature covers this description (a bundle from an older gateway, or its statement was removed)';

type Verdict = Omit<BundleVerificationReport, 'keyFingerprint'>;

export function checkBundleAgainstSigned(
  report: VerificationReport,
  bundle: BundleHeader,
  signed: SignedSessionFacts,
  trustedPem: string,
): Verdict {
  let statement: BundleStatement | null = null;
  const failures: Array<{ seq: number; message: string }> = [];
  if (bundle.statement !== undefined || bundle.statementSignature !== undefined) {
    const check = checkStatement(bundle.statement, bundle.statementSignature, trustedPem);
    if (check.valid) {
      statement = check.statement;
      const edits = headerEdits(bundle, statement);
      if (edits.length > 0) {
        failures.push({
          seq: 0,
          message: `the bundle's header was edited after export: ${edits.join('; ')}`,
        });
      }
    } else {
      failures.push({
        seq: 0,
        message: `the bundle's header is not what the gateway signed: ${check.reason}`,
      });
    }
  }
  const claims = claimsAgainstFrames(bundle.meta, signed, report);
  if (claims.length > 0) {
    failures.push({
      seq: 0,
      message: `the bundle's header disagrees with the signed recording: ${claims.join('; ')}`,
    });
  }
  const ending = endingAgainstStatement(report, statement, bundle.meta);
  if (ending) failures.push(ending);
  if (statement?.verification.status === 'failed') {
    failures.push({
      seq: 0,
      message: `exported unverified: the gateway's own verification failed (${statement.verification.message})`,
    });
  }

  const headerSigned = statement !== null && failures.length === 0;
  const shown: BundleHeader = headerSigned ? bundle : { ...bundle, exportedAt: '', meta: {} };
  const unsignedHeader = headerSigned
    ? null
    : { note: UNSIGNED_HEADER_NOTE, exportedAt: bundle.exportedAt, meta: bundle.meta };
  const extra = { bundle: shown, headerSigned, unsignedHeader, signed };
  // The stream's own failure names the first bad seq; it comes first.
  if (report.status === 'failed') return { ...report, ...extra };
  const first = failures[0];
  if (first) {
    return {
      ...report,
      ...extra,
      ok: false,
      status: 'failed',
      interrupted: false,
      final: false,
      firstBadSeq: first.seq,
      message: failures.map((f) => f.message).join('; '),
    };
  }
  if (report.status === 'partial' && statement === null) {
    return {
      ...report,
      ...extra,
      message: `${report.message}; this bundle cannot tell whether the tail is missing (no signed statement says how far the recording went), so it may have been cut, not interrupted`,
    };
  }
  return { ...report, ...extra };
}

/** Fields of the description that differ from the statement the gateway signed. */
function headerEdits(bundle: BundleHeader, statement: BundleStatement): string[] {
  const edits: string[] = [];
  const differ = (field: string, shown: unknown, signedValue: unknown) => {
    if (JSON.stringify(shown) !== JSON.stringify(signedValue)) {
      edits.push(
        `${field} is ${JSON.stringify(shown)}, but the gateway signed ${JSON.stringify(signedValue)}`,
      );
    }
  };
  differ('sessionId', bundle.sessionId, statement.sessionId);
  differ('keyId', bundle.keyId, statement.keyId);
  differ('exportedAt', bundle.exportedAt, statement.exportedAt);
  const signedMeta = (statement.meta ?? {}) as Record<string, unknown>;
  for (const key of new Set([...Object.keys(bundle.meta), ...Object.keys(signedMeta)])) {
    differ(`meta.${key}`, bundle.meta[key], signedMeta[key]);
  }
  return edits;
}

/** Header fields that the signed frames contradict (checked whether or not it is signed). */
function claimsAgainstFrames(
  meta: Record<string, unknown>,
  signed: SignedSessionFacts,
  report: VerificationReport,
): string[] {
  const found: string[] = [];
  const against = (field: string, signedValue: string | null) => {
    const claimed = meta[field];
    if (claimed === undefined || signedValue === null) return;
    if (claimed !== signedValue) {
      found.push(
        `meta.${field} is ${JSON.stringify(claimed)}, but the signed session-start frame says ${JSON.stringify(signedValue)}`,
      );
    }
  };
  against('userId', signed.userId);
  against('username', signed.user);
  against('resourceId', signed.resourceId);
  against('resourceName', signed.resource);
  against('protocol', signed.protocol);
  if (report.status === 'verified' && meta.status !== undefined && meta.status !== 'complete') {
    found.push(
      `meta.status is ${JSON.stringify(meta.status)}, but a final checkpoint is signed: the recording is complete`,
    );
  }
  return found;
}

/** A stream that ends before the final checkpoint the bundle says exists: truncated. */
function endingAgainstStatement(
  report: VerificationReport,
  statement: BundleStatement | null,
  meta: Record<string, unknown>,
): { seq: number; message: string } | undefined {
  const finalSeq = statement?.recording.finalCheckpointSeq ?? null;
  const endsAt = report.frames + 1;
  if (report.status === 'partial') {
    if (finalSeq !== null) {
      return {
        seq: endsAt,
        message:
          `truncated after the session ended: the gateway's signed statement says its final ` +
          `checkpoint is at seq ${finalSeq}, but the stream ends after frame ${report.frames} ` +
          `(last checkpoint at seq ${report.lastCheckpointSeq}); frame ${endsAt} onwards was removed`,
      };
    }
    const stated = statement?.recording.lastCheckpointSeq ?? 0;
    if (stated > report.lastCheckpointSeq) {
      return {
        seq: endsAt,
        message: `truncated: the gateway's signed statement names a checkpoint at seq ${stated}, but the stream's last is at seq ${report.lastCheckpointSeq}; frame ${endsAt} onwards was removed`,
      };
    }
    if (meta.status === 'complete') {
      return {
        seq: endsAt,
        message: `truncated after the session ended: the header says the recording is complete, but the stream has no final checkpoint and ends after frame ${report.frames}`,
      };
    }
  }
  if (report.status === 'verified' && finalSeq !== null && report.lastCheckpointSeq !== finalSeq) {
    return {
      seq: Math.min(finalSeq, report.lastCheckpointSeq) + 1,
      message: `the stream's final checkpoint is at seq ${report.lastCheckpointSeq}, but the gateway's signed statement says seq ${finalSeq}`,
    };
  }
  return undefined;
}
