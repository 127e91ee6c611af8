import { describe, expect, it } from 'vitest';
import { fitFontSize, gridFits, MAX_FONT_PX, MIN_FONT_PX } from './fitFontSize.ts';

/** A renderer whose cells are 0.6 × 1.15 of the font size, rounded to whole pixels. */
const measure = (cols: number, rows: number, font: number) => ({
  width: cols * Math.round(font * 0.6),
  height: rows * Math.round(font * 1.15),
});

describe('fitFontSize', () => {
  it('shrinks a 160×48 grid until it fits a 1000×640 pane, in a few measurements', () => {
    const available = { width: 1000, height: 640 };
    let font = 13;
    let tries = 0;
    while (!gridFits(measure(160, 48, font), available) && tries < 5) {
      font = fitFontSize(font, measure(160, 48, font), available);
      tries++;
    }
    expect(gridFits(measure(160, 48, font), available)).toBe(true);
    expect(tries).toBeLessThanOrEqual(3);
    expect(font).toBeGreaterThanOrEqual(MIN_FONT_PX);
  });

  it('grows a small recording, up to the maximum', () => {
    expect(fitFontSize(13, { width: 400, height: 200 }, { width: 1600, height: 1000 })).toBe(
      MAX_FONT_PX,
    );
    expect(fitFontSize(13, { width: 800, height: 500 }, { width: 960, height: 600 })).toBe(15.5);
  });

  it('never goes below the minimum, nor changes on an unmeasured grid', () => {
    expect(fitFontSize(13, { width: 5000, height: 3000 }, { width: 100, height: 100 })).toBe(
      MIN_FONT_PX,
    );
    expect(fitFontSize(13, { width: 0, height: 0 }, { width: 100, height: 100 })).toBe(13);
    expect(fitFontSize(13, { width: 100, height: 100 }, { width: 0, height: 0 })).toBe(13);
  });
});
