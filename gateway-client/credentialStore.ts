/**
 * Where the CLI keeps secrets (refresh and access tokens): the OS keychain through keytar when
 * it works, otherwise a 0600 JSON file in the config directory — and it always says which.
 *
 * keytar is an optional native dependency: its module may be missing or fail to load, and on
 * Linux it needs a Secret Service (gnome-keyring, KWallet) on the session D-Bus; without one,
 * every call rejects ("Cannot autolaunch D-Bus without X11 $DISPLAY"). So it is used only when
 * a real set/get/delete round trip succeeds.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CredentialStore {
  get(account: string): Promise<string | null>;
  set(account: string, secret: string): Promise<void>;
  /** Resolves true when something was deleted. */
  delete(account: string): Promise<boolean>;
  /** Where the secrets go, for people: "OS keychain (Secret Service)", "file … (0600)". */
  readonly describe: string;
}

export const KEYCHAIN_SERVICE = 'witness';

/** The part of keytar's API we use. */
export interface KeytarApi {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
}

/** How long the keychain probe may take: a locked keyring can wait forever on an unlock prompt. */
const PROBE_TIMEOUT_MS = 5_000;

export class KeytarCredentialStore implements CredentialStore {
  readonly describe: string;

  constructor(
    private readonly keytar: KeytarApi,
    private readonly service = KEYCHAIN_SERVICE,
  ) {
    this.describe = `OS keychain (${keychainBackendName()})`;
  }

  /**
   * Loads keytar and proves it works with a probe round trip. Resolves the store, or the
   * reason it cannot be used.
   */
  static async open(
    service = KEYCHAIN_SERVICE,
  ): Promise<{ store: KeytarCredentialStore } | { unavailable: string }> {
    let keytar: KeytarApi;
    try {
      keytar = await loadKeytar();
    } catch (error) {
      return { unavailable: `keytar could not be loaded: ${messageOf(error)}` };
    }
    const store = new KeytarCredentialStore(keytar, service);
    const account = `probe-${randomBytes(8).toString('hex')}`;
    const value = randomBytes(8).toString('hex');
    try {
      await withTimeout(
        (async () => {
          await keytar.setPassword(service, account, value);
          const read = await keytar.getPassword(service, account);
          await keytar.deletePassword(service, account);
          if (read !== value) throw new Error('the keychain did not return what was stored');
        })(),
        PROBE_TIMEOUT_MS,
        'the keychain did not answer within 5 s (locked keyring waiting for a prompt?)',
      );
    } catch (error) {
      return { unavailable: `the OS keychain is not usable: ${messageOf(error)}` };
    }
    return { store };
  }

  get(account: string): Promise<string | null> {
    return this.keytar.getPassword(this.service, account);
  }

  set(account: string, secret: string): Promise<void> {
    return this.keytar.setPassword(this.service, account, secret);
  }

  delete(account: string): Promise<boolean> {
    return this.keytar.deletePassword(this.service, account);
  }
}

async function loadKeytar(): Promise<KeytarApi> {
  // A variable specifier keeps bundlers and tsc from requiring the optional dependency.
  const specifier = 'keytar';
  const loaded: unknown = await import(specifier);
  const candidate =
    typeof loaded === 'object' && loaded !== null && 'default' in loaded && loaded.default
      ? loaded.default
      : loaded;
  const api = candidate as Partial<KeytarApi>;
  if (
    typeof api.getPassword !== 'function' ||
    typeof api.setPassword !== 'function' ||
    typeof api.deletePassword !== 'function'
  ) {
    throw new Error('the keytar module does not export getPassword/setPassword/deletePassword');
  }
  return api as KeytarApi;
}

function keychainBackendName(): string {
  switch (process.platform) {
    case 'darwin':
      return 'macOS Keychain';
    case 'win32':
      return 'Windows Credential Manager';
    default:
      return 'Secret Service';
  }
}

// ---------------------------------------------------------------------------------------------

interface CredentialsFile {
  version: 1;
  secrets: Record<string, string>;
}

/**
 * Secrets in one JSON file, mode 0600 in a 0700 directory, replaced atomically (temp file +
 * rename) so a crash never leaves half a file. Protects against other users on the machine,
 * not against anything running as this user — which is why the keychain is preferred.
 */
export class FileCredentialStore implements CredentialStore {
  readonly describe: string;

  /**
   * `home` only shortens the description (`~/.config/…`); it defaults to the OS home.
   * `unreadable`: what a file that is not a credentials file means — `'throw'` (the CLI: the
   * person moves it aside, nothing is lost silently) or `'empty'` (the desktop's encrypted
   * store: nothing in it is recoverable anyway, and starting over only costs a sign-in).
   */
  constructor(
    readonly filePath: string,
    home = os.homedir(),
    private readonly unreadable: 'throw' | 'empty' = 'throw',
  ) {
    this.describe = `file ${tildify(filePath, home)} (0600)`;
  }

