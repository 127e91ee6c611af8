/**
 * Query words are split by the same rule as the words the index stores (store/indexedText.ts),
 * and each is a single word the index accepts as a term (nothing that could inject syntax).
 */
import { describe, expect, it } from 'vitest';
import { isSearchTerm } from '../store/indexedText.ts';
import { queryWords, searchWords, snippetOf } from './searchTerms.ts';

describe('words the index stores and words a search asks for', () => {
  const samples = [
    'sudo systemctl restart nginx.service',
    'cat /etc/passwd; vi x86_64/Makefile.AM',
    'Grüße aus Zürich — naïve café ÉTÉ',
    'SELECT "Email" FROM customers WHERE id = $1 -- ٣٤٥ 中文字',
    '\u0007\u001b[31mred\u001b[0m tab\tseparated',
  ];

  it('are split into distinct lower-case words of letters and digits', () => {
    expect(searchWords(samples[0]!)).toEqual(['sudo', 'systemctl', 'restart', 'nginx', 'service']);
    expect(searchWords(samples[2]!)).toEqual(['grüße', 'aus', 'zürich', 'naïve', 'café', 'été']);
    expect(searchWords(samples[4]!)).toEqual(['31mred', '0m', 'tab', 'separated']);
  });

  it('are single words the index accepts as terms', () => {
    for (const sample of samples) {
      for (const word of queryWords(sample)) expect(isSearchTerm(word)).toBe(true);
    }
    expect(isSearchTerm("a' OR '1")).toBe(false);
    expect(isSearchTerm('"quoted"')).toBe(false);
  });
});

describe('snippetOf (issue #16: snippets start and end on word boundaries)', () => {
  const words = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => `word${String(i + from).padStart(3, '0')}`);

  it('starts after a line break when no space is near, not mid-word', () => {
    // Output lines: the only blanks before the match are line breaks.
    const text = `${'x'.repeat(30)}\n${'y'.repeat(30)}\n${'z'.repeat(45)}\nfound mangosteen here`;
    const { snippet, highlights } = snippetOf(text, ['mangosteen']);
    expect(snippet).toBe(`…${'z'.repeat(45)}\nfound mangosteen here`);
    const [from, to] = highlights[0] ?? [0, 0];
    expect(snippet.slice(from, to)).toBe('mangosteen');
  });

  it('every start and end is a word boundary wherever the match is', () => {
    const all = words(200);
    const text = all.join(' ');
    for (const at of [0, 5, 37, 120, 199]) {
      const term = all[at] as string;
      const { snippet, highlights } = snippetOf(text, [term]);
      const body = snippet.replace(/^…/, '').replace(/…$/, '');
      expect(
        body.split(' ').every((w) => all.includes(w)),
        `${term}: ${snippet}`,
      ).toBe(true);
      expect(body.length).toBeLessThanOrEqual(160);
      const [from, to] = highlights[0] ?? [0, 0];
      expect(snippet.slice(from, to)).toBe(term);
    }
  });

  it('a long word before the match is skipped, not cut', () => {
    const text = `head ${'q'.repeat(100)} mangosteen tail`;
    expect(snippetOf(text, ['mangosteen']).snippet).toBe('…mangosteen tail');
  });
});
