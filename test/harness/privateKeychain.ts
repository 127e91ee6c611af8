/**
 * keytar for real (DESIGN.md, Testing): a child process under `dbus-run-session` with an
 * unlocked gnome-keyring and a private HOME, so the keyring lives and dies with the test.
 * Shared by the CLI's credential-store test and the desktop's secret-store test.
 */
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const missingTools = ['dbus-run-session', 'gnome-keyring-daemon'].filter(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
);
const installHint =
  `${missingTools.join(' and ')} not found: install them (Debian/Ubuntu: ` +
  '`apt-get install dbus dbus-x11 gnome-keyring libsecret-1-dev`) to run the real keychain test';

/**
 * `it` for tests that need the real keychain. Without the tools it skips, saying why — except
 * under CI, where a missing tool must fail the run (the test then throws the install hint).
 */
export function keychainTest(testFile: string): typeof it | typeof it.skip {
  if (missingTools.length === 0) return it;
  if (process.env.CI) return it;
  console.warn(`${testFile}: skipping the real keychain test — ${installHint}`);
  return it.skip;
}

/** A private HOME with XDG dirs inside, and no D-Bus session or display inherited. */
export async function isolatedHomeEnv(home: string): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['DBUS_SESSION_BUS_ADDRESS', 'DISPLAY', 'WAYLAND_DISPLAY', 'WITNESS_HOME']) {
    delete env[key];
  }
  const xdg = {
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_RUNTIME_DIR: path.join(home, 'run'),
  };
  for (const dir of Object.values(xdg)) await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  return { ...env, ...xdg, HOME: home };
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runChild(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs `script` (a TypeScript module, via tsx) with `write` and then, as a new process — as after
 * a restart — with `read`, both against one freshly unlocked gnome-keyring. Returns the result
 * and the JSON lines the two phases printed.
 */
export async function runWriteThenReadInPrivateKeyring(
  script: string,
  env: NodeJS.ProcessEnv,
): Promise<ChildResult & { reports: unknown[] }> {
  if (missingTools.length > 0) throw new Error(installHint);
  const inner =
    'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && ' +
    `node --import tsx ${JSON.stringify(script)} write && ` +
    `exec node --import tsx ${JSON.stringify(script)} read`;
  const result = await runChild('dbus-run-session', ['--', 'sh', '-c', inner], env);
  const reports = result.stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as unknown);
  return { ...result, reports };
}
