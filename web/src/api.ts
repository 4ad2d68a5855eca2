// The REST API of docs/api.md, same origin, with the session cookie.

import type { GroupInfo, Message, Reactions, RoomInfo, User } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TIMEOUT_MS = 10_000;

async function request<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; data: T }> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    throw new ApiError(0, 'Cannot reach the server. Check your connection and try again.');
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = text === '' ? undefined : JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const message =
      typeof data === 'object' && data !== null && typeof (data as { message?: unknown }).message === 'string'
        ? (data as { message: string }).message
        : `The server answered ${res.status}`;
    throw new ApiError(res.status, message);
  }
  return { status: res.status, data: data as T };
}

export async function getMe(): Promise<User | null> {
  const { data } = await request<User | null>('GET', '/me');
  return data && typeof data.id === 'string' ? data : null;
}

/** Logs in, or creates the account when the name is new (`created` true: HTTP 201). */
export async function login(username: string, password: string): Promise<{ user: User; created: boolean }> {
  const { status, data } = await request<User>('POST', '/login', { username, password });
  return { user: data, created: status === 201 };
}

export async function logout(): Promise<void> {
  await request('POST', '/logout');
}

export async function getRooms(userId: string): Promise<RoomInfo[]> {
  const { data } = await request<RoomInfo[]>('GET', `/rooms/${encodeURIComponent(userId)}`);
  return Array.isArray(data) ? data : [];
}

/** One page of a room's messages, newest first: the newest, or those before a cursor. */
export async function getMessages(roomId: string, limit: number, before?: string): Promise<Message[]> {
  const q = new URLSearchParams({ limit: String(limit) });
  if (before !== undefined) q.set('before', before);
  const { data } = await request<Message[]>('GET', `/room/${encodeURIComponent(roomId)}/messages?${q}`);
  return Array.isArray(data) ? data : [];
}

/** Users by id (unknown ids are left out); at most 100 per call, as the server allows. */
export async function getUsers(ids: readonly string[]): Promise<User[]> {
  const out: User[] = [];
  for (let i = 0; i < ids.length; i += 100) {
    const q = ids
      .slice(i, i + 100)
      .map((id) => `ids[]=${encodeURIComponent(id)}`)
      .join('&');
    const { data } = await request<Record<string, User>>('GET', `/users?${q}`);
    if (data && typeof data === 'object') out.push(...Object.values(data));
  }
  return out;
}

export async function getOnlineUsers(): Promise<User[]> {
  const { data } = await request<Record<string, User>>('GET', '/users/online');
  return data && typeof data === 'object' ? Object.values(data) : [];
}

/** Creates (or returns) the private room of two users. */
export async function createPrivateRoom(user1: string, user2: string): Promise<RoomInfo> {
  const { data } = await request<RoomInfo>('POST', '/room', { user1: Number(user1), user2: Number(user2) });
  return data;
}

/** Per room: my read position (null: never read) and the messages after it (docs/api.md). */
export interface RoomReadState {
  read: number | null;
  unread: number;
  /** The newest message the count covers (null: none); what came later is not counted. */
  newest?: number | null;
}

export async function getReadState(): Promise<Record<string, RoomReadState>> {
  const { data } = await request<{ rooms?: Record<string, RoomReadState> }>('GET', '/read-state');
  return data && typeof data.rooms === 'object' && data.rooms !== null ? data.rooms : {};
}

/** How far each member has read a room: user id → read position (read receipts). */
export async function getRoomReads(roomId: string): Promise<Record<string, number>> {
  const { data } = await request<Record<string, number>>('GET', `/room/${encodeURIComponent(roomId)}/reads`);
  return data && typeof data === 'object' ? data : {};
}

/** A page of users whose name starts with `q` (any case); `next` asks for the page after. */
export async function searchUsers(q: string, after?: string, limit = 50): Promise<{ users: User[]; next: string | null }> {
  const params = new URLSearchParams({ q, limit: String(limit) });
  if (after !== undefined) params.set('after', after);
  const { data } = await request<{ users?: User[]; next?: string | null }>('GET', `/users/search?${params}`);
  return { users: Array.isArray(data?.users) ? data.users : [], next: typeof data?.next === 'string' ? data.next : null };
}

export async function createGroup(name: string, members: readonly string[]): Promise<GroupInfo> {
  return (await request<GroupInfo>('POST', '/groups', { name, members })).data;
}

export async function getGroup(roomId: string): Promise<GroupInfo> {
  return (await request<GroupInfo>('GET', `/groups/${encodeURIComponent(roomId)}`)).data;
}

export async function renameGroup(roomId: string, name: string): Promise<GroupInfo> {
  return (await request<GroupInfo>('PATCH', `/groups/${encodeURIComponent(roomId)}`, { name })).data;
}

export async function addGroupMembers(roomId: string, members: readonly string[]): Promise<GroupInfo> {
  return (await request<GroupInfo>('POST', `/groups/${encodeURIComponent(roomId)}/members`, { members })).data;
}

/** The owner removes a member; a member removes itself (leaves). */
export async function removeGroupMember(roomId: string, userId: string): Promise<void> {
  await request('DELETE', `/groups/${encodeURIComponent(roomId)}/members/${encodeURIComponent(userId)}`);
}

/** The reactions of messages of a room (ids of ours, at most 100): message id → reactions. */
export async function getReactions(roomId: string, ids: readonly string[]): Promise<Record<string, Reactions>> {
  const q = ids.map((id) => `ids[]=${encodeURIComponent(id)}`).join('&');
  const { data } = await request<Record<string, Reactions>>('GET', `/room/${encodeURIComponent(roomId)}/reactions?${q}`);
  return data && typeof data === 'object' ? data : {};
}
