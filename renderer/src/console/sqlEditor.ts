/**
 * The console's SQL editor: CodeMirror 6 with PostgreSQL highlighting, completion of the
 * schemas, tables and columns the console read through its own session, Ctrl/Cmd+Enter to run
 * the selection (or everything), and the mark of an error's position. DOM only; React owns
 * nothing inside it.
 */
import { autocompletion } from '@codemirror/autocomplete';
import { PostgreSQL, type SQLNamespace, sql } from '@codemirror/lang-sql';
import { Compartment, Prec, StateEffect, StateField } from '@codemirror/state';
import { Decoration, type DecorationSet, EditorView, keymap } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import type { ConsoleSchemaCatalog } from '../../../main/ipc/contract.ts';
import { codePointCount, codeUnitIndex, tokenEnd } from './textPositions.ts';

export interface RunText {
  sql: string;
  /** Characters (code points) before `sql` in the editor: main adds it to error positions. */
  offset: number;
}

export interface SqlEditor {
  view: EditorView;
  /** The selection when there is one, else the whole text (null when it is blank). */
  runText(): RunText | null;
  setCatalog(catalog: ConsoleSchemaCatalog): void;
  /** Marks the error at `position` (1-based characters in the whole text); null clears. */
  markError(position: number | null): void;
  setText(text: string): void;
  destroy(): void;
}

const setErrorMark = StateEffect.define<{ from: number; to: number } | null>();
const errorMark = Decoration.mark({ class: 'sql-error-mark', attributes: { title: 'Error here' } });

const errorField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, transaction) {
    let next = transaction.docChanged ? Decoration.none : marks;
    for (const effect of transaction.effects) {
      if (!effect.is(setErrorMark)) continue;
      next =
        effect.value === null
          ? Decoration.none
          : Decoration.set([errorMark.range(effect.value.from, effect.value.to)]);
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/** lang-sql's namespace: schema → table → columns; `public` also completes unqualified. */
export function catalogNamespace(catalog: ConsoleSchemaCatalog): SQLNamespace {
  const namespace: { [name: string]: SQLNamespace } = {};
  for (const schema of catalog.schemas) {
    const tables: { [name: string]: SQLNamespace } = {};
    for (const table of schema.tables) tables[table.name] = table.columns;
    namespace[schema.name] = tables;
  }
  return namespace;
}

export function createSqlEditor(
  parent: HTMLElement,
  options: { doc: string; onRun(): void; label: string },
): SqlEditor {
  const language = new Compartment();
  const languageFor = (schema: SQLNamespace | undefined) =>
    sql({ dialect: PostgreSQL, ...(schema ? { schema, defaultSchema: 'public' } : {}) });
  const view = new EditorView({
    parent,
    doc: options.doc,
    extensions: [
      Prec.highest(
        keymap.of([
          {
            key: 'Mod-Enter',
            run: () => {
              options.onRun();
              return true;
            },
          },
        ]),
      ),
      basicSetup,
      language.of(languageFor(undefined)),
      autocompletion({ activateOnTyping: true }),
      errorField,
      EditorView.contentAttributes.of({ 'aria-label': options.label }),
      EditorView.lineWrapping,
    ],
  });
  return {
    view,
    runText() {
      const state = view.state;
      const range = state.selection.main;
      const whole = state.doc.toString();
      const selected = range.empty ? null : whole.slice(range.from, range.to);
      const text = selected ?? whole;
      if (text.trim() === '') return null;
      return {
        sql: text,
        offset: selected === null ? 0 : codePointCount(whole.slice(0, range.from)),
      };
    },
    setCatalog(catalog) {
      view.dispatch({ effects: language.reconfigure(languageFor(catalogNamespace(catalog))) });
    },
    markError(position) {
      if (position === null) {
        view.dispatch({ effects: setErrorMark.of(null) });
        return;
      }
      const text = view.state.doc.toString();
      const from = codeUnitIndex(text, position);
      const to = Math.max(tokenEnd(text, from), Math.min(from + 1, text.length));
      view.dispatch({
        effects: setErrorMark.of(from < to ? { from, to } : null),
        selection: { anchor: from },
        scrollIntoView: true,
      });
    },
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    destroy() {
      view.destroy();
    },
  };
}
