import { describe, expect, it } from 'vitest';
import type { Message, RoomInfo } from '../types';
import { chatReducer, initialChatState, unknownUserIds, type ChatAction, type ChatState } from './chat';
import { orderRooms, roomTitle } from './rooms';

const me = { id: '1', username: 'Pablo' };
const rooms: RoomInfo[] = [
  { id: '0', names: ['General'] },
  { id: '1:2', names: [['Pablo'], ['Joe']] },
  { id: '1:3', names: [['Pablo'], ['Mary']] },
];
let seq = 0;
const msg = (roomId: string, from: string, date: number, id = `id${++seq}`): Message => ({ id, roomId, from, date, message: `hello ${date}` });
const run = (state: ChatState, ...actions: ChatAction[]) => actions.reduce(chatReducer, state);
const loaded = () =>
  run(
    initialChatState(me),
    { type: 'rooms', rooms, initial: true, now: 1 },
    { type: 'page', roomId: '0', kind: 'newest', limit: 30, messages: [msg('0', '2', 20), msg('0', '3', 10)] },
    { type: 'page', roomId: '1:2', kind: 'newest', limit: 30, messages: [msg('1:2', '2', 15)] },
    { type: 'page', roomId: '1:3', kind: 'newest', limit: 30, messages: [msg('1:3', '3', 5)] },
  );
const unread = (s: ChatState, roomId: string) => s.unread[roomId] ?? 0;

describe('chatReducer: read positions and unread counts', () => {
  it('takes the unread counts and read positions from the server', () => {
    const s = run(loaded(), { type: 'readState', rooms: { '0': { read: 10, unread: 1 }, '1:2': { read: null, unread: 1 }, '1:3': { read: 5, unread: 0 } } });
    expect(unread(s, '0')).toBe(1);
    expect(unread(s, '1:2')).toBe(1);
    expect(unread(s, '1:3')).toBe(0);
    expect(s.lastSeen['0']).toBe(10);
    expect(s.lastSeen['1:2']).toBeUndefined();
  });

  it('keeps messages that arrived after the server counted', () => {
    let s = run(loaded(), { type: 'message', message: msg('1:2', '2', 30), now: 2 }, { type: 'message', message: msg('1:2', '2', 31), now: 2 });
    // The server counted up to 30 (one unread); 31 came after its count.
    s = run(s, { type: 'readState', rooms: { '1:2': { read: 15, unread: 1, newest: 30 } } });
    expect(unread(s, '1:2')).toBe(2);
  });

  it('counts live messages in rooms that are not on screen, and clears them on view', () => {
    let s = run(loaded(), { type: 'readState', rooms: { '0': { read: 20, unread: 0 }, '1:2': { read: 15, unread: 0 } } }, { type: 'view', roomId: '0', visible: true });
    s = run(s, { type: 'message', message: msg('1:2', '2', 30), now: 2 }, { type: 'message', message: msg('1:2', '2', 31), now: 2 });
    s = run(s, { type: 'message', message: msg('0', '3', 32), now: 2 });
    expect(unread(s, '1:2')).toBe(2);
    expect(unread(s, '0')).toBe(0);
    expect(s.lastSeen['0']).toBe(32);
    s = run(s, { type: 'view', roomId: '1:2', visible: true });
    expect(unread(s, '1:2')).toBe(0);
    expect(s.lastSeen['1:2']).toBe(31);
  });

  it('does not clear unread messages while the page is hidden', () => {
    let s = run(loaded(), { type: 'readState', rooms: { '0': { read: 20, unread: 0 } } }, { type: 'view', roomId: '0', visible: false });
    s = run(s, { type: 'message', message: msg('0', '2', 40), now: 2 });
    expect(unread(s, '0')).toBe(1);
    s = run(s, { type: 'view', roomId: '0', visible: true });
    expect(unread(s, '0')).toBe(0);
  });

  it('does not count my own messages and treats sending as reading', () => {
    let s = run(loaded(), { type: 'readState', rooms: { '1:3': { read: 5, unread: 0 } } });
    s = run(s, { type: 'message', message: msg('1:3', '3', 40), now: 2 });
    expect(unread(s, '1:3')).toBe(1);
    s = run(s, { type: 'message', message: msg('1:3', '1', 41), now: 2 });
    expect(unread(s, '1:3')).toBe(0);
  });

  it('counts a message once when the live event and the catch-up both carry it', () => {
    const m = msg('1:2', '2', 50);
    let s = run(loaded(), { type: 'readState', rooms: { '1:2': { read: 15, unread: 0 } } }, { type: 'message', message: m, now: 2 });
    s = run(s, { type: 'page', roomId: '1:2', kind: 'catchup', limit: 30, messages: [m, msg('1:2', '2', 51)] });
    expect(s.rooms['1:2']!.messages).toHaveLength(3);
    expect(unread(s, '1:2')).toBe(2);
  });

  it('reading in another tab clears the count here, up to where it read', () => {
    let s = run(loaded(), { type: 'readState', rooms: { '1:2': { read: 15, unread: 0 } } });
    s = run(s, ...[30, 31, 32].map((d) => ({ type: 'message' as const, message: msg('1:2', '2', d), now: 2 })));
    expect(unread(s, '1:2')).toBe(3);
    s = run(s, { type: 'roomRead', roomId: '1:2', userId: '1', date: 31 });
    expect(unread(s, '1:2')).toBe(1);
    s = run(s, { type: 'roomRead', roomId: '1:2', userId: '1', date: 30 }); // never backwards
    expect(unread(s, '1:2')).toBe(1);
    s = run(s, { type: 'roomRead', roomId: '1:2', userId: '1', date: 32 });
    expect(unread(s, '1:2')).toBe(0);
  });

  it('keeps the other members\' read positions as receipts', () => {
    let s = run(loaded(), { type: 'receipts', roomId: '1:2', reads: { '1': 9, '2': 12 } });
    expect(s.receipts['1:2']).toEqual({ '2': 12 });
    s = run(s, { type: 'roomRead', roomId: '1:2', userId: '2', date: 15 }, { type: 'roomRead', roomId: '1:2', userId: '2', date: 14 });
    expect(s.receipts['1:2']).toEqual({ '2': 15 });
  });
});

