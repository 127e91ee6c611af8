import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_PREREQUISITES } from './packages.mjs';
import { missingPrerequisites, planPrerequisites } from './plan.mjs';

const postgres = { pkg: 'postgresql-15', has: { file: '/usr/lib/postgresql/15/bin/postgres' } };
const openssh = { pkg: 'openssh-client', has: { commands: ['ssh', 'sftp', 'ssh-keygen'] } };

describe('which prerequisites are missing', () => {
  it('a missing file, or any one missing command, makes the package missing', () => {
    const probe = (files: string[], commands: string[]) => ({
      fileExists: (file: string) => files.includes(file),
      onPath: (command: string) => commands.includes(command),
    });
    const all = probe(['/usr/lib/postgresql/15/bin/postgres'], ['ssh', 'sftp', 'ssh-keygen']);
    expect(missingPrerequisites([postgres, openssh], all)).toEqual([]);
    expect(missingPrerequisites([postgres, openssh], probe([], ['ssh', 'ssh-keygen']))).toEqual([
      postgres,
      openssh,
    ]);
  });

  it('the real list names a Debian package, a reason and a probe for each', () => {
    for (const p of TEST_PREREQUISITES) {
      expect(p.pkg).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
      expect(p.why.length).toBeGreaterThan(5);
      expect(p.has.file !== undefined || (p.has.commands ?? []).length > 0).toBe(true);
    }
    expect(TEST_PREREQUISITES.map((p) => p.pkg)).toEqual(
      expect.arrayContaining(['postgresql-15', 'openssh-server', 'chromium', 'gnome-keyring']),
    );
  });
});

describe('what to do about them', () => {
  it('nothing when nothing is missing', () => {
    expect(planPrerequisites([], { isRoot: true, hasAptGet: true })).toEqual({ action: 'none' });
  });

  it('as root with apt-get: update, then install each missing package once', () => {
    expect(
      planPrerequisites([postgres, openssh, openssh], { isRoot: true, hasAptGet: true }),
    ).toEqual({
      action: 'install',
      packages: ['postgresql-15', 'openssh-client'],
      commands: [
        ['apt-get', 'update', '-q'],
        [
          'apt-get',
          'install',
          '-y',
          '-q',
          '--no-install-recommends',
          'postgresql-15',
          'openssh-client',
        ],
      ],
    });
  });

  it('not root: installs nothing and gives the one command that does', () => {
    expect(planPrerequisites([postgres, openssh], { isRoot: false, hasAptGet: true })).toEqual({
      action: 'instruct',
      packages: ['postgresql-15', 'openssh-client'],
      command: 'sudo apt-get install -y -q --no-install-recommends postgresql-15 openssh-client',
    });
  });

  it('no apt-get (not Debian), even as root: names the Debian packages to find equivalents of', () => {
    const plan = planPrerequisites([postgres], { isRoot: true, hasAptGet: false });
    expect(plan).toMatchObject({ action: 'instruct', packages: ['postgresql-15'] });
    expect(plan.action === 'instruct' && plan.command).toContain('postgresql-15');
  });

  it('the script fails, listing what is missing and why, when it cannot install', () => {
    // A PATH with node alone: no apt-get, no ssh, no asciinema.
    const bin = mkdtempSync(path.join(os.tmpdir(), 'witness-prereq-'));
    try {
      symlinkSync(process.execPath, path.join(bin, 'node'));
      const script = path.resolve(import.meta.dirname, '..', 'testPrerequisites.mjs');
      const run = spawnSync(path.join(bin, 'node'), [script], {
        encoding: 'utf8',
        env: { PATH: bin },
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('openssh-client: ssh, sftp and ssh-keygen');
      expect(run.stderr).toMatch(/install the equivalents of these Debian packages: .*asciinema/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
