import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { outsideAsar } from './asarPaths.ts';

describe('outsideAsar', () => {
  it('maps a file inside app.asar to app.asar.unpacked, and leaves others alone', () => {
    const packaged = path.join('/opt', 'Witness', 'resources', 'app.asar', 'dist', 'main', 'w.mjs');
    expect(outsideAsar(packaged)).toBe(
      path.join('/opt', 'Witness', 'resources', 'app.asar.unpacked', 'dist', 'main', 'w.mjs'),
    );
    const checkout = path.join('/work', 'witness', 'dist', 'main', 'w.mjs');
    expect(outsideAsar(checkout)).toBe(checkout);
  });
});
