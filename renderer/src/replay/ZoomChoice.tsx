/**
 * The player's "Fit / 100 %" choice (issue #16): fit scales the font so the recorded grid is
 * whole in the pane; 100 % keeps the terminal's own font size and lets the pane scroll.
 */
export type PlayerZoom = 'fit' | 'actual';

const CHOICES: readonly (readonly [PlayerZoom, string])[] = [
  ['fit', 'Fit'],
  ['actual', '100 %'],
];

export function ZoomChoice({ zoom, onZoom }: { zoom: PlayerZoom; onZoom(zoom: PlayerZoom): void }) {
  return (
    <fieldset className="player-option zoom-choice" aria-label="Screen size">
      {CHOICES.map(([value, label]) => (
        <button
          key={value}
          type="button"
          className="button button-small"
          aria-pressed={zoom === value}
          onClick={() => onZoom(value)}
        >
          {label}
        </button>
      ))}
    </fieldset>
  );
}
