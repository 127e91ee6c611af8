/**
 * The ways native tools are told where a Witness database connection is: libpq's keyword/value
 * string (psql, pgbench, pgAdmin), a `postgresql://` URI, and a pgjdbc URL (DBeaver, IntelliJ,
 * any JDBC tool). Used for a `witness db login` certificate (issue #15, CLI and desktop) and for
 * a local tunnel (the desktop's tunnel panel), so the two and both clients write them alike.
 */
import type { DbCertificate } from '../shared/api/apiSchemas.ts';
import { conninfoValue } from './cli/conninfo.ts';

export interface ConnectionLines {
  /** libpq keyword/value string. */
  conninfo: string;
  /** A ready `psql "…"` command line. */
  psql: string;
  /** libpq URI (RFC 3986): what most GUI tools accept pasted whole. */
  uri: string;
  /** pgjdbc's URL. */
  jdbcUrl: string;
}

/** The files of one database certificate. */
export interface DbCertificateFiles {
  /** The private key, PEM PKCS#8 (libpq). */
  key: string;
  /** The same key as DER PKCS#8: pgjdbc reads no PEM key (its `sslkey` wants `.pk8`). */
  keyDer: string;
  cert: string;
  ca: string;
}

/**
 * The host a certificate connection names: the listener's published address, or the API's host
 * when the listener is bound to a wildcard (nobody connects to 0.0.0.0, and the gateway's
 * certificate names the API host, so verify-full passes).
 */
export function certificateHost(
  endpoint: NonNullable<DbCertificate['endpoint']>,
  gatewayUrl: string,
): string {
  const wildcard = endpoint.host === '0.0.0.0' || endpoint.host === '::' || endpoint.host === '';
  return wildcard ? new URL(gatewayUrl).hostname.replace(/^\[|\]$/g, '') : endpoint.host;
}

/** The libpq keyword/value string; the host is one the gateway's certificate names. */
export function connectionString(
  issued: Pick<DbCertificate, 'endpoint' | 'resource' | 'username'>,
  gatewayUrl: string,
  files: { key: string; cert: string; ca: string },
): string {
  const endpoint = issued.endpoint;
  if (!endpoint) throw new Error('no endpoint');
  return [
    `host=${conninfoValue(certificateHost(endpoint, gatewayUrl))}`,
    `port=${endpoint.port}`,
    `dbname=${conninfoValue(issued.resource.name)}`,
    `user=${conninfoValue(issued.username)}`,
    'sslmode=verify-full',
    `sslcert=${conninfoValue(files.cert)}`,
    `sslkey=${conninfoValue(files.key)}`,
    `sslrootcert=${conninfoValue(files.ca)}`,
  ].join(' ');
}

/** Every line for a certificate: straight to the gateway's listener, verify-full. */
export function certificateConnectionLines(
  issued: Pick<DbCertificate, 'endpoint' | 'resource' | 'username'>,
  gatewayUrl: string,
  files: DbCertificateFiles,
): ConnectionLines {
  const endpoint = issued.endpoint;
  if (!endpoint) throw new Error('no endpoint');
  const host = certificateHost(endpoint, gatewayUrl);
  const conninfo = connectionString(issued, gatewayUrl, files);
  const where = `${uriHost(host)}:${endpoint.port}/${encodeURIComponent(issued.resource.name)}`;
  return {
    conninfo,
    psql: `psql "${conninfo}"`,
    uri:
      `postgresql://${encodeURIComponent(issued.username)}@${where}` +
      query({
        sslmode: 'verify-full',
        sslcert: files.cert,
        sslkey: files.key,
        sslrootcert: files.ca,
      }),
    jdbcUrl:
      `jdbc:postgresql://${where}` +
      query({
        user: issued.username,
        sslmode: 'verify-full',
        sslcert: files.cert,
        sslkey: files.keyDer,
        sslrootcert: files.ca,
      }),
  };
}

/**
 * Every line for a local tunnel. No TLS (the tunnel answers SSLRequest 'N': the client is on
 * this machine; the leg to the gateway is TLS) and no password; the user name is ignored by
 * the tunnel (the gateway acts as the signed-in person) but JDBC tools insist on one.
 */
export function tunnelConnectionLines(tunnel: {
  host: string;
  port: number;
  database: string;
  username: string;
}): ConnectionLines {
  const conninfo = [
    `host=${conninfoValue(tunnel.host)}`,
    `port=${tunnel.port}`,
    `dbname=${conninfoValue(tunnel.database)}`,
    'sslmode=disable',
  ].join(' ');
  const where = `${uriHost(tunnel.host)}:${tunnel.port}/${encodeURIComponent(tunnel.database)}`;
  return {
    conninfo,
    psql: `psql "${conninfo}"`,
    uri: `postgresql://${encodeURIComponent(tunnel.username)}@${where}?sslmode=disable`,
    jdbcUrl: `jdbc:postgresql://${where}${query({ user: tunnel.username, sslmode: 'disable' })}`,
  };
}

function uriHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function query(parameters: Record<string, string>): string {
  return `?${Object.entries(parameters)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&')}`;
}
