import { describe, expect, it } from 'vitest';
import { countSpans } from './count-spans.js';

const at = (text: string): Date => new Date(text);

describe('countSpans', () => {
  it('counts a local day that lies across two UTC days from the records alone', () => {
    // 2026-03-08 in Asia/Kathmandu (+05:45).
    expect(countSpans(at('2026-03-07T18:15:00Z'), at('2026-03-08T18:15:00Z'))).toEqual({
      months: [],
      days: [],
      records: [{ from: at('2026-03-07T18:15:00Z'), until: at('2026-03-08T18:15:00Z') }],
    });
  });

  it('takes whole UTC days from day rows and the part-days at both ends from the records', () => {
    // 2025-03-01 .. 2025-03-31 in Asia/Shanghai: no whole UTC month inside.
    expect(countSpans(at('2025-02-28T16:00:00Z'), at('2025-03-31T16:00:00Z'))).toEqual({
      months: [],
      days: [{ from: '2025-03-01', until: '2025-03-31' }],
      records: [
        { from: at('2025-02-28T16:00:00Z'), until: at('2025-03-01T00:00:00Z') },
        { from: at('2025-03-31T00:00:00Z'), until: at('2025-03-31T16:00:00Z') },
      ],
    });
  });

  it('takes whole UTC months from month rows, the days around them from day rows', () => {
    // 2025-01-01 .. 2025-06-30 in America/New_York (-05:00, then -04:00).
    expect(countSpans(at('2025-01-01T05:00:00Z'), at('2025-07-01T04:00:00Z'))).toEqual({
      months: [{ from: '2025-02-01', until: '2025-07-01' }],
      days: [{ from: '2025-01-02', until: '2025-02-01' }],
      records: [
        { from: at('2025-01-01T05:00:00Z'), until: at('2025-01-02T00:00:00Z') },
        { from: at('2025-07-01T00:00:00Z'), until: at('2025-07-01T04:00:00Z') },
      ],
    });
    // UTC bounds: nothing from the records, months only.
    expect(countSpans(at('2025-01-01T00:00:00Z'), at('2025-07-01T00:00:00Z'))).toEqual({
      months: [{ from: '2025-01-01', until: '2025-07-01' }],
      days: [],
      records: [],
    });
  });

  it('leaves an open side open', () => {
    expect(countSpans(null, null)).toEqual({ months: [{ from: null, until: null }], days: [], records: [] });
    expect(countSpans(at('2025-01-15T08:00:00Z'), null)).toEqual({
      months: [{ from: '2025-02-01', until: null }],
      days: [{ from: '2025-01-16', until: '2025-02-01' }],
      records: [{ from: at('2025-01-15T08:00:00Z'), until: at('2025-01-16T00:00:00Z') }],
    });
    expect(countSpans(null, at('2025-01-15T08:00:00Z'))).toEqual({
      months: [{ from: null, until: '2025-01-01' }],
      days: [{ from: '2025-01-01', until: '2025-01-15' }],
      records: [{ from: at('2025-01-15T00:00:00Z'), until: at('2025-01-15T08:00:00Z') }],
    });
  });

  it('names no day past 9999-12-31 at the end of the calendar', () => {
    const last = at('9999-12-31T23:59:59.999Z');
    expect(countSpans(last, null)).toEqual({ months: [], days: [], records: [{ from: last, until: null }] });
    expect(countSpans(at('9999-12-05T10:00:00Z'), null)).toEqual({
      months: [],
      days: [{ from: '9999-12-06', until: null }],
      records: [{ from: at('9999-12-05T10:00:00Z'), until: at('9999-12-06T00:00:00Z') }],
    });
    expect(countSpans(at('0001-01-01T00:00:00Z'), last)).toEqual({
      months: [{ from: '0001-01-01', until: '9999-12-01' }],
      days: [{ from: '9999-12-01', until: '9999-12-31' }],
      records: [{ from: at('9999-12-31T00:00:00Z'), until: last }],
    });
  });
});
