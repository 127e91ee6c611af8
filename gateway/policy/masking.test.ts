import { describe, expect, it } from 'vitest';
import type { MaskingRule } from '../../shared/api/apiSchemas.ts';
import {
  BUILTIN_TYPE_OIDS,
  compileMasking,
  passesLuhn,
  type ResultColumn,
  typeOidsForName,
} from './masking.ts';

const TEXT = 25;
const VARCHAR = 1043;
const INT4 = 23;
const INT8 = 20;
const JSON_OID = 114;
const JSONB = 3802;
const TEXT_ARRAY = 1009;
const TIMESTAMPTZ = 1184;
const BYTEA = 17;

const buf = (text: string) => Buffer.from(text, 'utf8');
const str = (value: Buffer | null | undefined) => (value == null ? value : value.toString('utf8'));

/** Masks one value of one column under the given rules; returns the text (or null). */
function maskOne(
  rules: MaskingRule[],
  value: string | Buffer | null,
  column: Partial<ResultColumn> = {},
): string | null | undefined {
  const masker = compileMasking(rules);
  const plan = masker.forColumns([{ name: 'c', typeOid: TEXT, format: 0, ...column }]);
  const input = typeof value === 'string' ? buf(value) : value;
  return str(masker.maskRow(plan, [input]).values[0]);
}

const email = (style: 'full' | 'partial' = 'full'): MaskingRule => ({
  name: 'email',
  match: { kind: 'preset', preset: 'email' },
  style,
});
const card = (style: 'full' | 'partial' = 'full'): MaskingRule => ({
  name: 'card',
  match: { kind: 'preset', preset: 'card' },
  style,
});
const phone = (style: 'full' | 'partial' = 'full'): MaskingRule => ({
  name: 'phone',
  match: { kind: 'preset', preset: 'phone' },
  style,
});

describe('built-in types', () => {
  it('knows the common OIDs', () => {
    expect(Object.fromEntries(BUILTIN_TYPE_OIDS)).toMatchObject({
      bool: 16,
      bytea: 17,
      name: 19,
      int8: 20,
      int2: 21,
      int4: 23,
      text: 25,
      json: 114,
      float4: 700,
      float8: 701,
      inet: 869,
      bpchar: 1042,
      varchar: 1043,
      date: 1082,
      timestamp: 1114,
      timestamptz: 1184,
      numeric: 1700,
      uuid: 2950,
      jsonb: 3802,
      _text: 1009,
      _varchar: 1015,
      _int4: 1007,
      _jsonb: 3807,
    });
  });

  it.each([
    ['text', [25]],
    ['TEXT', [25]],
    ['varchar', [1043]],
    ['character varying(255)', [1043]],
    ['pg_catalog.int4', [23]],
    ['integer', [23]],
    ['bigint', [20]],
    ['double precision', [701]],
    ['numeric(10, 2)', [1700]],
    ['timestamp(3) with time zone', [1184]],
    ['timestamptz', [1184]],
    ['boolean', [16]],
    ['text[]', [1009]],
    ['int[]', [1007]],
    ['_text', [1009]],
    ['jsonb[][]', [3807]],
    ['char', [1042, 18]],
    ['"char"', [18]],
    ['citext', []],
    ['no_such_type', []],
  ])('resolves %j to %j', (name, oids) => {
    expect(typeOidsForName(name)).toEqual(oids);
  });

  it('reports type names it cannot resolve', () => {
    const masker = compileMasking([
      { name: 't', match: { kind: 'type', types: ['text', 'citext', 'my_enum'] }, style: 'full' },
    ]);
    expect(masker.unknownTypeNames).toEqual(['citext', 'my_enum']);
  });
});

