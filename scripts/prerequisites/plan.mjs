/**
 * The decision, apart from the probing and the installing so it can be tested: given what is
 * missing and where we run, what to do.
 * - nothing missing: nothing;
 * - root on a machine with apt-get: install the missing packages (update first);
 * - otherwise: fail, printing the one command that installs them.
 */
const APT_INSTALL = ['apt-get', 'install', '-y', '-q', '--no-install-recommends'];

/**
 * @param {{ pkg: string }[]} missing the prerequisites not found
 * @param {{ isRoot: boolean, hasAptGet: boolean }} where
 * @returns {{ action: 'none' } |
 *   { action: 'install', packages: string[], commands: string[][] } |
 *   { action: 'instruct', packages: string[], command: string }}
 */
export function planPrerequisites(missing, { isRoot, hasAptGet }) {
  const packages = [...new Set(missing.map((m) => m.pkg))];
  if (packages.length === 0) return { action: 'none' };
  if (isRoot && hasAptGet) {
    return {
      action: 'install',
      packages,
      commands: [
        ['apt-get', 'update', '-q'],
        [...APT_INSTALL, ...packages],
      ],
    };
  }
  const command = hasAptGet
    ? ['sudo', ...APT_INSTALL, ...packages].join(' ')
    : `install the equivalents of these Debian packages: ${packages.join(' ')}`;
  return { action: 'instruct', packages, command };
}

/**
 * Which prerequisites are missing, given a probe for files and one for commands on PATH.
 * @template {{ has: { file?: string, commands?: string[] } }} P
 * @param {P[]} prerequisites
 * @param {{ fileExists: (path: string) => boolean, onPath: (command: string) => boolean }} probe
 * @returns {P[]}
 */
export function missingPrerequisites(prerequisites, probe) {
  return prerequisites.filter(
    ({ has }) =>
      (has.file !== undefined && !probe.fileExists(has.file)) ||
      (has.commands ?? []).some((command) => !probe.onPath(command)),
  );
}
