/**
 * The store keeps its own record types, apart from the HTTP wire schemas, but the API
 * presenters and validators hand values from one to the other. These checks fail to compile
 * (npm run typecheck) when the two drift apart.
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
import type { StoredDatabasePolicy } from './catalogStore.ts';
import type { UserRole } from './identityStore.ts';
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