describe('column and type rules', () => {
  const ssn = (style: 'full' | 'partial'): MaskingRule => ({
    name: 'ssn',
    match: { kind: 'column', pattern: '^(ssn|tax_id)$' },
    style,
  });

  it('replaces text values with **** (full)', () => {
    expect(maskOne([ssn('full')], '123-45-6789', { name: 'SSN' })).toBe('****');
  });

  it('keeps the last four characters (partial) only when eight or more exist', () => {
    expect(maskOne([ssn('partial')], '123-45-6789', { name: 'ssn' })).toBe('****6789');
    expect(maskOne([ssn('partial')], '1234567', { name: 'ssn' })).toBe('****');
    // Code points, not UTF-16 units: the kept tail stays valid UTF-8.
    expect(maskOne([ssn('partial')], 'ab😀😀😀😀😀x', { name: 'ssn' })).toBe('****😀😀😀x');
  });

  it('leaves other columns alone', () => {
    expect(maskOne([ssn('full')], '123-45-6789', { name: 'ssn_hint' })).toBe('123-45-6789');
  });

  it('turns non-text types into NULL rather than a value the client cannot parse', () => {
    for (const typeOid of [INT4, INT8, TIMESTAMPTZ, BYTEA, TEXT_ARRAY, 2950, 1700]) {
      expect(maskOne([ssn('full')], '123456789', { name: 'ssn', typeOid })).toBeNull();
      expect(
        maskOne([ssn('full')], Buffer.from([0, 0, 0, 1]), { name: 'ssn', typeOid, format: 1 }),
      ).toBeNull();
    }
  });

  it('gives json and jsonb a JSON string, in text and binary formats', () => {
    const rules = [ssn('partial')];
    expect(maskOne(rules, '{"a": 1}', { name: 'ssn', typeOid: JSON_OID })).toBe('"****"');
    expect(maskOne(rules, '{"a": 1}', { name: 'ssn', typeOid: JSON_OID, format: 1 })).toBe(
      '"****"',
    );
    expect(maskOne(rules, '{"a": 1}', { name: 'ssn', typeOid: JSONB })).toBe('"****"');
    const binary = maskOne(rules, Buffer.from('\x01{"a": 1}'), {
      name: 'ssn',
      typeOid: JSONB,
      format: 1,
    });
    expect(binary).toBe('\x01"****"');
  });

  it('masks binary-format text columns too (their bytes are the text)', () => {
    expect(
      maskOne([ssn('full')], '123-45-6789', { name: 'ssn', typeOid: VARCHAR, format: 1 }),
    ).toBe('****');
  });

  it('matches type rules by OID', () => {
    const rules: MaskingRule[] = [
      { name: 'strings', match: { kind: 'type', types: ['character varying'] }, style: 'full' },
    ];
    expect(maskOne(rules, 'secret', { typeOid: VARCHAR })).toBe('****');
    expect(maskOne(rules, 'secret', { typeOid: TEXT })).toBe('secret');
  });

  it('lets the first matching rule decide', () => {
    const rules: MaskingRule[] = [
      { name: 'first', match: { kind: 'type', types: ['text'] }, style: 'partial' },
      { name: 'second', match: { kind: 'column', pattern: '.' }, style: 'full' },
    ];
    const plan = compileMasking(rules).forColumns([{ name: 'x', typeOid: TEXT, format: 0 }]);
    expect(plan.columns[0]).toMatchObject({ kind: 'replace', rule: 'first', style: 'partial' });
  });

  it('keeps NULL as NULL', () => {
    expect(maskOne([ssn('full')], null, { name: 'ssn' })).toBeNull();
    expect(maskOne([email()], null)).toBeNull();
  });
});

describe('value preset: email', () => {
  it('masks addresses inside text (full)', () => {
    expect(maskOne([email()], 'bob.smith+tag@mail.example.co.uk')).toBe('****');
    expect(maskOne([email()], 'Write to a@b.io, or C_D@e-f.org.')).toBe('Write to ****, or ****.');
  });

  it('keeps a shape hint (partial): first character and top-level domain', () => {
    expect(maskOne([email('partial')], 'alice@example.com')).toBe('a***@***.com');
    expect(maskOne([email('partial')], 'émile@exemple.fr')).toBe('é***@***.fr');
  });

  it.each(['user@localhost', 'a@b.c', '@example.com', 'no at sign', 'x@.com', 'price 5@3'])(
    'does not mask %j',
    (value) => {
      expect(maskOne([email()], value)).toBe(value);
    },
  );
});

