// Shapes of the server's JSON (docs/api.md, docs/realtime.md).

export interface User {
  id: string;
  username: string;
  online?: boolean;
}

/** A stored chat message. `id` is absent on legacy messages written by other ports. */
export interface Message {
  id?: string;
  roomId: string;
  from: string;
  /** Seconds since the epoch (float), stamped by the server. */
  date: number;
  message: string;
  /** When its author last edited it (seconds). */
  edited?: number;
  /** Deleted by its author: `message` is "Message deleted". */
  deleted?: boolean;
}

/** A message's reactions: emoji → the ids of the users who reacted with it. */
export type Reactions = Readonly<Record<string, readonly string[]>>;

/** The emoji the reaction picker offers. */
export const REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'] as const;

/** A room as `GET /rooms/{me}`, `POST /room` and `show.room` describe it. */
export interface RoomInfo {
  id: string;
  /** `["General"]` for named rooms, `[["Pablo"],["Joe"]]` for private rooms. */
  names: Array<string | string[]>;
}

export const GENERAL_ROOM_ID = '0';
/** The server's `--max-message-chars` default: code points per message. */
export const MAX_MESSAGE_CHARS = 4000;
/** Messages per page of history. */
export const PAGE_SIZE = 30;

/** A message of ours on its way: shown until the server acknowledges it, or failed with a retry. */
export interface PendingMessage {
  /** Our id for it: the server stores a message at most once per client id (reliable send). */
  clientId: string;
  roomId: string;
  text: string;
  status: 'sending' | 'failed';
  /** Why it failed, when the server said. */
  error?: string;
}

/** A group room as the server describes it (GET /groups/{id}). */
export interface GroupInfo {
  id: string;
  name: string;
  owner: string;
  members: User[];
}

/** Group room ids: "g" and 16 hex digits (never "0", never "a:b"). */
export function isGroupRoom(roomId: string): boolean {
  return /^g[0-9a-f]{16}$/.test(roomId);
}
