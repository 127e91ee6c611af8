/**
 * `npm start` (bin/witness-desktop.mjs): the Electron app where it can start, else the web host
 * in this process, saying why. The renderer is (re)built first when its sources changed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { startDesktopWebHost } from '../server.ts';
import { desktopDataDir } from './desktopDataDir.ts';
import { displayUnavailableReason, findElectronBinary } from './electronBinary.ts';
import { rendererBuildNeeded } from './rendererBuild.ts';

export interface DesktopLauncherIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** Resolves on Ctrl+C / SIGTERM. */
  untilStopped: () => Promise<unknown>;
}

interface LauncherOptions {
  data?: string;
  port: number;
  web: boolean;
  open: boolean;
  secretStore: 'auto' | 'memory';
}

/** Electron exiting this fast with a failure means it could not start (missing libraries…). */
const ELECTRON_STARTUP_MS = 5_000;

export async function runDesktop(
  argv: string[],
  repoRoot: string,
  io: DesktopLauncherIo,
): Promise<number> {
  const program = new Command('witness-desktop')
    .description('Start the Witness desktop app (Electron, or the web host in a browser).')
    .option(
      '--data <dir>',
      'data folder (default: $WITNESS_DESKTOP_DATA, else the user app-data folder)',
    )
    .option('--port <n>', 'web host port on 127.0.0.1 (0: any free port)', parsePort, 0)
    .option('--web', 'use the web host even if Electron could start', false)
    .option('--no-open', 'do not open a browser, only print the URL')
    .addOption(
      new Option('--secret-store <kind>', 'where the web host keeps the refresh token')
        .choices(['auto', 'memory'])
        .default('auto'),
    )
    .exitOverride();
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    return (error as { exitCode?: number }).exitCode ?? 2;
  }
  const options = program.opts<LauncherOptions>();

  const stale = rendererBuildNeeded(repoRoot);
  if (stale) {
    io.out(`Building the renderer (${stale})…`);
    const code = await runToEnd(process.execPath, [
      path.join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--config',
      path.join(repoRoot, 'renderer', 'vite.config.ts'),
      '--logLevel',
      'warn',
    ]);
    if (code !== 0) {
      io.err(`The renderer build failed (exit ${code}); see the messages above.`);
      return 1;
    }
  }

  let whyNotElectron: string | null = options.web ? 'you asked for the web host (--web)' : null;
  if (!whyNotElectron) {
    const electron = findElectronBinary(repoRoot, io.env);
    whyNotElectron = electron.ok ? displayUnavailableReason(io.env) : electron.reason;
    if (electron.ok && !whyNotElectron) {
      const outcome = await runElectron(electron.path, repoRoot, io);
      if (outcome.kind === 'ran') return outcome.code;
      whyNotElectron = outcome.reason;
    }
  }

  const dataDir = desktopDataDir(options.data, io.env);
  let host: Awaited<ReturnType<typeof startDesktopWebHost>>;
  try {
    host = await startDesktopWebHost({
      dataDir,
      port: options.port,
      secretStore: options.secretStore,
      rendererDir: path.join(repoRoot, 'dist', 'renderer'),
      gatewayBin: path.join(repoRoot, 'bin', 'witness-gateway.mjs'),
      log: (line) => io.err(line),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    io.err(
      code === 'EADDRINUSE'
        ? `Port ${options.port} on 127.0.0.1 is in use: choose another with --port, or 0 for any free port.`
        : `The web host could not start: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
  io.out(`Electron is not used: ${whyNotElectron}.`);
  io.out(`Witness runs in your browser instead. Data: ${dataDir}`);
  io.out('Open this address (it carries this launch’s secret; keep it to yourself):');
  io.out(`  ${host.url}`);
  if (options.open && (io.env.DISPLAY || io.env.WAYLAND_DISPLAY)) openInBrowser(host.url, io);
  io.out('Press Ctrl+C to stop (the local gateway and demo targets stop too).');
  await io.untilStopped();
  io.out('Stopping…');
  await host.close();
  return 0;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('a port 0–65535');
  return port;
}

function runToEnd(program: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: 'inherit' });
    child.on('error', () => resolve(-1));
    child.on('exit', (code) => resolve(code));
  });
}

type ElectronOutcome = { kind: 'ran'; code: number } | { kind: 'could-not-start'; reason: string };

async function runElectron(
  binary: string,
  repoRoot: string,
  io: DesktopLauncherIo,
): Promise<ElectronOutcome> {
  const built = await runToEnd(process.execPath, [
    path.join(repoRoot, 'scripts', 'build-electron.mjs'),
  ]);
  if (built !== 0)
    return {
      kind: 'could-not-start',
      reason: `bundling the Electron main process failed (exit ${built})`,
    };
  const started = Date.now();
  let child: ChildProcess;
  try {
    // Set in the environment, this would make Electron run as plain Node instead of the app.
    const env = { ...io.env };
    delete env.ELECTRON_RUN_AS_NODE;
    child = spawn(binary, [repoRoot], { stdio: ['ignore', 'inherit', 'pipe'], env });
  } catch (error) {
    return { kind: 'could-not-start', reason: `Electron could not be run: ${String(error)}` };
  }
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk.toString()).slice(-400);
  });
  const stop = () => child.kill('SIGTERM');
  void io.untilStopped().then(stop);
  return new Promise((resolve) => {
    child.on('error', (error) =>
      resolve({ kind: 'could-not-start', reason: `Electron could not be run: ${error.message}` }),
    );
    child.on('exit', (code, signal) => {
      const failedFast = Date.now() - started < ELECTRON_STARTUP_MS && code !== 0;
      if (failedFast) {
        const last = stderrTail.trim().split('\n').pop() ?? '';
        resolve({
          kind: 'could-not-start',
          reason: `Electron exited at once (${signal ?? `code ${code}`})${last ? `: ${last}` : ''}`,
        });
      } else {
        resolve({ kind: 'ran', code: code ?? 0 });
      }
    });
  });
}

function openInBrowser(url: string, io: DesktopLauncherIo): void {
  const opener =
    process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => io.err(`Could not run ${opener}; open the address above by hand.`));
    child.unref();
  } catch {
    io.err(`Could not run ${opener}; open the address above by hand.`);
  }
}