describe('value preset: card number', () => {
  it.each([
    ['4111111111111111', '****1111'],
    ['4111 1111 1111 1111', '****1111'],
    ['4111-1111-1111-1111', '****1111'],
    ['378282246310005', '****0005'], // Amex, 15 digits
    ['3782 822463 10005', '****0005'], // Amex grouping 4-6-5
    ['6011000990139424', '****9424'],
    ['4222222222222', '****2222'], // 13 digits
    ['paid with 5555555555554444 on 2024-01-15', 'paid with ****4444 on 2024-01-15'],
    ['4111 1111 1111 1111 2024', '****1111 2024'],
  ])('masks %j (partial) as %j', (value, masked) => {
    expect(maskOne([card('partial')], value)).toBe(masked);
  });

  it('masks fully with the full style', () => {
    expect(maskOne([card('full')], 'card: 4111 1111 1111 1111.')).toBe('card: ****.');
  });

  it.each([
    '4111111111111112', // fails Luhn
    '411111111111', // 12 digits
    '41111111111111111111', // 20 digits in one run: some other number
    '12345678-1234-1234-1234-123456789012', // an all-digit UUID is not card-shaped
    '4111 11111111 1111', // not a card grouping
  ])('does not mask %j', (value) => {
    expect(maskOne([card()], value)).toBe(value);
  });

  it('implements Luhn', () => {
    expect(passesLuhn('79927398713')).toBe(true);
    expect(passesLuhn('79927398710')).toBe(false);
  });
});

describe('value preset: phone', () => {
  it.each([
    ['+14155552671', '****2671'],
    ['+44 20 7946 0958', '****0958'],
    ['+44 (0)20 7946 0958', '****0958'],
    ['+1 (555) 201-0199', '****0199'],
    ['+31 6 12345678', '****5678'],
    ['(555) 201-0199', '****0199'],
    ['555-201-0199', '****0199'],
    ['1.555.201.0199', '****0199'],
    ['020 7946 0958', '****0958'],
    ['06-12345678', '****5678'],
    ['0612345678', '****5678'],
    ['call 555-201-0199 today', 'call ****0199 today'],
  ])('masks %j (partial) as %j', (value, masked) => {
    expect(maskOne([phone('partial')], value)).toBe(masked);
  });

  it('masks fully with the full style', () => {
    expect(maskOne([phone()], 'tel: +44 20 7946 0958')).toBe('tel: ****');
  });

  it.each([
    '2024-01-15',
    '2024-01-15 10:30:00+00',
    '192.168.100.200',
    'version 1.2.3',
    '0000012345',
    'order 1234567',
    '+1234567', // too short for E.164
    '+1234567890123456', // 16 digits: too long for E.164
    '123-456-7890', // no North American area code starts with 1
    '01-02-2024 12:30',
  ])('does not mask %j', (value) => {
    expect(maskOne([phone()], value)).toBe(value);
  });
});

describe('value pattern rules', () => {
  const employeeId = (style: 'full' | 'partial'): MaskingRule => ({
    name: 'employee-id',
    match: { kind: 'value', pattern: '\\bemp-\\d{6}\\b' },
    style,
  });

  it('masks each match, case-insensitively', () => {
    expect(maskOne([employeeId('full')], 'EMP-123456 and emp-654321')).toBe('**** and ****');
    expect(maskOne([employeeId('partial')], 'EMP-123456')).toBe('****3456');
  });

  it('ignores empty matches instead of sprinkling masks', () => {
    const rules: MaskingRule[] = [
      { name: 'x', match: { kind: 'value', pattern: 'x*' }, style: 'full' },
    ];
    expect(maskOne(rules, 'abc')).toBe('abc');
    expect(maskOne(rules, 'axxb')).toBe('a****b');
  });

  it('applies rules one after another', () => {
    expect(maskOne([email(), card('partial')], 'a@b.io 4111111111111111')).toBe('**** ****1111');
  });
});

