/**
 * Builds the renderer into dist/renderer. `base: './'` makes every asset URL relative, so the
 * same build loads from file:// in Electron and from the web host's http://127.0.0.1:PORT/.
 */
import path from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const rendererRoot = import.meta.dirname;

export default defineConfig(({ command, mode }) => ({
  root: rendererRoot,
  base: './',
  plugins: [react()],
  // A production build is React's production build even when NODE_ENV says otherwise: vitest
  // sets it to 'test' in the tests that build the renderer, which would otherwise get React's
  // development build (StrictMode double effects, dev JSX runtime, slower) unlike users.
  ...(command === 'build' && mode === 'production'
    ? {
        define: { 'process.env.NODE_ENV': JSON.stringify('production') },
        oxc: { jsx: { development: false } },
      }
    : {}),
  build: {
    outDir: path.resolve(rendererRoot, '../dist/renderer'),
    emptyOutDir: true,
    // Electron 45 ships Chromium 140; Debian's Chromium is newer. No legacy transforms needed.
    target: 'chrome120',
    // No inline <script>, no eval: the app runs under script-src 'self' (issue #5).
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
}));
