/**
 * `witness login URL --sso [provider]` (issue #18): which provider, and how the sign-in URL
 * reaches the person (the system browser, and always printed, for a browser elsewhere).
 */
import { spawn } from 'node:child_process';

export class SsoChoiceError extends Error {
  override readonly name = 'SsoChoiceError';
}

/** The provider named, or the gateway's only one; otherwise says which there are. */
export function chooseProvider(
  named: string | undefined,
  offered: { name: string; displayName: string }[],
): string {
  const list = offered.map((p) => `${p.name} (${p.displayName})`).join(', ');
  if (offered.length === 0) {
    throw new SsoChoiceError(
      'This gateway has no identity provider configured — sign in with a password, or ask an admin to add one.',
    );
  }
  if (named !== undefined) {
    if (offered.some((p) => p.name === named)) return named;
    throw new SsoChoiceError(
      `The gateway has no identity provider named ${named}; it has: ${list}.`,
    );
  }
  const [only] = offered;
  if (offered.length === 1 && only) return only.name;
  throw new SsoChoiceError(
    `This gateway has several identity providers: ${list}. Name one: --sso NAME.`,
  );
}

/** Opens `url` in the desktop's browser; a failure is left to the printed URL. */
export function openInSystemBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '""', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(command, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // No browser launcher here (a server, a container): the URL is printed.
  }
}
