/**
 * Query words are split by the same rule as the words the index stores (store/indexedText.ts),
 * and each is a single word the index accepts as a term (nothing that could inject syntax).
 */
import { describe, expect, it } from 'vitest';
import { isSearchTerm } from '../store/indexedText.ts';
import { queryWords, searchWords } from './searchTerms.ts';

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
