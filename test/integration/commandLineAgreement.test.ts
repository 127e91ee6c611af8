/**
 * Issue #11, "client logic once": one real SSH session (ssh2 client → gateway → OpenSSH sshd,
 * the sshd user's bash) typed with Tab completion, an OSC title in every prompt, a bracketed
 * paste, ^U, ^W, arrow-key edits and `q` quitting a full-screen pager gives the same command
 * list in the gateway's search hits, in the desktop player's index (main services) and in
 * `witness recordings commands` (the CLI), all three from shared/terminal/commandLine.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { registerRecordingCommands } from '../../gateway-client/cli/recordingCommands.ts';
import { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { scanRecording } from '../../main/services/recordings/recordingIndex.ts';
import { openShellScreen } from '../harness/shellScreen.ts';
import { describeWithSshd, type SshTestBed, startSshTestBed } from '../harness/sshd.ts';
import { waitFor } from '../harness/waitFor.ts';

describeWithSshd('the same command lines in search, the player and the CLI', () => {
  let bed: SshTestBed;
  let work: string;

  beforeAll(async () => {
    bed = await startSshTestBed();
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-commands-'));
  });
  afterAll(async () => {
    await bed?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('reconstructs tabs, paste, line edits and a pager the same way everywhere', async () => {
    const m = `kiwi${randomBytes(4).toString('hex')}`;
    const { sessionId, ticket } = await bed.newSession();
    const client = await bed.connect(sessionId, ticket);
    const { shell, screen, closed } = await openShellScreen(client, 120);
    /** Types `keys` and waits until the shell has echoed something after them. */
    const type = async (keys: string, until?: string) => {
      const before = screen().length;
      shell.write(keys);
      await waitFor(
        () => (until ? screen().slice(before).includes(until) : screen().length > before),
        `the echo of ${JSON.stringify(keys)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
    };
    await waitFor(() => /[$#] $/.test(screen()), 'the shell prompt');
    await type(`PROMPT_COMMAND='printf "\\e]0;T\\a"' #${m}\r`, '\u001b]0;T\u0007');
    await type('ech');
    await type('\t', 'o');
    await type(`tab-completed #${m}\r`, `tab-completed #${m}`);
    await type(`\u001b[200~echo pasted #${m}\u001b[201~`);
    await type('\r', 'pasted');
    await type(`rm -rf /tmp/nothing-${m}`);
    await type('\u0015');
    await type(`echo killed #${m}\r`, 'killed');
    await type('echo wrong word');
    await type('\u0017');
    await type(`right #${m}\r`, 'right');
    await type(`echo wrld #${m}`);
    for (let i = 0; i < m.length + 5; i++) await type('\u001b[D');
    await type('o');
    await type('\r', 'world');
    await type(`less /etc/hostname #${m}\r`, '\u001b[?1049h');
    await type('q', '\u001b[?1049l');
    await type(`exit #${m}\r`);
    await closed;
    client.end();

    const expected = [
      `PROMPT_COMMAND='printf "\\e]0;T\\a"' #${m}`,
      `echo tab-completed #${m}`,
      `echo pasted #${m}`,
      `echo killed #${m}`,
      `echo wrong right #${m}`,
      `echo world #${m}`,
      `less /etc/hostname #${m}`,
      `exit #${m}`,
    ];

    const services = bed.gw.gateway.services;
    await waitFor(async () => {
      const recording = await services.store.getRecording(sessionId);
      return recording && recording.status !== 'recording' ? recording : undefined;
    }, 'the recording to close');
    await services.textIndex.idle();

    // Search: every command line holds the marker.
    const response = await bed.gw.request('GET', `/v1/recordings/search?q=${m}`, {
      token: bed.engineerToken,
    });
    expect(response.status, response.text).toBe(200);
    const hits = (response.json.hits as { kind: string; snippet: string; seq: number }[])
      .filter((hit) => hit.kind === 'command')
      .sort((a, b) => a.seq - b.seq)
      .map((hit) => hit.snippet);
    expect(hits).toEqual(expected);

    // The CLI: `witness recordings commands SESSION --json`, against the same gateway.
    const gatewayClient = new GatewayClient(
      { baseUrl: bed.gw.gateway.apiUrl, caPem: services.keys.caPem },
      {
        tokens: () => ({ accessToken: bed.engineerToken, refreshToken: 'unused' }),
        tokensRefreshed: () => {},
      },
    );
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString('utf8');
    });
    const program = new Command().exitOverride();
    registerRecordingCommands(program, {
      stdout,
      stderr: new PassThrough(),
      withClient: (action) => action(gatewayClient),
      failure: (message) => new Error(message),
      usage: (message) => new Error(message),
    });
    await program.parseAsync(['recordings', 'commands', sessionId, '--json'], { from: 'user' });
    gatewayClient.close();
    const cli = JSON.parse(printed) as { commands: { text: string }[] };
    expect(cli.commands.map((line) => line.text)).toEqual(expected);

    // The desktop player's index of the downloaded recording.
    const download = await new GatewayClient(
      { baseUrl: bed.gw.gateway.apiUrl, caPem: services.keys.caPem },
      {
        tokens: () => ({ accessToken: bed.engineerToken, refreshToken: 'unused' }),
        tokensRefreshed: () => {},
      },
    ).downloadRecording(sessionId);
    const chunks: Buffer[] = [];
    for await (const chunk of download.body as AsyncIterable<Buffer>) chunks.push(chunk);
    const file = path.join(work, `${sessionId}.wrec`);
    writeFileSync(file, Buffer.concat(chunks));
    const index = await scanRecording(file);
    expect(index.commands.map((line) => line.text)).toEqual(expected);
  });
});
