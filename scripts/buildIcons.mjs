#!/usr/bin/env node
/**
 * `npm run icons`: renders assets/icon.svg (the one drawing of the app icon) into every file the
 * window, the web host and the installers read (issue #15):
 *   assets/icons/NxN.png  16…1024, electron-builder's Linux icon set (its `linux.icon` folder)
 *   assets/icon.png       512×512, the Electron window's icon and the generic fallback
 *   assets/icon.ico       Windows (nsis) — PNG-compressed entries, 16…256
 *   assets/icon.icns      macOS (dmg)
 *   renderer/public/favicon.svg + favicon.png  the web host's tab icon
 * The outputs are committed, so a build needs neither resvg nor png2icons; run this again after
 * editing the SVG.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import png2icons from 'png2icons';

export const ICON_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];

const root = path.resolve(import.meta.dirname, '..');
const assets = path.join(root, 'assets');

/** Rasterized from the vector at each size rather than scaled down, so 16 px stays sharp. */
function render(svg, size) {
  return new Resvg(svg, { fitTo: { mode: 'width', value: size } }).render().asPng();
}

function main() {
  const svg = readFileSync(path.join(assets, 'icon.svg'), 'utf8');
  mkdirSync(path.join(assets, 'icons'), { recursive: true });
  const pngs = new Map();
  for (const size of ICON_SIZES) {
    const png = render(svg, size);
    pngs.set(size, png);
    writeFileSync(path.join(assets, 'icons', `${size}x${size}.png`), png);
  }
  writeFileSync(path.join(assets, 'icon.png'), pngs.get(512));
  // png2icons scales the one large source down to each entry's size.
  const ico = png2icons.createICO(pngs.get(1024), png2icons.BICUBIC2, 0, true, true);
  const icns = png2icons.createICNS(pngs.get(1024), png2icons.BICUBIC2, 0);
  if (!ico || !icns) throw new Error('png2icons could not convert assets/icon.png');
  writeFileSync(path.join(assets, 'icon.ico'), ico);
  writeFileSync(path.join(assets, 'icon.icns'), icns);
  const publicDir = path.join(root, 'renderer', 'public');
  copyFileSync(path.join(assets, 'icon.svg'), path.join(publicDir, 'favicon.svg'));
  writeFileSync(path.join(publicDir, 'favicon.png'), pngs.get(64));
  console.log(`icons: ${ICON_SIZES.length} PNG sizes, icon.png, icon.ico, icon.icns, favicon`);
}

main();
