/**
 * How one derived text entry is stored, the same for both stores and the worker's SQLite
 * writer: the text indexed once (`indexed_texts`, full-text), and, for a query with
 * constants, its shape there instead with the constants on the occurrence row and their words
 * in `literal_words` (plain B-tree rows, no full-text insert). See statementShape.ts.
 */
import { hasIndexableWord, indexableWords, storableText } from './indexedText.ts';
import type { RecordingTextEntry } from './recordingTextStore.ts';
import { rebuildStatement, statementShape } from './statementShape.ts';

export interface StoredTextForm {
  /** What `indexed_texts` holds (once): a query's shape, or the text itself. */
  text: string;
  /** The literals held apart, as JSON (`recording_text.literals`); null when none. */
  literals: string | null;
  /** The distinct indexable words of those literals (`literal_words` rows). */
  literalWords: string[];
}

/**
 * The stored form of an entry, or undefined for a text without a word the index holds (it
 * could never be found, so it is not stored: the rule both stores had before shapes).
 */
export function storedTextForm(
  entry: Pick<RecordingTextEntry, 'kind' | 'text'>,
): StoredTextForm | undefined {
  const text = storableText(entry.text);
  if (entry.kind === 'query') {
    const split = statementShape(text);
    // A shape without words (`'abc'` alone) would be a text no search finds: keep it whole.
    if (split !== undefined && hasIndexableWord(split.shape)) {
      return {
        text: split.shape,
        literals: JSON.stringify(split.literals),
        literalWords: literalWords(split.literals),
      };
    }
  }
  if (!hasIndexableWord(text)) return undefined;
  return { text, literals: null, literalWords: [] };
}

/** The entry's text from what is stored: the text, or the shape with its literals put back. */
export function textFromStored(text: string, literals: string | null): string {
  if (literals === null) return text;
  return rebuildStatement(text, JSON.parse(literals) as string[]);
}

function literalWords(literals: readonly string[]): string[] {
  const words = new Set<string>();
  for (const literal of literals) for (const word of indexableWords(literal)) words.add(word);
  return [...words];
}
