// The client's whole chat state and its reducer: every change, whether it comes from REST, a
// Socket.IO event or the user, is an action here, so the logic is pure and unit-tested.

import type { Message, RoomInfo, User } from '../types';
import { isMessage, mergeMessages } from './messages';
import { lastMessage, type RoomState } from './rooms';

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting';

/** A "X connected / left" line of General (client-side only, not stored by the server). */
export interface PresenceEvent {
  key: string;
  userId: string;
  username: string;
  online: boolean;
  /** Seconds (client clock). */
  date: number;
}

export interface ChatState {
  me: User;
  rooms: Readonly<Record<string, RoomState>>;
  users: Readonly<Record<string, User>>;
  /** Per room: the date of the newest message the user has seen (unread counting). */
  lastSeen: Readonly<Record<string, number>>;
  /** Rooms of the first room list: their unread baseline is their newest message at first load. */
  baselinePending: Readonly<Record<string, true>>;
  events: readonly PresenceEvent[];
  /** The room on screen, if any, and whether the page is visible: it is read as it arrives. */
  viewing: string | null;
  visible: boolean;
  connection: ConnectionStatus;
}

export type ChatAction =
  | { type: 'rooms'; rooms: RoomInfo[]; initial: boolean; now: number }
  | { type: 'roomAdded'; room: RoomInfo; now: number }
  | { type: 'page'; roomId: string; messages: Message[]; kind: 'newest' | 'older' | 'catchup'; limit: number }
  | { type: 'olderLoading'; roomId: string; loading: boolean }
  | { type: 'message'; message: Message; now: number }
  | { type: 'users'; users: User[] }
  | { type: 'onlineSnapshot'; users: User[] }
  | { type: 'presence'; user: User; now: number }
  | { type: 'view'; roomId: string | null; visible: boolean }
  | { type: 'connection'; status: ConnectionStatus };

/** Keep at most this many presence lines. */
export const MAX_EVENTS = 50;

export function initialChatState(me: User, lastSeen: Record<string, number> = {}): ChatState {
  return {
    me,
    rooms: {},
    users: { [me.id]: { ...me, online: true } },
    lastSeen,
    baselinePending: {},
    events: [],
    viewing: null,
    visible: true,
    connection: 'connecting',
  };
}

function newRoom(info: RoomInfo, now: number): RoomState {
  return { id: info.id, names: info.names, messages: [], loaded: false, hasOlder: false, loadingOlder: false, addedAt: now };
}

function isRoomInfo(v: unknown): v is RoomInfo {
  return typeof v === 'object' && v !== null && typeof (v as RoomInfo).id === 'string' && Array.isArray((v as RoomInfo).names);
}

/** Marks the viewed room read up to its newest message, when the page is visible. */
function markViewedRead(state: ChatState): ChatState {
  const id = state.viewing;
  if (id === null || !state.visible) return state;
  const room = state.rooms[id];
  if (!room) return state;
  const newest = lastMessage(room)?.date ?? 0;
  const seen = state.lastSeen[id];
  if (seen !== undefined && seen >= newest) return state;
  const baselinePending = dropKey(state.baselinePending, id);
  return { ...state, lastSeen: { ...state.lastSeen, [id]: newest }, baselinePending };
}

function dropKey<T>(rec: Readonly<Record<string, T>>, key: string): Readonly<Record<string, T>> {
  if (!(key in rec)) return rec;
  const out = { ...rec };
  delete out[key];
  return out;
}

function withRoom(state: ChatState, room: RoomState): ChatState {
  return { ...state, rooms: { ...state.rooms, [room.id]: room } };
}

