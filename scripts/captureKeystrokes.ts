/**
 * Captures real keystroke streams for shared/terminal/fixtures: runs bash or zsh under a pty
 * (util-linux `script` allocates it), types each scenario's keys with pauses so the shell's
 * echo of one key arrives before the next, and saves what went in and what came out, in order,
 * as JSON. The tests replay those streams through the command-line reconstruction.
 *
 *   npx tsx scripts/captureKeystrokes.ts bash|zsh > shared/terminal/fixtures/<shell>.json
 *
 * Not run by the tests (a fixture must not change under them); rerun it when a shell's
 * behaviour worth covering changes. Shells run with no rc files, in a scratch HOME with a few
 * files to complete, so the captures do not depend on who runs this.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

interface Scenario {
  name: string;
  /** Pieces written one at a time, each followed by a pause for the echo. */
  keys: string[];
  /** The command lines the scenario entered, as bash executed them. */
  expected: string[];
  /** As zsh (no rc files) executed them, where it differs. */
  zsh?: string[];
}

const PASTE = (text: string) => `\u001b[200~${text}\u001b[201~`;
const LEFT = '\u001b[D';
const RIGHT = '\u001b[C';
const HOME = '\u001b[H';
const END = '\u001b[F';
const DELETE = '\u001b[3~';
const UP = '\u001b[A';

const scenarios: Scenario[] = [
  { name: 'plain', keys: ['echo hello\r'], expected: ['echo hello'] },
  {
    name: 'tab completes a file name',
    keys: ['cat zeb', '\t', '\r'],
    expected: ['cat zebra-notes.txt'],
  },
  {
    name: 'tab completes a command, then more is typed',
    keys: ['ech', '\t', 'b', '\r'],
    expected: ['echo b'],
    zsh: ['echob'],
  },
  {
    name: 'tab mid-line',
    keys: ['ls zeb -l', LEFT, LEFT, LEFT, '\t', '\r'],
    expected: ['ls zebra-notes.txt -l'],
  },
  {
    name: 'ambiguous tab twice lists, then typed',
    keys: ['ls alpha-', '\t', '\t', 'o', '\t', '\r'],
    expected: ['ls alpha-one/'],
    zsh: ['ls alpha-one/o'],
  },
  { name: 'backspace', keys: ['ehco', '\u007f\u007f\u007f', 'cho x\r'], expected: ['echo x'] },
  {
    name: 'ctrl-u after cursor moved',
    keys: ['rm -rf /tmp/x', '\u0015', 'echo safe\r'],
    expected: ['echo safe'],
  },
  {
    name: 'ctrl-w',
    keys: ['git push --force', '\u0017', 'origin\r'],
    expected: ['git push origin'],
  },
  {
    name: 'ctrl-a and ctrl-e',
    keys: ['cho one', '\u0001', 'e', '\u0005', ' two\r'],
    expected: ['echo one two'],
  },
  {
    name: 'ctrl-k',
    keys: ['echo keep drop', LEFT, LEFT, LEFT, LEFT, '\u000b', '\r'],
    expected: ['echo keep'],
  },
  {
    name: 'arrow edits',
    keys: ['echo wrld', LEFT, LEFT, LEFT, 'o', RIGHT, RIGHT, RIGHT, '!\r'],
    expected: ['echo world!'],
  },
  {
    name: 'home, end and delete',
    keys: ['xecho ab', HOME, DELETE, END, 'c\r'],
    expected: ['echo abc'],
    zsh: ['xecho ab~c'],
  },
  {
    name: 'bracketed paste',
    keys: [PASTE('echo pasted\ttab'), '\r'],
    expected: ['echo pasted   tab'],
  },
  {
    name: 'ctrl-u mid-line',
    keys: ['echo drop keep', LEFT, LEFT, LEFT, LEFT, '\u0015', '\r'],
    expected: ['keep'],
    zsh: [],
  },
  {
    name: 'long line wraps',
    keys: [`echo ${'x'.repeat(90)}`, '\r'],
    expected: [`echo ${'x'.repeat(90)}`],
  },
  {
    name: 'history recall',
    keys: ['echo first\r', UP, '\r'],
    expected: ['echo first', 'echo first'],
  },
  { name: 'ctrl-c abandons', keys: ['sleep 100', '\u0003', 'true\r'], expected: ['true'] },
  {
    name: 'pager quit with q',
    keys: ['less zebra-notes.txt\r', 'q', 'echo after\r'],
    expected: ['less zebra-notes.txt', 'echo after'],
  },
];

const shell = process.argv[2];
if (shell !== 'bash' && shell !== 'zsh') {
  process.stderr.write('usage: captureKeystrokes.ts bash|zsh\n');
  process.exit(2);
}

const scratch = mkdtempSync(path.join(tmpdir(), 'witness-keys-'));
// A fixed name: the prompt's title sequence shows the directory, and fixtures should not vary.
const home = path.join(scratch, 'home');
mkdirSync(home);
writeFileSync(path.join(home, 'zebra-notes.txt'), `${'a line of notes\n'.repeat(60)}`);
for (const dir of ['alpha-one', 'alpha-two']) mkdirSync(path.join(home, dir));
writeFileSync(path.join(home, 'alphabet.txt'), 'abc\n');

const shellCommand =
  shell === 'bash'
    ? 'stty cols 80 rows 24; PS1=\'$ \' PROMPT_COMMAND=\'printf "\\033]0;%s\\007" "$PWD"\' exec bash --norc --noprofile -i'
    : "stty cols 80 rows 24; PS1='%% ' exec zsh -f -i";

const child = spawn('script', ['-q', '-c', shellCommand, '/dev/null'], {
  cwd: home,
  env: { HOME: home, TERM: 'xterm-256color', PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
  stdio: ['pipe', 'pipe', 'inherit'],
});

type Event = ['i' | 'o', string];
let events: Event[] = [];
child.stdout.on('data', (chunk: Buffer) => events.push(['o', chunk.toString('latin1')]));

async function settle(): Promise<void> {
  // Waits until the shell has been quiet for a while: its echo is complete.
  let seen = -1;
  while (seen !== events.length) {
    seen = events.length;
    await sleep(250);
  }
}

const results: { name: string; expected: string[]; events: Event[] }[] = [];
await settle();
for (const scenario of scenarios) {
  // Each scenario starts with the output since the previous one's last key: the prompt.
  const lastKey = events.map(([direction]) => direction).lastIndexOf('i');
  events = events.slice(lastKey + 1);
  for (const key of scenario.keys) {
    events.push(['i', key]);
    child.stdin.write(Buffer.from(key, 'utf8'));
    await settle();
  }
  const expected = shell === 'zsh' && scenario.zsh ? scenario.zsh : scenario.expected;
  results.push({ name: scenario.name, expected, events });
}
child.stdin.write('exit\r');
await new Promise((resolve) => child.on('close', resolve));
rmSync(scratch, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({ shell, note: 'strings are bytes as latin1', scenarios: results }, null, 1)}\n`,
);
