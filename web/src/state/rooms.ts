// Room-level derived data: titles, the other member of a private room, the unread badge and the
// order of the room list. Pure functions over the chat state.

import { GENERAL_ROOM_ID, type Message, type RoomInfo, type User } from '../types';

/** What the client keeps per room. */
export interface RoomState {
  id: string;
  names: RoomInfo['names'];
  /** Sorted oldest first, unique (see mergeMessages). */
  messages: readonly Message[];
  /** The newest page has been fetched at least once. */
  loaded: boolean;
  /** The server may hold messages older than the oldest one we have. */
  hasOlder: boolean;
  loadingOlder: boolean;
  /** Seconds: when the client learnt about the room (orders rooms without messages). */
  addedAt: number;
}

/** The user id at the other end of a private room `a:b`, or undefined for a named room. */
export function otherMemberId(roomId: string, myId: string): string | undefined {
  const parts = roomId.split(':');
  if (parts.length !== 2) return undefined;
  const [a, b] = parts as [string, string];
  if (a === myId) return b;
  if (b === myId) return a;
  return a;
}

function flatName(n: string | string[] | undefined): string | undefined {
  if (n === undefined) return undefined;
  if (Array.isArray(n)) return typeof n[0] === 'string' ? n[0] : undefined;
  return n;
}

/** The title of a room: its name, or the other person's name for a private room. */
export function roomTitle(room: Pick<RoomState, 'id' | 'names'>, myId: string, users: Readonly<Record<string, User>>): string {
  const other = otherMemberId(room.id, myId);
  if (other === undefined) return flatName(room.names[0]) ?? (room.id === GENERAL_ROOM_ID ? 'General' : `Room ${room.id}`);
  const known = users[other]?.username;
  if (known) return known;
  // names follow the order of the ids in the room id
  const idx = room.id.split(':').indexOf(other);
  const fromNames = flatName(room.names[idx]);
  return fromNames ?? `User ${other}`;
}

export function lastMessage(room: Pick<RoomState, 'messages'>): Message | undefined {
  return room.messages[room.messages.length - 1];
}

/** Seconds of the latest activity in a room: its newest message, else when it was added. */
export function lastActivity(room: RoomState): number {
  return lastMessage(room)?.date ?? room.addedAt;
}

/**
 * The room list's order: General first, then the other rooms by latest activity (newest first),
 * ties by title so the order is stable.
 */
export function orderRooms(rooms: readonly RoomState[], titleOf: (r: RoomState) => string): RoomState[] {
  return [...rooms].sort((a, b) => {
    if (a.id === GENERAL_ROOM_ID || b.id === GENERAL_ROOM_ID) {
      return a.id === GENERAL_ROOM_ID ? (b.id === GENERAL_ROOM_ID ? 0 : -1) : 1;
    }
    const d = lastActivity(b) - lastActivity(a);
    if (d !== 0) return d;
    return titleOf(a).localeCompare(titleOf(b)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  });
}

/** The badge text of an unread count: "", "3"; capped at "99+". */
export function unreadLabel(count: number): string {
  if (count <= 0) return '';
  return count > 99 ? '99+' : String(count);
}
