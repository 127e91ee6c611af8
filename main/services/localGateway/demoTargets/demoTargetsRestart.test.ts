/**
 * Demo targets left running by a desktop that died (sshd is only our child; PostgreSQL
 * daemonizes) are stopped by the next start, which then serves on the new ports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNeeding } from '../../../../test/harness/needs.ts';
import { freePort, isPortFree } from '../localPorts.ts';
import {
  DEMO_DATABASE,
  demoPostgresClusterDir,
  postgresUnavailableReason,
  startDemoPostgres,
} from './demoPostgres.ts';
import { opensshUnavailableReason, startDemoSshd } from './demoSshd.ts';

let demoDir: string;
// Made in beforeAll, not at collection, so a filtered run that skips everything leaves nothing.
beforeAll(() => {
  demoDir = mkdtempSync(path.join(os.tmpdir(), 'witness-demo-restart-'));
});
afterAll(() => {
  rmSync(demoPostgresClusterDir(demoDir), { recursive: true, force: true });
  rmSync(demoDir, { recursive: true, force: true });
});

describeNeeding(opensshUnavailableReason(), 'demo sshd after a crash', () => {
  it('stops the leftover sshd and starts on the new port with the same host key', async () => {
    const dir = path.join(demoDir, 'ssh');
    const firstPort = await freePort();
    const leftover = await startDemoSshd(dir, firstPort);
    // No stop(): the desktop "died". The next start must clear it.
    const secondPort = await freePort();
    const next = await startDemoSshd(dir, secondPort);
    try {
      expect(next.hostKeyLine).toBe(leftover.hostKeyLine);
      expect(await isPortFree(firstPort)).toBe(true);
      expect(await isPortFree(secondPort)).toBe(false);
    } finally {
      await next.stop();
      await leftover.stop();
    }
  }, 30_000);
});

describeNeeding(postgresUnavailableReason(), 'demo PostgreSQL after a crash', () => {
  it('stops the leftover server, starts on the new port, keeps the data', async () => {
    const first = await startDemoPostgres(demoDir, await freePort());
    // No stop(): the desktop "died".
    const port = await freePort();
    const next = await startDemoPostgres(demoDir, port);
    try {
      expect(next.password).toBe(first.password);
      expect(await isPortFree(first.port)).toBe(true);
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: next.username,
        password: next.password,
        database: DEMO_DATABASE,
      });
      await client.connect();
      try {
        const rows = await client.query('SELECT count(*)::int AS n FROM customers');
        expect(rows.rows[0]).toEqual({ n: 5 });
      } finally {
        await client.end();
      }
    } finally {
      await next.stop();
    }
  }, 90_000);
});
