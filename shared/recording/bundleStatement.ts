/**
 * The gateway's signed statement inside a bundle (issue #12; FORMAT.md §10.1). A bundle's
 * description line is plain JSON anyone can edit, and the recording's checkpoints say nothing
 * about it, nor about how far the recording went: a stream cut right after a checkpoint looks
 * like a crash. So at export the gateway signs, with its recording key and its own domain tag,
 * one JSON text that repeats the description (session, key, export time, meta) and states what
 * it knew of the recording: its status, frames, and the seq of its final checkpoint.
 *
 * The statement is carried as a string (`statement`), so the bytes verified are the bytes
 * signed, with no canonical JSON to agree on.
 */
import { verify } from 'node:crypto';
import { parseRecordingPublicKey } from './verifyRecording.ts';

/** Domain tag: a statement signature can never pass for a checkpoint's, nor the reverse. */
export const STATEMENT_TAG = 'witness-bundle-statement-v1\0';

export interface BundleStatement {
  sessionId: string;
  keyId: string;
  exportedAt: string;
  meta: Record<string, unknown>;
  recording: {
    /** The gateway's row status at export: complete, interrupted, failed, recording. */
    status: string;
    frames: number;
    lastCheckpointSeq: number;
    /** Seq of the final checkpoint when the gateway closed the recording, else null. */
    finalCheckpointSeq: number | null;
  };
  /** The gateway's verdict at export; `failed` only for an export made with allowUnverified. */
  verification: { status: 'verified' | 'partial' | 'failed'; message: string };
}

/** The bytes the gateway signs: the tag, then the statement text. */
export function statementSigningBytes(text: string): Buffer {
  return Buffer.concat([Buffer.from(STATEMENT_TAG, 'utf8'), Buffer.from(text, 'utf8')]);
}

export type StatementCheck =
  | { valid: true; statement: BundleStatement }
  | { valid: false; reason: string };

/** Checks the statement's signature with the key the person trusts, then its shape. */
export function checkStatement(
  text: unknown,
  signatureBase64: unknown,
  publicKeyPem: string,
): StatementCheck {
  if (typeof text !== 'string' || typeof signatureBase64 !== 'string') {
    return { valid: false, reason: 'the statement or its signature is not a string' };
  }
  const signature = Buffer.from(signatureBase64, 'base64');
  let good = false;
  try {
    good =
      signature.length === 64 &&
      verify(null, statementSigningBytes(text), parseRecordingPublicKey(publicKeyPem), signature);
  } catch {
    good = false;
  }
  if (!good) {
    return {
      valid: false,
      reason:
        "the gateway's signed statement does not verify with the key you trust: it was altered or forged",
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { valid: false, reason: 'the signed statement is not JSON' };
  }
  const statement = value as BundleStatement;
  if (
    typeof statement !== 'object' ||
    statement === null ||
    typeof statement.sessionId !== 'string' ||
    typeof statement.recording !== 'object' ||
    statement.recording === null
  ) {
    return { valid: false, reason: 'the signed statement lacks its session or recording' };
  }
  return { valid: true, statement };
}
