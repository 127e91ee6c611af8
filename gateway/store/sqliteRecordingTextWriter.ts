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
import { hasIndexableWord, storableText, textHash } from './indexedText.ts';
import { KnownTextIds } from './knownTextIds.ts';
import type { RecordingTextEntry, RecordingTextWriter } from './recordingTextStore.ts';

export class SqliteRecordingTextWriter implements RecordingTextWriter {
  private readonly known = new KnownTextIds();
  private readonly selectText: SqliteDatabase.Statement<[string], { id: number }>;
  private readonly insertText: SqliteDatabase.Statement<[string, string], { id: number }>;
  private readonly insertOccurrence: SqliteDatabase.Statement<
    [string, number, number, number, string, number]
  >;
  private readonly deleteOccurrences: SqliteDatabase.Statement<[string]>;
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
      'insert into recording_text (session_id, seq, time, channel, kind, text_id) values (?, ?, ?, ?, ?, ?)',
    );
    this.deleteOccurrences = database.prepare('delete from recording_text where session_id = ?');
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
    return this.deleteOccurrences.run(sessionId).changes;
  }

  close(): void {
    this.database.close();
  }

  /** Inside the transaction: each occurrence, its text found or stored first. */
  #insert(entries: readonly RecordingTextEntry[]): Map<string, number> {
    const found = new Map<string, number>();
    /** This batch's texts (a batch repeats the same few statements): id, or null without words. */
    const ids = new Map<string, number | null>();
    for (const entry of entries) {
      const text = storableText(entry.text);
      let id = ids.get(text);
      if (id === undefined) {
        const hash = textHash(text);
        id = this.known.get(hash) ?? this.#textId(hash, text) ?? null;
        ids.set(text, id);
        if (id !== null) found.set(hash, id);
      }
      if (id === null) continue;
      this.insertOccurrence.run(
        entry.sessionId,
        entry.seq,
        entry.time,
        entry.channel,
        entry.kind,
        id,
      );
    }
    return found;
  }

  /** The stored text's id, storing it if it has words; undefined for a text without. */
  #textId(hash: string, text: string): number | undefined {
    const existing = this.selectText.get(hash);
    if (existing) return existing.id;
    if (!hasIndexableWord(text)) return undefined;
    // Another replica cannot race here (SQLite has one gateway), but keep the store's rule:
    // a conflicting insert does nothing and the lookup finds the row.
    return (this.insertText.get(hash, text) ?? this.selectText.get(hash))?.id;
  }
}
