/**
 * Everything the desktop's end-to-end tests need, all real: OpenSSH sshd as the target, the
 * `witness-gateway serve` binary (SQLite, API + SSH listener), an admin who creates an SSH
 * resource behind sshd and grants it to `alice`, alice's one-time enrollment link printed by the
 * gateway's admin CLI, and the web host serving the desktop services (createDesktopApp) on
 * 127.0.0.1 with its own temp data folder.
 *
 * What the tests must never see in a renderer frame is collected in `secrets`: the passwords,
 * the target's private key, and — captured where they pass through main — every ticket the
 * terminal service received (tokens carry prefixes, `wat_`/`wrt_`/`wtk_`/`wen_`, which the
 * tests match as well).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { createDesktopApp } from '../../main/services/desktopApp.ts';
import type { OutputFlowOptions } from '../../main/services/terminals/outputBatcher.ts';
import { TerminalService } from '../../main/services/terminals/terminalService.ts';
import { startWebHost, type WebHost } from '../../main/webhost/server.ts';
import { GATEWAY_BIN, type GatewayProcess, runNode } from '../harness/gatewayProcess.ts';
import type { RunningSshd } from '../harness/sshd.ts';
import { CleanupStack } from './cleanupStack.ts';
import { startGatewayWithSshTarget } from './gatewayWithSshTarget.ts';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const ALICE_PASSWORD = 'alice-desktop-password-7';
export const ADMIN_PASSWORD = 'admin-desktop-password-9';

export interface DesktopTestBed {
  sshd: RunningSshd;
  gateway: GatewayProcess;
  admin: GatewayClient;
  /** `witness://enroll?…` for alice, from `witness-gateway admin create-user`. */
  enrollLink: string;
  resourceName: string;
  host: WebHost;
  /** Strings that must never reach a renderer. Grows as tickets are issued. */
  secrets: { passwords: string[]; targetPrivateKey: string; tickets: string[] };
  desktopDataDir: string;
  logs: string[];
  close(): Promise<void>;
}

export async function startDesktopTestBed(
  options: {
    rendererDir?: string;
    /** Terminal output flow (batching, back-pressure water marks); the app's defaults otherwise. */
    terminalFlow?: OutputFlowOptions;
  } = {},
): Promise<DesktopTestBed> {
  const cleanups = new CleanupStack();
  const { close } = cleanups;
  try {
    const gatewayDir = mkdtempSync(path.join(tmpdir(), 'witness-desktop-gw-'));
    cleanups.push(() => rmSync(gatewayDir, { recursive: true, force: true }));
    const resourceName = 'web-1';
    const { sshd, gateway, admin, sshResourceId } = await startGatewayWithSshTarget(
      {
        gatewayDir,
        rootPassword: ADMIN_PASSWORD,
        resourceName,
        resourceDescription: 'sshd on loopback (desktop e2e)',
      },
      cleanups,
    );
    const created = await runNode(GATEWAY_BIN, [
      'admin',
      'create-user',
      '--data',
      gatewayDir,
      '--username',
      'alice',
      '--role',
      'engineer',
    ]);
    const enrollLink = created.stdout.trim();
    const aliceId = /\((usr_[^)]+)\)/.exec(created.stderr)?.[1];
    if (created.code !== 0 || !enrollLink.startsWith('witness://enroll?') || !aliceId) {
      throw new Error(`admin create-user alice failed: ${created.stderr}`);
    }
    await admin.createGrant({
      subject: { kind: 'user', userId: aliceId },
      target: { kind: 'resource', resourceId: sshResourceId },
      maxSessionSeconds: 3600,
    });

    const desktopDataDir = mkdtempSync(path.join(tmpdir(), 'witness-desktop-data-'));
    cleanups.push(() => rmSync(desktopDataDir, { recursive: true, force: true }));
    const logs: string[] = [];
    const secrets: DesktopTestBed['secrets'] = {
      passwords: [ALICE_PASSWORD, ADMIN_PASSWORD],
      targetPrivateKey: sshd.clientPrivateKey,
      tickets: [],
    };
    const app = await createDesktopApp(
      {
        appDataDir: desktopDataDir,
        secretStore: 'memory',
        gatewayBin: GATEWAY_BIN,
        useLocalGatewayWhenNoneEnrolled: false,
        log: (line) => logs.push(line),
      },
      {
        // The real TerminalService over the real session source; the wrapper only notes each
        // ticket main receives, so the test knows exactly what must not leak.
        createTerminals: (sessions, log) =>
          new TerminalService({
            sessions: {
              async startSession(resourceId) {
                const started = await sessions.startSession(resourceId);
                secrets.tickets.push(started.ticket);
                return started;
              },
            },
            log,
            ...options.terminalFlow,
          }),
      },
    );
    const host = await startWebHost({
      app,
      rendererDir: options.rendererDir ?? path.join(repoRoot, 'dist', 'renderer'),
      port: 0,
      log: (line) => logs.push(line),
    });
    cleanups.push(() => host.close());
    return {
      sshd,
      gateway,
      admin,
      enrollLink,
      resourceName,
      host,
      secrets,
      desktopDataDir,
      logs,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Opaque gateway secrets by their prefixes (gateway/auth/opaqueTokens.ts): 256 bits, base64url. */
export const OPAQUE_TOKEN_PATTERN = /\b(?:wat|wrt|wtk|wen)_[A-Za-z0-9_-]{43}/;