describe('chatReducer: typing and pending messages', () => {
  it('shows who is typing until it expires or their message arrives', () => {
    let s = run(
      loaded(),
      { type: 'typing', roomId: '1:2', userId: '2', username: 'Joe', until: 10 },
      { type: 'typing', roomId: '0', userId: '3', username: 'Mary', until: 20 },
      { type: 'typing', roomId: '0', userId: '1', username: 'Pablo', until: 20 },
    );
    expect(Object.keys(s.typing['0']!)).toEqual(['3']);
    s = run(s, { type: 'typingExpired', now: 15 });
    expect(s.typing['1:2']).toBeUndefined();
    expect(s.typing['0']!['3']!.username).toBe('Mary');
    s = run(s, { type: 'message', message: msg('0', '3', 99), now: 16 });
    expect(s.typing['0']).toEqual({});
  });

  it('tracks my messages from sending to sent or failed', () => {
    let s = run(loaded(), { type: 'pendingAdd', message: { clientId: 'c1', roomId: '0', text: 'hi', status: 'sending' } });
    s = run(s, { type: 'pendingAdd', message: { clientId: 'c1', roomId: '0', text: 'hi', status: 'sending' } });
    expect(s.pending).toHaveLength(1);
    s = run(s, { type: 'pendingStatus', clientId: 'c1', status: 'failed', error: 'nope' });
    expect(s.pending[0]).toMatchObject({ status: 'failed', error: 'nope' });
    s = run(s, { type: 'pendingDone', clientId: 'c1' });
    expect(s.pending).toEqual([]);
  });
});

describe('chatReducer: group rooms', () => {
  const g = 'g0123456789abcdef';
  it('adds a group I am in, renames it, and drops it when I leave', () => {
    let s = run(loaded(), { type: 'groupChanged', roomId: g, name: 'Team', owner: '2', members: ['1', '2'], removed: [], now: 5 });
    expect(roomTitle(s.rooms[g]!, '1', s.users)).toBe('Team');
    expect(s.groups[g]).toEqual({ owner: '2', members: ['1', '2'] });
    expect(unknownUserIds(s)).toContain('2');
    s = run(s, { type: 'groupChanged', roomId: g, name: 'Crew', owner: '2', members: ['1', '2', '3'], removed: [], now: 6 });
    expect(roomTitle(s.rooms[g]!, '1', s.users)).toBe('Crew');
    s = run(s, { type: 'message', message: msg(g, '2', 70), now: 7 }, { type: 'pendingAdd', message: { clientId: 'c', roomId: g, text: 'x', status: 'sending' } });
    expect(unread(s, g)).toBe(1);
    s = run(s, { type: 'groupChanged', roomId: g, name: 'Crew', owner: '2', members: ['2', '3'], removed: ['1'], now: 8 });
    expect(s.rooms[g]).toBeUndefined();
    expect(s.groups[g]).toBeUndefined();
    expect(s.pending).toEqual([]);
    expect(unread(s, g)).toBe(0);
  });

  it('ignores a change of a group I was never in', () => {
    const s = loaded();
    expect(run(s, { type: 'groupChanged', roomId: g, name: 'X', owner: '2', members: ['2'], removed: ['3'], now: 1 })).toBe(s);
  });
});

