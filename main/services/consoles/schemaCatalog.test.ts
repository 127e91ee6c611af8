import { describe, expect, it } from 'vitest';
import { groupCatalog } from './schemaCatalog.ts';

describe('groupCatalog', () => {
  it('groups columns under their table and schema, keeping their order', () => {
    const catalog = groupCatalog([
      { s: 'public', t: 'orders', c: 'id' },
      { s: 'public', t: 'orders', c: 'total' },
      { s: 'public', t: 'people', c: 'email' },
      { s: 'sales', t: 'orders', c: 'region' },
    ]);
    expect(catalog).toEqual({
      schemas: [
        {
          name: 'public',
          tables: [
            { name: 'orders', columns: ['id', 'total'] },
            { name: 'people', columns: ['email'] },
          ],
        },
        { name: 'sales', tables: [{ name: 'orders', columns: ['region'] }] },
      ],
    });
  });
});
