import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isolatedHomeEnv,
  keychainTest,
  runChild,
  runWriteThenReadInPrivateKeyring,
} from '../test/harness/privateKeychain.ts';
import { FileCredentialStore, openCredentialStore } from './credentialStore.ts';

const moduleUrl = new URL('./credentialStore.ts', import.meta.url).href;

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'witness-credentials-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const modeOf = async (p: string) => (await fs.stat(p)).mode & 0o777;

describe('FileCredentialStore', () => {
  it('round-trips secrets in a 0600 file inside a 0700 directory', async () => {
    const dir = path.join(tmp, 'config', 'witness');
    const file = path.join(dir, 'credentials.json');
    const store = new FileCredentialStore(file, tmp);
    expect(store.describe).toBe('file ~/config/witness/credentials.json (0600)');
    expect(await store.get('https://gw#alice')).toBeNull();

    await store.set('https://gw#alice', '{"refreshToken":"r1"}');
    await store.set('https://gw#bob', 'b-secret');
    expect(await store.get('https://gw#alice')).toBe('{"refreshToken":"r1"}');
    expect(await modeOf(file)).toBe(0o600);
    expect(await modeOf(dir)).toBe(0o700);

    // A second instance reads the same file: the store holds no state in memory.
    const again = new FileCredentialStore(file);
    expect(await again.get('https://gw#bob')).toBe('b-secret');

    await store.set('https://gw#alice', 'replaced');
    expect(await again.get('https://gw#alice')).toBe('replaced');
    expect(await modeOf(file)).toBe(0o600);
    // Atomic replacement leaves no temp files behind.
    expect(await fs.readdir(dir)).toEqual(['credentials.json']);
  });

  it('deletes one account and reports whether anything was there', async () => {
    const file = path.join(tmp, 'credentials.json');
    const store = new FileCredentialStore(file);
    await store.set('a', '1');
    await store.set('b', '2');
    expect(await store.delete('a')).toBe(true);
    expect(await store.delete('a')).toBe(false);
    expect(await store.get('a')).toBeNull();
    expect(await store.get('b')).toBe('2');
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual({
      version: 1,
      secrets: { b: '2' },
    });
  });

  it('tightens a config directory that was created too open', async () => {
    const dir = path.join(tmp, 'open');
    await fs.mkdir(dir, { mode: 0o755 });
    await fs.chmod(dir, 0o755);
    await new FileCredentialStore(path.join(dir, 'credentials.json')).set('a', '1');
    expect(await modeOf(dir)).toBe(0o700);
  });

  it('refuses a corrupt file with a message that says what to do', async () => {
    const file = path.join(tmp, 'credentials.json');
    await fs.writeFile(file, '{not json');
    await expect(new FileCredentialStore(file).get('a')).rejects.toThrow(
      /not valid JSON; move it aside/,
    );
  });
});

describe('openCredentialStore', () => {
  it('uses the file when told to', async () => {
    const opened = await openCredentialStore(tmp, { choice: 'file', home: tmp });
    expect(opened.store).toBeInstanceOf(FileCredentialStore);
    expect(opened.store.describe).toBe('file ~/credentials.json (0600)');
  });
});

// ---------------------------------------------------------------------------------------------
// keytar for real: a private D-Bus session with an unlocked gnome-keyring (DESIGN.md, Testing).

const keychainIt = keychainTest('credentialStore.test.ts');

/** The child's script: `write` stores a secret, `read` (a new process) reads and deletes it. */
const childScript = `
import { existsSync } from 'node:fs';
import path from 'node:path';
import { KeytarCredentialStore, openCredentialStore } from ${JSON.stringify(moduleUrl)};
const configDir = path.join(process.env.HOME, '.config', 'witness');
const account = 'https://gw.test:8443#alice';
const phase = process.argv[2];
const opened = await openCredentialStore(configDir);
const report = {
  phase,
  describe: opened.store.describe,
  keytar: opened.store instanceof KeytarCredentialStore,
  keychainUnavailable: opened.keychainUnavailable,
};
if (phase === 'write') {
  await opened.store.set(account, 'refresh-token-secret');
  report.readBack = await opened.store.get(account);
} else {
  report.read = await opened.store.get(account);
  report.deleted = await opened.store.delete(account);
  report.afterDelete = await opened.store.get(account);
  report.deletedAgain = await opened.store.delete(account);
}
report.credentialsFileExists = existsSync(path.join(configDir, 'credentials.json'));
console.log(JSON.stringify(report));
`;

describe('KeytarCredentialStore (real keychain)', () => {
  keychainIt(
    'stores, reads across processes and deletes through gnome-keyring over D-Bus',
    async () => {
      const env = await isolatedHomeEnv(tmp);
      const script = path.join(tmp, 'keychain-child.mts');
      await fs.writeFile(script, childScript);
      const result = await runWriteThenReadInPrivateKeyring(script, env);
      expect(result.code, result.stderr).toBe(0);
      const [written, read] = result.reports;
      expect(written).toEqual({
        phase: 'write',
        describe: 'OS keychain (Secret Service)',
        keytar: true,
        keychainUnavailable: null,
        readBack: 'refresh-token-secret',
        credentialsFileExists: false,
      });
      expect(read).toEqual({
        phase: 'read',
        describe: 'OS keychain (Secret Service)',
        keytar: true,
        keychainUnavailable: null,
        read: 'refresh-token-secret',
        deleted: true,
        afterDelete: null,
        deletedAgain: false,
        credentialsFileExists: false,
      });
    },
    60_000,
  );

  it('falls back to the file, saying why, when no Secret Service is on D-Bus', async () => {
    const env = await isolatedHomeEnv(tmp);
    const script = path.join(tmp, 'keychain-child.mts');
    await fs.writeFile(script, childScript);
    const result = await runChild(process.execPath, ['--import', 'tsx', script, 'write'], env);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout.trim());
    expect(report).toMatchObject({
      describe: 'file ~/.config/witness/credentials.json (0600)',
      keytar: false,
      readBack: 'refresh-token-secret',
      credentialsFileExists: true,
    });
    expect(report.keychainUnavailable).toMatch(/keytar could not be loaded|keychain is not usable/);
  }, 30_000);
});
