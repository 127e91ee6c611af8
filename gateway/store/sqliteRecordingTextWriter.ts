/**
 * The search index's writes on SQLite through a connection of their own, with statements
 * prepared once: what the search-text worker uses to store what it derives without handing
 * the entries back to the proxy's thread (DESIGN.md, "Search index written where it is
 * derived"). It stores exactly what KyselyRecordingTextStore.insertRecordingText stores (the
 * same rows, the same skipping of texts without words), so searches give the same hits
 * whichever wrote them; the recordingSearch contract suite runs over both.
 *
 * The database is the gateway's own file in WAL mode (openStore.ts), so this connection
 * writes while the main one reads; two writers take turns through busy_timeout. It never
 * migrates: the main connection has done that before any recording starts.
 */
import SqliteDatabase from 'better-sqlite3';
import { textHash } from './indexedText.ts';
import { KnownTextIds } from './knownTextIds.ts';
import type { RecordingTextEntry, RecordingTextWriter } from './recordingTextStore.ts';
import { type StoredTextForm, storedTextForm } from './storedText.ts';

interface Stored {
  form: StoredTextForm;
  /** indexed_texts.id of form.text */
  id: number;
}

export class SqliteRecordingTextWriter implements RecordingTextWriter {
  private readonly known = new KnownTextIds();
  private readonly selectText: SqliteDatabase.Statement<[string], { id: number }>;
  private readonly insertText: SqliteDatabase.Statement<[string, string], { id: number }>;
  private readonly insertOccurrence: SqliteDatabase.Statement<
    [string, number, number, number, string, number, string | null]
  >;
  private readonly insertLiteralWord: SqliteDatabase.Statement<[number | bigint, string]>;
  private readonly deleteOccurrences: SqliteDatabase.Statement<[string]>;
  private readonly deleteLiteralWords: SqliteDatabase.Statement<[string]>;
  private readonly transaction: SqliteDatabase.Transaction<
    (entries: readonly RecordingTextEntry[]) => Map<string, number>
  >;

  /** Opens `filePath` (an existing, migrated gateway database). */
  static open(filePath: string): SqliteRecordingTextWriter {
    const database = new SqliteDatabase(filePath, { fileMustExist: true });
    try {
      // As openStore.ts: wait for the other connection's write instead of failing.
      database.pragma('busy_timeout = 5000');
      database.pragma('foreign_keys = ON');
      return new SqliteRecordingTextWriter(database);
    } catch (error) {
      database.close();
      throw error;
    }
  }

  private constructor(private readonly database: SqliteDatabase.Database) {
    this.selectText = database.prepare('select id from indexed_texts where hash = ?');
    // The FTS5 index follows by trigger (migrations.ts).
    this.insertText = database.prepare(
      'insert into indexed_texts (hash, text) values (?, ?) on conflict (hash) do nothing returning id',
    );
    this.insertOccurrence = database.prepare(
      'insert into recording_text (session_id, seq, time, channel, kind, text_id, literals) values (?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertLiteralWord = database.prepare(
      'insert into literal_words (occurrence_id, word) values (?, ?)',
    );
    this.deleteOccurrences = database.prepare('delete from recording_text where session_id = ?');
    this.deleteLiteralWords = database.prepare(
      'delete from literal_words where occurrence_id in (select id from recording_text where session_id = ?)',
    );
    // One transaction per call: BEGIN IMMEDIATE, so a busy database is waited for up front
    // rather than failing when a read turns into a write.
    this.transaction = database.transaction((entries: readonly RecordingTextEntry[]) =>
      this.#insert(entries),
    );
  }

  async insertRecordingText(entries: readonly RecordingTextEntry[]): Promise<void> {
    this.insertNow(entries);
  }

  /** insertRecordingText, synchronously (the worker has nothing else to do meanwhile). */
  insertNow(entries: readonly RecordingTextEntry[]): void {
    if (entries.length === 0) return;
    // Ids become known only once the transaction that found or stored them committed.
    this.known.addAll(this.transaction.immediate(entries));
  }

  async deleteRecordingText(sessionId: string): Promise<number> {
    return this.database.transaction(() => {
      this.deleteLiteralWords.run(sessionId);
      return this.deleteOccurrences.run(sessionId).changes;
    })();
  }

  close(): void {
    this.database.close();
  }

  /** Inside the transaction: each occurrence, its text (or shape) found or stored first. */
  #insert(entries: readonly RecordingTextEntry[]): Map<string, number> {
    const found = new Map<string, number>();
    // A batch repeats the same few statements: each text's form and id once, per kind of
    // storing (only queries are shaped). null: a text without words, not stored.
    const seen = {
      query: new Map<string, Stored | null>(),
      other: new Map<string, Stored | null>(),
    };
    for (const entry of entries) {
      const batch = entry.kind === 'query' ? seen.query : seen.other;
      let stored = batch.get(entry.text);
      if (stored === undefined) {
        stored = this.#stored(entry, found);
        batch.set(entry.text, stored);
      }
      if (stored === null) continue;
      const occurrence = this.insertOccurrence.run(
        entry.sessionId,
        entry.seq,
        entry.time,
        entry.channel,
        entry.kind,
        stored.id,
        stored.form.literals,
      ).lastInsertRowid;
      for (const word of stored.form.literalWords) this.insertLiteralWord.run(occurrence, word);
    }
    return found;
  }

  /** The entry's stored form and its text's id (noted in `found`), or null without words. */
  #stored(entry: RecordingTextEntry, found: Map<string, number>): Stored | null {
    const form = storedTextForm(entry);
    if (form === undefined) return null;
    const hash = textHash(form.text);
    const id = this.known.get(hash) ?? this.#textId(hash, form.text);
    if (id === undefined) return null;
    found.set(hash, id);
    return { form, id };
  }

  /** The stored text's id, storing it if it is new (storedTextForm has checked it has words). */
  #textId(hash: string, text: string): number | undefined {
    const existing = this.selectText.get(hash);
    if (existing) return existing.id;
    // Another replica cannot race here (SQLite has one gateway), but keep the store's rule:
    // a conflicting insert does nothing and the lookup finds the row.
    return (this.insertText.get(hash, text) ?? this.selectText.get(hash))?.id;
  }
}
