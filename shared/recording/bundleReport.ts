/**
 * The bundle's description line and the report of checking a bundle (FORMAT.md, "Bundle").
 * They live apart from recordingBundle.ts, which reads and writes bundles, so that
 * bundleVerdict.ts (which recordingBundle.ts calls) can name them without importing back.
 */
import type { SignedSessionFacts } from './signedSessionFacts.ts';
import type { VerificationReport } from './verifyRecording.ts';

export interface BundleHeader {
  formatVersion: 1;
  sessionId: string;
  /** `ed25519:<16 hex>`, as in the recording's header. */
  keyId: string;
  /** SPKI PEM of the key that signed the checkpoints: informational, see `verifyBundle`. */
  publicKeyPem: string;
  /** ISO time of the export. */
  exportedAt: string;
  /**
   * Descriptive (user, resource, times). Covered by the signed `statement` when the bundle has
   * one; otherwise unsigned and never to be shown as verified.
   */
  meta: Record<string, unknown>;
  /** The gateway's signed statement (bundleStatement.ts): JSON text, and its signature. */
  statement?: string;
  statementSignature?: string;
}

export interface BundleVerificationReport extends VerificationReport {
  /**
   * The bundle's description line; null when it could not be read. Its `meta` and
   * `exportedAt` are here only when the gateway's signed statement covers them; otherwise
   * they are emptied and moved to `unsignedHeader`.
   */
  bundle: BundleHeader | null;
  /** True when the gateway's signed statement covers the description and matched it. */
  headerSigned: boolean;
  /** A description no signature covers: shown apart, "unsigned, not checked"; else null. */
  unsignedHeader: { note: string; exportedAt: string; meta: Record<string, unknown> } | null;
  /** What the signed frames and checkpoints say: who, on what, when, and whether it closed. */
  signed: SignedSessionFacts | null;
  /** `SHA256:…` of the key the signatures were checked with; null when none was settled. */
  keyFingerprint: string | null;
}
