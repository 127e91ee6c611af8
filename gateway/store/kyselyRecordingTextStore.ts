/**
 * RecordingTextStore over Kysely. Each distinct text is stored once, in `indexed_texts` (keyed
 * by its hash, with its full-text index: FTS5 on SQLite, a tsvector + GIN on PostgreSQL), and
 * every occurrence is a small row in `recording_text` that points at it. A statement pgbench
 * runs a million times is one text, tokenized and indexed once, and a million occurrences.
 *
 * A search finds the matching texts through the full-text index and returns their
 * occurrences, newest first; `searchRecordingText` says how its cost stays bounded.
 */
import { type Kysely, type Selectable, type SqlBool, sql } from 'kysely';
import { indexableWords, isSearchTerm, storableText, textHash } from './indexedText.ts';
import { KnownTextIds } from './knownTextIds.ts';
import type { Database, RecordingsTable } from './migrations.ts';
import { onRecordings, recordingConditions, recordingFromRow } from './recordingRows.ts';
import type {
  RecordingTextEntry,
  RecordingTextHit,
  RecordingTextSearch,
  RecordingTextStore,
} from './recordingTextStore.ts';
import { type StoreConnection, type StoreKind, writeTransaction } from './storeConnection.ts';

/** Rows per INSERT or IN list (well under both drivers' parameter limits). */
const ROWS_PER_STATEMENT = 200;

/** Search, step 1: how many of the newest occurrences are tested one by one. */
const SEARCH_WINDOW_ROWS = 20_000;

interface TextColumns {
  /** The occurrence's id: the hit's id and paging position. */
  hit_id: number;
  seq: number;
  time: number;
  channel: number;
  kind: RecordingTextEntry['kind'];
  text: string;
}

const TEXT_COLUMNS = [
  'recording_text.id as hit_id',
  'recording_text.seq',
  'recording_text.time',
  'recording_text.channel',
  'recording_text.kind',
] as const;

export class KyselyRecordingTextStore implements RecordingTextStore {
  private readonly kind: StoreKind;
  private readonly db: Kysely<Database>;

  private readonly known = new KnownTextIds();

  constructor(private readonly connection: StoreConnection) {
    this.kind = connection.kind;
    this.db = connection.db;
  }

