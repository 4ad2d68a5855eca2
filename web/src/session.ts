// A logged-in user's live chat: owns the Socket.IO connection, turns server events and REST
// answers into actions of the pure reducer (state/chat.ts), and exposes the state as a store for
// React's useSyncExternalStore. Everything that decides *what* the state becomes is in state/;
// this file only decides *when* to fetch.

import { io, type Socket } from 'socket.io-client';
import * as api from './api';
import { chatReducer, initialChatState, unknownUserIds, type ChatAction, type ChatState } from './state/chat';
import { beforeCursor, fetchMissed, isMessage } from './state/messages';
import { MAX_MESSAGE_CHARS, PAGE_SIZE, type Message, type RoomInfo, type User } from './types';

export type SendResult = { ok: true; message: Message } | { ok: false; error: string };

const ACK_TIMEOUT_MS = 5000;
/** A message written while (re)connecting waits this long for the connection. */
const CONNECT_WAIT_MS = 5000;
const RETRY_SYNC_MS = 3000;
const FETCH_CONCURRENCY = 4;

const nowSeconds = () => Date.now() / 1000;
const lastSeenKey = (userId: string) => `redchat:lastSeen:${userId}`;

function readLastSeen(userId: string): Record<string, number> {
  try {
    const raw = localStorage.getItem(lastSeenKey(userId));
    const parsed: unknown = raw ? JSON.parse(raw) : {};
    const out: Record<string, number> = {};
    if (parsed && typeof parsed === 'object') {
      for (const [k, v] of Object.entries(parsed)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    }
    return out;
  } catch {
    return {};
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class ChatSession {
  private state: ChatState;
  private readonly listeners = new Set<() => void>();
  private readonly socket: Socket;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private firstSyncDone = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private resolvingUsers = false;
  private stopped = false;

  constructor(
    me: User,
    /** Called when the server no longer knows our session (HTTP 401). */
    private readonly onSessionEnded: () => void,
  ) {
    this.state = initialChatState(me, readLastSeen(me.id));
    this.socket = io({
      path: '/socket.io',
      autoConnect: false,
      withCredentials: true,
      // WebSocket first, long-polling only where WebSockets fail: no polling→WebSocket upgrade,
      // so nothing sent in the first moments waits on an upgrade to finish.
      transports: ['websocket', 'polling'],
      tryAllTransports: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
    });
  }

  // ---- store -----------------------------------------------------------------------------------

  getState = (): ChatState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private dispatch(action: ChatAction): void {
    if (this.stopped) return;
    const prev = this.state;
    const next = chatReducer(prev, action);
    if (next === prev) return;
    this.state = next;
    if (next.lastSeen !== prev.lastSeen) {
      try {
        localStorage.setItem(lastSeenKey(next.me.id), JSON.stringify(next.lastSeen));
      } catch {
        // storage full or disabled: unread counts just won't survive a reload
      }
    }
    for (const l of this.listeners) l();
    if (next.users !== prev.users || next.rooms !== prev.rooms) this.resolveUsers();
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  start(): void {
    const s = this.socket;
    s.on('connect', () => {
      this.dispatch({ type: 'connection', status: 'connected' });
      // Whatever happened while we were away (or while the first load ran) is fetched again.
      this.sync();
    });
    s.on('disconnect', (reason) => {
      this.dispatch({ type: 'connection', status: 'reconnecting' });
      // The server closed the socket on purpose: socket.io does not retry by itself then.
      if (reason === 'io server disconnect') setTimeout(() => !this.stopped && s.connect(), 1000);
    });
    s.on('connect_error', () => {
      if (this.state.connection === 'connected') this.dispatch({ type: 'connection', status: 'reconnecting' });
    });
    s.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      const known = !!this.state.rooms[m.roomId];
      this.dispatch({ type: 'message', message: m, now: nowSeconds() });
      if (!known) void this.refreshRooms();
    });
    s.on('show.room', (room: RoomInfo) => {
      this.dispatch({ type: 'roomAdded', room, now: nowSeconds() });
      this.joinRoom(room.id);
      void this.loadNewest(room.id);
    });
    s.on('user.connected', (u: User) => this.dispatch({ type: 'presence', user: { ...u, online: true }, now: nowSeconds() }));
    s.on('user.disconnected', (u: User) => this.dispatch({ type: 'presence', user: { ...u, online: false }, now: nowSeconds() }));
    s.on('error', (e: unknown) => console.warn('redchat: server error event', e));
    s.connect();
    document.addEventListener('visibilitychange', this.onVisibility);
    this.sync();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.socket.removeAllListeners();
    this.socket.disconnect();
    this.listeners.clear();
  }

  private onVisibility = () => {
    this.dispatch({ type: 'view', roomId: this.state.viewing, visible: document.visibilityState === 'visible' });
  };

  /** The room on screen (null: none, e.g. the room list on a phone). */
  setViewing(roomId: string | null): void {
    this.dispatch({ type: 'view', roomId, visible: document.visibilityState === 'visible' });
    if (roomId !== null && this.state.rooms[roomId] && !this.state.rooms[roomId]!.loaded) void this.loadNewest(roomId);
  }

  // ---- fetching --------------------------------------------------------------------------------

  private handleError(err: unknown): void {
    if (err instanceof api.ApiError && err.status === 401 && !this.stopped) {
      this.stop();
      this.onSessionEnded();
    }
  }

  /**
   * Brings every room up to date: the room list, then each room's newest messages until they
   * meet what we have (nothing lost, nothing twice), users and who is online. Runs once at start
   * and after every (re)connect; calls while one runs coalesce into one more run.
   */
  sync(): void {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          await this.syncOnce();
        } while (this.syncAgain && !this.stopped);
      } catch (err) {
        this.handleError(err);
        if (!this.stopped) {
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => this.sync(), RETRY_SYNC_MS);
        }
      } finally {
        this.syncing = null;
      }
    })();
  }

  private async syncOnce(): Promise<void> {
    const me = this.state.me;
    const rooms = await api.getRooms(me.id);
    this.dispatch({ type: 'rooms', rooms, initial: !this.firstSyncDone, now: nowSeconds() });
    this.firstSyncDone = true;
    await eachLimited(Object.keys(this.state.rooms), FETCH_CONCURRENCY, (id) => this.catchUp(id));
    const online = await api.getOnlineUsers();
    this.dispatch({ type: 'onlineSnapshot', users: online });
  }

  private async catchUp(roomId: string): Promise<void> {
    const room = this.state.rooms[roomId];
    if (!room) return;
    if (!room.loaded) return this.loadNewest(roomId, true);
    const missed = await fetchMissed((before) => api.getMessages(roomId, PAGE_SIZE, before), room.messages, PAGE_SIZE);
    this.dispatch({ type: 'page', roomId, messages: missed, kind: 'catchup', limit: PAGE_SIZE });
  }

  private async loadNewest(roomId: string, rethrow = false): Promise<void> {
    try {
      const page = await api.getMessages(roomId, PAGE_SIZE);
      this.dispatch({ type: 'page', roomId, messages: page, kind: 'newest', limit: PAGE_SIZE });
    } catch (err) {
      this.handleError(err);
      if (rethrow) throw err;
    }
  }

  private async refreshRooms(): Promise<void> {
    try {
      const rooms = await api.getRooms(this.state.me.id);
      this.dispatch({ type: 'rooms', rooms, initial: false, now: nowSeconds() });
    } catch (err) {
      this.handleError(err);
    }
  }

  /** Fetches the names of senders and room members we have not seen yet. */
  private resolveUsers(): void {
    if (this.resolvingUsers) return;
    const ids = unknownUserIds(this.state);
    if (ids.length === 0) return;
    this.resolvingUsers = true;
    void (async () => {
      try {
        const users = await api.getUsers(ids);
        // ids the server does not know get a placeholder so that we do not ask again
        const found = new Set(users.map((u) => u.id));
        const missing = ids.filter((id) => !found.has(id)).map((id) => ({ id, username: `User ${id}`, online: false }));
        this.dispatch({ type: 'users', users: [...users, ...missing] });
      } catch (err) {
        this.handleError(err);
      } finally {
        this.resolvingUsers = false;
      }
    })();
  }

  /**
   * Our server joins a socket to all its user's rooms at connect and routes private rooms by
   * user; servers of the reference kind need an explicit `room.join` for a room created later.
   */
  private joinRoom(roomId: string): void {
    if (this.socket.connected) this.socket.emit('room.join', roomId);
  }

  // ---- user actions ----------------------------------------------------------------------------

  async loadOlder(roomId: string): Promise<void> {
    const room = this.state.rooms[roomId];
    if (!room || room.loadingOlder || !room.hasOlder) return;
    this.dispatch({ type: 'olderLoading', roomId, loading: true });
    const oldest = room.messages[0];
    try {
      const page = await api.getMessages(roomId, PAGE_SIZE, oldest ? beforeCursor(oldest) : undefined);
      this.dispatch({ type: 'page', roomId, messages: page, kind: 'older', limit: PAGE_SIZE });
    } catch (err) {
      this.dispatch({ type: 'olderLoading', roomId, loading: false });
      this.handleError(err);
      throw err;
    }
  }

  private waitConnected(ms: number): Promise<boolean> {
    if (this.socket.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.socket.off('connect', onConnect);
        resolve(ok);
      };
      const onConnect = () => done(true);
      const timer = setTimeout(() => done(this.socket.connected), ms);
      this.socket.on('connect', onConnect);
    });
  }

  async send(roomId: string, text: string): Promise<SendResult> {
    if ([...text].length > MAX_MESSAGE_CHARS) return { ok: false, error: `Messages are limited to ${MAX_MESSAGE_CHARS} characters.` };
    if (!(await this.waitConnected(CONNECT_WAIT_MS))) {
      return { ok: false, error: 'Not connected: your message was not sent. It stays here so you can send it when the connection is back.' };
    }
    let ack: unknown;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('message', { roomId, message: text });
    } catch {
      return { ok: false, error: 'The server did not confirm your message. Check that it arrived before sending it again.' };
    }
    if (isMessage(ack)) {
      this.dispatch({ type: 'message', message: ack, now: nowSeconds() });
      return { ok: true, message: ack };
    }
    const error = typeof ack === 'object' && ack !== null && typeof (ack as { error?: unknown }).error === 'string' ? (ack as { error: string }).error : 'The message was refused.';
    return { ok: false, error };
  }

  /** Opens (creating if needed) the private room with `userId`; resolves to its id. */
  async openPrivateChat(userId: string): Promise<string> {
    const me = this.state.me.id;
    const existing = Object.keys(this.state.rooms).find((id) => id === `${me}:${userId}` || id === `${userId}:${me}`);
    if (existing) return existing;
    let room: RoomInfo;
    try {
      room = await api.createPrivateRoom(me, userId);
    } catch (err) {
      this.handleError(err);
      throw err;
    }
    this.dispatch({ type: 'roomAdded', room, now: nowSeconds() });
    this.joinRoom(room.id);
    void this.loadNewest(room.id);
    return room.id;
  }

  async onlineUsers(): Promise<User[]> {
    try {
      const users = await api.getOnlineUsers();
      this.dispatch({ type: 'onlineSnapshot', users });
      return users;
    } catch (err) {
      this.handleError(err);
      throw err;
    }
  }
}
