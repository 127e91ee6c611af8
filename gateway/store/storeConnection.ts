/**
 * What every Kysely store of an aggregate shares: one Kysely instance over one pool (or one
 * SQLite connection), and which dialect is underneath for the few statements that differ.
 * openStore.ts makes one and hands it to each aggregate's store; only it closes it.
 */
import type { Kysely } from 'kysely';
import type { Database } from './migrations.ts';

export type StoreKind = 'sqlite' | 'postgres';

export interface StoreConnection {
  readonly kind: StoreKind;
  readonly db: Kysely<Database>;
}

/** The open database behind the aggregates, as its owner sees it: which one, and closing it. */
export interface StoreHandle {
  readonly kind: StoreKind;
  close(): Promise<void>;
}

/** JSON columns are only ever written by the stores, so their shape is trusted. */
export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

/** A caller's row limit as SQL wants it: a whole number, never negative. */
export function rowLimit(limit: number): number {
  return Math.max(0, Math.floor(limit));
}
