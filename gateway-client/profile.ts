/**
 * The CLI's state on disk. Non-secret state — which gateway, its pinned CA, who is signed in —
 * lives in `<configDir>/profile.json`. Secrets (the tokens) never go there: they go to a
 * `CredentialStore` as one JSON string under the account `<gatewayUrl>#<username>`.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { roleSchema, type TokenPair } from '../shared/api/apiSchemas.ts';
import type { StoredSession as AccountSession, SessionVault } from './account/accountPorts.ts';
import { credentialVault, type SessionCodec } from './account/credentialVault.ts';
import { fileRenewalLock } from './account/renewalLock.ts';
import { type CredentialStore, writeFileAtomic } from './credentialStore.ts';

export const PROFILE_FILE = 'profile.json';

/** `$WITNESS_HOME`, else `$XDG_CONFIG_HOME/witness`, else `~/.config/witness`. */
export function resolveConfigDir(env: Record<string, string | undefined>): string {
  if (env.WITNESS_HOME) return path.resolve(env.WITNESS_HOME);
  // The XDG spec says relative values are invalid and must be ignored.
  if (env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME)) {
    return path.join(env.XDG_CONFIG_HOME, 'witness');
  }
  return path.join(env.HOME || os.homedir(), '.config', 'witness');
}

const pinnedGatewaySchema = z.object({
  /** The gateway's CA certificate (PEM): the only CA the client trusts for this gateway. */
  caPem: z.string(),
  /** SHA-256 of the CA certificate, `fingerprint256` form. */
  caFingerprint: z.string(),
  pinnedAt: z.string(),
  /** The last user who signed in here: the default for the next login, kept after logout. */
  username: z.string().nullable(),
  /** Whether `username` is signed in (its tokens are in the credential store). */
  signedIn: z.boolean(),
});
export type PinnedGateway = z.infer<typeof pinnedGatewaySchema>;

const profileSchema = z.object({
  version: z.literal(1),
  /** The gateway commands talk to: the last one signed in to. */
  current: z.string().nullable(),
  /** Keyed by the normalized gateway URL. */
  gateways: z.record(z.string(), pinnedGatewaySchema),
});
export type Profile = z.infer<typeof profileSchema>;

export function emptyProfile(): Profile {
  return { version: 1, current: null, gateways: {} };
}

export async function loadProfile(configDir: string): Promise<Profile> {
  const file = path.join(configDir, PROFILE_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT') {
      return emptyProfile();
    }
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON — fix it or move it aside and sign in again`);
  }
  const parsed = profileSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `${file} is not a witness profile (${parsed.error.issues[0]?.message ?? 'invalid'}) — ` +
        'move it aside and sign in again',
    );
  }
  return parsed.data;
}

export async function saveProfile(configDir: string, profile: Profile): Promise<void> {
  await writeFileAtomic(
    path.join(configDir, PROFILE_FILE),
    `${JSON.stringify(profileSchema.parse(profile), null, 2)}\n`,
    0o600,
  );
}

/** The credential-store account that holds one user's tokens for one gateway. */
export function credentialAccount(gatewayUrl: string, username: string): string {
  return `${gatewayUrl}#${username}`;
}

const storedSessionSchema = z.object({
  /** Empty for a machine's sign-in (issue #18): it has an access token only. */
  refreshToken: z.string(),
  refreshExpiresAt: z.string(),
  accessToken: z.string().min(1),
  accessExpiresAt: z.string(),
  /**
   * Who signed in, when known: a desktop sharing the profile shows it without asking the
   * gateway (#12). Optional, so entries written before it, and by older CLIs, still read.
   */
  user: z.object({ userId: z.string(), username: z.string(), role: roleSchema }).optional(),
});
/** What the credential store holds for a signed-in user. */
export type StoredSession = z.infer<typeof storedSessionSchema>;

export function storedSessionFromPair(pair: TokenPair): StoredSession {
  return {
    refreshToken: pair.refreshToken,
    refreshExpiresAt: pair.refreshExpiresAt,
    accessToken: pair.accessToken,
    accessExpiresAt: pair.accessExpiresAt,
  };
}

export function encodeStoredSession(session: StoredSession): string {
  return JSON.stringify(session);
}

/** Null for anything unreadable: the user signs in again rather than the CLI crashing. */
export function decodeStoredSession(secret: string | null): StoredSession | null {
  if (!secret) return null;
  try {
    const parsed = storedSessionSchema.safeParse(JSON.parse(secret));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * The CLI's vault encoding for the shared account lifecycle: the format above (access token
 * included, so each command need not renew), read and written as the lifecycle's session.
 */
export const cliSessionCodec: SessionCodec = {
  encode(session: AccountSession): string {
    return encodeStoredSession({
      refreshToken: session.refreshToken,
      refreshExpiresAt: session.refreshExpiresAt,
      accessToken: session.accessToken ?? '',
      accessExpiresAt: session.accessExpiresAt ?? session.refreshExpiresAt,
      ...(session.user && { user: session.user }),
    });
  },
  decode(secret: string | null): AccountSession | null {
    const stored = decodeStoredSession(secret);
    return stored && { ...stored, user: stored.user ?? null };
  },
};

/**
 * Where one user's sign-in at one gateway lives for every process of this profile — each
 * `witness` command, a `witness tunnel` that runs for hours, and a desktop pointed at the same
 * profile (issue #12): the credential store entry, shared (re-read before every call), and a
 * renewal lock in `<configDir>/locks/` that every one of them takes before it spends the
 * refresh token.
 */
export function profileSessionVault(
  store: CredentialStore,
  configDir: string,
  gatewayUrl: string,
  username: string,
): SessionVault {
  return credentialVault(store, credentialAccount(gatewayUrl, username), cliSessionCodec, {
    shared: true,
    lock: fileRenewalLock(renewalLockPath(configDir, gatewayUrl, username)),
  });
}

/** The renewal lock of one sign-in (the lock itself is the directory `<this>.lock`). */
export function renewalLockPath(configDir: string, gatewayUrl: string, username: string): string {
  // Hashed: the account holds a URL, not a file name.
  const name = createHash('sha256')
    .update(credentialAccount(gatewayUrl, username))
    .digest('hex')
    .slice(0, 32);
  return path.join(configDir, 'locks', `renewal-${name}`);
}
