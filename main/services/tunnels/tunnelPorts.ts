/**
 * The port each resource's tunnel listened on last, per gateway, so "Open tunnel" comes back on
 * the port a GUI tool's saved connection names (issue #15). Kept in its own file in the
 * desktop's profile folder (`tunnel-ports.json`) rather than in `desktop-profile.json`: that
 * one is owned and rewritten whole by the account (GatewayAccount keeps it in memory), and a
 * second writer would lose one side's change. Not secret; a file that is not ours is ignored.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../../gateway-client/credentialStore.ts';

export const TUNNEL_PORTS_FILE = 'tunnel-ports.json';

const portsFileSchema = z.object({
  version: z.literal(1),
  /** gateway URL → resource id → port. */
  ports: z.record(z.string(), z.record(z.string(), z.number().int().min(1).max(65535))),
});
type PortsFile = z.infer<typeof portsFileSchema>;

export interface TunnelPortStore {
  get(gatewayUrl: string, resourceId: string): Promise<number | null>;
  set(gatewayUrl: string, resourceId: string, port: number): Promise<void>;
}

export class FileTunnelPortStore implements TunnelPortStore {
  readonly filePath: string;
  /** Writes one after another, so two quick opens cannot interleave read-modify-write. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(appDataDir: string) {
    this.filePath = path.join(appDataDir, TUNNEL_PORTS_FILE);
  }

  async get(gatewayUrl: string, resourceId: string): Promise<number | null> {
    const file = await this.read();
    return file.ports[gatewayUrl]?.[resourceId] ?? null;
  }

  set(gatewayUrl: string, resourceId: string, port: number): Promise<void> {
    const write = this.queue.then(async () => {
      const file = await this.read();
      file.ports[gatewayUrl] = { ...file.ports[gatewayUrl], [resourceId]: port };
      await writeFileAtomic(this.filePath, `${JSON.stringify(file, null, 2)}\n`, 0o600);
    });
    this.queue = write.catch(() => {});
    return write;
  }

  private async read(): Promise<PortsFile> {
    try {
      const parsed = portsFileSchema.safeParse(
        JSON.parse(await fs.readFile(this.filePath, 'utf8')),
      );
      if (parsed.success) return parsed.data;
    } catch {
      // Missing or not JSON: no remembered ports (they are a convenience, never needed).
    }
    return { version: 1, ports: {} };
  }
}
