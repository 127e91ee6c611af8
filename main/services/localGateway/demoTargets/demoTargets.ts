/**
 * The demo targets the local gateway offers a first-time user (issue #5: "a local SSH target
 * bound to 127.0.0.1, and a PostgreSQL one"): started with the local gateway, stopped with it,
 * and each reported as available or not with a note saying what runs or what to install.
 */
import path from 'node:path';
import type { LocalGatewayStatus } from '../localGatewayStatus.ts';
import {
  type DemoPostgresTarget,
  postgresUnavailableReason,
  startDemoPostgres,
} from './demoPostgres.ts';
import { type DemoSshTarget, opensshUnavailableReason, startDemoSshd } from './demoSshd.ts';
import { inProcessShellNote, startInProcessSshTarget } from './inProcessSshTarget.ts';

export const DEMO_SSH_NAME = 'demo-ssh';
export const DEMO_POSTGRES_NAME = 'demo-postgres';
export const DEMO_LABELS = { demo: 'true', location: 'this-machine' } as const;
export const DEMO_DESCRIPTION = 'Demo target on this machine (127.0.0.1) — for evaluation';

export type DemoTargetStatus = LocalGatewayStatus['demoTargets'][number];

export interface RunningDemoTargets {
  statuses: DemoTargetStatus[];
  ssh: DemoSshTarget | undefined;
  postgres: DemoPostgresTarget | undefined;
  stop(): Promise<void>;
}

export interface DemoTargetOptions {
  /** Use the built-in SSH server even when sshd exists (tests of the fallback). */
  forceInProcessSsh?: boolean;
  /** Leave the PostgreSQL target out (its first start runs initdb, a few seconds). */
  skipPostgres?: boolean;
  log?: (line: string) => void;
}

export async function startDemoTargets(
  demoDir: string,
  ports: { ssh: number; postgres: number },
  options: DemoTargetOptions = {},
): Promise<RunningDemoTargets> {
  const log = options.log ?? (() => {});
  const [ssh, postgres] = await Promise.all([
    startSsh(path.join(demoDir, 'ssh'), ports.ssh, options, log),
    options.skipPostgres
      ? Promise.resolve({
          target: undefined,
          status: {
            name: DEMO_POSTGRES_NAME,
            kind: 'postgres' as const,
            available: false,
            note: 'not started (turned off for this run)',
          },
        })
      : startPostgres(demoDir, ports.postgres, log),
  ]);
  return {
    statuses: [ssh.status, postgres.status],
    ssh: ssh.target,
    postgres: postgres.target,
    async stop() {
      await Promise.all([ssh.target?.stop(), postgres.target?.stop()]);
    },
  };
}

async function startSsh(
  dir: string,
  port: number,
  options: DemoTargetOptions,
  log: (line: string) => void,
): Promise<{ target: DemoSshTarget | undefined; status: DemoTargetStatus }> {
  const missing = opensshUnavailableReason();
  try {
    if (!options.forceInProcessSsh && missing === undefined) {
      const target = await startDemoSshd(dir, port);
      return {
        target,
        status: {
          name: DEMO_SSH_NAME,
          kind: 'ssh',
          available: true,
          note: `OpenSSH sshd on 127.0.0.1:${target.port}, logging in as ${target.username}`,
        },
      };
    }
    const target = await startInProcessSshTarget(dir, port);
    return {
      target,
      status: { name: DEMO_SSH_NAME, kind: 'ssh', available: true, note: inProcessShellNote() },
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    log(`demo SSH target could not start: ${reason}`);
    return {
      target: undefined,
      status: {
        name: DEMO_SSH_NAME,
        kind: 'ssh',
        available: false,
        note: `could not start: ${reason}`,
      },
    };
  }
}

async function startPostgres(
  demoDir: string,
  port: number,
  log: (line: string) => void,
): Promise<{ target: DemoPostgresTarget | undefined; status: DemoTargetStatus }> {
  const missing = postgresUnavailableReason();
  if (missing !== undefined) {
    return {
      target: undefined,
      status: { name: DEMO_POSTGRES_NAME, kind: 'postgres', available: false, note: missing },
    };
  }
  try {
    const target = await startDemoPostgres(demoDir, port);
    return {
      target,
      status: {
        name: DEMO_POSTGRES_NAME,
        kind: 'postgres',
        available: true,
        note: `PostgreSQL on 127.0.0.1:${target.port}, database ${target.database} (a customers table with e-mail addresses, to try masking)`,
      },
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    log(`demo PostgreSQL target could not start: ${reason}`);
    return {
      target: undefined,
      status: {
        name: DEMO_POSTGRES_NAME,
        kind: 'postgres',
        available: false,
        note: `could not start: ${reason}`,
      },
    };
  }
}
