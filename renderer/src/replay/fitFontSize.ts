/**
 * The font size at which a recorded terminal grid fits its pane (issue #16: a 160×48 recording
 * at the player's fixed 13 px was cut off at the bottom and right behind an inner scroll). The
 * grid keeps its recorded columns and rows — re-wrapping to the pane would show a screen the
 * user never saw — so the only free variable is the font. A cell's size follows the font size
 * nearly in proportion (the renderer rounds to device pixels), so the caller measures the grid
 * at one size, asks for the next, and measures again until it fits.
 */
export const BASE_FONT_PX = 13;
/** Smaller than this is unreadable; the pane scrolls instead. */
export const MIN_FONT_PX = 6;
/** Fit enlarges a small recording in a large pane, up to this. */
export const MAX_FONT_PX = 18;

export interface Box {
  width: number;
  height: number;
}

/**
 * The font size to try next: `current` scaled by how much the measured grid must shrink or may
 * grow to fit `available`, rounded down to a quarter pixel and kept within the limits.
 */
export function fitFontSize(current: number, grid: Box, available: Box): number {
  if (grid.width <= 0 || grid.height <= 0 || available.width <= 0 || available.height <= 0) {
    return current;
  }
  const scale = Math.min(available.width / grid.width, available.height / grid.height);
  const next = Math.floor(current * scale * 4) / 4;
  return Math.max(MIN_FONT_PX, Math.min(MAX_FONT_PX, next));
}

/** Whether a measured grid fits (a half-pixel of rounding allowed). */
export function gridFits(grid: Box, available: Box): boolean {
  return grid.width <= available.width + 0.5 && grid.height <= available.height + 0.5;
}
