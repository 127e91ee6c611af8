/**
 * Verifying a signed bundle file on disk (gateway-client's verifyBundle) with the key the
 * person trusts: the pinned gateway's recording key, or a fingerprint they typed. The key the
 * bundle carries is only ever compared with that fingerprint, never trusted on its own.
 */
import { createReadStream, promises as fs } from 'node:fs';
import {
  BUNDLE_MAGIC,
  type BundleVerificationReport,
  InvalidFingerprintError,
  MAX_BUNDLE_HEADER_BYTES,
  verifyBundle,
} from '../../../shared/recording/recordingBundle.ts';
import { DesktopError } from '../../ipc/contract.ts';

export interface BundleTrust {
  publicKeyPem?: string;
  fingerprint?: string;
}

export interface VerifiedBundle {
  report: BundleVerificationReport;
  /** Where the recording stream starts in the file (after the magic and description line). */
  startOffset: number;
  sessionId: string;
}

export async function verifyBundleFile(file: string, trust: BundleTrust): Promise<VerifiedBundle> {
  let report: BundleVerificationReport;
  try {
    report = await verifyBundle(createReadStream(file, { highWaterMark: 4 << 20 }), trust);
  } catch (error) {
    if (error instanceof InvalidFingerprintError) {
      throw new DesktopError(
        'invalid_request',
        'That is not a key fingerprint: use SHA256:… or ed25519:… as your admin or the gateway’s /v1/keys shows it.',
      );
    }
    throw error;
  }
  return {
    report,
    startOffset: report.bundle ? await streamStart(file) : 0,
    sessionId: report.bundle?.sessionId ?? report.sessionId ?? 'unknown',
  };
}

/** Bytes before the recording stream: the magic and the description line with its newline. */
async function streamStart(file: string): Promise<number> {
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(BUNDLE_MAGIC.length + MAX_BUNDLE_HEADER_BYTES + 1);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const newline = head.subarray(0, bytesRead).indexOf(0x0a, BUNDLE_MAGIC.length);
    if (newline < 0) throw new DesktopError('invalid_request', 'This is not a Witness bundle.');
    return newline + 1;
  } finally {
    await handle.close();
  }
}
