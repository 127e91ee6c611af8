/**
 * The desktop secret store: the OS keychain for real (gnome-keyring on a private D-Bus, as in
 * gateway-client/credentialStore.test.ts), and each fallback with the notice it shows.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isolatedHomeEnv,
  keychainTest,
  runChild,
  runWriteThenReadInPrivateKeyring,
} from '../../test/harness/privateKeychain.ts';
import { testEncryptor } from '../../test/harness/testEncryptor.ts';
import { ENCRYPTED_SECRETS_FILE, openSecretStore } from './secretStore.ts';

const moduleUrl = new URL('./secretStore.ts', import.meta.url).href;

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'witness-secret-store-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const noKeychain = async () => ({ unavailable: 'the OS keychain is not usable: no D-Bus' });

describe('openSecretStore fallbacks', () => {
  it('keeps secrets in memory only when the person chose so, and says so', async () => {
    const store = await openSecretStore({
      appDataDir: tmp,
      choice: 'memory',
      openKeychain: noKeychain,
    });
    expect(store.status).toEqual({
      kind: 'memory',
      durable: false,
      notice: expect.stringMatching(/memory only.*sign in again after a restart/),
    });
    await store.set('a', 'secret-1');
    expect(await store.get('a')).toBe('secret-1');
    expect(await store.delete('a')).toBe(true);
    expect(await store.get('a')).toBeNull();
    expect(await fs.readdir(tmp)).toEqual([]);
  });

  it('falls back to a safeStorage-encrypted 0600 file, with the keychain’s reason', async () => {
    const encryptor = testEncryptor();
    const store = await openSecretStore({
      appDataDir: tmp,
      choice: 'auto',
      encryptor,
      openKeychain: noKeychain,
    });
    expect(store.status).toEqual({
      kind: 'encrypted-file',
      durable: true,
      notice:
        'The OS keychain is unavailable (the OS keychain is not usable: no D-Bus); your sign-in ' +
        'is kept in a file encrypted with the system’s encryption instead.',
    });
    await store.set('desktop-session:https://gw', 'refresh-token-plaintext');
    const file = path.join(tmp, ENCRYPTED_SECRETS_FILE);
    const text = await fs.readFile(file, 'utf8');
    expect(text).not.toContain('refresh-token-plaintext');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);

    // A new store over the same file (an app restart) reads it back.
    const reopened = await openSecretStore({
      appDataDir: tmp,
      choice: 'auto',
      encryptor,
      openKeychain: noKeychain,
    });
    expect(await reopened.get('desktop-session:https://gw')).toBe('refresh-token-plaintext');
    expect(await reopened.delete('desktop-session:https://gw')).toBe(true);
    expect(await store.get('desktop-session:https://gw')).toBeNull();

    // Encrypted under another key (another OS account): unreadable counts as absent.
    await store.set('k', 'v');
    const foreign = await openSecretStore({
      appDataDir: tmp,
      choice: 'auto',
      encryptor: testEncryptor(),
      openKeychain: noKeychain,
    });
    expect(await foreign.get('k')).toBeNull();
  });

  it('starts the encrypted file over when it is not one (a sign-in is all that is lost)', async () => {
    const file = path.join(tmp, ENCRYPTED_SECRETS_FILE);
    const options = {
      appDataDir: tmp,
      choice: 'auto' as const,
      encryptor: testEncryptor(),
      openKeychain: noKeychain,
    };
    for (const junk of ['not json {', '{"version":1,"secrets":5}']) {
      await fs.writeFile(file, junk);
      const store = await openSecretStore(options);
      expect(store.status.kind).toBe('encrypted-file');
      expect(await store.get('k')).toBeNull();
      await store.set('k', 'v');
      expect(await store.get('k')).toBe('v');
      expect(JSON.parse(await fs.readFile(file, 'utf8')).version).toBe(1);
    }
  });

  it('falls back to memory when there is no encryptor (the web host), saying why', async () => {
    const store = await openSecretStore({
      appDataDir: tmp,
      choice: 'auto',
      openKeychain: noKeychain,
    });
    expect(store.status.kind).toBe('memory');
    expect(store.status.notice).toBe(
      'The OS keychain is unavailable (the OS keychain is not usable: no D-Bus) and no system ' +
        'encryption is available here; your sign-in is kept in memory only, so you will need to ' +
        'sign in again after a restart.',
    );
  });

  it('does not count Electron’s basic_text backend (a hard-coded key) as encryption', async () => {
    const store = await openSecretStore({
      appDataDir: tmp,
      choice: 'auto',
      encryptor: { ...testEncryptor(), selectedBackend: () => 'basic_text' },
      openKeychain: noKeychain,
    });
    expect(store.status.kind).toBe('memory');
    expect(store.status.notice).toMatch(/no secret store to protect an encryption key/);
    await store.set('a', 'b');
    expect(await fs.readdir(tmp)).toEqual([]);
  });

  it('falls back to memory when the encryptor says it cannot encrypt', async () => {
    const store = await openSecretStore({
      appDataDir: tmp,
      choice: 'auto',
      encryptor: testEncryptor(false),
      openKeychain: noKeychain,
    });
    expect(store.status.kind).toBe('memory');
    expect(store.status.notice).toMatch(/system encryption is not available either/);
  });
});

// ---------------------------------------------------------------------------------------------
// The keychain for real: a private D-Bus session with an unlocked gnome-keyring.

const keychainIt = keychainTest('secretStore.test.ts');

/** `write` stores a secret; `read` (a new process, as after a restart) reads and deletes it. */
const childScript = `
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { openSecretStore } from ${JSON.stringify(moduleUrl)};
const appDataDir = path.join(process.env.HOME, 'app-data');
const phase = process.argv[2];
const store = await openSecretStore({
  appDataDir,
  choice: 'auto',
  keychainService: 'witness-desktop-test',
});
const account = 'desktop-session:https://gw.test:8443';
const report = { phase, status: store.status };
if (phase === 'write') {
  await store.set(account, 'refresh-token-secret');
  report.readBack = await store.get(account);
} else {
  report.read = await store.get(account);
  report.deleted = await store.delete(account);
  report.afterDelete = await store.get(account);
}
let files = [];
try { files = readdirSync(appDataDir); } catch {}
report.appDataFiles = files;
console.log(JSON.stringify(report));
`;

