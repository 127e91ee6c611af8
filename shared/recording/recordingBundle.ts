/**
 * The signed bundle: one file that carries a recording out of the gateway and can be checked
 * anywhere, offline (spec: shared/recording/FORMAT.md, "Bundle").
 *
 *   "WTNSBNDL1\n" | one line of JSON (BundleHeader) + "\n" | the recording stream, unchanged
 *
 * The signatures are the recording's own checkpoints; the bundle adds the public key and some
 * description. The embedded key is a convenience, never a trust anchor: `verifyBundle` trusts
 * only the key the caller brings — as a PEM, or as a fingerprint the embedded key must match.
 */
import { createHash } from 'node:crypto';
import type { BundleHeader, BundleVerificationReport } from './bundleReport.ts';
import { type BundleStatement, statementSigningBytes } from './bundleStatement.ts';
import { checkBundleAgainstSigned } from './bundleVerdict.ts';
import type { RecordingEvent } from './recordingFormat.ts';
import {
  RecordingFormatError,
  RecordingReader,
  recordingVersionOfMagic,
} from './recordingFormat.ts';
import { SignedSessionFactsCollector } from './signedSessionFacts.ts';
import {
  parseRecordingPublicKey,
  rawEd25519PublicKey,
  recordingKeyId,
  verifyRecording,
} from './verifyRecording.ts';

// Declared in bundleReport.ts so bundleVerdict.ts can name them without importing this module.
export type { BundleHeader, BundleVerificationReport } from './bundleReport.ts';

export const BUNDLE_MAGIC = 'WTNSBNDL1\n';
export const BUNDLE_FORMAT_VERSION = 1;
/** The description line may not be longer than this (it is a few hundred bytes in practice). */
export const MAX_BUNDLE_HEADER_BYTES = 1024 * 1024;

const MAGIC_BYTES = Buffer.from(BUNDLE_MAGIC, 'ascii');

/** What the gateway states about the recording, signed into the bundle's description. */
export interface BundleStatementInput {
  recording: BundleStatement['recording'];
  verification: BundleStatement['verification'];
  /** Signs `statementSigningBytes(text)` with the recording key. */
  sign: (bytes: Uint8Array) => Uint8Array;
}

export interface WriteBundleOptions {
  /** The gateway's recording public key; must be the key that signed the recording. */
  publicKeyPem: string;
  /**
   * The gateway's earlier recording keys (issue #17): a recording signed by one of them is
   * bundled with that key, which the bundle then names.
   */
  alsoTrustedKeys?: readonly string[];
  /** Defaults to the recording header's meta. */
  meta?: Record<string, unknown>;
  exportedAt?: Date;
  /** When given, the description carries the gateway's signed statement (issue #12). */
  statement?: BundleStatementInput;
}

/**
 * Streams a bundle: the prefix, then the recording's bytes as they come. The recording's
 * header is read first (session and key id come from it), so a recording that does not match
 * the key is refused before anything is written.
 */
