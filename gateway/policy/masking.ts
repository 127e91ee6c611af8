import type { MaskingRule } from '../../shared/api/apiSchemas.ts';

/**
 * Result masking (issue #4): rewrites DataRow values before the client and the recorder see
 * them. Pure: the PostgreSQL proxy calls `forColumns` once per RowDescription (or per Bind,
 * once the result formats are known) and `maskRow` for each DataRow.
 *
 * What a rule does to a value:
 * - column and type rules replace the whole value. Text types (text, varchar, bpchar, name,
 *   unknown) get `****` (full) or `****` plus the last four characters (partial, only when
 *   the value has at least eight, so at least half stays hidden). json/jsonb get the JSON
 *   string `"****"` (either style). Every other type becomes NULL: a client parses an int4,
 *   a timestamptz or a bytea strictly, and `****` would break it; NULL is always decodable.
 * - value rules (presets and patterns) mask the matching parts of a value in place:
 *   `Mail a@b.com` → `Mail ****`. Presets: e-mail (full `****`, partial `a***@***.com`),
 *   card number (13–19 digits, spaces/dashes in card groupings, Luhn-valid; partial
 *   `****1111`), phone (`+` international, North American and 0-prefixed national forms;
 *   partial `****` plus the last four digits). They apply to text types, to the string values
 *   inside json/jsonb (numbers and structure untouched), and to the text form of arrays,
 *   records, xml, tsvector and types this table does not know (citext, enums, composites):
 *   there a match is replaced in place unless it spans a quote, backslash, delimiter or
 *   bracket, in which case the whole value becomes NULL rather than a literal the client
 *   could not parse. Binary-format text and json/jsonb values are masked in place like their
 *   text forms; binary arrays, records and unknown types, and bytea in either format (hex
 *   decoded first), are looked at as the UTF-8 text their bytes hold, and become NULL when
 *   any value rule matches there (issue #13: a binary array or `convert_to(email, …)` carried
 *   values in clear; their length-prefixed layouts cannot be re-encoded with a mask in them,
 *   and NULL is always decodable).
 * - NULL stays NULL.
 *
 * Masking is hygiene for people who may read the data anyway, not a barrier against them:
 * an alias renames a column, a cast changes its type, `reverse(email)` defeats a value rule.
 * Values are decoded as UTF-8: the session's client_encoding must be UTF8 (or ASCII).
 */

export type MaskStyle = MaskingRule['style'];

export interface ResultColumn {
  readonly name: string;
  readonly typeOid: number;
  /** 0 text, 1 binary, as in RowDescription or Bind; anything but 0 is treated as binary. */
  readonly format: number;
}

/**
 * How the bytes of a column are laid out, as far as masking cares. `opaque_binary`: a layout
 * of lengths and bytes (binary arrays, records, bytea) searched as text, NULL on a match;
 * `bytea_text`: bytea's text form, hex-decoded and then searched the same way.
 */
export type ValueEncoding =
  | 'text'
  | 'json'
  | 'jsonb_binary'
  | 'structured'
  | 'opaque_binary'
  | 'bytea_text';

/** What happens to one column of a result set, decided once per RowDescription. */
export type ColumnMask =
  | { readonly kind: 'clear' }
  /** A column or type rule: every non-NULL value becomes the mask. */
  | {
      readonly kind: 'replace';
      readonly rule: string;
      readonly style: MaskStyle;
      readonly encoding: 'text' | 'json' | 'jsonb_binary';
    }
  /** A column or type rule on a type that cannot hold `****`: every value becomes NULL. */
  | { readonly kind: 'null'; readonly rule: string }
  /** Value rules look inside every non-NULL value. */
  | { readonly kind: 'scan'; readonly rules: readonly string[]; readonly encoding: ValueEncoding };

export interface MaskPlan {
  readonly columns: readonly ColumnMask[];
  /** False when no value can change: DataRows may be forwarded untouched. */
  readonly active: boolean;
}

export interface MaskedRow {
  /** The input array itself when nothing changed, else a new one (the input is not mutated). */
  readonly values: (Buffer | null)[];
  readonly changed: boolean;
}