describe('openSecretStore with the real OS keychain', () => {
  keychainIt(
    'uses gnome-keyring over D-Bus, across processes, and writes nothing to the app folder',
    async () => {
      const env = await isolatedHomeEnv(tmp);
      const script = path.join(tmp, 'secret-store-child.mts');
      await fs.writeFile(script, childScript);
      const result = await runWriteThenReadInPrivateKeyring(script, env);
      expect(result.code, result.stderr).toBe(0);
      const [written, read] = result.reports;
      const keychain = { kind: 'keychain', durable: true, notice: null };
      expect(written).toEqual({
        phase: 'write',
        status: keychain,
        readBack: 'refresh-token-secret',
        appDataFiles: [],
      });
      expect(read).toEqual({
        phase: 'read',
        status: keychain,
        read: 'refresh-token-secret',
        deleted: true,
        afterDelete: null,
        appDataFiles: [],
      });
    },
    60_000,
  );

  it('without a Secret Service on D-Bus and no encryptor, keeps memory only and says why', async () => {
    const env = await isolatedHomeEnv(tmp);
    const script = path.join(tmp, 'secret-store-child.mts');
    await fs.writeFile(script, childScript);
    const result = await runChild(process.execPath, ['--import', 'tsx', script, 'write'], env);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}');
    expect(report.status.kind).toBe('memory');
    expect(report.status.durable).toBe(false);
    expect(report.status.notice).toMatch(
      /^The OS keychain is unavailable \((keytar could not be loaded|the OS keychain is not usable).*sign in again after a restart\.$/,
    );
    expect(report.readBack).toBe('refresh-token-secret');
    expect(report.appDataFiles).toEqual([]);
  }, 30_000);
});
