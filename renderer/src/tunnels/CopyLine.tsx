/**
 * One line to copy (a psql command, a URI, a JDBC URL, a file path): shown whole and selectable,
 * with a Copy button that says when it worked. Where the clipboard is refused (a browser that
 * does not allow it), the text is selected so Ctrl+C copies it.
 */
import { useEffect, useRef, useState } from 'react';

export function CopyLine({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState<'idle' | 'copied' | 'select'>('idle');
  const ref = useRef<HTMLInputElement>(null);
  // "Copied" is news for a moment; after that the button offers to copy again.
  useEffect(() => {
    if (copied !== 'copied') return;
    const timer = setTimeout(() => setCopied('idle'), 2_000);
    return () => clearTimeout(timer);
  }, [copied]);
  const copy = () => {
    navigator.clipboard
      .writeText(value)
      .then(() => setCopied('copied'))
      .catch(() => {
        ref.current?.select();
        setCopied('select');
      });
  };
  return (
    <div className="copy-line">
      <span className="copy-line-label">{label}</span>
      <input
        ref={ref}
        className="copy-line-value"
        readOnly
        value={value}
        aria-label={label}
        onFocus={(e) => e.currentTarget.select()}
        spellCheck={false}
      />
      <button
        type="button"
        className="button button-small"
        onClick={copy}
        aria-label={`Copy ${label}`}
      >
        {copied === 'copied' ? 'Copied' : 'Copy'}
      </button>
      {copied === 'select' ? (
        <span className="muted small" role="status">
          Selected — press Ctrl+C to copy.
        </span>
      ) : null}
    </div>
  );
}
