/**
 * The loopback ports of the local gateway and its demo targets, kept stable across restarts
 * in `<dataDir>/ports.json`: the desktop's pinned gateway URL and the demo resources' targets
 * stay valid. A stored port another program has taken since is replaced by a free one (the
 * desktop pins the gateway by CA fingerprint, so only the URL changes; demo resources are
 * re-provisioned with the new port).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

export const LOOPBACK = '127.0.0.1';

export const portNames = ['api', 'ssh', 'postgres', 'demoSsh', 'demoPostgres'] as const;
export type PortName = (typeof portNames)[number];
export type LocalPorts = Record<PortName, number>;

const PORTS_FILE = 'ports.json';

/** Stored ports that are still free, fresh ones for the rest; saved before returning. */
export async function reserveLocalPorts(dataDir: string): Promise<{
  ports: LocalPorts;
  /** Names whose port differs from the stored one (taken, or first start). */
  changed: PortName[];
}> {
  const stored = readStoredPorts(dataDir);
  const ports = {} as LocalPorts;
  const changed: PortName[] = [];
  const taken = new Set<number>();
  for (const name of portNames) {
    const previous = stored[name];
    if (previous !== undefined && !taken.has(previous) && (await isPortFree(previous))) {
      ports[name] = previous;
    } else {
      let port = await freePort();
      while (taken.has(port)) port = await freePort();
      ports[name] = port;
      changed.push(name);
    }
    taken.add(ports[name]);
  }
  writeFileSync(path.join(dataDir, PORTS_FILE), `${JSON.stringify(ports, null, 2)}\n`, {
    mode: 0o600,
  });
  return { ports, changed };
}

export function readStoredPorts(dataDir: string): Partial<LocalPorts> {
  try {
    const raw = JSON.parse(readFileSync(path.join(dataDir, PORTS_FILE), 'utf8')) as Record<
      string,
      unknown
    >;
    const ports: Partial<LocalPorts> = {};
    for (const name of portNames) {
      const value = raw[name];
      if (typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65536) {
        ports[name] = value;
      }
    }
    return ports;
  } catch {
    return {};
  }
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, LOOPBACK, () => server.close(() => resolve(true)));
  });
}

/** A port that was free a moment ago (bind port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
