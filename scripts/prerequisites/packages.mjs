/**
 * What the test suite needs from the system that npm cannot ship: one list, used by `npm test`
 * (pretest) and by .ci/run. Each entry names its Debian package, why the suite needs it, and
 * how to tell it is there without asking dpkg (a file, or commands on PATH), so the check also
 * works where the program came from somewhere else.
 */
export const TEST_PREREQUISITES = [
  {
    pkg: 'postgresql-15',
    why: 'a real PostgreSQL 15 for the store contract, API, proxy and demo-target tests',
    has: { file: '/usr/lib/postgresql/15/bin/postgres' },
  },
  {
    pkg: 'postgresql-client-15',
    why: 'psql, which the PostgreSQL proxy tests drive',
    has: { file: '/usr/lib/postgresql/15/bin/psql' },
  },
  {
    pkg: 'openssh-server',
    why: 'real sshd targets for the SSH proxy, terminal and demo-target tests',
    has: { file: '/usr/sbin/sshd' },
  },
  {
    pkg: 'openssh-client',
    why: 'ssh, sftp and ssh-keygen: the OpenSSH client tests and host-key fingerprints',
    has: { commands: ['ssh', 'sftp', 'ssh-keygen'] },
  },
  {
    pkg: 'haproxy',
    why: 'the load balancer in front of two gateway replicas (replicas test, issue #17)',
    has: { file: '/usr/sbin/haproxy' },
  },
  {
    pkg: 'chromium',
    why: 'the desktop e2e and renderer tests drive the web host in it (playwright-core)',
    has: { file: '/usr/bin/chromium' },
  },
  {
    pkg: 'gnome-keyring',
    why: 'a real Secret Service for the keytar tests',
    has: { commands: ['gnome-keyring-daemon'] },
  },
  {
    pkg: 'dbus-x11',
    why: 'a private D-Bus session (dbus-run-session, dbus-launch) for the keyring',
    has: { commands: ['dbus-run-session', 'dbus-launch'] },
  },
  {
    pkg: 'libsecret-1-dev',
    why: 'keytar (npm) builds its native module against it',
    has: { file: '/usr/include/libsecret-1/libsecret/secret.h' },
  },
  {
    pkg: 'asciinema',
    why: 'the exported .cast files are played by the real asciinema',
    has: { commands: ['asciinema'] },
  },
  {
    pkg: 'bsdutils',
    why: 'script, which gives asciinema and the CLI tests a pseudo-terminal',
    has: { commands: ['script'] },
  },
  {
    pkg: 'openssl',
    why: 'the test PKI fixtures make throwaway certificate authorities with it',
    has: { commands: ['openssl'] },
  },
  {
    pkg: 'python3',
    why: 'node-gyp, which builds the native npm modules (better-sqlite3, keytar)',
    has: { commands: ['python3'] },
  },
  { pkg: 'make', why: 'node-gyp builds', has: { commands: ['make'] } },
  { pkg: 'g++', why: 'node-gyp builds', has: { commands: ['g++'] } },
  {
    pkg: 'ca-certificates',
    why: 'TLS to the package registries',
    has: { file: '/etc/ssl/certs/ca-certificates.crt' },
  },
];
