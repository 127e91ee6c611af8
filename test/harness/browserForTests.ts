/**
 * A browser for sign-in flows without a browser (issue #18): follows redirects, keeps cookies
 * per origin, and submits the development login and consent forms of `oidc-provider` with a
 * login name. Enough for the OpenID flow; Chromium drives the desktop's own screen elsewhere.
 */
import http from 'node:http';
import https from 'node:https';

export interface BrowserVisit {
  /** Every URL the browser was sent to, in order. */
  visited: string[];
  /** The last answer: status and body. */
  status: number;
  body: string;
  location: string | null;
}

export class TestBrowser {
  private readonly cookies = new Map<string, Map<string, string>>();

  /** `ca`: the gateway's CA, trusted for https. */
  constructor(private readonly ca: string) {}

  /**
   * Opens `url`, follows redirects, and on the provider's pages signs in as `login` and
   * consents. Stops at a page that is neither (the client's loopback answer, an error).
   */
  async signIn(url: string, login: string, maxSteps = 20): Promise<BrowserVisit> {
    const visited: string[] = [];
    let next: { url: string; method: string; form?: Record<string, string> } = {
      url,
      method: 'GET',
    };
    for (let step = 0; step < maxSteps; step++) {
      visited.push(next.url);
      const answer = await this.fetch(next.url, next.method, next.form);
      if (answer.status >= 300 && answer.status < 400 && answer.location) {
        next = { url: new URL(answer.location, next.url).href, method: 'GET' };
        continue;
      }
      const form =
        /<form[^>]*action="([^"]+)"[^>]*method="post"[\s\S]*?name="prompt" value="(\w+)"/.exec(
          answer.body,
        );
      if (answer.status === 200 && form?.[1] && form[2]) {
        const action = new URL(form[1].replace(/&amp;/g, '&'), next.url).href;
        next =
          form[2] === 'login'
            ? { url: action, method: 'POST', form: { prompt: 'login', login, password: 'any' } }
            : { url: action, method: 'POST', form: { prompt: 'consent' } };
        continue;
      }
      return { visited, ...answer };
    }
    throw new Error(`the sign-in did not finish in ${maxSteps} steps: ${visited.join(' → ')}`);
  }

  /** One request with this browser's cookies; no redirect followed. */
  fetch(
    url: string,
    method = 'GET',
    form?: Record<string, string>,
  ): Promise<{ status: number; body: string; location: string | null }> {
    const target = new URL(url);
    const jar = this.jar(target.host);
    const payload = form ? new URLSearchParams(form).toString() : undefined;
    const headers: Record<string, string> = { accept: 'text/html' };
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (payload !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const transport = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(
        target,
        {
          method,
          headers,
          ...(target.protocol === 'https:' && { ca: this.ca, servername: 'localhost' }),
        },
        (response) => {
          for (const cookie of response.headers['set-cookie'] ?? []) {
            const [pair] = cookie.split(';');
            const at = pair?.indexOf('=') ?? -1;
            if (pair && at > 0) jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
          }
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              location: response.headers.location ?? null,
            }),
          );
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  private jar(host: string): Map<string, string> {
    let jar = this.cookies.get(host);
    if (!jar) {
      jar = new Map();
      this.cookies.set(host, jar);
    }
    return jar;
  }
}
