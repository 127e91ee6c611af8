/** Parses `HOST:PORT` (IPv6 as `[::1]:PORT`); port 0 asks the OS for a free port. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new Error(
      `'${text}' is not HOST:PORT — for example 127.0.0.1:8443, or 127.0.0.1:0 for any free port`,
    );
  }
  return { host: (match[1] ?? match[2])!, port };
}
