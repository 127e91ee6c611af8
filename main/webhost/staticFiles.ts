/**
 * Serves the built renderer: regular files under one directory, GET and HEAD only, with the
 * security headers every response carries. Paths are resolved and must stay inside the root,
 * so `..`, encoded `%2e%2e`, backslashes and NUL bytes cannot reach anything else.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The CSP from issue #5. With a port (the web host) the WebSocket is named explicitly, because
 * `'self'` did not always cover ws:; without one (Electron's app:// pages) only 'self'.
 */
export function contentSecurityPolicy(port?: number): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    port === undefined ? "connect-src 'self'" : `connect-src 'self' ws://127.0.0.1:${port}`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function securityHeaders(port?: number): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(port),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}

export async function serveStatic(
  root: string,
  request: IncomingMessage,
  response: ServerResponse,
  port: number,
): Promise<void> {
  const headers = securityHeaders(port);
  const refuse = (status: number, text: string) => {
    response.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
    response.end(`${text}\n`);
  };
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    return refuse(405, 'Method not allowed');
  }
  const file = await resolveInside(root, request.url ?? '/');
  if (!file) return refuse(404, 'Not found');
  const type = contentTypes[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  const info = await stat(file);
  response.writeHead(200, { ...headers, 'content-type': type, 'content-length': info.size });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(file);
    stream.on('error', reject);
    response.on('close', () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(response);
  });
}

/** The regular file a URL names inside root (`/` → index.html), or null. Electron's app:// handler uses it too. */
export async function resolveInside(root: string, url: string): Promise<string | null> {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, 'http://host').pathname);
  } catch {
    return null; // malformed percent-encoding
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return null;
  if (pathname.endsWith('/')) pathname += 'index.html';
  const realRoot = await realpath(root).catch(() => null);
  if (!realRoot) return null;
  const candidate = path.resolve(realRoot, `.${pathname}`);
  // realpath also follows symlinks, so a link inside dist/ cannot point outside it.
  const real = await realpath(candidate).catch(() => null);
  if (!real || (real !== realRoot && !real.startsWith(realRoot + path.sep))) return null;
  const info = await stat(real).catch(() => null);
  return info?.isFile() ? real : null;
}
