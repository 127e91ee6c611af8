/**
 * The desktop's non-secret state, `desktop-profile.json` in the app-data folder: which gateway
 * is pinned (its CA, recording key and SSH host key — the trust anchors) and who signed in
 * last. Tokens never go here; they go to the `SecretStore`. Written atomically (temp file +
 * rename), so a crash leaves the old or the new profile, never half of one.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../gateway-client/credentialStore.ts';

export const DESKTOP_PROFILE_FILE = 'desktop-profile.json';

const storedGatewaySchema = z.object({
  /** Normalized (`normalizeGatewayUrl`): pins and secret-store accounts are keyed by it. */
  url: z.string(),
  caPem: z.string(),
  caFingerprint: z.string(),
  recordingKeyId: z.string(),
  recordingPublicKeyPem: z.string(),
  recordingKeyFingerprint: z.string(),
  /**
   * The gateway SSH listener's host key (OpenSSH line), pinned on first use: with the CA if
   * the gateway had one then, else at the first terminal. Null until then.
   */
  sshHostKey: z.string().nullable(),
  /** The embedded local gateway (`npm start` with nothing enrolled). */
  isLocal: z.boolean(),
  pinnedAt: z.string(),
});
export type StoredGateway = z.infer<typeof storedGatewaySchema>;

const desktopProfileSchema = z.object({
  version: z.literal(1),
  gateway: storedGatewaySchema.nullable(),
  /** The last user who signed in: the default for the next sign-in, kept after sign-out. */
  lastUsername: z.string().nullable(),
});
export type DesktopProfile = z.infer<typeof desktopProfileSchema>;

export function emptyDesktopProfile(): DesktopProfile {
  return { version: 1, gateway: null, lastUsername: null };
}

export class DesktopProfileStore {
  readonly filePath: string;

  constructor(appDataDir: string) {
    this.filePath = path.join(appDataDir, DESKTOP_PROFILE_FILE);
  }

  /**
   * The saved profile, or an empty one when there is none. A file that is not a profile is
   * moved aside (and `log` says where) rather than stopping the app from starting: the person
   * pins the gateway again, and nothing secret was in it.
   */
  async load(log?: (line: string) => void): Promise<DesktopProfile> {
    let text: string;
    try {
      text = await fs.readFile(this.filePath, 'utf8');
    } catch (error) {
      if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT')
        return emptyDesktopProfile();
      throw error;
    }
    let parsed: DesktopProfile | null = null;
    try {
      const result = desktopProfileSchema.safeParse(JSON.parse(text));
      if (result.success) parsed = result.data;
    } catch {
      parsed = null;
    }
    if (parsed) return parsed;
    const aside = `${this.filePath}.unreadable-${Date.now()}`;
    await fs.rename(this.filePath, aside);
    log?.(`${this.filePath} was not a desktop profile; moved it to ${aside} and started afresh`);
    return emptyDesktopProfile();
  }

  async save(profile: DesktopProfile): Promise<void> {
    await writeFileAtomic(
      this.filePath,
      `${JSON.stringify(desktopProfileSchema.parse(profile), null, 2)}\n`,
      0o600,
    );
  }
}
