/**
 * The settings-panel e2e's world, all real: OpenSSH sshd as the target, the gateway binary
 * (SQLite, API + SSH listeners) with no resource yet (the admin adds `prod-web` in the panel:
 * generated key, scanned and pinned host key), the admin `ada` with a one-time enrollment link from the gateway's admin CLI, and two desktops —
 * one per person, each its own createDesktopApp with its own data folder behind its own web
 * host, as two people on two machines would have.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { createDesktopApp } from '../../main/services/desktopApp.ts';
import { startWebHost, type WebHost } from '../../main/webhost/server.ts';
import { GATEWAY_BIN, type GatewayProcess, runNode } from '../harness/gatewayProcess.ts';
import type { RunningSshd } from '../harness/sshd.ts';
import { CleanupStack } from './cleanupStack.ts';
import { startGatewayWithSshd } from './gatewayWithSshTarget.ts';

export const RESOURCE_NAME = 'prod-web';

export interface SettingsTestBed {
  sshd: RunningSshd;
  gateway: GatewayProcess;
  root: GatewayClient;
  /** `witness://enroll?…` for the admin `ada`. */
  adminEnrollLink: string;
  adminHost: WebHost;
  engineerHost: WebHost;
  logs: string[];
  close(): Promise<void>;
}

export async function startSettingsTestBed(rendererDir: string): Promise<SettingsTestBed> {
  const cleanups = new CleanupStack();
  try {
    const gatewayDir = mkdtempSync(path.join(tmpdir(), 'witness-settings-gw-'));
    cleanups.push(() => rmSync(gatewayDir, { recursive: true, force: true }));
    const { sshd, gateway, admin } = await startGatewayWithSshd(
      { gatewayDir, rootPassword: 'root-settings-password-3' },
      cleanups,
    );
    const created = await runNode(GATEWAY_BIN, [
      'admin',
      'create-user',
      '--data',
      gatewayDir,
      '--username',
      'ada',
      '--role',
      'admin',
    ]);
    const adminEnrollLink = created.stdout.trim();
    if (created.code !== 0 || !adminEnrollLink.startsWith('witness://enroll?')) {
      throw new Error(`admin create-user ada failed: ${created.stderr}`);
    }
    const logs: string[] = [];
    const desktop = async (who: string) => {
      const dataDir = mkdtempSync(path.join(tmpdir(), `witness-settings-${who}-`));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const log = (line: string) => logs.push(`[${who}] ${line}`);
      const app = await createDesktopApp({
        appDataDir: dataDir,
        secretStore: 'memory',
        gatewayBin: GATEWAY_BIN,
        useLocalGatewayWhenNoneEnrolled: false,
        log,
      });
      const host = await startWebHost({ app, rendererDir, port: 0, log });
      cleanups.push(() => host.close());
      return host;
    };
    const adminHost = await desktop('admin');
    const engineerHost = await desktop('engineer');
    return {
      sshd,
      gateway,
      root: admin,
      adminEnrollLink,
      adminHost,
      engineerHost,
      logs,
      close: cleanups.close,
    };
  } catch (error) {
    await cleanups.close();
    throw error;
  }
}
