/**
 * Issue #6 end to end on the gateway: a real SSH session (ssh2 client → gateway → OpenSSH
 * sshd) where a command is typed with a typo corrected by Backspace; once the session ends,
 * searching for the command's words finds the command line as typed-and-corrected, at the
 * moment it was entered, and its output — through the index the recorder fed, not a scan.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openShellScreen } from '../harness/shellScreen.ts';
import { describeWithSshd, type SshTestBed, startSshTestBed } from '../harness/sshd.ts';
import { waitFor } from '../harness/waitFor.ts';

describeWithSshd('search finds what was typed in a real SSH session', () => {
  let bed: SshTestBed;

  beforeAll(async () => {
    bed = await startSshTestBed();
  });
  afterAll(async () => {
    await bed?.close();
  });

  it('indexes the corrected command line and its output, found by the engineer and auditors', async () => {
    const marker = `zebra${randomBytes(4).toString('hex')}`;
    const { sessionId, ticket } = await bed.newSession();
    const client = await bed.connect(sessionId, ticket);
    const { shell, screen, closed } = await openShellScreen(client, 80);
    // A prompt first, so the keys go to the shell's line editor.
    await waitFor(() => /[$#] $/.test(screen()), 'the shell prompt');
    // Typo "ehco", fixed with four Backspaces (DEL, as a terminal sends it).
    shell.write('ehco');
    shell.write('\u007f\u007f\u007f\u007f');
    shell.write(`echo found-${marker} | tr a-z A-Z\r`);
    await waitFor(() => screen().includes(`FOUND-${marker.toUpperCase()}`), 'the command output');
    shell.write('exit\r');
    await closed;
    client.end();

    const services = bed.gw.gateway.services;
    const row = await waitFor(async () => {
      const recording = await services.store.getRecording(sessionId);
      return recording && recording.status !== 'recording' ? recording : undefined;
    }, 'the recording to close');
    await services.textIndex.idle();

    const search = async (token: string, q: string) => {
      const response = await bed.gw.request(
        'GET',
        `/v1/recordings/search?q=${encodeURIComponent(q)}`,
        { token },
      );
      expect(response.status, response.text).toBe(200);
      return response.json.hits as {
        sessionId: string;
        kind: string;
        snippet: string;
        t: number;
        seq: number;
        highlights: [number, number][];
      }[];
    };

    const commands = (await search(bed.engineerToken, `found-${marker}`)).filter(
      (hit) => hit.kind === 'command',
    );
    expect(commands).toHaveLength(1);
    const [command] = commands;
    expect(command?.sessionId).toBe(sessionId);
    expect(command?.snippet).toBe(`echo found-${marker} | tr a-z A-Z`);
    expect(command?.highlights.map(([from, to]) => command.snippet.slice(from, to))).toEqual([
      'found',
      marker,
    ]);
    expect(command?.t).toBeGreaterThanOrEqual(0);
    expect(command?.seq).toBeLessThanOrEqual(row.frames);
    // The typo never ran, and the shell erased its echo (backspaces in later frames).
    expect((await search(bed.engineerToken, 'ehco')).map((h) => [h.kind, h.snippet])).toEqual([]);

    // The shell's output, upper-cased by tr, is found too (the echo of the typed line as well).
    const output = (await search(bed.adminToken, marker)).filter((hit) => hit.kind === 'output');
    expect(output.some((hit) => hit.snippet.includes(`FOUND-${marker.toUpperCase()}`))).toBe(true);
  });
});
