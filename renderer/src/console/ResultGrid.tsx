/**
 * One result set as a virtualized grid: only the rows in view are in the DOM, so 100,000 rows
 * scroll like 100. Columns can be resized by dragging a header's edge; a cell or a rectangle
 * (shift-click) can be copied with Ctrl/Cmd+C; NULL is shown apart from the empty string;
 * masked columns are marked; the selected cell is shown whole below (json pretty-printed).
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { type KeyboardEvent, type PointerEvent, useEffect, useMemo, useRef, useState } from 'react';
import { cellKind, cellLine, inspectedValue } from './cellText.ts';
import { columnWidths } from './columnWidths.ts';
import type { ConsoleResult } from './consoleResults.ts';
import { type GridSelection, isSelected, selectionBounds, selectionText } from './gridSelection.ts';

const ROW_HEIGHT = 24;
const NUMBER_WIDTH = 64;

export function ResultGrid({
  result,
  version,
  label,
}: {
  result: ConsoleResult;
  /** Changes whenever rows were appended (the rows array itself is appended in place). */
  version: number;
  label: string;
}) {
  const scrollRef = useRef<HTMLElement>(null);
  const [widths, setWidths] = useState<number[]>(() => columnWidths(result.columns, result.rows));
  // Sized again once the first rows arrive (streaming starts with none), unless resized by hand.
  const sizedFromRows = useRef(result.rows.length > 0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: rows are appended in place; `version` is what changes when they are
  useEffect(() => {
    if (sizedFromRows.current || result.rows.length === 0) return;
    sizedFromRows.current = true;
    setWidths(columnWidths(result.columns, result.rows));
  }, [version, result]);
  const [selection, setSelection] = useState<GridSelection | null>(null);
  const [copied, setCopied] = useState(false);
  const count = result.rows.length;
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 20,
  });
  void version;
  const template = useMemo(
    () => `${NUMBER_WIDTH}px ${widths.map((w) => `${w}px`).join(' ')}`,
    [widths],
  );
  const totalWidth = NUMBER_WIDTH + widths.reduce((a, b) => a + b, 0);
  const bounds = selection ? selectionBounds(selection) : null;

  const startResize = (col: number) => (event: PointerEvent<HTMLSpanElement>) => {
    event.preventDefault();
    event.stopPropagation();
    const startX = event.clientX;
    sizedFromRows.current = true;
    const startWidth = widths[col] ?? 100;
    const target = event.currentTarget;
    target.setPointerCapture(event.pointerId);
    const move = (e: globalThis.PointerEvent) => {
      const width = Math.max(40, startWidth + e.clientX - startX);
      setWidths((current) => current.map((w, i) => (i === col ? width : w)));
    };
    const up = () => {
      target.removeEventListener('pointermove', move);
      target.removeEventListener('pointerup', up);
    };
    target.addEventListener('pointermove', move);
    target.addEventListener('pointerup', up);
  };

  const onKeyDown = async (event: KeyboardEvent<HTMLElement>) => {
    if (!selection || !(event.ctrlKey || event.metaKey) || event.key.toLowerCase() !== 'c') return;
    event.preventDefault();
    await navigator.clipboard.writeText(selectionText(result.rows, selection));
    setCopied(true);
    setTimeout(() => setCopied(false), 1_500);
  };

  const single =
    selection && bounds && bounds.top === bounds.bottom && bounds.left === bounds.right
      ? { row: bounds.top, col: bounds.left }
      : null;
  const inspected = single ? result.rows[single.row]?.[single.col] : undefined;
  const inspectedColumn = single ? result.columns[single.col] : undefined;

  return (
    <div className="result-grid-wrap">
      {/* A virtualized grid cannot be a <table> (only the rows in view exist). */}
      <section
        ref={scrollRef}
        className="result-grid"
        aria-label={label}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the grid takes its own copy key when focused
        tabIndex={0}
        onKeyDown={onKeyDown}
        data-testid="result-grid"
      >
        <div className="result-grid-inner" style={{ width: totalWidth }}>
          <div className="result-row result-header" style={{ gridTemplateColumns: template }}>
            <span className="result-cell result-rownum" aria-hidden="true">
              #
            </span>
            {result.columns.map((column, col) => (
              <span
                // biome-ignore lint/suspicious/noArrayIndexKey: columns are positional (names repeat).
                key={`${col}-${column.name}`}
                className={
                  column.masked
                    ? 'result-cell result-head result-head-masked'
                    : 'result-cell result-head'
                }
                title={column.masked ? `${column.name} — masked by the gateway` : column.name}
              >
                {column.name}
                {column.masked ? <span className="badge badge-masked">masked</span> : null}
                <span
                  className="result-resize"
                  aria-hidden="true"
                  data-testid={`resize-${col}`}
                  onPointerDown={startResize(col)}
                />
              </span>
            ))}
          </div>
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {virtualizer.getVirtualItems().map((item) => {
              const row = result.rows[item.index];
              if (!row) return null;
              return (
                <div
                  key={item.key}
                  data-row={item.index}
                  className="result-row"
                  style={{
                    gridTemplateColumns: template,
                    transform: `translateY(${item.start}px)`,
                    height: ROW_HEIGHT,
                  }}
                >
                  <span className="result-cell result-rownum">{item.index + 1}</span>
                  {row.map((value, col) => {
                    const column = result.columns[col];
                    const kind = cellKind(value, column?.typeOid ?? 25);
                    const classes = [
                      'result-cell',
                      `cell-${kind}`,
                      column?.masked ? 'cell-masked' : '',
                      isSelected(bounds, item.index, col) ? 'cell-selected' : '',
                    ]
                      .filter(Boolean)
                      .join(' ');
                    return (
                      <button
                        type="button"
                        tabIndex={-1}
                        // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional.
                        key={col}
                        className={classes}
                        onClick={(event) => {
                          const cell = { row: item.index, col };
                          setSelection((current) =>
                            event.shiftKey && current
                              ? { anchor: current.anchor, focus: cell }
                              : { anchor: cell, focus: cell },
                          );
                        }}
                      >
                        {cellLine(value)}
                      </button>
                    );
                  })}
                </div>
              );
            })}
          </div>
        </div>
      </section>
      {copied ? (
        <p className="muted small" role="status">
          Copied.
        </p>
      ) : null}
      {single && inspected !== undefined && inspectedColumn ? (
        <section className="cell-inspector" aria-label="Selected value">
          <pre>{inspectedValue(inspected, inspectedColumn.typeOid)}</pre>
        </section>
      ) : null}
    </div>
  );
}
