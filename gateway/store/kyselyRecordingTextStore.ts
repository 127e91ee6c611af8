/**
 * RecordingTextStore over Kysely. Each distinct text is stored once, in `indexed_texts` (keyed
 * by its hash, with its full-text index: FTS5 on SQLite, a tsvector + GIN on PostgreSQL), and
 * every occurrence is a small row in `recording_text` that points at it. A statement pgbench
 * runs a million times is one text, tokenized and indexed once, and a million occurrences. A
 * query with constants is stored as its shape (statementShape.ts: each constant replaced by a
 * placeholder), so `aid = 1` and `aid = 2` are one text too; each occurrence keeps its own constants
 * (`literals`) and their words (`literal_words`, a B-tree by word), which is how a search for
 * `12345` finds the one occurrence that carried it (storedText.ts).
 *
 * A search finds the matching texts through the full-text index and the matching constants
 * through the word index, and returns their occurrences, newest first; `searchRecordingText`
 * says how its cost stays bounded.
 */
import { type Kysely, type Selectable, type SqlBool, sql } from 'kysely';
import { indexableWords, isSearchTerm, textHash } from './indexedText.ts';
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
import { type StoredTextForm, storedTextForm, textFromStored } from './storedText.ts';

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
  /** indexed_texts.text: the text, or a query's shape when `literals` is set. */
  text: string;
  literals: string | null;
}

const TEXT_COLUMNS = [
  'recording_text.id as hit_id',
  'recording_text.seq',
  'recording_text.time',
  'recording_text.channel',
  'recording_text.kind',
  'recording_text.literals',
] as const;