  async get(account: string): Promise<string | null> {
    const file = await this.read();
    return Object.hasOwn(file.secrets, account) ? (file.secrets[account] ?? null) : null;
  }

  async set(account: string, secret: string): Promise<void> {
    const file = await this.read();
    file.secrets[account] = secret;
    await this.write(file);
  }

  async delete(account: string): Promise<boolean> {
    const file = await this.read();
    if (!Object.hasOwn(file.secrets, account)) return false;
    delete file.secrets[account];
    await this.write(file);
    return true;
  }

  private async read(): Promise<CredentialsFile> {
    let text: string;
    try {
      text = await fs.readFile(this.filePath, 'utf8');
    } catch (error) {
      if (isNotFound(error)) return { version: 1, secrets: {} };
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      if (this.unreadable === 'empty') return { version: 1, secrets: {} };
      throw new Error(
        `${this.filePath} is not valid JSON; move it aside and sign in again (witness login)`,
      );
    }
    const secrets =
      typeof parsed === 'object' && parsed !== null && 'secrets' in parsed ? parsed.secrets : null;
    if (typeof secrets !== 'object' || secrets === null) {
      if (this.unreadable === 'empty') return { version: 1, secrets: {} };
      throw new Error(`${this.filePath} is not a witness credentials file; move it aside`);
    }
    const clean: Record<string, string> = {};
    for (const [account, secret] of Object.entries(secrets)) {
      if (typeof secret === 'string') clean[account] = secret;
    }
    return { version: 1, secrets: clean };
  }

  private async write(file: CredentialsFile): Promise<void> {
    await writeFileAtomic(this.filePath, `${JSON.stringify(file, null, 2)}\n`, 0o600);
  }
}

/**
 * Writes `content` to `filePath` through a temp file in the same directory and a rename, so
 * readers see the old or the new file, never a torn one. Creates the directory 0700.
 */
export async function writeFileAtomic(
  filePath: string,
  content: string | Uint8Array,
  mode: number,
): Promise<void> {
  const dir = path.dirname(filePath);
  await ensurePrivateDir(dir);
  const temp = path.join(
    dir,
    `.${path.basename(filePath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const handle = await fs.open(temp, 'wx', mode);
  try {
    // Bytes (a DER key) are written as they are; text as UTF-8.
    await handle.writeFile(content, typeof content === 'string' ? 'utf8' : {});
    // The umask may have narrowed the mode further, never widened it; make it exact.
    await handle.chmod(mode);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await fs.rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(temp, filePath);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** Creates `dir` (and parents) and makes `dir` itself 0700: it holds our secrets. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (process.platform !== 'win32') await fs.chmod(dir, 0o700);
}

// ---------------------------------------------------------------------------------------------

export interface OpenedCredentialStore {
  store: CredentialStore;
  /** Why the keychain is not used, when the file store was chosen; null when it is. */
  keychainUnavailable: string | null;
}

export type CredentialStoreChoice = 'auto' | 'keychain' | 'file';

/**
 * Opens the keychain if its probe works, else the file `configDir/credentials.json`.
 * `choice` (from `$WITNESS_CREDENTIAL_STORE`) forces one: `file` skips the keychain, `keychain`
 * fails instead of falling back.
 */
export async function openCredentialStore(
  configDir: string,
  options: { choice?: CredentialStoreChoice; service?: string; home?: string } = {},
): Promise<OpenedCredentialStore> {
  const choice = options.choice ?? 'auto';
  const fileStore = () =>
    new FileCredentialStore(path.join(configDir, 'credentials.json'), options.home);
  if (choice === 'file') {
    return { store: fileStore(), keychainUnavailable: 'WITNESS_CREDENTIAL_STORE=file' };
  }
  const keychain = await KeytarCredentialStore.open(options.service);
  if ('store' in keychain) return { store: keychain.store, keychainUnavailable: null };
  if (choice === 'keychain') {
    throw new Error(
      `${keychain.unavailable} (WITNESS_CREDENTIAL_STORE=keychain forbids falling back to a file)`,
    );
  }
  return { store: fileStore(), keychainUnavailable: keychain.unavailable };
}

export function parseCredentialStoreChoice(value: string | undefined): CredentialStoreChoice {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'keychain' || value === 'file') return value;
  throw new Error(`WITNESS_CREDENTIAL_STORE must be auto, keychain or file (got '${value}')`);
}

function tildify(filePath: string, home: string): string {
  return home && filePath.startsWith(`${home}${path.sep}`)
    ? `~${filePath.slice(home.length)}`
    : filePath;
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