export async function* writeBundle(
  recording: Uint8Array | AsyncIterable<Uint8Array>,
  options: WriteBundleOptions,
): AsyncGenerator<Uint8Array> {
  const keys = new Map(
    [...(options.alsoTrustedKeys ?? []), options.publicKeyPem].map((pem) => [
      recordingKeyId(pem),
      pem,
    ]),
  );
  const keyId = recordingKeyId(options.publicKeyPem);
  const source = recording instanceof Uint8Array ? single(recording) : recording;
  const iterator = source[Symbol.asyncIterator]();
  try {
    const reader = new RecordingReader();
    const held: Uint8Array[] = [];
    let header: { sessionId: string; keyId: string; meta?: Record<string, unknown> } | undefined;
    while (!header) {
      const next = await iterator.next();
      if (next.done) throw new Error('the recording ends before its header is complete');
      held.push(next.value);
      header = reader.push(next.value).find((r) => r.type === 'header')?.header;
    }
    const signerPem = keys.get(header.keyId);
    if (signerPem === undefined) {
      throw new Error(
        `the recording of ${header.sessionId} is signed by key ${header.keyId}, not by the ` +
          `given key ${keyId}; bundle it with the key that signed it`,
      );
    }
    const description: BundleHeader = {
      formatVersion: BUNDLE_FORMAT_VERSION,
      sessionId: header.sessionId,
      keyId: header.keyId,
      publicKeyPem: signerPem,
      exportedAt: (options.exportedAt ?? new Date()).toISOString(),
      meta: options.meta ?? header.meta ?? {},
    };
    // The statement is signed with the current key, so it can only name a recording that key
    // signed; a recording from before a rotation is bundled without one (its checkpoints still
    // prove its bytes, under the key the bundle names).
    if (options.statement && header.keyId === keyId) {
      const { sign, recording: facts, verification } = options.statement;
      const statement: BundleStatement = {
        sessionId: description.sessionId,
        keyId,
        exportedAt: description.exportedAt,
        meta: description.meta,
        recording: facts,
        verification,
      };
      const text = JSON.stringify(statement);
      description.statement = text;
      description.statementSignature = Buffer.from(sign(statementSigningBytes(text))).toString(
        'base64',
      );
    }
    // JSON.stringify escapes every line break, so the description is exactly one line.
    yield Buffer.from(`${BUNDLE_MAGIC}${JSON.stringify(description)}\n`, 'utf8');
    for (const chunk of held) yield chunk;
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      yield next.value;
    }
  } catch (error) {
    throw error instanceof RecordingFormatError
      ? new Error(`not a Witness recording: ${error.message}`, { cause: error })
      : error;
  } finally {
    // Also when the consumer stops early: the source (a file, a database cursor) is closed.
    await iterator.return?.();
  }
}

// ---------------------------------------------------------------------------------------------
// Fingerprints

/**
 * `SHA256:` + unpadded base64 of SHA-256 over the raw 32-byte Ed25519 public key — OpenSSH's
 * presentation, but not `ssh-keygen -l`'s value, which hashes the SSH wire encoding instead.
 */
export function publicKeyFingerprint(pem: string): string {
  const digest = createHash('sha256').update(rawEd25519PublicKey(parseRecordingPublicKey(pem)));
  return `SHA256:${digest.digest('base64').replace(/=+$/, '')}`;
}

export type KeyFingerprint = { kind: 'sha256'; digest: Buffer } | { kind: 'keyId'; keyId: string };

/**
 * Reads a fingerprint as people paste it: `SHA256:<base64>` (43 characters, padding optional)
 * or the gateway's key id `ed25519:<16 hex>`. Null when it is neither.
 */
export function parseKeyFingerprint(text: string): KeyFingerprint | null {
  const trimmed = text.trim();
  const sha = /^sha256:([A-Za-z0-9+/]{43})=?$/i.exec(trimmed);
  if (sha) {
    const digest = Buffer.from(sha[1]!, 'base64');
    return digest.length === 32 ? { kind: 'sha256', digest } : null;
  }
  const id = /^ed25519:([0-9a-f]{16})$/i.exec(trimmed);
  if (id) return { kind: 'keyId', keyId: `ed25519:${id[1]!.toLowerCase()}` };
  return null;
}

/** Whether the key (PEM) is the one the fingerprint names. Throws on a malformed fingerprint. */
export function keyMatchesFingerprint(pem: string, fingerprint: string): boolean {
  const parsed = parseKeyFingerprint(fingerprint);
  if (!parsed) throw new InvalidFingerprintError(fingerprint);
  const raw = rawEd25519PublicKey(parseRecordingPublicKey(pem));
  if (parsed.kind === 'keyId') return recordingKeyId(pem) === parsed.keyId;
  return createHash('sha256').update(raw).digest().equals(parsed.digest);
}