/** Above every character: `word < term + this` bounds the words `term` is a prefix of. */
const AFTER_EVERY_CHARACTER = '\u{10FFFF}';

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
    // Each distinct text's form and hash once: a batch repeats the same few statements.
    const seen = { query: new Map<string, Form | null>(), other: new Map<string, Form | null>() };
    /** text (as stored in indexed_texts) → hash */
    const hashes = new Map<string, string>();
    const occurrences: { entry: RecordingTextEntry; form: Form }[] = [];
    for (const entry of entries) {
      const batch = entry.kind === 'query' ? seen.query : seen.other;
      let form = batch.get(entry.text);
      if (form === undefined) {
        const stored = storedTextForm(entry);
        form = stored === undefined ? null : { ...stored, hash: textHash(stored.text) };
        batch.set(entry.text, form);
        if (form !== null) hashes.set(form.text, form.hash);
      }
      if (form !== null) occurrences.push({ entry, form });
    }
    if (occurrences.length === 0) return;
    const ids = await writeTransaction(this.connection, async (tx) => {
      const ids = await this.#textIds(tx, hashes);
      const occurrenceIds = await this.#newOccurrenceIds(tx, occurrences.length);
      const rows = occurrences.map(({ entry, form }, i) => ({
        id: occurrenceIds[i]!,
        session_id: entry.sessionId,
        seq: entry.seq,
        time: entry.time,
        channel: entry.channel,
        kind: entry.kind,
        text_id: ids.get(form.hash)!,
        literals: form.literals,
      }));
      for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
        await tx
          .insertInto('recording_text')
          .values(rows.slice(start, start + ROWS_PER_STATEMENT))
          .execute();
      }
      const words = occurrences.flatMap(({ form }, i) =>
        form.literalWords.map((word) => ({ occurrence_id: occurrenceIds[i]!, word })),
      );
      for (let start = 0; start < words.length; start += ROWS_PER_STATEMENT) {
        await tx
          .insertInto('literal_words')
          .values(words.slice(start, start + ROWS_PER_STATEMENT))
          .execute();
      }
      return ids;
    });
    this.known.addAll(ids);
  }

  /**
   * Ids for `count` new occurrences, in increasing order, after every id ever given: chosen
   * here rather than by the insert, so each occurrence's literal words can name it (neither
   * database promises RETURNING rows in VALUES order). On SQLite inside the write
   * transaction (one writer at a time), from AUTOINCREMENT's high-water mark; on PostgreSQL
   * from the column's sequence.
   */
  async #newOccurrenceIds(tx: Kysely<Database>, count: number): Promise<number[]> {
    if (this.kind === 'postgres') {
      const { rows } = await sql<{
        id: number;
      }>`select nextval(pg_get_serial_sequence('recording_text', 'id')) as id from generate_series(1, ${count})`.execute(
        tx,
      );
      return rows.map((row) => Number(row.id)).sort((a, b) => a - b);
    }
    const { rows } = await sql<{
      last: number | null;
    }>`select max(coalesce((select seq from sqlite_sequence where name = 'recording_text'), 0), coalesce((select max(id) from recording_text), 0)) as last`.execute(
      tx,
    );
    const last = Number(rows[0]?.last ?? 0);
    return Array.from({ length: count }, (_, i) => last + 1 + i);
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
   * their text and recording, filtered like the recording list. A term is a word of the text
   * when it is a word of the stored text (a query's shape) or of one of the occurrence's
   * constants. The text is read per hit by primary key, never joined: a join lets the planner
   * hash all of indexed_texts.
   *
   * 'one by one' (step 1): the occurrences are walked backwards by id and each one is tested
   * (#inText, #inLiterals), so nothing may lead the planner to the text_id index.
   *
   * 'through the index' (step 2): the candidates are the occurrences of texts the full-text
   * index matches with every term, and the occurrences with a constant that has one of the
   * terms (the word index); each is then tested as in step 1. Every occurrence that matches is
   * a candidate: if no term is in its constants, all are in its stored text.
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
    // Every term is a word (or word prefix) of the text, which is a word of its stored text
    // (a query's shape) or of the occurrence's own constants (storedText.ts).
    const everyTerm = sql.join(
      terms.map((term) => sql`(${this.#inText(term)} or ${this.#inLiterals(term)})`),
      sql` and `,
    );
    if (how === 'one by one') return query.where(sql<SqlBool>`${everyTerm}`);
    // Through the indexes: texts with every term (full-text), or occurrences with a constant
    // that has one of them (the word index); then every term is checked on each of those.
    const allInText =
      this.kind === 'postgres'
        ? sql`recording_text.text_id = any(array(select id from indexed_texts where terms @@ ${tsquery(terms)}))`
        : sql`recording_text.text_id in (select rowid from indexed_texts_fts where indexed_texts_fts match ${ftsMatch(terms)})`;
    const literalRanges = sql.join(
      terms.map((term) => sql`(${wordRange(term, this.kind)})`),
      sql` or `,
    );
    const anyInLiterals =
      this.kind === 'postgres'
        ? sql`recording_text.id = any(array(select occurrence_id from literal_words where ${literalRanges}))`
        : sql`recording_text.id in (select occurrence_id from literal_words where ${literalRanges})`;
    return query.where(sql<SqlBool>`(${allInText} or ${anyInLiterals}) and ${everyTerm}`);
  }

  /**
   * The term is a word of the occurrence's stored text, tested per occurrence, so nothing may
   * lead the planner to the text_id index (which would read every occurrence of a matching
   * text): SQLite tests `+text_id` (not the indexed column) against FTS5's matches, computed
   * once per statement; PostgreSQL tests the text's tsvector in a subquery by primary key.
   */
  #inText(term: string) {
    if (this.kind === 'postgres') {
      return sql`(select indexed_texts.terms @@ ${tsquery([term])} from indexed_texts where indexed_texts.id = recording_text.text_id)`;
    }
    return sql`+recording_text.text_id in (select rowid from indexed_texts_fts where indexed_texts_fts match ${ftsMatch([term])})`;
  }

  /** The term is a word of one of the occurrence's constants (by its literal_words key). */
  #inLiterals(term: string) {
    return sql`exists (select 1 from literal_words where literal_words.occurrence_id = recording_text.id and ${wordRange(term, this.kind)})`;
  }

  async deleteRecordingText(sessionId: string): Promise<number> {
    // The texts stay: other recordings may share them, and a re-index finds them again.
    return writeTransaction(this.connection, async (tx) => {
      await tx
        .deleteFrom('literal_words')
        .where('occurrence_id', 'in', (eb) =>
          eb.selectFrom('recording_text').select('id').where('session_id', '=', sessionId),
        )
        .execute();
      const result = await tx
        .deleteFrom('recording_text')
        .where('session_id', '=', sessionId)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
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
        'recording_text.literals',
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
    text: textFromStored(row.text, row.literals),
  };
}

/** An entry's stored form with the key of its stored text. */
type Form = StoredTextForm & { hash: string };

/** FTS5: every term as a word or word prefix (terms are single words: isSearchTerm). */
function ftsMatch(terms: readonly string[]): string {
  return terms.map((term) => `"${term}"*`).join(' AND ');
}

/** PostgreSQL: every term as a lexeme or lexeme prefix. */
function tsquery(terms: readonly string[]) {
  return sql`${terms.map((term) => `'${term}':*`).join(' & ')}::tsquery`;
}

/** literal_words.word begins with `term`: a range of the word index (byte order on both). */
function wordRange(term: string, kind: StoreKind) {
  const after = term + AFTER_EVERY_CHARACTER;
  return kind === 'postgres'
    ? sql`literal_words.word >= ${term}::text collate "C" and literal_words.word < ${after}::text collate "C"`
    : sql`literal_words.word >= ${term} and literal_words.word < ${after}`;
}