/** A room first heard of now (not in the first room list): everything in it is unread. */
function addUnseenRoom(state: ChatState, info: RoomInfo, now: number): ChatState {
  const next = withRoom(state, newRoom(info, now));
  if (next.lastSeen[info.id] !== undefined) return next;
  return { ...next, lastSeen: { ...next.lastSeen, [info.id]: 0 } };
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'rooms': {
      let next = state;
      for (const info of action.rooms) {
        if (!isRoomInfo(info)) continue;
        const existing = next.rooms[info.id];
        if (existing) {
          if (JSON.stringify(existing.names) !== JSON.stringify(info.names)) next = withRoom(next, { ...existing, names: info.names });
          continue;
        }
        if (action.initial) {
          next = withRoom(next, newRoom(info, action.now));
          if (next.lastSeen[info.id] === undefined) next = { ...next, baselinePending: { ...next.baselinePending, [info.id]: true } };
        } else {
          next = addUnseenRoom(next, info, action.now);
        }
      }
      return markViewedRead(next);
    }
    case 'roomAdded': {
      if (!isRoomInfo(action.room)) return state;
      const existing = state.rooms[action.room.id];
      if (existing) {
        if (existing.names.length > 0) return state;
        return withRoom(state, { ...existing, names: action.room.names });
      }
      return markViewedRead(addUnseenRoom(state, action.room, action.now));
    }
    case 'page': {
      const room = state.rooms[action.roomId];
      if (!room) return state;
      const page = action.messages.filter((m) => isMessage(m) && m.roomId === action.roomId);
      const messages = mergeMessages(room.messages, page);
      let hasOlder = room.hasOlder;
      if (action.kind === 'older') hasOlder = page.length >= action.limit;
      else if (!room.loaded) hasOlder = page.length >= action.limit;
      const updated: RoomState = {
        ...room,
        messages,
        hasOlder,
        loaded: room.loaded || action.kind !== 'older',
        loadingOlder: action.kind === 'older' ? false : room.loadingOlder,
      };
      let next = withRoom(state, updated);
      if (next.baselinePending[room.id] && action.kind !== 'older') {
        const newest = lastMessage(updated)?.date ?? 0;
        next = {
          ...next,
          lastSeen: { ...next.lastSeen, [room.id]: Math.max(next.lastSeen[room.id] ?? 0, newest) },
          baselinePending: dropKey(next.baselinePending, room.id),
        };
      }
      return markViewedRead(next);
    }
    case 'olderLoading': {
      const room = state.rooms[action.roomId];
      if (!room || room.loadingOlder === action.loading) return state;
      return withRoom(state, { ...room, loadingOlder: action.loading });
    }
    case 'message': {
      const m = action.message;
      if (!isMessage(m)) return state;
      let next = state;
      if (!next.rooms[m.roomId]) next = addUnseenRoom(next, { id: m.roomId, names: [] }, action.now);
      const room = next.rooms[m.roomId]!;
      const messages = mergeMessages(room.messages, [m]);
      if (messages === room.messages) return next;
      next = withRoom(next, { ...room, messages });
      // Our own message (sent from here or another tab) means we have read the room.
      if (m.from === next.me.id && (next.lastSeen[m.roomId] ?? 0) < m.date && !next.baselinePending[m.roomId]) {
        next = { ...next, lastSeen: { ...next.lastSeen, [m.roomId]: m.date } };
      }
      return markViewedRead(next);
    }
    case 'users': {
      let changed = false;
      const users = { ...state.users };
      for (const u of action.users) {
        if (!u || typeof u.id !== 'string' || typeof u.username !== 'string') continue;
        const before = users[u.id];
        const merged: User = { id: u.id, username: u.username, online: u.online ?? before?.online };
        if (before && before.username === merged.username && before.online === merged.online) continue;
        users[u.id] = merged;
        changed = true;
      }
      return changed ? { ...state, users } : state;
    }
    case 'onlineSnapshot': {
      const online = new Set(action.users.filter((u) => u && typeof u.id === 'string').map((u) => u.id));
      online.add(state.me.id);
      const users: Record<string, User> = {};
      for (const [id, u] of Object.entries(state.users)) users[id] = { ...u, online: online.has(id) };
      for (const u of action.users) {
        if (u && typeof u.id === 'string' && typeof u.username === 'string') users[u.id] = { id: u.id, username: u.username, online: true };
      }
      return { ...state, users };
    }
    case 'presence': {
      const u = action.user;
      if (!u || typeof u.id !== 'string' || typeof u.username !== 'string') return state;
      const online = u.online !== false;
      const before = state.users[u.id];
      const users = { ...state.users, [u.id]: { id: u.id, username: u.username, online } };
      if (u.id === state.me.id || before?.online === online) return { ...state, users };
      const event: PresenceEvent = { key: `p${action.now}-${u.id}-${online ? 1 : 0}`, userId: u.id, username: u.username, online, date: action.now };
      const events = [...state.events, event].slice(-MAX_EVENTS);
      return { ...state, users, events };
    }
    case 'view': {
      if (state.viewing === action.roomId && state.visible === action.visible) return state;
      return markViewedRead({ ...state, viewing: action.roomId, visible: action.visible });
    }
    case 'connection':
      return state.connection === action.status ? state : { ...state, connection: action.status };
  }
}

/** The user ids mentioned by loaded messages and rooms that we know no name for. */
export function unknownUserIds(state: ChatState): string[] {
  const missing = new Set<string>();
  for (const room of Object.values(state.rooms)) {
    for (const m of room.messages) if (!state.users[m.from]) missing.add(m.from);
    for (const part of room.id.split(':')) if (room.id.includes(':') && !state.users[part]) missing.add(part);
  }
  return [...missing].filter((id) => /^\d+$/.test(id)).sort((a, b) => Number(a) - Number(b));
}

