import { describe, expect, it } from 'vitest';
import type { Message } from '../types';
import { beforeCursor, isMessage, mergeMessages, messageKey } from './messages';

const msg = (id: string | undefined, date: number, text = `m${date}`, from = '1'): Message =>
  id === undefined ? { roomId: '0', from, date, message: text } : { id, roomId: '0', from, date, message: text };

describe('mergeMessages', () => {
  it('sorts a newest-first page oldest first', () => {
    const page = [msg('c', 3), msg('b', 2), msg('a', 1)];
    expect(mergeMessages([], page).map((m) => m.id)).toEqual(['a', 'b', 'c']);
  });

  it('drops a live message already delivered by the ack (same id)', () => {
    const acked = msg('x', 10, 'hi');
    const after = mergeMessages([msg('a', 1)], [acked]);
    expect(mergeMessages(after, [{ ...acked }])).toBe(after);
    expect(after).toHaveLength(2);
  });

  it('merges an overlapping history page without duplicates', () => {
    const live = [msg('d', 4), msg('e', 5)];
    const page = [msg('e', 5), msg('d', 4), msg('c', 3), msg('b', 2)];
    expect(mergeMessages(live, page).map((m) => m.id)).toEqual(['b', 'c', 'd', 'e']);
  });

  it('prepends an older page and appends live messages', () => {
    const base = [msg('m', 10), msg('n', 11)];
    expect(mergeMessages(base, [msg('a', 1), msg('b', 2)]).map((m) => m.id)).toEqual(['a', 'b', 'm', 'n']);
    expect(mergeMessages(base, [msg('z', 12)]).map((m) => m.id)).toEqual(['m', 'n', 'z']);
  });

  it('interleaves messages that arrive out of order', () => {
    const base = [msg('a', 1), msg('c', 3)];
    expect(mergeMessages(base, [msg('b', 2)]).map((m) => m.id)).toEqual(['a', 'b', 'c']);
  });

  it('dedupes inside the incoming batch and keeps same-date messages in a stable order', () => {
    const out = mergeMessages([], [msg('b', 5), msg('a', 5), msg('b', 5)]);
    expect(out.map((m) => m.id)).toEqual(['a', 'b']);
    expect(mergeMessages([], [msg('a', 5), msg('b', 5)]).map((m) => m.id)).toEqual(['a', 'b']);
  });

  it('identifies legacy messages without an id by their content', () => {
    const legacy = msg(undefined, 7, 'old', '2');
    const out = mergeMessages([legacy], [{ ...legacy }, msg(undefined, 7, 'other', '2')]);
    expect(out).toHaveLength(2);
    expect(messageKey(legacy)).not.toBe(messageKey(msg(undefined, 7, 'old', '3')));
  });

  it('returns the same array when nothing is new', () => {
    const base = [msg('a', 1)];
    expect(mergeMessages(base, [])).toBe(base);
    expect(mergeMessages(base, [msg('a', 1)])).toBe(base);
  });
});

describe('isMessage and beforeCursor', () => {
  it('accepts stored messages and rejects bad shapes', () => {
    expect(isMessage(msg('a', 1))).toBe(true);
    expect(isMessage(msg(undefined, 1))).toBe(true);
    expect(isMessage({ error: 'nope' })).toBe(false);
    expect(isMessage({ roomId: '0', from: 1, date: 1, message: 'x' })).toBe(false);
    expect(isMessage({ roomId: '0', from: '1', date: Number.NaN, message: 'x' })).toBe(false);
    expect(isMessage(null)).toBe(false);
  });

  it('uses the id as the cursor, or the date for legacy messages', () => {
    expect(beforeCursor(msg('1718000800500-9f3a', 1718000800.5))).toBe('1718000800500-9f3a');
    // An id that is no cursor (an old demo message's hex id, another port's id): the date.
    expect(beforeCursor(msg('a1b2c3d4e5f60718', 5))).toBe('5');
    expect(beforeCursor(msg('abc', 5))).toBe('5');
    expect(beforeCursor(msg(undefined, 1718000800.5))).toBe('1718000800.5');
  });
});
