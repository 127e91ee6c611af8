/**
 * What the desktop pins about a gateway (DESIGN.md, "Enroll and log in"): its TLS CA, its
 * recording-signing key and its SSH host key — fetched on first contact *without* trusting the
 * gateway, shown to the person as fingerprints, and pinned only when the CA fingerprint is the
 * one they saw (or the one an enrollment link carries).
 */
import {
  fetchPresentedCa,
  fingerprintsEqual,
  normalizeFingerprint,
} from '../../gateway-client/caPinning.ts';
import { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { normalizeGatewayUrl } from '../../gateway-client/gatewayUrl.ts';
import type { Keys } from '../../shared/api/apiSchemas.ts';
import { publicKeyFingerprint } from '../../shared/recording/recordingBundle.ts';
import { recordingKeyId } from '../../shared/recording/verifyRecording.ts';
import { DesktopError } from '../ipc/contract.ts';
import { asDesktopErrors } from './desktopErrors.ts';

export interface GatewayIdentity {
  url: string;
  caPem: string;
  caFingerprint: string;
  recordingKeyId: string;
  recordingPublicKeyPem: string;
  /** `SHA256:<base64>` of the raw Ed25519 key, as `witness verify` prints it. */
  recordingKeyFingerprint: string;
  sshHostKey: string | null;
}

/**
 * Reads the CA the gateway presents (the TLS chain, unverified), then its `/v1/keys` over a
 * connection that trusts that CA only. Nothing secret is sent: this is what the person is
 * about to decide to trust.
 */
export function inspectGateway(url: string): Promise<GatewayIdentity> {
  return asDesktopErrors(async () => {
    const baseUrl = normalizeGatewayUrl(url);
    const presented = await fetchPresentedCa(baseUrl);
    return identityFromCa(baseUrl, presented.caPem, presented.fingerprint);
  }, 'sign-in');
}

/** The identity of a gateway whose CA is already known (the embedded one hands it over). */
export async function identityFromCa(
  url: string,
  caPem: string,
  caFingerprint: string,
): Promise<GatewayIdentity> {
  const baseUrl = normalizeGatewayUrl(url);
  const client = new GatewayClient({ baseUrl, caPem });
  try {
    const keys = await asDesktopErrors(() => client.keys(), 'sign-in');
    if (!fingerprintsEqual(keys.caFingerprint, caFingerprint)) {
      throw new DesktopError(
        'gateway_error',
        `The gateway at ${baseUrl} announces the CA ${keys.caFingerprint} but presents ` +
          `${caFingerprint} on its TLS connection — something sits between you and it. ` +
          'Nothing was pinned.',
      );
    }
    const computedKeyId = await asDesktopErrors(
      async () => recordingKeyId(keys.recordingKey.publicKeyPem),
      'sign-in',
    );
    if (computedKeyId !== keys.recordingKey.keyId) {
      throw new DesktopError(
        'gateway_error',
        `The gateway at ${baseUrl} names its recording key ${keys.recordingKey.keyId}, but the ` +
          `key it serves has the id ${computedKeyId}. Nothing was pinned; tell its admin.`,
      );
    }
    return {
      url: baseUrl,
      caPem,
      caFingerprint: normalizeFingerprint(caFingerprint) ?? caFingerprint,
      recordingKeyId: keys.recordingKey.keyId,
      recordingPublicKeyPem: keys.recordingKey.publicKeyPem,
      recordingKeyFingerprint: publicKeyFingerprint(keys.recordingKey.publicKeyPem),
      sshHostKey: keys.sshHostKey,
    };
  } finally {
    client.close();
  }
}

/**
 * Inspects again and accepts the gateway only if its CA still has the fingerprint the person
 * was shown: between `gateway.inspect` and `gateway.pin` the answer could have changed hands.
 */
export async function inspectExpecting(
  url: string,
  expectedFingerprint: string,
  what: string,
): Promise<GatewayIdentity> {
  const expected = normalizeFingerprint(expectedFingerprint);
  if (!expected) {
    throw new DesktopError(
      'invalid_request',
      `${capitalize(what)} is not a SHA-256 fingerprint (64 hex digits, colons optional).`,
    );
  }
  const identity = await inspectGateway(url);
  if (!fingerprintsEqual(identity.caFingerprint, expected)) {
    throw new DesktopError(
      'gateway_certificate_mismatch',
      `Not trusting the gateway at ${identity.url}: it presents the CA fingerprint ` +
        `${identity.caFingerprint}, but ${what} is ${expected}. This can mean someone is ` +
        'intercepting the connection, or the URL points at another gateway. Nothing was sent ' +
        'to it and nothing was pinned.',
    );
  }
  return identity;
}

function capitalize(text: string): string {
  return text.length > 0 ? text[0]!.toUpperCase() + text.slice(1) : text;
}

/**
 * The recording keys older than the pinned one, as PEMs (issue #17: after `keys rotate`, what the
 * gateway signed before still verifies). `keys` must have been read over the pinned CA. Only
 * keys the gateway lists *before* the pinned key count: the pinned key itself is current or one
 * of `earlierRecordingKeys` (oldest first); a key newer than the pin is not trusted silently,
 * since the person never saw its fingerprint.
 */
export function recordingKeysOlderThanPinned(
  keys: Pick<Keys, 'recordingKey' | 'earlierRecordingKeys'>,
  pinnedKeyId: string,
): string[] {
  const earlier = keys.earlierRecordingKeys;
  if (keys.recordingKey.keyId === pinnedKeyId) return earlier.map((key) => key.publicKeyPem);
  const at = earlier.findIndex((key) => key.keyId === pinnedKeyId);
  return at < 0 ? [] : earlier.slice(0, at).map((key) => key.publicKeyPem);
}
