/**
 * The `witness` CLI run in-process (runWitnessCli) against a test gateway, as several people:
 * each has their own config directory under one temporary folder, credentials in a file (no
 * keychain on CI), and signs in pinned to the gateway's CA. The CLI integration tests
 * (access requests, audit, user reset) share this start-up instead of each writing it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runWitnessCli } from '../../gateway-client/cli/witnessCli.ts';
import type { Role } from '../../shared/api/apiSchemas.ts';
import type { TestGateway } from './gatewayForTests.ts';
import { collectText } from './textCollector.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface InProcessCli {
  /** The temporary folder: `<dir>/<who>` is each person's WITNESS_HOME; files may go here too. */
  readonly dir: string;
  /** Runs `witness …` as `who`, with `stdin` as its whole input. */
  run(who: string, args: string[], stdin?: string): Promise<CliRun>;
  /** `witness login` as `who` with this password, pinned to the gateway's CA fingerprint. */
  login(who: string, password: string): Promise<CliRun>;
  /**
   * Creates each person on the gateway and signs them in with the CLI; throws with the CLI's
   * words when a sign-in fails. Returns their user ids by name.
   */
  addPeople(
    people: readonly (readonly [name: string, role: Role, groups?: readonly string[]])[],
    password: string,
  ): Promise<Record<string, string>>;
  /** Removes the folder. */
  close(): void;
}

export function inProcessCli(gw: TestGateway, folderPrefix: string): InProcessCli {
  const dir = mkdtempSync(path.join(os.tmpdir(), folderPrefix));
  const run = async (who: string, args: string[], stdin = ''): Promise<CliRun> => {
    const input = new PassThrough();
    input.end(stdin);
    const stdout = collectText();
    const stderr = collectText();
    const code = await runWitnessCli(args, {
      stdin: input,
      stdout: stdout.stream,
      stderr: stderr.stream,
      env: { HOME: dir, WITNESS_HOME: path.join(dir, who), WITNESS_CREDENTIAL_STORE: 'file' },
      isTTY: false,
    });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  };
  const login = (who: string, password: string) =>
    run(
      who,
      [
        'login',
        gw.gateway.apiUrl,
        '--username',
        who,
        '--password-stdin',
        '--fingerprint',
        gw.gateway.services.keys.caFingerprint,
      ],
      `${password}\n`,
    );
  return {
    dir,
    run,
    login,
    async addPeople(people, password) {
      const ids: Record<string, string> = {};
      for (const [name, role, groups = []] of people) {
        ids[name] = await gw.createUser(name, role, password, [...groups]);
        const signedIn = await login(name, password);
        if (signedIn.code !== 0) {
          throw new Error(`witness login as ${name} exited ${signedIn.code}: ${signedIn.stderr}`);
        }
      }
      return ids;
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
