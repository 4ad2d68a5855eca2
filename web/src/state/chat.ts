// The client's whole chat state and its reducer: every change, whether it comes from REST, a
// Socket.IO event or the user, is an action here, so the logic is pure and unit-tested.

import type { RoomReadState } from '../api';
import type { Message, PendingMessage, Reactions, RoomInfo, User } from '../types';
import { isMessage, mergeMessages, messageKey, replaceMessage } from './messages';
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

/** Someone typing in a room, until `until` (seconds, client clock). */
export interface Typist {
  username: string;
  until: number;
}

export interface GroupState {
  owner: string;
  members: readonly string[];
}

export interface ChatState {
  me: User;
  rooms: Readonly<Record<string, RoomState>>;
  users: Readonly<Record<string, User>>;
  /**
   * Per room: my read position, the date of the newest message I have read, kept by the server
   * (GET /read-state, room.read events) so that every tab and device agrees.
   */
  lastSeen: Readonly<Record<string, number>>;
  /** Per room: messages from others after my read position, as the server counted them and live. */
  unread: Readonly<Record<string, number>>;
  /** Per room: how far the other members have read (read receipts), user id → position. */
  receipts: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Per room: who is typing there now. */
  typing: Readonly<Record<string, Readonly<Record<string, Typist>>>>;
  /** Per room, per message id: its reactions. */
  reactions: Readonly<Record<string, Readonly<Record<string, Reactions>>>>;
  /** Per group room: its owner and members (user ids). */
  groups: Readonly<Record<string, GroupState>>;
  /** My messages not yet acknowledged, or failed, oldest first. */
  pending: readonly PendingMessage[];
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
  | { type: 'readState'; rooms: Readonly<Record<string, RoomReadState>> }
  | { type: 'roomRead'; roomId: string; userId: string; date: number }
  | { type: 'receipts'; roomId: string; reads: Readonly<Record<string, number>> }
  | { type: 'messageUpdated'; message: Message }
  | { type: 'reactions'; roomId: string; byMessage: Readonly<Record<string, Reactions>> }
  | { type: 'groupChanged'; roomId: string; name: string; owner: string; members: readonly string[]; removed: readonly string[]; now: number }
  | { type: 'typing'; roomId: string; userId: string; username: string; until: number }
  | { type: 'typingExpired'; now: number }
  | { type: 'pendingAdd'; message: PendingMessage }
  | { type: 'pendingStatus'; clientId: string; status: PendingMessage['status']; error?: string }
  | { type: 'pendingDone'; clientId: string }
  | { type: 'users'; users: User[] }
  | { type: 'onlineSnapshot'; users: User[] }
  | { type: 'presence'; user: User; now: number }
  | { type: 'view'; roomId: string | null; visible: boolean }
  | { type: 'connection'; status: ConnectionStatus };

/** Keep at most this many presence lines. */
export const MAX_EVENTS = 50;

export function initialChatState(me: User): ChatState {
  return {
    me,
    rooms: {},
    users: { [me.id]: { ...me, online: true } },
    lastSeen: {},
    unread: {},
    receipts: {},
    reactions: {},
    groups: {},
    typing: {},
    pending: [],
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
  const newest = lastMessage(room)?.date;
  let next = state;
  if (newest !== undefined && (next.lastSeen[id] ?? -1) < newest) next = { ...next, lastSeen: { ...next.lastSeen, [id]: newest } };
  if (next.unread[id]) next = { ...next, unread: { ...next.unread, [id]: 0 } };
  return next;
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

/** Messages from others in `messages` after my read position in the room. */
function countUnread(state: ChatState, roomId: string, messages: readonly Message[]): number {
  const seen = state.lastSeen[roomId] ?? -Infinity;
  return messages.filter((m) => m.from !== state.me.id && m.date > seen).length;
}

/** Adds to a room's unread count the new messages from others (live, or missed while away). */
function countArrivals(state: ChatState, roomId: string, arrived: readonly Message[]): ChatState {
  const n = countUnread(state, roomId, arrived);
  if (n === 0) return state;
  return { ...state, unread: { ...state.unread, [roomId]: (state.unread[roomId] ?? 0) + n } };
}

/** My read position in a room moved to `date`: what is still unread is what comes after it. */
function readUpTo(state: ChatState, roomId: string, date: number): ChatState {
  if ((state.lastSeen[roomId] ?? -Infinity) >= date) return state;
  let next: ChatState = { ...state, lastSeen: { ...state.lastSeen, [roomId]: date } };
  const room = next.rooms[roomId];
  const left = room ? countUnread(next, roomId, room.messages) : 0;
  const oldest = room?.messages[0];
  // Exact when every unread message is loaded; otherwise the count can only have shrunk.
  const exact = !room?.hasOlder || (oldest !== undefined && oldest.date <= date);
  const unread = exact ? left : Math.min(next.unread[roomId] ?? 0, Math.max(left, 0));
  if ((next.unread[roomId] ?? 0) !== unread) next = { ...next, unread: { ...next.unread, [roomId]: unread } };
  return next;
}

function withoutTypist(state: ChatState, roomId: string, userId: string): ChatState {
  const room = state.typing[roomId];
  if (!room || !(userId in room)) return state;
  return { ...state, typing: { ...state.typing, [roomId]: dropKey(room, userId) } };
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
        next = withRoom(next, newRoom(info, action.now));
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
      return markViewedRead(withRoom(state, newRoom(action.room, action.now)));
    }
    case 'page': {
      const room = state.rooms[action.roomId];
      if (!room) return state;
      const page = action.messages.filter((m) => isMessage(m) && m.roomId === action.roomId);
      const known = new Set(room.messages.map(messageKey));
      const arrived = page.filter((m) => !known.has(messageKey(m)));
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
      // Missed while away: unread like live messages. (The newest page of a room and older
      // pages are what the server's count already covers.)
      if (action.kind === 'catchup') next = countArrivals(next, room.id, arrived);
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
      if (!next.rooms[m.roomId]) next = withRoom(next, newRoom({ id: m.roomId, names: [] }, action.now));
      const room = next.rooms[m.roomId]!;
      const messages = mergeMessages(room.messages, [m]);
      if (messages === room.messages) return next;
      next = withoutTypist(withRoom(next, { ...room, messages }), m.roomId, m.from);
      // Our own message (sent from here or another tab) means we have read the room.
      if (m.from === next.me.id) next = readUpTo(next, m.roomId, m.date);
      else next = countArrivals(next, m.roomId, [m]);
      return markViewedRead(next);
    }
    case 'readState': {
      let next = state;
      const lastSeen = { ...state.lastSeen };
      const unread = { ...state.unread };
      for (const [roomId, r] of Object.entries(action.rooms)) {
        if (!r || typeof r.unread !== 'number') continue;
        if (typeof r.read === 'number') lastSeen[roomId] = Math.max(lastSeen[roomId] ?? -Infinity, r.read);
        // Messages from others that arrived after the server counted (while its answer was on
        // the way) are still unread on top of its count.
        // (No `newest`: the count is taken as covering everything.)
        const counted = typeof r.newest === 'number' ? r.newest : r.newest === null ? -Infinity : Infinity;
        const seen = lastSeen[roomId] ?? -Infinity;
        const later = (state.rooms[roomId]?.messages ?? []).filter((m) => m.from !== state.me.id && m.date > counted && m.date > seen).length;
        unread[roomId] = r.unread + later;
      }
      next = { ...next, lastSeen, unread };
      return markViewedRead(next);
    }
    case 'roomRead': {
      if (typeof action.date !== 'number') return state;
      if (action.userId === state.me.id) return markViewedRead(readUpTo(state, action.roomId, action.date));
      const reads = state.receipts[action.roomId] ?? {};
      if ((reads[action.userId] ?? -Infinity) >= action.date) return state;
      return { ...state, receipts: { ...state.receipts, [action.roomId]: { ...reads, [action.userId]: action.date } } };
    }
    case 'receipts': {
      const reads = { ...(state.receipts[action.roomId] ?? {}) };
      for (const [userId, date] of Object.entries(action.reads)) {
        if (userId !== state.me.id && typeof date === 'number') reads[userId] = Math.max(reads[userId] ?? -Infinity, date);
      }
      return { ...state, receipts: { ...state.receipts, [action.roomId]: reads } };
    }
    case 'messageUpdated': {
      const m = action.message;
      if (!isMessage(m)) return state;
      const room = state.rooms[m.roomId];
      if (!room) return state;
      const messages = replaceMessage(room.messages, m);
      if (messages === room.messages) return state;
      let next = withRoom(state, { ...room, messages });
      if (m.deleted && m.id !== undefined && next.reactions[m.roomId]?.[m.id]) {
        next = { ...next, reactions: { ...next.reactions, [m.roomId]: dropKey(next.reactions[m.roomId]!, m.id) } };
      }
      return next;
    }
    case 'reactions': {
      const before = state.reactions[action.roomId] ?? {};
      const after: Record<string, Reactions> = { ...before };
      for (const [id, r] of Object.entries(action.byMessage)) {
        if (r && typeof r === 'object' && Object.keys(r).length > 0) after[id] = r;
        else delete after[id];
      }
      return { ...state, reactions: { ...state.reactions, [action.roomId]: after } };
    }
    case 'groupChanged': {
      const me = state.me.id;
      if (!action.members.includes(me)) {
        // Left or removed: the room goes, with everything about it.
        if (!state.rooms[action.roomId] && !state.groups[action.roomId]) return state;
        return {
          ...state,
          rooms: dropKey(state.rooms, action.roomId),
          groups: dropKey(state.groups, action.roomId),
          unread: dropKey(state.unread, action.roomId),
          pending: state.pending.filter((p) => p.roomId !== action.roomId),
        };
      }
      let next: ChatState = { ...state, groups: { ...state.groups, [action.roomId]: { owner: action.owner, members: action.members } } };
      const room = next.rooms[action.roomId];
      const names = [action.name];
      if (!room) next = withRoom(next, newRoom({ id: action.roomId, names }, action.now));
      else if (JSON.stringify(room.names) !== JSON.stringify(names)) next = withRoom(next, { ...room, names });
      return markViewedRead(next);
    }
    case 'typing': {
      if (action.userId === state.me.id) return state;
      const room = state.typing[action.roomId] ?? {};
      return { ...state, typing: { ...state.typing, [action.roomId]: { ...room, [action.userId]: { username: action.username, until: action.until } } } };
    }
    case 'typingExpired': {
      let changed = false;
      const typing: Record<string, Readonly<Record<string, Typist>>> = {};
      for (const [roomId, typists] of Object.entries(state.typing)) {
        const left = Object.entries(typists).filter(([, t]) => t.until > action.now);
        if (left.length !== Object.keys(typists).length) changed = true;
        if (left.length > 0) typing[roomId] = Object.fromEntries(left);
        else if (Object.keys(typists).length > 0) changed = true;
      }
      return changed ? { ...state, typing } : state;
    }
    case 'pendingAdd':
      if (state.pending.some((p) => p.clientId === action.message.clientId)) return state;
      return { ...state, pending: [...state.pending, action.message] };
    case 'pendingStatus': {
      const i = state.pending.findIndex((p) => p.clientId === action.clientId);
      if (i < 0) return state;
      const pending = [...state.pending];
      pending[i] = { ...pending[i]!, status: action.status, error: action.error };
      return { ...state, pending };
    }
    case 'pendingDone':
      if (!state.pending.some((p) => p.clientId === action.clientId)) return state;
      return { ...state, pending: state.pending.filter((p) => p.clientId !== action.clientId) };
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
  for (const group of Object.values(state.groups)) for (const id of group.members) if (!state.users[id]) missing.add(id);
  return [...missing].filter((id) => /^\d+$/.test(id)).sort((a, b) => Number(a) - Number(b));
}

