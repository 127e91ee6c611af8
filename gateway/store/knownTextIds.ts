/**
 * The ids of texts this gateway recently found or stored in `indexed_texts`, by hash, so a
 * statement run again and again costs no lookup: its occurrence row is all that is written.
 * Sound because a stored text is never deleted or renumbered (the index only ever drops
 * occurrences); ids are added only after the transaction that found them committed.
 * Bounded: the least recently used id goes first.
 */
export class KnownTextIds {
  private readonly ids = new Map<string, number>();

  constructor(private readonly capacity = 10_000) {}

  get(hash: string): number | undefined {
    const id = this.ids.get(hash);
    if (id !== undefined) {
      // Map keeps insertion order: moving a hit to the end makes the first key the coldest.
      this.ids.delete(hash);
      this.ids.set(hash, id);
    }
    return id;
  }

  addAll(ids: ReadonlyMap<string, number>): void {
    for (const [hash, id] of ids) {
      this.ids.delete(hash);
      this.ids.set(hash, id);
    }
    for (const hash of this.ids.keys()) {
      if (this.ids.size <= this.capacity) break;
      this.ids.delete(hash);
    }
  }
}