describe('where value rules apply', () => {
  it('skips types whose text cannot hold the data (numbers, times, uuid, bytea)', () => {
    expect(maskOne([card()], '4111111111111111', { typeOid: INT8 })).toBe('4111111111111111');
    expect(maskOne([card()], '4111111111111111', { typeOid: 1700 })).toBe('4111111111111111');
  });

  it('makes binary arrays, records and bytea NULL when a value rule matches the text they hold (#13)', () => {
    const bytes = Buffer.from('a@b.io');
    expect(maskOne([email()], bytes, { typeOid: BYTEA, format: 1 })).toBeNull();
    // A binary text[]: dimensions, element OID and length words around the element's bytes.
    const array = Buffer.concat([
      Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 6]),
      bytes,
    ]);
    expect(maskOne([email()], array, { typeOid: TEXT_ARRAY, format: 1 })).toBeNull();
    const record = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 25, 0, 0, 0, 6]), bytes]);
    expect(maskOne([email()], record, { typeOid: 2249, format: 1 })).toBeNull();
    // Nothing to find: the same bytes go on.
    const clean = Buffer.from([0, 0, 0, 1, 0, 0, 0, 23, 0, 0, 0, 4, 0, 0, 0, 64]);
    expect(maskOne([email()], clean, { typeOid: 2249, format: 1 })).toBe(clean.toString('utf8'));
    expect(maskOne([email()], bytes, { typeOid: INT8, format: 1 })).toBe('a@b.io');
  });

  it('decodes bytea hex (alone, in arrays, in records) before looking (#13)', () => {
    const hex = `\\x${Buffer.from('mail a@b.io').toString('hex')}`;
    expect(maskOne([email()], hex, { typeOid: BYTEA })).toBeNull();
    expect(maskOne([email()], `{"\\${hex}"}`, { typeOid: 1001 })).toBeNull();
    expect(maskOne([email()], `(1,"\\${hex}")`, { typeOid: 2249 })).toBeNull();
    expect(maskOne([email()], '\\x6869', { typeOid: BYTEA })).toBe('\\x6869');
    // bytea_output = escape leaves printable ASCII as it is.
    expect(maskOne([email()], 'a@b.io\\000', { typeOid: BYTEA })).toBeNull();
  });

  it('masks free text (notices, errors, NOTIFY payloads) with the value rules only (#13)', () => {
    const masker = compileMasking([
      email(),
      { name: 'ssn', match: { kind: 'column', pattern: '^ssn$' }, style: 'full' },
    ]);
    expect(masker.hasValueRules).toBe(true);
    expect(masker.maskText('duplicate key value (email)=(a@b.io) exists')).toBe(
      'duplicate key value (email)=(****) exists',
    );
    const clean = 'nothing here';
    expect(masker.maskText(clean)).toBe(clean);
    const columnsOnly = compileMasking([
      { name: 'ssn', match: { kind: 'column', pattern: '^ssn$' }, style: 'full' },
    ]);
    expect(columnsOnly.hasValueRules).toBe(false);
    expect(columnsOnly.maskText('a@b.io')).toBe('a@b.io');
  });

  it('scans binary-format text columns', () => {
    expect(maskOne([email()], 'a@b.io', { typeOid: VARCHAR, format: 1 })).toBe('****');
  });

  it('masks string values inside json and jsonb, leaving numbers and structure alone', () => {
    const doc = '{"email": "a@b.io", "n": 12345678901234567890, "list": ["x@y.org", 1]}';
    const masked = '{"email": "****", "n": 12345678901234567890, "list": ["****", 1]}';
    expect(maskOne([email()], doc, { typeOid: JSON_OID })).toBe(masked);
    expect(maskOne([email()], doc, { typeOid: JSONB })).toBe(masked);
  });

  it('sees through JSON escapes and re-encodes safely', () => {
    const doc = '{"e": "a\\u0040b.io \\"q\\""}';
    expect(maskOne([email('partial')], doc, { typeOid: JSON_OID })).toBe(
      '{"e": "a***@***.io \\"q\\""}',
    );
  });

  it('handles jsonb binary (version byte 1) and refuses unknown versions', () => {
    const binary = Buffer.concat([Buffer.from([1]), buf('{"e": "a@b.io"}')]);
    expect(maskOne([email()], binary, { typeOid: JSONB, format: 1 })).toBe('\x01{"e": "****"}');
    const future = Buffer.concat([Buffer.from([2]), buf('{"e": "a@b.io"}')]);
    expect(maskOne([email()], future, { typeOid: JSONB, format: 1 })).toBeNull();
  });

  it('masks in place inside arrays and records when the literal stays well-formed', () => {
    expect(maskOne([email()], '{a@b.io,"x y@z.org"}', { typeOid: TEXT_ARRAY })).toBe(
      '{****,"x ****"}',
    );
    expect(maskOne([card('partial')], '(1,"4111 1111 1111 1111")', { typeOid: 2249 })).toBe(
      '(1,"****1111")',
    );
    // A user-defined type (citext, an enum, a composite) has an OID this table does not know.
    expect(maskOne([email()], 'a@b.io', { typeOid: 16_500 })).toBe('****');
  });

  it('turns a structured value into NULL when a match spans its quoting', () => {
    const rules: MaskingRule[] = [
      { name: 'x', match: { kind: 'value', pattern: 'a","b' }, style: 'full' },
    ];
    expect(maskOne(rules, '{"a","b"}', { typeOid: TEXT_ARRAY })).toBeNull();
    // In a text column the same match is just text.
    expect(maskOne(rules, '{"a","b"}', { typeOid: TEXT })).toBe('{"****"}');
  });
});

