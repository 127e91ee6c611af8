/**
 * An interactive shell through an ssh2 client, as a terminal would open it (xterm-256color
 * pty), with everything it printed collected so a test can wait for the prompt or an output.
 */
import type { Client, ClientChannel } from 'ssh2';

export interface ShellScreen {
  shell: ClientChannel;
  /** Everything the shell has printed so far (stdout; stderr is drained and dropped). */
  screen(): string;
  /** Resolves when the channel closes (after `exit`). */
  closed: Promise<void>;
}

export async function openShellScreen(client: Client, cols: number): Promise<ShellScreen> {
  const shell = await new Promise<ClientChannel>((resolve, reject) =>
    client.shell({ term: 'xterm-256color', cols, rows: 24 }, (error, channel) =>
      error ? reject(error) : resolve(channel),
    ),
  );
  let screen = '';
  shell.on('data', (chunk: Buffer) => {
    screen += chunk.toString('utf8');
  });
  shell.stderr.on('data', () => {});
  const closed = new Promise<void>((resolve) => shell.on('close', () => resolve()));
  return { shell, screen: () => screen, closed };
}
