import { describe, expect, it } from 'vitest';
import { appendKeystrokes, keystrokeLabel } from './keystrokeLabel.ts';

describe('keystrokeLabel', () => {
  it('keeps printable text and names control keys', () => {
    expect(keystrokeLabel('ls -la\r')).toBe('ls -la⏎');
    expect(keystrokeLabel('\x03')).toBe('^C');
    expect(keystrokeLabel('ab\x7f')).toBe('ab⌫');
    expect(keystrokeLabel('\x1b[A\x1b[B')).toBe('↑↓');
    expect(keystrokeLabel('\x1b')).toBe('Esc');
    expect(keystrokeLabel('\t')).toBe('⇥');
  });
  it('keeps the last characters of the strip', () => {
    expect(appendKeystrokes('abc', 'def', 4)).toBe('cdef');
    expect(appendKeystrokes('', 'x\r', 40)).toBe('x⏎');
  });
});
