import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { portNames, readStoredPorts, reserveLocalPorts } from './localPorts.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('reserveLocalPorts', () => {
  it('picks distinct free ports once, then keeps them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-ports-'));
    dirs.push(dir);
    const first = await reserveLocalPorts(dir);
    expect(first.changed).toEqual([...portNames]);
    expect(new Set(Object.values(first.ports)).size).toBe(portNames.length);
    expect(readStoredPorts(dir)).toEqual(first.ports);
    const second = await reserveLocalPorts(dir);
    expect(second.changed).toEqual([]);
    expect(second.ports).toEqual(first.ports);
  });

  it('replaces only a port another program took', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-ports-'));
    dirs.push(dir);
    const { ports } = await reserveLocalPorts(dir);
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(ports.ssh, '127.0.0.1', resolve));
    try {
      const again = await reserveLocalPorts(dir);
      expect(again.changed).toEqual(['ssh']);
      expect(again.ports.ssh).not.toBe(ports.ssh);
      expect({ ...again.ports, ssh: ports.ssh }).toEqual(ports);
    } finally {
      squatter.close();
    }
  });

  it('ignores a damaged ports file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-ports-'));
    dirs.push(dir);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'ports.json'), '{"api": "not a port", "ssh": 70000');
    expect(readStoredPorts(dir)).toEqual({});
    const { changed } = await reserveLocalPorts(dir);
    expect(changed).toEqual([...portNames]);
  });
});