export class InvalidFingerprintError extends Error {
  override readonly name = 'InvalidFingerprintError';
  constructor(readonly fingerprint: string) {
    super(
      `'${fingerprint}' is not a recording key fingerprint: give SHA256:<43 base64 characters> ` +
        'or the key id ed25519:<16 hex digits>',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Verifying

/** Neither a key nor a fingerprint was given: there would be nothing to trust. */
export class BundleKeyRequiredError extends Error {
  override readonly name = 'BundleKeyRequiredError';
  constructor() {
    super(
      "Say which key to trust: pass --key FILE with the gateway's recording public key (PEM), " +
        "or --fingerprint with its fingerprint (SHA256:… or ed25519:…, from your admin or the gateway's /v1/keys). " +
        'The key inside the bundle cannot vouch for itself.',
    );
  }
}

export interface VerifyBundleOptions {
  /** The key to trust (SPKI PEM). */
  publicKeyPem?: string;
  /** Or: the fingerprint the bundle's embedded key must have. */
  fingerprint?: string;
  onEvent?: (event: RecordingEvent) => void;
}

/**
 * Verifies a bundle with the key the caller trusts. Throws `BundleKeyRequiredError` when given
 * neither a key nor a fingerprint, `InvalidFingerprintError` for a malformed fingerprint, and
 * `InvalidRecordingKeyError` for a key that is not Ed25519; everything wrong with the bundle
 * itself comes back as a failed report.
 */
export async function verifyBundle(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  options: VerifyBundleOptions,
): Promise<BundleVerificationReport> {
  if (!options.publicKeyPem && !options.fingerprint) throw new BundleKeyRequiredError();
  if (options.fingerprint && !parseKeyFingerprint(options.fingerprint)) {
    throw new InvalidFingerprintError(options.fingerprint);
  }
  if (options.publicKeyPem) {
    parseRecordingPublicKey(options.publicKeyPem);
    if (options.fingerprint && !keyMatchesFingerprint(options.publicKeyPem, options.fingerprint)) {
      throw new Error(
        `The key given has the fingerprint ${publicKeyFingerprint(options.publicKeyPem)}, not ` +
          `${options.fingerprint.trim()}; pass only the one you trust`,
      );
    }
  }

  const opened =
    source instanceof Uint8Array ? openBundleBytes(source) : await openBundleStream(source);
  if ('failure' in opened) return rejected(null, null, opened.failure);
  const { bundle } = opened;
  try {
    let trustedPem: string;
    if (options.publicKeyPem) {
      trustedPem = options.publicKeyPem;
    } else {
      let embedded: string;
      try {
        embedded = publicKeyFingerprint(bundle.publicKeyPem);
      } catch {
        return rejected(bundle, null, "the bundle's embedded key is not an Ed25519 public key");
      }
      if (!keyMatchesFingerprint(bundle.publicKeyPem, options.fingerprint!)) {
        return rejected(
          bundle,
          null,
          `the bundle's key ${embedded} (${recordingKeyId(bundle.publicKeyPem)}) does not match ` +
            `the fingerprint you trust, ${options.fingerprint!.trim()}: this bundle was not ` +
            "signed with that gateway's key",
        );
      }
      trustedPem = bundle.publicKeyPem;
    }
    const keyFingerprint = publicKeyFingerprint(trustedPem);
    const trustedKeyId = recordingKeyId(trustedPem);
    if (bundle.keyId !== trustedKeyId) {
      return rejected(
        bundle,
        keyFingerprint,
        `the bundle says it is signed by key ${bundle.keyId}, but the key you trust is ` +
          `${trustedKeyId}: pass the public key of the gateway that exported it`,
      );
    }
    const collector = new SignedSessionFactsCollector();
    const report = await verifyRecording(opened.recording, {
      publicKeyPem: trustedPem,
      expectedSessionId: bundle.sessionId,
      onEvent: (event) => {
        collector.observe(event);
        options.onEvent?.(event);
      },
    });
    const signed = collector.facts(report);
    return { ...checkBundleAgainstSigned(report, bundle, signed, trustedPem), keyFingerprint };
  } finally {
    await opened.close();
  }
}

type OpenedBundle =
  | { failure: string }
  | {
      bundle: BundleHeader;
      recording: Uint8Array | AsyncIterable<Uint8Array>;
      close: () => Promise<void>;
    };

function openBundleBytes(bytes: Uint8Array): OpenedBundle {
  const parsed = parseBundlePrefix(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if ('failure' in parsed) return { failure: parsed.failure };
  if (!parsed.bundle) return { failure: incompleteFailure(bytes.length) };
  return {
    bundle: parsed.bundle,
    recording: bytes.subarray(parsed.length),
    close: async () => {},
  };
}

async function openBundleStream(source: AsyncIterable<Uint8Array>): Promise<OpenedBundle> {
  const iterator = source[Symbol.asyncIterator]();
  let buffered = Buffer.alloc(0);
  for (;;) {
    const parsed = parseBundlePrefix(buffered);
    if ('failure' in parsed) {
      await iterator.return?.();
      return { failure: parsed.failure };
    }
    if (parsed.bundle) {
      const rest = buffered.subarray(parsed.length);
      return {
        bundle: parsed.bundle,
        recording: (async function* () {
          if (rest.length > 0) yield rest;
          for (;;) {
            const next = await iterator.next();
            if (next.done) return;
            yield next.value;
          }
        })(),
        close: async () => {
          await iterator.return?.();
        },
      };
    }
    const next = await iterator.next();
    if (next.done) return { failure: incompleteFailure(buffered.length) };
    buffered = Buffer.concat([buffered, next.value]);
  }
}

function incompleteFailure(length: number): string {
  return length === 0 ? 'the bundle is empty' : 'the bundle is cut off inside its description line';
}

/** Parses magic + description line; `bundle` undefined means more bytes are needed. */
function parseBundlePrefix(
  buffered: Buffer,
): { failure: string } | { bundle?: BundleHeader; length: number } {
  const magicLength = Math.min(buffered.length, MAGIC_BYTES.length);
  if (!buffered.subarray(0, magicLength).equals(MAGIC_BYTES.subarray(0, magicLength))) {
    return {
      failure:
        recordingVersionOfMagic(buffered) !== undefined
          ? 'this is a bare recording, not a bundle'
          : `this is not a Witness bundle (it does not start with ${JSON.stringify(BUNDLE_MAGIC)})`,
    };
  }
  const newline = buffered.indexOf(0x0a, MAGIC_BYTES.length);
  if (newline < 0) {
    if (buffered.length - MAGIC_BYTES.length > MAX_BUNDLE_HEADER_BYTES) {
      return { failure: 'the bundle’s description line is too long: this is not a bundle' };
    }
    return { length: 0 };
  }
  let value: unknown;
  try {
    value = JSON.parse(buffered.subarray(MAGIC_BYTES.length, newline).toString('utf8'));
  } catch {
    return { failure: 'the bundle’s description line is not JSON' };
  }
  const header = value as Partial<BundleHeader> | null;
  if (typeof header !== 'object' || header === null) {
    return { failure: 'the bundle’s description line is not a JSON object' };
  }
  if (header.formatVersion !== BUNDLE_FORMAT_VERSION) {
    return {
      failure: `bundle format version ${String(header.formatVersion)} is not one this verifier knows (it reads version ${BUNDLE_FORMAT_VERSION}); update witness`,
    };
  }
  if (
    typeof header.sessionId !== 'string' ||
    typeof header.keyId !== 'string' ||
    typeof header.publicKeyPem !== 'string'
  ) {
    return { failure: 'the bundle’s description line lacks sessionId, keyId or publicKeyPem' };
  }
  return {
    bundle: {
      formatVersion: BUNDLE_FORMAT_VERSION,
      sessionId: header.sessionId,
      keyId: header.keyId,
      publicKeyPem: header.publicKeyPem,
      exportedAt: typeof header.exportedAt === 'string' ? header.exportedAt : '',
      meta:
        typeof header.meta === 'object' && header.meta !== null && !Array.isArray(header.meta)
          ? header.meta
          : {},
      ...(header.statement !== undefined ? { statement: header.statement } : {}),
      ...(header.statementSignature !== undefined
        ? { statementSignature: header.statementSignature }
        : {}),
    },
    length: newline + 1,
  };
}

function rejected(
  bundle: BundleHeader | null,
  keyFingerprint: string | null,
  message: string,
): BundleVerificationReport {
  return {
    ok: false,
    status: 'failed',
    sessionId: bundle?.sessionId ?? null,
    keyId: bundle?.keyId ?? null,
    frames: 0,
    verifiedThroughSeq: 0,
    lastCheckpointSeq: 0,
    final: false,
    interrupted: false,
    firstBadSeq: 0,
    message,
    bundle,
    headerSigned: false,
    unsignedHeader: null,
    signed: null,
    keyFingerprint,
  };
}

async function* single(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