export interface ResultMasker {
  /** False when the policy has no masking rules: callers may skip planning altogether. */
  readonly hasRules: boolean;
  /** False when the policy has no value rules (presets, patterns): free text stays as it is. */
  readonly hasValueRules: boolean;
  /** True when a column or type rule exists: masking then needs to know each value's column. */
  readonly hasColumnRules: boolean;
  /** Every rule's name, in order (for refusals that must name what applies). */
  readonly ruleNames: readonly string[];
  /** Type names in type rules that name no built-in type; they match nothing. */
  readonly unknownTypeNames: readonly string[];
  forColumns(columns: readonly ResultColumn[]): MaskPlan;
  /** `plan` must come from this masker's `forColumns`. Returned buffers must not be mutated. */
  maskRow(plan: MaskPlan, values: (Buffer | null)[]): MaskedRow;
  /**
   * The value rules applied to free text (a notice's or error's message, a NOTIFY payload):
   * the same string when nothing matched (issue #13: these carry values in clear).
   */
  maskText(text: string): string;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL built-in types

/** How masking treats a type's values. */
type TypeCategory = 'text' | 'json' | 'jsonb' | 'structured' | 'bytea' | 'opaque';

/**
 * Built-in types with stable OIDs (pg_type, PostgreSQL 15): name, OID, array OID (0: none),
 * category. 'opaque' types (numbers, times, network, geometry, uuid, bytea, ...) cannot hold
 * an e-mail or card number in their text form, so value rules skip them.
 */
const BUILTIN_TYPES: readonly (readonly [string, number, number, TypeCategory])[] = [
  ['bool', 16, 1000, 'opaque'],
  ['bytea', 17, 1001, 'bytea'],
  ['char', 18, 1002, 'opaque'],
  ['name', 19, 1003, 'text'],
  ['int8', 20, 1016, 'opaque'],
  ['int2', 21, 1005, 'opaque'],
  ['int2vector', 22, 1006, 'opaque'],
  ['int4', 23, 1007, 'opaque'],
  ['regproc', 24, 1008, 'opaque'],
  ['text', 25, 1009, 'text'],
  ['oid', 26, 1028, 'opaque'],
  ['tid', 27, 1010, 'opaque'],
  ['xid', 28, 1011, 'opaque'],
  ['cid', 29, 1012, 'opaque'],
  ['oidvector', 30, 1013, 'opaque'],
  ['json', 114, 199, 'json'],
  ['xml', 142, 143, 'structured'],
  ['point', 600, 1017, 'opaque'],
  ['lseg', 601, 1018, 'opaque'],
  ['path', 602, 1019, 'opaque'],
  ['box', 603, 1020, 'opaque'],
  ['polygon', 604, 1027, 'opaque'],
  ['line', 628, 629, 'opaque'],
  ['cidr', 650, 651, 'opaque'],
  ['float4', 700, 1021, 'opaque'],
  ['float8', 701, 1022, 'opaque'],
  ['unknown', 705, 0, 'text'],
  ['circle', 718, 719, 'opaque'],
  ['macaddr8', 774, 775, 'opaque'],
  ['money', 790, 791, 'opaque'],
  ['macaddr', 829, 1040, 'opaque'],
  ['inet', 869, 1041, 'opaque'],
  ['aclitem', 1033, 1034, 'opaque'],
  ['bpchar', 1042, 1014, 'text'],
  ['varchar', 1043, 1015, 'text'],
  ['date', 1082, 1182, 'opaque'],
  ['time', 1083, 1183, 'opaque'],
  ['timestamp', 1114, 1115, 'opaque'],
  ['timestamptz', 1184, 1185, 'opaque'],
  ['interval', 1186, 1187, 'opaque'],
  ['timetz', 1266, 1270, 'opaque'],
  ['bit', 1560, 1561, 'opaque'],
  ['varbit', 1562, 1563, 'opaque'],
  ['numeric', 1700, 1231, 'opaque'],
  ['refcursor', 1790, 2201, 'opaque'],
  ['regprocedure', 2202, 2207, 'opaque'],
  ['regoper', 2203, 2208, 'opaque'],
  ['regoperator', 2204, 2209, 'opaque'],
  ['regclass', 2205, 2210, 'opaque'],
  ['regtype', 2206, 2211, 'opaque'],
  ['record', 2249, 2287, 'structured'],
  ['cstring', 2275, 1263, 'text'],
  ['uuid', 2950, 2951, 'opaque'],
  ['txid_snapshot', 2970, 2949, 'opaque'],
  ['pg_lsn', 3220, 3221, 'opaque'],
  ['tsvector', 3614, 3643, 'structured'],
  ['tsquery', 3615, 3645, 'structured'],
  ['regconfig', 3734, 3735, 'opaque'],
  ['regdictionary', 3769, 3770, 'opaque'],
  ['jsonb', 3802, 3807, 'jsonb'],
  ['int4range', 3904, 3905, 'opaque'],
  ['numrange', 3906, 3907, 'opaque'],
  ['tsrange', 3908, 3909, 'opaque'],
  ['tstzrange', 3910, 3911, 'opaque'],
  ['daterange', 3912, 3913, 'opaque'],
  ['int8range', 3926, 3927, 'opaque'],
  ['jsonpath', 4072, 4073, 'structured'],
  ['regnamespace', 4089, 4090, 'opaque'],
  ['regrole', 4096, 4097, 'opaque'],
  ['regcollation', 4191, 4192, 'opaque'],
  ['int4multirange', 4451, 6150, 'opaque'],
  ['nummultirange', 4532, 6151, 'opaque'],
  ['tsmultirange', 4533, 6152, 'opaque'],
  ['tstzmultirange', 4534, 6153, 'opaque'],
  ['datemultirange', 4535, 6155, 'opaque'],
  ['int8multirange', 4536, 6157, 'opaque'],
  ['pg_snapshot', 5038, 5039, 'opaque'],
  ['xid8', 5069, 271, 'opaque'],
];

const TYPE_OIDS = new Map<string, number>();
const TYPE_CATEGORIES = new Map<number, TypeCategory>();
for (const [name, oid, arrayOid, category] of BUILTIN_TYPES) {
  TYPE_OIDS.set(name, oid);
  TYPE_CATEGORIES.set(oid, category);
  if (arrayOid !== 0) {
    TYPE_OIDS.set(`_${name}`, arrayOid);
    // An array's text form `{a,"b c"}` holds its elements' text; a bytea array's, their hex,
    // so it is searched as bytea is; opaque stays opaque.
    TYPE_CATEGORIES.set(
      arrayOid,
      category === 'opaque' || category === 'bytea' ? category : 'structured',
    );
  }
}

/** Built-in type names (pg_type.typname, arrays as `_text`) and their OIDs. */
export const BUILTIN_TYPE_OIDS: ReadonlyMap<string, number> = TYPE_OIDS;

/** SQL spellings of built-in types. `char` is ambiguous (char(n) or "char"): it means both. */
const TYPE_ALIASES: Readonly<Record<string, readonly string[]>> = {
  boolean: ['bool'],
  smallint: ['int2'],
  integer: ['int4'],
  int: ['int4'],
  bigint: ['int8'],
  smallserial: ['int2'],
  serial: ['int4'],
  bigserial: ['int8'],
  serial2: ['int2'],
  serial4: ['int4'],
  serial8: ['int8'],
  real: ['float4'],
  float: ['float8'],
  'double precision': ['float8'],
  decimal: ['numeric'],
  'character varying': ['varchar'],
  character: ['bpchar'],
  char: ['bpchar', 'char'],
  '"char"': ['char'],
  'timestamp with time zone': ['timestamptz'],
  'timestamp without time zone': ['timestamp'],
  'time with time zone': ['timetz'],
  'time without time zone': ['time'],
  'bit varying': ['varbit'],
};

/**
 * The OIDs a type name in a masking rule stands for: pg_type names (`int4`, `_text`), SQL
 * spellings (`integer`, `character varying(255)`, `timestamp with time zone`), arrays
 * (`text[]`), an optional `pg_catalog.` prefix; case and typmods ignored. Empty when unknown
 * (extension and user types have no stable OID).
 */
export function typeOidsForName(typeName: string): number[] {
  let name = typeName.trim().toLowerCase().replace(/\s+/g, ' ');
  if (name.startsWith('pg_catalog.')) name = name.slice('pg_catalog.'.length);
  let isArray = false;
  for (;;) {
    const trimmed = name.replace(/ ?\[ ?\d* ?\]$/, '');
    if (trimmed === name) break;
    name = trimmed;
    isArray = true;
  }
  name = name.replace(/ ?\([\d ,]*\)/g, '').trim();
  const oids: number[] = [];
  for (const base of TYPE_ALIASES[name] ?? [name]) {
    const oid = TYPE_OIDS.get(isArray && !base.startsWith('_') ? `_${base}` : base);
    if (oid !== undefined) oids.push(oid);
  }
  return oids;
}

/** Types the server does not ship with fixed OIDs (extensions, enums, composites) are treated as structured text. */
function categoryOf(typeOid: number): TypeCategory {
  return TYPE_CATEGORIES.get(typeOid) ?? 'structured';
}

// ---------------------------------------------------------------------------------------------
// Value rules

const MASK = '****';
const MASK_TEXT = Buffer.from(MASK);
const MASK_JSON = Buffer.from(`"${MASK}"`);
/** jsonb's binary format is a version byte (1) followed by the JSON text. */
const JSONB_VERSION = 1;
const MASK_JSONB = Buffer.concat([Buffer.from([JSONB_VERSION]), MASK_JSON]);
/** A bytea in hex output format: `\x` then pairs of hex digits. */
const HEX_RUN = /\\x((?:[0-9a-fA-F]{2})+)/g;
const BACKSLASH_X = Buffer.from('\\x', 'latin1');

interface Span {
  readonly start: number;
  readonly end: number;
  readonly replacement: string;
}

/** Finds what a value rule masks in a string, left to right, without overlaps. */
type SpanFinder = (text: string) => readonly Span[];

/** Characters that carry structure in array, record, hstore, tsvector and xml text forms. */
const STRUCTURAL = /["\\,{}()[\]'<>&]/;

/**
 * Replaces the spans. `guarded`: the text is a structured literal (array, record, ...); a
 * span holding a structural character cannot be replaced safely, so the answer is null.
 */
function replaceSpans(text: string, spans: readonly Span[], guarded: boolean): string | null {
  if (spans.length === 0) return text;
  let out = '';
  let last = 0;
  for (const span of spans) {
    if (guarded && STRUCTURAL.test(text.slice(span.start, span.end))) return null;
    out += text.slice(last, span.start) + span.replacement;
    last = span.end;
  }
  return out + text.slice(last);
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAsciiAlnum(c: number): boolean {
  return isDigitCode(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

const UNICODE_WORD = /[\p{L}\p{N}\p{M}]/u;
const UNICODE_LETTER = /\p{L}/u;

function isUnicodeWordCode(c: number): boolean {
  return c >= 128 && UNICODE_WORD.test(String.fromCharCode(c));
}

function isUnicodeLetterCode(c: number): boolean {
  return (
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    (c >= 128 && UNICODE_LETTER.test(String.fromCharCode(c)))
  );
}

function digitsOf(text: string): string {
  return text.replace(/\D+/g, '');
}

function hasDigits(text: string, atLeast: number): boolean {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    if (isDigitCode(text.charCodeAt(i)) && ++count >= atLeast) return true;
  }
  return false;
}

/** partial: `****` and the last four characters, when at least four more stay hidden. */
function partialMask(value: string): string {
  const codePoints = Array.from(value);
  return codePoints.length >= 8 ? MASK + codePoints.slice(-4).join('') : MASK;
}

const AT = 64;
const DOT = 46;

function isEmailLocalCode(c: number): boolean {
  // Letters, digits and . _ % + - : the practical local part. Quotes, commas and brackets
  // end it, so a match never swallows structure around it.
  return (
    isAsciiAlnum(c) ||
    c === DOT ||
    c === 95 ||
    c === 37 ||
    c === 43 ||
    c === 45 ||
    isUnicodeWordCode(c)
  );
}

function isDomainCode(c: number): boolean {
  return isAsciiAlnum(c) || c === 45 || isUnicodeWordCode(c);
}

/** E-mail addresses, found by expanding around each `@` (linear: no regex backtracking). */
function emailFinder(style: MaskStyle): SpanFinder {
  return (text) => {
    const spans: Span[] = [];
    let floor = 0;
    let at = text.indexOf('@');
    while (at >= 0) {
      let start = at;
      while (start > floor && isEmailLocalCode(text.charCodeAt(start - 1))) start--;
      while (start < at && text.charCodeAt(start) === DOT) start++;
      let end = at + 1;
      let labelStart = end;
      let lastDot = -1;
      while (end < text.length) {
        const c = text.charCodeAt(end);
        if (isDomainCode(c)) {
          end++;
        } else if (c === DOT && end > labelStart && isDomainCode(text.charCodeAt(end + 1))) {
          lastDot = end;
          end++;
          labelStart = end;
        } else {
          break;
        }
      }
      const tld = lastDot < 0 ? '' : text.slice(lastDot + 1, end);
      if (
        start < at &&
        tld.length >= 2 &&
        Array.from(tld).every((ch) => isUnicodeLetterCode(ch.charCodeAt(0)))
      ) {
        const local = text.slice(start, at);
        const replacement =
          style === 'partial'
            ? `${String.fromCodePoint(local.codePointAt(0)!)}***@***.${tld}`
            : MASK;
        spans.push({ start, end, replacement });
        floor = end;
        at = text.indexOf('@', end);
      } else {
        at = text.indexOf('@', at + 1);
      }
    }
    return spans;
  };
}

/** Luhn (ISO/IEC 7812-1 check digit). */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** How card numbers are printed: one run, groups of four (the last may be shorter), 4-6-4/4-6-5. */
function isCardGrouping(lengths: readonly number[], total: number): boolean {
  if (total < 13 || total > 19) return false;
  if (lengths.length === 1) return true;
  if (lengths.length === 3 && lengths[0] === 4 && lengths[1] === 6) {
    return lengths[2] === 4 || lengths[2] === 5;
  }
  return lengths.every((length, k) => (k < lengths.length - 1 ? length === 4 : length <= 4));
}

/**
 * Card numbers: digit groups joined by single spaces or dashes; within such a run, the
 * longest card-shaped, Luhn-valid window of whole groups from each group on. A longer digit
 * run without separators is some other number, not a card.
 */
function cardFinder(style: MaskStyle): SpanFinder {
  return (text) => {
    if (!hasDigits(text, 13)) return [];
    const spans: Span[] = [];
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (!isDigitCode(text.charCodeAt(i))) {
        i++;
        continue;
      }
      const groups: [number, number][] = [];
      let j = i;
      for (;;) {
        const groupStart = j;
        while (j < n && isDigitCode(text.charCodeAt(j))) j++;
        groups.push([groupStart, j]);
        const separator = text.charCodeAt(j);
        if ((separator === 32 || separator === 45) && isDigitCode(text.charCodeAt(j + 1))) {
          j++;
        } else {
          break;
        }
      }
      let g = 0;
      while (g < groups.length) {
        let best = -1;
        let digits = '';
        const lengths: number[] = [];
        for (let h = g; h < groups.length; h++) {
          // Every multi-group card grouping starts with four digits.
          if (h > g && lengths[0] !== 4) break;
          const [start, end] = groups[h]!;
          digits += text.slice(start, end);
          lengths.push(end - start);
          if (digits.length > 19) break;
          if (isCardGrouping(lengths, digits.length) && passesLuhn(digits)) best = h;
        }
        if (best < 0) {
          g++;
          continue;
        }
        const start = groups[g]![0];
        const end = groups[best]![1];
        const replacement =
          style === 'partial' ? MASK + digitsOf(text.slice(start, end)).slice(-4) : MASK;
        spans.push({ start, end, replacement });
        g = best + 1;
      }
      i = j;
    }
    return spans;
  };
}

/**
 * Phone numbers. Bounded repetitions of unambiguous pieces keep each attempt constant-time.
 * International: `+`, then 8–15 digits with single spaces, dots or dashes and an optional
 * parenthesised area code (`+1 (555) 010-0199`, `+44 20 7946 0958`). North American:
 * `(555) 201-0199`, `555-201-0199`, `1.555.201.0199`. National with a trunk 0: 10–11 digits
 * (`020 7946 0958`, `06-12345678`, `0612345678`). Dates, times, IP addresses and
 * zero-padded ids (`00…`) do not match.
 */
const PHONE_PATTERNS: readonly RegExp[] = [
  /(?<![\p{L}\p{N}+])\+\d(?:[ .-]?(?:\d|\(\d{1,4}\))){6,16}(?![\p{L}\p{N}])/gu,
  /(?<![\p{L}\p{N}+.-])(?:1[ .-]?)?(?:\([2-9]\d\d\)[ .-]?|[2-9]\d\d[ .-])[2-9]\d\d[ .-]\d{4}(?![\p{L}\p{N}]|[.-]\d)/gu,
  /(?<![\p{L}\p{N}+.,:/-])0[1-9](?:[ -]?\d){8,9}(?![\p{L}\p{N}]|[.,:/-]\d)/gu,
];

function phoneFinders(style: MaskStyle): SpanFinder[] {
  return PHONE_PATTERNS.map((pattern, index) => (text: string) => {
    if (!hasDigits(text, 8)) return [];
    const spans: Span[] = [];
    for (const match of text.matchAll(pattern)) {
      const digits = digitsOf(match[0]);
      // The international form's length is checked here rather than in the pattern.
      if (index === 0 && (digits.length < 8 || digits.length > 15)) continue;
      const replacement = style === 'partial' ? MASK + digits.slice(-4) : MASK;
      spans.push({ start: match.index, end: match.index + match[0].length, replacement });
    }
    return spans;
  });
}

function patternFinder(source: string, style: MaskStyle): SpanFinder {
  // The schema validated the source with `iu`; `g` finds every match.
  const pattern = new RegExp(source, 'giu');
  return (text) => {
    const spans: Span[] = [];
    for (const match of text.matchAll(pattern)) {
      if (match[0].length === 0) continue; // `x*` must not sprinkle masks between characters
      const replacement = style === 'partial' ? partialMask(match[0]) : MASK;
      spans.push({ start: match.index, end: match.index + match[0].length, replacement });
    }
    return spans;
  };
}

// ---------------------------------------------------------------------------------------------
// Compilation

const CLEAR: ColumnMask = Object.freeze({ kind: 'clear' });

type ColumnRule =
  | {
      readonly kind: 'column';
      readonly name: string;
      readonly style: MaskStyle;
      readonly pattern: RegExp;
    }
  | {
      readonly kind: 'type';
      readonly name: string;
      readonly style: MaskStyle;
      readonly oids: ReadonlySet<number>;
    };

interface ValueRule {
  readonly name: string;
  /** Applied one after another: each sees the previous one's output. */
  readonly finders: readonly SpanFinder[];
}

export function compileMasking(rules: readonly MaskingRule[]): ResultMasker {
  const columnRules: ColumnRule[] = [];
  const valueRules: ValueRule[] = [];
  const unknownTypeNames: string[] = [];
  // Without custom patterns, a value with no '@' and too few digits cannot match: skip decoding.
  let prefilter = { email: false, minDigits: Number.POSITIVE_INFINITY, always: false };

  for (const rule of rules) {
    const { match, name, style } = rule;
    if (match.kind === 'column') {
      columnRules.push({ kind: 'column', name, style, pattern: new RegExp(match.pattern, 'iu') });
    } else if (match.kind === 'type') {
      const oids = new Set<number>();
      for (const typeName of match.types) {
        const found = typeOidsForName(typeName);
        if (found.length === 0) unknownTypeNames.push(typeName);
        for (const oid of found) oids.add(oid);
      }
      columnRules.push({ kind: 'type', name, style, oids });
    } else if (match.kind === 'preset') {
      switch (match.preset) {
        case 'email':
          valueRules.push({ name, finders: [emailFinder(style)] });
          prefilter = { ...prefilter, email: true };
          break;
        case 'card':
          valueRules.push({ name, finders: [cardFinder(style)] });
          prefilter = { ...prefilter, minDigits: Math.min(prefilter.minDigits, 13) };
          break;
        case 'phone':
          valueRules.push({ name, finders: phoneFinders(style) });
          prefilter = { ...prefilter, minDigits: Math.min(prefilter.minDigits, 8) };
          break;
      }
    } else {
      valueRules.push({ name, finders: [patternFinder(match.pattern, style)] });
      prefilter = { ...prefilter, always: true };
    }
  }
  const valueRuleNames = valueRules.map((rule) => rule.name);
  const { email: needsAt, minDigits, always: alwaysScan } = prefilter;

  /** Cheap byte test before decoding: can any value rule match these bytes? */
  const mightMatch = (bytes: Buffer, from: number, json: boolean): boolean => {
    if (alwaysScan) return true;
    let digits = 0;
    for (let i = from; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b >= 48 && b <= 57) {
        if (++digits >= minDigits) return true;
      } else if ((b === AT && needsAt) || (b === 92 && json)) {
        // In JSON, `\u0040` hides an '@' and `\u0034` a digit: decode and look.
        return true;
      }
    }
    return false;
  };

  const maskText = (text: string, guarded: boolean): string | null => {
    let current = text;
    for (const rule of valueRules) {
      for (const find of rule.finders) {
        const next = replaceSpans(current, find(current), guarded);
        if (next === null) return null;
        current = next;
      }
    }
    return current;
  };

  /**
   * Bytes whose layout a mask cannot be written into (binary arrays and records, bytea): does
   * a value rule match the text they hold? Invalid UTF-8 (length words, other binary fields)
   * decodes to U+FFFD, which no rule matches across.
   */
  const matchesInBytes = (bytes: Buffer): boolean => {
    if (!mightMatch(bytes, 0, true)) return false;
    const text = bytes.toString('utf8');
    return maskText(text, false) !== text;
  };

  /** bytea's hex text (`\x6162…`, also inside arrays and records): decoded, then searched. */
  const matchesInHex = (bytes: Buffer): boolean => {
    if (!bytes.includes(BACKSLASH_X)) return false;
    for (const run of bytes.toString('latin1').matchAll(HEX_RUN)) {
      if (matchesInBytes(Buffer.from(run[1]!, 'hex'))) return true;
    }
    return false;
  };

  /** Masks the string values (and keys) of a JSON text; numbers and structure stay as they are. */
  const maskJson = (json: string): string | null => {
    let out = '';
    let last = 0;
    let i = 0;
    for (;;) {
      const open = json.indexOf('"', i);
      if (open < 0) break;
      let close = open + 1;
      let escaped = false;
      while (close < json.length) {
        const c = json.charCodeAt(close);
        if (c === 92) {
          escaped = true;
          close += 2;
        } else if (c === 34) {
          break;
        } else {
          close++;
        }
      }
      if (close >= json.length) return null; // not JSON: refuse to guess
      let decoded = json.slice(open + 1, close);
      if (escaped) {
        try {
          const parsed: unknown = JSON.parse(json.slice(open, close + 1));
          if (typeof parsed !== 'string') return null;
          decoded = parsed;
        } catch {
          return null;
        }
      }
      const masked = maskText(decoded, false)!;
      if (masked !== decoded) {
        out += json.slice(last, open) + JSON.stringify(masked);
        last = close + 1;
      }
      i = close + 1;
    }
    return last === 0 ? json : out + json.slice(last);
  };

  /** The masked value, the same Buffer when nothing matched, or null when it must go. */
  const scanValue = (value: Buffer, encoding: ValueEncoding): Buffer | null => {
    switch (encoding) {
      case 'text':
      case 'structured': {
        // A record's or unknown type's text form may hold a bytea field as hex (`\\x…`).
        if (encoding === 'structured' && matchesInHex(value)) return null;
        if (!mightMatch(value, 0, false)) return value;
        const text = value.toString('utf8');
        const masked = maskText(text, encoding === 'structured');
        if (masked === null) return null;
        return masked === text ? value : Buffer.from(masked, 'utf8');
      }
      case 'json': {
        if (!mightMatch(value, 0, true)) return value;
        const text = value.toString('utf8');
        const masked = maskJson(text);
        if (masked === null) return null;
        return masked === text ? value : Buffer.from(masked, 'utf8');
      }
      case 'opaque_binary':
        return matchesInBytes(value) ? null : value;
      case 'bytea_text':
        return matchesInBytes(value) || matchesInHex(value) ? null : value;
      case 'jsonb_binary': {
        if (value[0] !== JSONB_VERSION) return null; // a format this code does not know
        if (!mightMatch(value, 1, true)) return value;
        const text = value.toString('utf8', 1);
        const masked = maskJson(text);
        if (masked === null) return null;
        return masked === text
          ? value
          : Buffer.concat([Buffer.from([JSONB_VERSION]), Buffer.from(masked, 'utf8')]);
      }
    }
  };

  const replaceValue = (value: Buffer, mask: Extract<ColumnMask, { kind: 'replace' }>): Buffer => {
    switch (mask.encoding) {
      case 'text':
        return mask.style === 'partial'
          ? Buffer.from(partialMask(value.toString('utf8')), 'utf8')
          : MASK_TEXT;
      case 'json':
        return MASK_JSON;
      case 'jsonb_binary':
        return MASK_JSONB;
    }
  };

  const planColumn = (column: ResultColumn): ColumnMask => {
    const category = categoryOf(column.typeOid);
    const binary = column.format !== 0;
    const rule = columnRules.find((candidate) =>
      candidate.kind === 'column'
        ? candidate.pattern.test(column.name)
        : candidate.oids.has(column.typeOid),
    );
    if (rule !== undefined) {
      switch (category) {
        case 'text':
          return { kind: 'replace', rule: rule.name, style: rule.style, encoding: 'text' };
        case 'json':
          return { kind: 'replace', rule: rule.name, style: rule.style, encoding: 'json' };
        case 'jsonb':
          return {
            kind: 'replace',
            rule: rule.name,
            style: rule.style,
            encoding: binary ? 'jsonb_binary' : 'json',
          };
        default:
          return { kind: 'null', rule: rule.name };
      }
    }
    if (valueRules.length === 0) return CLEAR;
    const encoding = scanEncoding(category, binary);
    return encoding === null ? CLEAR : { kind: 'scan', rules: valueRuleNames, encoding };
  };

  return {
    hasRules: rules.length > 0,
    hasValueRules: valueRules.length > 0,
    hasColumnRules: columnRules.length > 0,
    ruleNames: rules.map((rule) => rule.name),
    unknownTypeNames,
    forColumns(columns) {
      if (rules.length === 0) return { columns: columns.map(() => CLEAR), active: false };
      const planned = columns.map(planColumn);
      return { columns: planned, active: planned.some((mask) => mask.kind !== 'clear') };
    },
    maskRow(plan, values) {
      if (!plan.active) return { values, changed: false };
      if (values.length !== plan.columns.length) {
        // A DataRow must have as many values as its RowDescription has fields (protocol).
        throw new Error(
          `DataRow has ${values.length} values but the result has ${plan.columns.length} columns; the server response is malformed`,
        );
      }
      let out: (Buffer | null)[] | null = null;
      for (let c = 0; c < values.length; c++) {
        const value = values[c];
        if (value === null || value === undefined) continue;
        const mask = plan.columns[c]!;
        let next: Buffer | null;
        switch (mask.kind) {
          case 'clear':
            continue;
          case 'null':
            next = null;
            break;
          case 'replace':
            next = replaceValue(value, mask);
            break;
          case 'scan':
            next = scanValue(value, mask.encoding);
            break;
        }
        if (next !== value) {
          out ??= values.slice();
          out[c] = next;
        }
      }
      return out === null ? { values, changed: false } : { values: out, changed: true };
    },
    maskText(text) {
      if (valueRules.length === 0) return text;
      return maskText(text, false) ?? text; // unguarded: never null
    },
  };
}

function scanEncoding(category: TypeCategory, binary: boolean): ValueEncoding | null {
  switch (category) {
    case 'text':
      return 'text';
    case 'json':
      return 'json';
    case 'jsonb':
      return binary ? 'jsonb_binary' : 'json';
    case 'structured':
      // Binary arrays and records are length-prefixed element lists: searched, NULL on a match.
      return binary ? 'opaque_binary' : 'structured';
    case 'bytea':
      return binary ? 'opaque_binary' : 'bytea_text';
    case 'opaque':
      return null;
  }
}
