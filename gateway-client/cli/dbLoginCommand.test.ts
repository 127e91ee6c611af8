import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionString, dbCertificateDir } from './dbLoginCommand.ts';

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
