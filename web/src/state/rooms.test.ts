import { describe, expect, it } from 'vitest';
import type { Message } from '../types';
import { orderRooms, otherMemberId, roomTitle, unreadLabel, type RoomState } from './rooms';

const room = (id: string, dates: number[] = [], extra: Partial<RoomState> = {}, from = '2'): RoomState => ({
  id,
  names: id === '0' ? ['General'] : [['Pablo'], ['Joe']],
  messages: dates.map((d, i): Message => ({ id: `${id}-${i}`, roomId: id, from, date: d, message: 'x' })),
  loaded: true,
  hasOlder: false,
  loadingOlder: false,
  addedAt: 0,
  ...extra,
});

describe('room titles', () => {
  it('names General and private rooms by the other person', () => {
    expect(roomTitle(room('0'), '1', {})).toBe('General');
    expect(roomTitle(room('1:2'), '1', {})).toBe('Joe');
    expect(roomTitle(room('1:2'), '2', {})).toBe('Pablo');
    expect(roomTitle(room('1:2'), '2', { 1: { id: '1', username: 'Pablito' } })).toBe('Pablito');
    expect(roomTitle({ id: '3:9', names: [] }, '3', {})).toBe('User 9');
  });

  it('finds the other member of a private room', () => {
    expect(otherMemberId('1:2', '1')).toBe('2');
    expect(otherMemberId('1:2', '2')).toBe('1');
    expect(otherMemberId('0', '1')).toBeUndefined();
  });
});

describe('orderRooms', () => {
  const title = (r: RoomState) => r.id;
  it('keeps General first and orders the rest by latest activity', () => {
    const rooms = [room('1:2', [10]), room('1:3', [30]), room('0', [5]), room('1:4', [20])];
    expect(orderRooms(rooms, title).map((r) => r.id)).toEqual(['0', '1:3', '1:4', '1:2']);
  });

  it('moves a room up when a message arrives', () => {
    const before = orderRooms([room('0', [50]), room('1:2', [10]), room('1:3', [30])], title);
    expect(before.map((r) => r.id)).toEqual(['0', '1:3', '1:2']);
    const after = orderRooms([room('0', [50]), room('1:2', [10, 40]), room('1:3', [30])], title);
    expect(after.map((r) => r.id)).toEqual(['0', '1:2', '1:3']);
  });

  it('orders a room without messages by when it was added, ties by title', () => {
    const rooms = [room('1:2', [10]), room('1:5', [], { addedAt: 15 }), room('1:4', [10])];
    expect(orderRooms(rooms, title).map((r) => r.id)).toEqual(['1:5', '1:2', '1:4']);
  });
});

describe('unreadLabel', () => {
  it('caps the badge', () => {
    expect(unreadLabel(0)).toBe('');
    expect(unreadLabel(3)).toBe('3');
    expect(unreadLabel(99)).toBe('99');
    expect(unreadLabel(150)).toBe('99+');
  });
});
