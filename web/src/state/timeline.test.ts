import { describe, expect, it } from 'vitest';
import type { Message } from '../types';
import type { PresenceEvent } from './chat';
import { avatarHue, buildTimeline, checkDraft, dayLabel, initials } from './timeline';

const at = (y: number, mo: number, d: number, h = 12, mi = 0) => new Date(y, mo - 1, d, h, mi).getTime() / 1000;
const msg = (id: string, date: number, from = '1'): Message => ({ id, roomId: '0', from, date, message: id });

describe('buildTimeline', () => {
  const now = at(2024, 6, 12, 18);
  it('puts a separator before each day and groups a sender\'s consecutive messages', () => {
    const items = buildTimeline(
      [msg('a', at(2024, 6, 11, 9)), msg('b', at(2024, 6, 11, 9, 2)), msg('c', at(2024, 6, 11, 9, 3), '2'), msg('d', at(2024, 6, 12, 8), '2')],
      [],
      now,
    );
    expect(items.map((i) => (i.kind === 'day' ? i.label : i.kind === 'message' ? `${i.key}${i.groupStart ? '*' : ''}` : 'p'))).toEqual([
      'Yesterday',
      'id:a*',
      'id:b',
      'id:c*',
      'Today',
      'id:d*',
    ]);
  });

  it('starts a new group after a long pause', () => {
    const items = buildTimeline([msg('a', at(2024, 6, 12, 9)), msg('b', at(2024, 6, 12, 9, 30))], [], now);
    expect(items.filter((i) => i.kind === 'message' && i.groupStart)).toHaveLength(2);
  });

  it('places presence lines by date and breaks groups', () => {
    const ev: PresenceEvent = { key: 'p1', userId: '2', username: 'Joe', online: true, date: at(2024, 6, 12, 10) };
    const items = buildTimeline([msg('a', at(2024, 6, 12, 9)), msg('b', at(2024, 6, 12, 11))], [ev], now);
    expect(items.map((i) => i.kind)).toEqual(['day', 'message', 'presence', 'message']);
    expect(items[3]!.kind === 'message' && items[3]!.groupStart).toBe(true);
  });
});

describe('formatting helpers', () => {
  it('labels days relative to now', () => {
    const now = at(2024, 6, 12, 18);
    expect(dayLabel(at(2024, 6, 12, 1), now)).toBe('Today');
    expect(dayLabel(at(2024, 6, 11, 23), now)).toBe('Yesterday');
    expect(dayLabel(at(2024, 6, 9, 12), now, 'en-US')).toBe('Sunday');
    expect(dayLabel(at(2023, 1, 2, 12), now, 'en-US')).toContain('2023');
  });

  it('makes initials and stable avatar hues', () => {
    expect(initials('Pablo')).toBe('P');
    expect(initials('mary jane')).toBe('MJ');
    expect(initials('  ')).toBe('?');
    expect(initials('émile_zola')).toBe('ÉZ');
    expect(avatarHue('1')).toBe(avatarHue('1'));
    expect(avatarHue('1')).toBeGreaterThanOrEqual(0);
    expect(avatarHue('1')).toBeLessThan(360);
  });

  it('checks drafts against the limit in code points', () => {
    expect(checkDraft('  \n ', 10)).toMatchObject({ empty: true, tooLong: false });
    expect(checkDraft('😀'.repeat(10), 10)).toMatchObject({ length: 10, tooLong: false });
    expect(checkDraft('😀'.repeat(11), 10)).toMatchObject({ length: 11, tooLong: true });
  });
});
