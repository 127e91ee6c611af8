import { describe, expect, it } from 'vitest';
import { errorFor, placeServerError } from './serverErrorPlacement.ts';

const rules = [
  { field: 'duration', pattern: /at most|duration/i },
  { field: 'username', pattern: /user named|username/i },
] as const;

describe('placeServerError', () => {
  it('puts a message under the first field whose words it contains', () => {
    const placed = placeServerError(
      'Access to web-1 can be requested for at most 1h — ask for a shorter time.',
      rules,
    );
    expect(placed?.field).toBe('duration');
    expect(errorFor(placed, 'duration')).toMatch(/at most 1h/);
    expect(errorFor(placed, 'username')).toBeNull();
  });

  it('keeps a message about no field for the form, and nothing for no error', () => {
    expect(placeServerError('The gateway could not be reached.', rules)).toEqual({
      field: null,
      message: 'The gateway could not be reached.',
    });
    expect(placeServerError(null, rules)).toBeNull();
  });
});
