import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INSTANCE_ID_FILE, loadOrCreateGatewayInstanceId } from './gatewayInstanceId.ts';

describe('loadOrCreateGatewayInstanceId', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'witness-instance-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates an owner-only id once and returns the same id on every later start', async () => {
    const id = loadOrCreateGatewayInstanceId(dir);
    expect(id).toMatch(/^gwi_[0-9a-f]{32}$/);
    expect((await stat(join(dir, INSTANCE_ID_FILE))).mode & 0o777).toBe(0o600);
    expect(loadOrCreateGatewayInstanceId(dir)).toBe(id);
  });

  it('gives separate data directories separate ids', async () => {
    const other = await mkdtemp(join(tmpdir(), 'witness-instance-'));
    try {
      expect(loadOrCreateGatewayInstanceId(other)).not.toBe(loadOrCreateGatewayInstanceId(dir));
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('refuses a damaged id file instead of silently becoming another instance', async () => {
    await writeFile(join(dir, INSTANCE_ID_FILE), 'garbage\n');
    expect(() => loadOrCreateGatewayInstanceId(dir)).toThrow(/does not hold a gateway instance id/);
  });
});
