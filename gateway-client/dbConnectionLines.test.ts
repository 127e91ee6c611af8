import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dbCertificateDir } from './dbCertificates/dbCertificateLogin.ts';
import {
  certificateConnectionLines,
  connectionString,
  tunnelConnectionLines,
} from './dbConnectionLines.ts';

const files = { key: '/h/k.key', cert: '/h/c.crt', ca: '/h/ca dir/ca.crt' };
const issued = {
  resource: { id: 'res_1', name: 'orders-db' },
  username: 'alice',
  endpoint: { protocol: 'postgres' as const, host: '127.0.0.1', port: 6432 },
};

describe('connectionString', () => {
  it('names the listener, the resource as dbname, the user and the three files, quoting paths', () => {
    expect(connectionString(issued, 'https://gw.example.com:8443', files)).toBe(
      "host=127.0.0.1 port=6432 dbname=orders-db user=alice sslmode=verify-full sslcert=/h/c.crt sslkey=/h/k.key sslrootcert='/h/ca dir/ca.crt'",
    );
  });

  it('uses the API host name when the listener is bound to every interface', () => {
    for (const host of ['0.0.0.0', '::']) {
      const wildcard = { ...issued, endpoint: { ...issued.endpoint, host } };
      expect(connectionString(wildcard, 'https://gw.example.com:8443', files)).toMatch(
        /^host=gw\.example\.com port=6432 /,
      );
      expect(connectionString(wildcard, 'https://[fd00::5]:8443', files)).toMatch(
        /^host=fd00::5 port=6432 /,
      );
    }
  });
});

describe('dbCertificateDir', () => {
  it('keeps gateways and resources apart, and makes odd names safe file names', () => {
    expect(dbCertificateDir('/p', 'https://127.0.0.1:8443', 'orders-db')).toBe(
      path.join('/p', 'db', '127.0.0.1_8443', 'orders-db'),
    );
    expect(dbCertificateDir('/p', 'https://gw:8443', '../etc')).toBe(
      path.join('/p', 'db', 'gw_8443', '_.._etc'),
    );
  });
});

describe('certificateConnectionLines', () => {
  it('gives a URI and a JDBC URL naming the same listener, user, database and files', () => {
    const lines = certificateConnectionLines(issued, 'https://gw.example.com:8443', {
      ...files,
      keyDer: '/h/k.pk8',
    });
    expect(lines.psql).toBe(`psql "${lines.conninfo}"`);
    expect(lines.uri).toBe(
      'postgresql://alice@127.0.0.1:6432/orders-db?sslmode=verify-full&sslcert=%2Fh%2Fc.crt&sslkey=%2Fh%2Fk.key&sslrootcert=%2Fh%2Fca%20dir%2Fca.crt',
    );
    // pgjdbc reads only a DER PKCS#8 key: the .pk8 file, not the PEM one.
    expect(lines.jdbcUrl).toBe(
      'jdbc:postgresql://127.0.0.1:6432/orders-db?user=alice&sslmode=verify-full&sslcert=%2Fh%2Fc.crt&sslkey=%2Fh%2Fk.pk8&sslrootcert=%2Fh%2Fca%20dir%2Fca.crt',
    );
    const url = new URL(lines.uri);
    expect(url.searchParams.get('sslrootcert')).toBe('/h/ca dir/ca.crt');
  });
});

describe('tunnelConnectionLines', () => {
  it('names the loopback port without TLS, and brackets an IPv6 host in URLs', () => {
    const lines = tunnelConnectionLines({
      host: '127.0.0.1',
      port: 15432,
      database: 'app db',
      username: 'alice',
    });
    expect(lines.psql).toBe(`psql "host=127.0.0.1 port=15432 dbname='app db' sslmode=disable"`);
    expect(lines.uri).toBe('postgresql://alice@127.0.0.1:15432/app%20db?sslmode=disable');
    expect(lines.jdbcUrl).toBe(
      'jdbc:postgresql://127.0.0.1:15432/app%20db?user=alice&sslmode=disable',
    );
    const v6 = tunnelConnectionLines({ host: '::1', port: 5, database: 'd', username: 'u' });
    expect(v6.uri).toBe('postgresql://u@[::1]:5/d?sslmode=disable');
  });
});
