import path from 'node:path';

/**
 * Where electron-builder put a file listed in `asarUnpack` (electron-builder.yml): the same path
 * with app.asar → app.asar.unpacked. Child processes and worker threads read such files from
 * disk; outside a packaged app the path is returned unchanged.
 */
export function outsideAsar(file: string): string {
  return file.replace(`${path.sep}app.asar${path.sep}`, `${path.sep}app.asar.unpacked${path.sep}`);
}