describe('plans and rows', () => {
  const columns: ResultColumn[] = [
    { name: 'id', typeOid: INT4, format: 0 },
    { name: 'email', typeOid: TEXT, format: 0 },
  ];

  it('is inactive when no rule touches any column, and returns the row as it was', () => {
    const masker = compileMasking([
      { name: 'x', match: { kind: 'column', pattern: '^ssn$' }, style: 'full' },
    ]);
    const plan = masker.forColumns(columns);
    expect(plan.active).toBe(false);
    const values = [buf('1'), buf('a@b.io')];
    const result = masker.maskRow(plan, values);
    expect(result.changed).toBe(false);
    expect(result.values).toBe(values);
  });

  it('has no rules and no work for an empty policy', () => {
    const masker = compileMasking([]);
    expect(masker.hasRules).toBe(false);
    expect(masker.forColumns(columns)).toEqual({
      columns: [{ kind: 'clear' }, { kind: 'clear' }],
      active: false,
    });
  });

  it('returns the same buffers for values that did not change, and does not mutate the input', () => {
    const masker = compileMasking([email()]);
    const plan = masker.forColumns([...columns, { name: 'note', typeOid: TEXT, format: 0 }]);
    const id = buf('1');
    const note = buf('nothing to see');
    const values = [id, buf('a@b.io'), note];
    const result = masker.maskRow(plan, values);
    expect(result.changed).toBe(true);
    expect(result.values[0]).toBe(id);
    expect(result.values[2]).toBe(note);
    expect(str(result.values[1])).toBe('****');
    expect(str(values[1])).toBe('a@b.io');

    const unchanged = masker.maskRow(plan, [id, buf('none'), note]);
    expect(unchanged.changed).toBe(false);
  });

  it('refuses a row whose width differs from the plan', () => {
    const masker = compileMasking([email()]);
    const plan = masker.forColumns(columns);
    expect(() => masker.maskRow(plan, [buf('1')])).toThrow(/1 values but the result has 2 columns/);
  });

  it('describes each column for the recorder', () => {
    const masker = compileMasking([
      { name: 'ids', match: { kind: 'column', pattern: '^id$' }, style: 'full' },
      email(),
    ]);
    expect(masker.forColumns(columns).columns).toEqual([
      { kind: 'null', rule: 'ids' },
      { kind: 'scan', rules: ['email'], encoding: 'text' },
    ]);
  });
});

describe('masking cost', () => {
  it('stays linear on adversarial values', () => {
    const masker = compileMasking([
      email('partial'),
      card('partial'),
      phone('partial'),
      { name: 'p', match: { kind: 'value', pattern: 'secret-\\d+' }, style: 'full' },
    ]);
    const plan = masker.forColumns([{ name: 'c', typeOid: TEXT, format: 0 }]);
    for (const value of [
      `${'a'.repeat(1_000_000)}@`,
      '@a'.repeat(500_000),
      `${'a.'.repeat(500_000)}@b`,
      '1 '.repeat(500_000),
      '1-'.repeat(500_000),
      '+1'.repeat(500_000),
      '(555) '.repeat(200_000),
      '0'.repeat(1_000_000),
    ]) {
      const started = performance.now();
      masker.maskRow(plan, [buf(value)]);
      expect(performance.now() - started).toBeLessThan(3000);
    }
  });
});
