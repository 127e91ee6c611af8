/**
 * The store keeps its own record types, apart from the HTTP wire schemas, but the API
 * presenters and validators hand values from one to the other. These checks fail to compile
 * (npm run typecheck) when the two drift apart, and fail at run time when the store's word
 * splitting and the search's query parsing disagree.
 */
import { describe, expect, it } from 'vitest';
import {
  type DatabasePolicy,
  type RecordingStatusFilter,
  type RecordingTextKind,
  type Role,
  recordingStatusFilters,
  recordingTextKinds,
  roles,
} from '../../shared/api/apiSchemas.ts';
import { queryWords, searchWords } from '../search/searchTerms.ts';
import type { StoredDatabasePolicy } from './catalogStore.ts';
import type { UserRole } from './identityStore.ts';
import { indexWords, isSearchTerm } from './indexedText.ts';
import type { RecordingStatusFilter as StoredStatusFilter } from './recordingStore.ts';
import type { RecordingTextKind as StoredTextKind } from './recordingTextStore.ts';

/** Compiles only when A and B are assignable both ways. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameTypes: [
  Same<StoredDatabasePolicy, DatabasePolicy>,
  Same<UserRole, Role>,
  Same<StoredTextKind, RecordingTextKind>,
  Same<StoredStatusFilter, RecordingStatusFilter>,
] = [true, true, true, true];

describe('store record types and the wire schemas', () => {
  it('name the same values', () => {
    expect(sameTypes).toEqual([true, true, true, true]);
    const storedRoles: readonly UserRole[] = roles;
    const storedKinds: readonly StoredTextKind[] = recordingTextKinds;
    const storedFilters: readonly StoredStatusFilter[] = recordingStatusFilters;
    expect([storedRoles, storedKinds, storedFilters].map((values) => values.length)).toEqual([
      3, 4, 5,
    ]);
  });
});

describe('words the index stores and words a search asks for', () => {
  const samples = [
    'sudo systemctl restart nginx.service',
    'cat /etc/passwd; vi x86_64/Makefile.AM',
    'Grüße aus Zürich — naïve café ÉTÉ',
    'SELECT "Email" FROM customers WHERE id = $1 -- ٣٤٥ 中文字',
    '\u0007\u001b[31mred\u001b[0m tab\tseparated',
  ];

  it('are split the same way by the store and by the search', () => {
    for (const sample of samples) expect(indexWords(sample)).toEqual(searchWords(sample));
  });

  it('are single words the index accepts as terms', () => {
    for (const sample of samples) {
      for (const word of queryWords(sample)) expect(isSearchTerm(word)).toBe(true);
    }
    expect(isSearchTerm("a' OR '1")).toBe(false);
    expect(isSearchTerm('"quoted"')).toBe(false);
  });
});