describe('chatReducer: rooms', () => {
  it('adds a new private room (show.room) with its first message unread, and moves it up', () => {
    let s = loaded();
    s = run(s, { type: 'roomAdded', room: { id: '1:5', names: [['Pablo'], ['Zoe']] }, now: 3 });
    s = run(s, { type: 'message', message: msg('1:5', '5', 60), now: 3 });
    expect(unread(s, '1:5')).toBe(1);
    const order = orderRooms(Object.values(s.rooms), (r) => roomTitle(r, '1', s.users)).map((r) => r.id);
    expect(order).toEqual(['0', '1:5', '1:2', '1:3']);
    expect(roomTitle(s.rooms['1:5']!, '1', s.users)).toBe('Zoe');
  });

  it('creates a room for a message of an unknown room and names it when the list arrives', () => {
    let s = run(loaded(), { type: 'message', message: msg('1:7', '7', 70), now: 3 });
    expect(s.rooms['1:7']!.names).toEqual([]);
    expect(unread(s, '1:7')).toBe(1);
    s = run(s, { type: 'rooms', rooms: [...rooms, { id: '1:7', names: [['Pablo'], ['Sam']] }], initial: false, now: 4 });
    expect(roomTitle(s.rooms['1:7']!, '1', s.users)).toBe('Sam');
    expect(s.rooms['1:7']!.messages).toHaveLength(1);
  });
});

describe('chatReducer: paging', () => {
  it('knows whether older messages exist from the page size', () => {
    let s = run(initialChatState(me), { type: 'rooms', rooms, initial: true, now: 1 });
    const full = Array.from({ length: 3 }, (_, i) => msg('0', '2', 100 - i));
    s = run(s, { type: 'page', roomId: '0', kind: 'newest', limit: 3, messages: full });
    expect(s.rooms['0']!.hasOlder).toBe(true);
    s = run(s, { type: 'olderLoading', roomId: '0', loading: true });
    expect(s.rooms['0']!.loadingOlder).toBe(true);
    s = run(s, { type: 'page', roomId: '0', kind: 'older', limit: 3, messages: [msg('0', '2', 50)] });
    expect(s.rooms['0']!.hasOlder).toBe(false);
    expect(s.rooms['0']!.loadingOlder).toBe(false);
    expect(s.rooms['0']!.messages.map((m) => m.date)).toEqual([50, 98, 99, 100]);
  });

  it('a catch-up page does not change hasOlder of a loaded room', () => {
    let s = run(initialChatState(me), { type: 'rooms', rooms, initial: true, now: 1 });
    s = run(s, { type: 'page', roomId: '0', kind: 'newest', limit: 2, messages: [msg('0', '2', 2), msg('0', '2', 1)] });
    s = run(s, { type: 'page', roomId: '0', kind: 'catchup', limit: 2, messages: [msg('0', '2', 3)] });
    expect(s.rooms['0']!.hasOlder).toBe(true);
  });

  it('ignores messages of another room in a page', () => {
    let s = run(initialChatState(me), { type: 'rooms', rooms, initial: true, now: 1 });
    s = run(s, { type: 'page', roomId: '0', kind: 'newest', limit: 5, messages: [msg('1:2', '2', 1)] });
    expect(s.rooms['0']!.messages).toHaveLength(0);
  });
});

describe('chatReducer: presence and users', () => {
  it('adds "connected / left" lines for others only, once per change', () => {
    let s = loaded();
    s = run(
      s,
      { type: 'presence', user: { id: '2', username: 'Joe', online: true }, now: 5 },
      { type: 'presence', user: { id: '2', username: 'Joe', online: true }, now: 6 },
      { type: 'presence', user: { id: '1', username: 'Pablo', online: true }, now: 7 },
      { type: 'presence', user: { id: '2', username: 'Joe', online: false }, now: 8 },
    );
    expect(s.events.map((e) => [e.username, e.online])).toEqual([
      ['Joe', true],
      ['Joe', false],
    ]);
    expect(s.users['2']!.online).toBe(false);
  });

  it('replaces online flags from a snapshot and keeps me online', () => {
    let s = run(loaded(), { type: 'users', users: [{ id: '2', username: 'Joe', online: true }, { id: '3', username: 'Mary', online: true }] });
    s = run(s, { type: 'onlineSnapshot', users: [{ id: '3', username: 'Mary', online: true }] });
    expect(s.users['2']!.online).toBe(false);
    expect(s.users['3']!.online).toBe(true);
    expect(s.users['1']!.online).toBe(true);
  });

  it('lists the senders and room members with no known name', () => {
    const s = loaded();
    expect(unknownUserIds(s)).toEqual(['2', '3']);
    const named = run(s, { type: 'users', users: [{ id: '2', username: 'Joe' }, { id: '3', username: 'Mary' }] });
    expect(unknownUserIds(named)).toEqual([]);
    expect(run(named, { type: 'users', users: [{ id: '2', username: 'Joe' }] })).toBe(named);
  });

  it('tracks the connection status', () => {
    const s = run(loaded(), { type: 'connection', status: 'reconnecting' });
    expect(s.connection).toBe('reconnecting');
  });
});
