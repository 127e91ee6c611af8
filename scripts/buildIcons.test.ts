/**
 * The app icon's generated files (issue #15): every size electron-builder, the Electron window
 * and the web host read exists, has the size its name says, and the config points at them. The
 * files are committed outputs of `npm run icons`, so this also catches an SVG edit that was not
 * re-rendered (the 1024 px PNG is compared with a fresh render).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
// @ts-expect-error: js-yaml ships no type declarations (only load() is used)
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];

/** Width and height from a PNG's IHDR chunk (bytes 16–23), after checking the signature. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  expect(bytes.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('app icon', () => {
  it.each(SIZES)('assets/icons/%ix%i.png is that size', (size) => {
    const png = readFileSync(path.join(root, 'assets', 'icons', `${size}x${size}.png`));
    expect(pngSize(png)).toEqual({ width: size, height: size });
  });

  it('assets/icon.png (the window icon) is 512×512', () => {
    expect(pngSize(readFileSync(path.join(root, 'assets', 'icon.png')))).toEqual({
      width: 512,
      height: 512,
    });
  });

  it('assets/icon.ico holds PNG entries up to 256×256', () => {
    const ico = readFileSync(path.join(root, 'assets', 'icon.ico'));
    // ICONDIR: reserved 0, type 1 (icon), then the entry count; each 16-byte entry's first
    // byte is the width, 0 meaning 256.
    expect(ico.readUInt16LE(0)).toBe(0);
    expect(ico.readUInt16LE(2)).toBe(1);
    const count = ico.readUInt16LE(4);
    const widths = Array.from({ length: count }, (_, i) => ico[6 + i * 16] || 256);
    expect(widths).toContain(16);
    expect(widths).toContain(32);
    expect(widths).toContain(256);
  });

  it('assets/icon.icns is an Apple icon family with a 1024 px (ic10) image', () => {
    const icns = readFileSync(path.join(root, 'assets', 'icon.icns'));
    expect(icns.subarray(0, 4).toString('ascii')).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
    const types: string[] = [];
    for (let at = 8; at < icns.length; at += icns.readUInt32BE(at + 4)) {
      types.push(icns.subarray(at, at + 4).toString('ascii'));
    }
    expect(types).toContain('ic10');
  });

  it('the committed PNGs are a render of the current assets/icon.svg', () => {
    const svg = readFileSync(path.join(root, 'assets', 'icon.svg'), 'utf8');
    const fresh = new Resvg(svg, { fitTo: { mode: 'width', value: 1024 } }).render().asPng();
    expect(
      Buffer.compare(fresh, readFileSync(path.join(root, 'assets', 'icons', '1024x1024.png'))),
    ).toBe(0);
    expect(readFileSync(path.join(root, 'renderer', 'public', 'favicon.svg'), 'utf8')).toBe(svg);
  });

  it('the window, the web host and the installers use them', () => {
    const config = yaml.load(readFileSync(path.join(root, 'electron-builder.yml'), 'utf8')) as {
      directories: { buildResources: string };
      files: string[];
      linux: { icon: string };
      mac: { icon: string };
      win: { icon: string };
    };
    expect(config.directories.buildResources).toBe('assets');
    expect(config.linux.icon).toBe('icons');
    expect(config.mac.icon).toBe('icon.icns');
    expect(config.win.icon).toBe('icon.ico');
    expect(config.files).toContain('assets/icon.png');
    expect(readFileSync(path.join(root, 'main', 'index.ts'), 'utf8')).toContain(
      "icon: path.join(appRoot, 'assets', 'icon.png')",
    );
    expect(readFileSync(path.join(root, 'renderer', 'index.html'), 'utf8')).toContain(
      'href="./favicon.svg"',
    );
  });
});