  async insertRecordingText(entries: readonly RecordingTextEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // Hash each distinct text once: a batch repeats the same few statements.
    const hashes = new Map<string, string>();
    const occurrences = entries.map((entry) => {
      const text = storableText(entry.text);
      let hash = hashes.get(text);
      if (hash === undefined) {
        hash = textHash(text);
        hashes.set(text, hash);
      }
      return { entry, hash };
    });
    const ids = await writeTransaction(this.connection, async (tx) => {
      const ids = await this.#textIds(tx, hashes);
      const rows = occurrences.flatMap(({ entry, hash }) => {
        const textId = ids.get(hash);
        return textId === undefined
          ? []
          : [
              {
                session_id: entry.sessionId,
                seq: entry.seq,
                time: entry.time,
                channel: entry.channel,
                kind: entry.kind,
                text_id: textId,
              },
            ];
      });
      for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
        await tx
          .insertInto('recording_text')
          .values(rows.slice(start, start + ROWS_PER_STATEMENT))
          .execute();
      }
      return ids;
    });
    this.known.addAll(ids);
  }

  /**
   * The id of each text (by hash) in `indexed_texts`, storing the ones not there yet; texts
   * without words are neither stored nor returned. `hashes` maps each text to its hash. Only
   * a new text is split into words, and a text this gateway knows costs no lookup at all
   * (knownTextIds.ts). Two replicas storing the same new text at once both end up with the
   * one row: the loser's insert does nothing and its second lookup finds it.
   */
  async #textIds(
    tx: Kysely<Database>,
    hashes: ReadonlyMap<string, string>,
  ): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    for (const hash of hashes.values()) {
      const id = this.known.get(hash);
      if (id !== undefined) ids.set(hash, id);
    }
    const unknown = [...hashes].filter(([, hash]) => !ids.has(hash));
    if (unknown.length === 0) return ids;
    for (const [hash, id] of await this.#lookUp(
      tx,
      unknown.map(([, hash]) => hash),
    )) {
      ids.set(hash, id);
    }
    const missing = unknown
      .filter(([, hash]) => !ids.has(hash))
      .map(([text, hash]) => ({ hash, text, words: indexableWords(text) }))
      .filter((text) => text.words.length > 0);
    for (let start = 0; start < missing.length; start += ROWS_PER_STATEMENT) {
      const batch = missing.slice(start, start + ROWS_PER_STATEMENT);
      let inserted: { id: number; hash: string }[];
      if (this.kind === 'postgres') {
        // The words, not to_tsvector: the same words SQLite's tokenizer indexes (migrations.ts).
        const values = batch.map(
          ({ hash, text, words }) => sql`(${hash}, ${text}, array_to_tsvector(${words}::text[]))`,
        );
        ({ rows: inserted } = await sql<{
          id: number;
          hash: string;
        }>`insert into indexed_texts (hash, text, terms) values ${sql.join(values)} on conflict (hash) do nothing returning id, hash`.execute(
          tx,
        ));
      } else {
        // The FTS5 index follows by trigger (migrations.ts).
        inserted = await tx
          .insertInto('indexed_texts')
          .values(batch.map(({ hash, text }) => ({ hash, text })))
          .onConflict((oc) => oc.column('hash').doNothing())
          .returning(['id', 'hash'])
          .execute();
      }
      for (const { id, hash } of inserted) ids.set(hash, id);
      const raced = batch.filter(({ hash }) => !ids.has(hash)).map(({ hash }) => hash);
      for (const [hash, id] of await this.#lookUp(tx, raced)) ids.set(hash, id);
    }
    return ids;
  }

  async #lookUp(tx: Kysely<Database>, hashes: string[]): Promise<Map<string, number>> {
    const ids = new Map<string, number>();
    for (let start = 0; start < hashes.length; start += ROWS_PER_STATEMENT) {
      const rows = await tx
        .selectFrom('indexed_texts')
        .select(['id', 'hash'])
        .where('hash', 'in', hashes.slice(start, start + ROWS_PER_STATEMENT))
        .execute();
      for (const { id, hash } of rows) ids.set(hash, id);
    }
    return ids;
  }

  /**
   * Neither database can estimate how many occurrences a prefix query matches, so left alone
   * the planner either walks all occurrences backwards testing each (fine for a common word,
   * a full scan for a rare one) or reads every occurrence of every matching text before
   * sorting (fine for a rare word, slow for a common one: a statement run a million times is
   * one text with a million occurrences). So the search is made in two steps whose cost is
   * bounded either way:
   * 1. the newest SEARCH_WINDOW_ROWS occurrences by id, the match tested on each: a common
   *    word fills the page from these;
   * 2. if the page is not full, the older occurrences of the texts the full-text index
   *    matches (`id + 0` keeps the planner off the backward id scan): what is left is a rare
   *    word, with few matches.
   */
  async searchRecordingText(search: RecordingTextSearch): Promise<RecordingTextHit[]> {
    const terms = search.terms.filter(isSearchTerm);
    if (terms.length === 0 || search.limit <= 0) return [];
    const limit = Math.floor(search.limit);
    const newest =
      search.beforeId !== undefined
        ? search.beforeId - 1
        : ((
            await this.db
              .selectFrom('recording_text')
              .select((eb) => eb.fn.max('id').as('max'))
              .executeTakeFirst()
          )?.max ?? 0);
    const windowStart = newest - SEARCH_WINDOW_ROWS;
    const recent = await this.#hits(terms, search, 'one by one')
      .where('recording_text.id', '<=', newest)
      .where('recording_text.id', '>', windowStart)
      .orderBy('recording_text.id', 'desc')
      .limit(limit)
      .execute();
    let rows: (Selectable<RecordingsTable> & TextColumns)[] = recent;
    if (recent.length < limit && windowStart > 0) {
      const older = await this.#hits(terms, search, 'through the index')
        .where('recording_text.id', '<=', windowStart)
        .orderBy(sql`recording_text.id + 0`, 'desc')
        .limit(limit - recent.length)
        .execute();
      rows = [...recent, ...older];
    }
    return rows.map((row) => ({
      id: row.hit_id,
      ...entryFromRow(row),
      recording: recordingFromRow(row),
    }));
  }

  /**
   * Occurrences whose text has every term (each one word) as a word or word prefix, with
   * their text and recording, filtered like the recording list. The text is read per hit by
   * primary key, never joined: a join lets the planner hash all of indexed_texts.
   *
   * 'one by one' (step 1): the occurrences are walked backwards by id and each one's text is
   * tested, so nothing may lead the planner to the text_id index (which would read every
   * occurrence of a matching text). SQLite tests the text id against FTS5's matches
   * (computed once per statement) as `+text_id`, which is not the indexed column;
   * PostgreSQL tests the text's tsvector in a subquery by primary key, run per occurrence.
   *
   * 'through the index' (step 2): the matching texts come from the full-text index first,
   * then their occurrences through the text_id index (on PostgreSQL as an array computed
   * once, which the planner cannot turn into a join to be hashed).
   */
  #hits(
    terms: readonly string[],
    search: RecordingTextSearch,
    how: 'one by one' | 'through the index',
  ) {
    const query = this.db
      .selectFrom('recording_text')
      .innerJoin('recordings', 'recordings.session_id', 'recording_text.session_id')
      .selectAll('recordings')
      .select(TEXT_COLUMNS)
      .select(
        sql<string>`(select indexed_texts.text from indexed_texts where indexed_texts.id = recording_text.text_id)`.as(
          'text',
        ),
      )
      .where((eb) => recordingConditions(onRecordings(eb), search.filter));
    if (this.kind === 'postgres') {
      const tsquery = sql`${terms.map((term) => `'${term}':*`).join(' & ')}::tsquery`;
      return query.where(
        how === 'one by one'
          ? sql<SqlBool>`(select indexed_texts.terms @@ ${tsquery} from indexed_texts where indexed_texts.id = recording_text.text_id)`
          : sql<SqlBool>`recording_text.text_id = any(array(select id from indexed_texts where terms @@ ${tsquery}))`,
      );
    }
    const match = terms.map((term) => `"${term}"*`).join(' AND ');
    const matching = sql`(select rowid from indexed_texts_fts where indexed_texts_fts match ${match})`;
    return query.where(
      how === 'one by one'
        ? sql<SqlBool>`+recording_text.text_id in ${matching}`
        : sql<SqlBool>`recording_text.text_id in ${matching}`,
    );
  }

  async deleteRecordingText(sessionId: string): Promise<number> {
    // The texts stay: other recordings may share them, and a re-index finds them again.
    const result = await this.db
      .deleteFrom('recording_text')
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async listRecordingText(sessionId: string): Promise<RecordingTextEntry[]> {
    const rows = await this.db
      .selectFrom('recording_text')
      .innerJoin('indexed_texts', 'indexed_texts.id', 'recording_text.text_id')
      .select([
        'recording_text.session_id',
        'recording_text.seq',
        'recording_text.time',
        'recording_text.channel',
        'recording_text.kind',
        'indexed_texts.text',
      ])
      .where('recording_text.session_id', '=', sessionId)
      .orderBy('recording_text.seq')
      .orderBy('recording_text.id')
      .execute();
    return rows.map(entryFromRow);
  }
}

/** An occurrence row, its text joined in, as the entry both search and listing hand out. */
function entryFromRow(
  row: Omit<TextColumns, 'hit_id'> & { session_id: string },
): RecordingTextEntry {
  return {
    sessionId: row.session_id,
    seq: row.seq,
    time: row.time,
    channel: row.channel,
    kind: row.kind,
    text: row.text,
  };
}
