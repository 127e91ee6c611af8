import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DESKTOP_PROFILE_FILE,
  type DesktopProfile,
  DesktopProfileStore,
  emptyDesktopProfile,
} from './desktopProfile.ts';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'witness-desktop-profile-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const pinned: DesktopProfile = {
  version: 1,
  gateway: {
    url: 'https://gw.example:8443',
    caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    caFingerprint: `${'AB:'.repeat(31)}AB`,
    recordingKeyId: 'ed25519:0123456789abcdef',
    recordingPublicKeyPem: '-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\n',
    recordingKeyFingerprint: 'SHA256:abc',
    sshHostKey: null,
    isLocal: false,
    pinnedAt: '2026-01-01T00:00:00.000Z',
  },
  lastUsername: 'alice',
};

describe('DesktopProfileStore', () => {
  it('starts empty, and round-trips a pinned gateway in a 0600 file written atomically', async () => {
    const dir = path.join(tmp, 'app-data');
    const store = new DesktopProfileStore(dir);
    expect(await store.load()).toEqual(emptyDesktopProfile());
    await store.save(pinned);
    expect(await new DesktopProfileStore(dir).load()).toEqual(pinned);
    expect((await fs.stat(path.join(dir, DESKTOP_PROFILE_FILE))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    await store.save({ ...pinned, lastUsername: 'bob' });
    // No temp files left beside it.
    expect(await fs.readdir(dir)).toEqual([DESKTOP_PROFILE_FILE]);
  });

  it('moves an unreadable profile aside instead of refusing to start, and says where', async () => {
    const store = new DesktopProfileStore(tmp);
    await fs.writeFile(path.join(tmp, DESKTOP_PROFILE_FILE), '{"version": 2}');
    const lines: string[] = [];
    expect(await store.load((line) => lines.push(line))).toEqual(emptyDesktopProfile());
    const files = await fs.readdir(tmp);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^desktop-profile\.json\.unreadable-\d+$/);
    expect(lines[0]).toContain(files[0]);
  });
});
