// A logged-in user's live chat: owns the Socket.IO connection, turns server events and REST
// answers into actions of the pure reducer (state/chat.ts), and exposes the state as a store for
// React's useSyncExternalStore. Everything that decides *what* the state becomes is in state/;
// this file only decides *when* to fetch.

import { io, type Socket } from 'socket.io-client';
import * as api from './api';
import { chatReducer, initialChatState, unknownUserIds, type ChatAction, type ChatState } from './state/chat';
import { beforeCursor, isMessage } from './state/messages';
import { splitMentions } from './state/mentions';
import { lastMessage, otherMemberId } from './state/rooms';
import { GENERAL_ROOM_ID, MAX_MESSAGE_CHARS, PAGE_SIZE, isGroupRoom, type GroupInfo, type Message, type Reactions, type RoomInfo, type User } from './types';

const ACK_TIMEOUT_MS = 5000;
const RETRY_SYNC_MS = 3000;
const FETCH_CONCURRENCY = 4;
/** One typing signal per room at most this often while typing (the server drops closer ones). */
const TYPING_EVERY_MS = 3000;
/** Someone's "is typing" shows this long after their last signal. */
const TYPING_SHOWN_MS = 5000;
/** Read positions go out at most this often per room (the server rate-limits them). */
const READ_DELAY_MS = 300;
/** Pages of a room.sync after a reconnect, at most (then the room is reloaded from its newest). */
const MAX_SYNC_PAGES = 20;

const nowSeconds = () => Date.now() / 1000;

/** A fresh client id for a message (reliable send): unique per browser, 1–64 of [A-Za-z0-9_-]. */
function newClientId(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

/** The cursor of a message for room.sync and room.read: its id when it is one of ours, else its date. */
function positionOf(m: Message): string | number {
  const cursor = beforeCursor(m);
  return cursor === String(m.date) ? m.date : cursor;
}

function ackError(ack: unknown): string | undefined {
  if (typeof ack === 'object' && ack !== null && typeof (ack as { error?: unknown }).error === 'string') return (ack as { error: string }).error;
  return undefined;
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
  /** Per room: when we last told the server we are typing there (ms). */
  private readonly typingSent = new Map<string, number>();
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  /** Per room: the read position last sent, and a pending send. */
  private readonly readSent = new Map<string, number>();
  private readonly readTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Rooms whose receipts were fetched since the last (re)connect. */
  private readonly receiptsFetched = new Set<string>();
  /** Client ids of messages being sent right now (one attempt at a time per message). */
  private readonly inFlight = new Set<string>();

  constructor(
    me: User,
    /** Called when the server no longer knows our session (HTTP 401). */
    private readonly onSessionEnded: () => void,
  ) {
    this.state = initialChatState(me);
    this.socket = io({
      path: '/socket.io',
      autoConnect: false,
      withCredentials: true,
      // Protocol 1 (docs/realtime.md): typing, read positions, recovery from a cursor.
      auth: { redchat: 1 },
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
    for (const l of this.listeners) l();
    if (next.users !== prev.users || next.rooms !== prev.rooms) this.resolveUsers();
    if (next.lastSeen !== prev.lastSeen && next.viewing !== null) this.scheduleRead(next.viewing);
    if (next.typing !== prev.typing) this.scheduleTypingExpiry();
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  start(): void {
    const s = this.socket;
    s.on('connect', () => {
      this.dispatch({ type: 'connection', status: 'connected' });
      this.receiptsFetched.clear();
      // Whatever happened while we were away (or while the first load ran) is fetched again,
      // and messages that waited for the connection go out (the same client ids: never twice).
      this.sync();
      this.resendWaiting();
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
      this.notify(m);
    });
    s.on('show.room', (room: RoomInfo) => {
      this.dispatch({ type: 'roomAdded', room, now: nowSeconds() });
      this.joinRoom(room.id);
      void this.loadNewest(room.id);
    });
    s.on('user.connected', (u: User) => this.dispatch({ type: 'presence', user: { ...u, online: true }, now: nowSeconds() }));
    s.on('user.disconnected', (u: User) => this.dispatch({ type: 'presence', user: { ...u, online: false }, now: nowSeconds() }));
    s.on('typing', (t: { roomId?: unknown; userId?: unknown; username?: unknown }) => {
      if (typeof t?.roomId !== 'string' || typeof t.userId !== 'string' || typeof t.username !== 'string') return;
      this.dispatch({ type: 'typing', roomId: t.roomId, userId: t.userId, username: t.username, until: nowSeconds() + TYPING_SHOWN_MS / 1000 });
    });
    s.on('room.read', (r: { roomId?: unknown; userId?: unknown; date?: unknown }) => {
      if (typeof r?.roomId !== 'string' || typeof r.userId !== 'string' || typeof r.date !== 'number') return;
      this.dispatch({ type: 'roomRead', roomId: r.roomId, userId: r.userId, date: r.date });
    });
    s.on('message.updated', (m: unknown) => {
      if (isMessage(m)) this.dispatch({ type: 'messageUpdated', message: m });
    });
    s.on('message.reactions', (r: { roomId?: unknown; messageId?: unknown; reactions?: unknown }) => {
      if (typeof r?.roomId !== 'string' || typeof r.messageId !== 'string' || typeof r.reactions !== 'object' || r.reactions === null) return;
      this.dispatch({ type: 'reactions', roomId: r.roomId, byMessage: { [r.messageId]: r.reactions as Reactions } });
    });
    s.on('group.changed', (g: { roomId?: unknown; name?: unknown; owner?: unknown; members?: unknown; removed?: unknown }) => {
      if (typeof g?.roomId !== 'string' || typeof g.name !== 'string' || typeof g.owner !== 'string' || !Array.isArray(g.members) || !Array.isArray(g.removed)) return;
      const isNew = !this.state.rooms[g.roomId];
      this.dispatch({ type: 'groupChanged', roomId: g.roomId, name: g.name, owner: g.owner, members: g.members.map(String), removed: g.removed.map(String), now: nowSeconds() });
      if (isNew && this.state.rooms[g.roomId]) void this.loadNewest(g.roomId);
    });
    s.on('error', (e: unknown) => console.warn('redchat: server error event', e));
    s.connect();
    document.addEventListener('visibilitychange', this.onVisibility);
    this.sync();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.typingTimer);
    for (const t of this.readTimers.values()) clearTimeout(t);
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
    if (roomId === null) return;
    if (this.state.rooms[roomId] && !this.state.rooms[roomId]!.loaded) void this.loadNewest(roomId);
    void this.fetchReceipts(roomId);
  }

  /** Tells the server how far we have read the room on screen, shortly after it changed. */
  private scheduleRead(roomId: string): void {
    if (this.readTimers.has(roomId)) return;
    this.readTimers.set(
      roomId,
      setTimeout(() => {
        this.readTimers.delete(roomId);
        const room = this.state.rooms[roomId];
        const newest = room ? lastMessage(room) : undefined;
        const seen = this.state.lastSeen[roomId];
        if (!newest || seen === undefined || newest.date > seen || !this.socket.connected) return;
        if ((this.readSent.get(roomId) ?? -Infinity) >= newest.date) return;
        this.readSent.set(roomId, newest.date);
        this.socket.emit('room.read', { roomId, messageId: positionOf(newest) });
      }, READ_DELAY_MS),
    );
  }

  /** The other members' read positions of a room (receipts); General has none. */
  private async fetchReceipts(roomId: string): Promise<void> {
    if (roomId === GENERAL_ROOM_ID || this.receiptsFetched.has(roomId) || !this.state.rooms[roomId]) return;
    this.receiptsFetched.add(roomId);
    try {
      this.dispatch({ type: 'receipts', roomId, reads: await api.getRoomReads(roomId) });
    } catch (err) {
      this.receiptsFetched.delete(roomId);
      this.handleError(err);
    }
  }

  private scheduleTypingExpiry(): void {
    clearTimeout(this.typingTimer);
    let soonest = Infinity;
    for (const typists of Object.values(this.state.typing)) for (const t of Object.values(typists)) soonest = Math.min(soonest, t.until);
    if (soonest === Infinity) return;
    this.typingTimer = setTimeout(() => this.dispatch({ type: 'typingExpired', now: nowSeconds() }), Math.max(0, soonest * 1000 - Date.now()) + 50);
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
    const groups = Object.keys(this.state.rooms).filter(isGroupRoom);
    await eachLimited(groups, FETCH_CONCURRENCY, async (id) => this.applyGroup(await api.getGroup(id)));
    // The unread counts as the server keeps them, after the catch-up.
    this.dispatch({ type: 'readState', rooms: await api.getReadState() });
    const online = await api.getOnlineUsers();
    this.dispatch({ type: 'onlineSnapshot', users: online });
  }

  /**
   * A shown room gets what it missed from its newest message on (room.sync: no gap, no
   * duplicate); a room never shown gets its newest page.
   */
  private async catchUp(roomId: string): Promise<void> {
    const room = this.state.rooms[roomId];
    if (!room) return;
    const newest = lastMessage(room);
    if (!room.loaded || !newest) return this.loadNewest(roomId, true);
    if (!this.socket.connected) return; // the sync that runs on connect does it
    let after = positionOf(newest);
    for (let page = 0; page < MAX_SYNC_PAGES; page++) {
      const ack: unknown = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('room.sync', { roomId, after });
      const error = ackError(ack);
      if (error) throw new Error(`room.sync ${roomId}: ${error}`);
      const { messages, more } = ack as { messages?: unknown; more?: unknown };
      const got = Array.isArray(messages) ? messages.filter(isMessage) : [];
      this.dispatch({ type: 'page', roomId, messages: got, kind: 'catchup', limit: PAGE_SIZE });
      await this.loadReactions(roomId, got);
      const last = got[got.length - 1];
      if (more !== true || !last) return;
      after = positionOf(last);
    }
    // Away for very long: start the room again from its newest messages.
    await this.loadNewest(roomId, true);
  }

  private async loadNewest(roomId: string, rethrow = false): Promise<void> {
    try {
      const page = await api.getMessages(roomId, PAGE_SIZE);
      this.dispatch({ type: 'page', roomId, messages: page, kind: 'newest', limit: PAGE_SIZE });
      await this.loadReactions(roomId, page);
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
      void this.loadReactions(roomId, page).catch(() => {});
    } catch (err) {
      this.dispatch({ type: 'olderLoading', roomId, loading: false });
      this.handleError(err);
      throw err;
    }
  }

  /**
   * Sends a message reliably: it shows at once as "sending", carries a client id so that the
   * server stores it once however often it is sent, waits for a connection if there is none,
   * and ends acknowledged (then it is a message like any other) or failed, with a retry.
   */
  send(roomId: string, text: string): void {
    const message = { clientId: newClientId(), roomId, text, status: 'sending' as const };
    this.dispatch({ type: 'pendingAdd', message });
    this.typingSent.delete(roomId);
    void this.attempt(message.clientId);
  }

  /** Sends a failed message again, with the same client id. */
  retry(clientId: string): void {
    this.dispatch({ type: 'pendingStatus', clientId, status: 'sending' });
    void this.attempt(clientId);
  }

  discard(clientId: string): void {
    this.dispatch({ type: 'pendingDone', clientId });
  }

  private resendWaiting(): void {
    for (const p of this.state.pending) if (p.status === 'sending') void this.attempt(p.clientId);
  }

  private async attempt(clientId: string): Promise<void> {
    const p = this.state.pending.find((x) => x.clientId === clientId);
    if (!p || this.inFlight.has(clientId)) return;
    if ([...p.text].length > MAX_MESSAGE_CHARS) {
      this.dispatch({ type: 'pendingStatus', clientId, status: 'failed', error: `Messages are limited to ${MAX_MESSAGE_CHARS} characters.` });
      return;
    }
    if (!this.socket.connected) return; // goes out on connect (resendWaiting)
    this.inFlight.add(clientId);
    let ack: unknown;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('message', { roomId: p.roomId, message: p.text, clientId });
    } catch {
      // No answer: lost with the connection (it goes out again on connect), or the server is
      // slow. Either way a retry cannot store it twice.
      this.inFlight.delete(clientId);
      if (!this.socket.connected) return;
      this.dispatch({ type: 'pendingStatus', clientId, status: 'failed', error: 'The server did not confirm your message.' });
      return;
    }
    this.inFlight.delete(clientId);
    if (isMessage(ack)) {
      this.dispatch({ type: 'message', message: ack, now: nowSeconds() });
      this.dispatch({ type: 'pendingDone', clientId });
      return;
    }
    this.dispatch({ type: 'pendingStatus', clientId, status: 'failed', error: ackError(ack) ?? 'The message was refused.' });
  }

  /** The reactions of loaded messages (those with ids of ours), a page at a time. */
  private async loadReactions(roomId: string, messages: readonly Message[]): Promise<void> {
    const ids = messages.map((m) => m.id).filter((id): id is string => id !== undefined && /^\d+-[0-9A-Za-z]+$/.test(id));
    for (let i = 0; i < ids.length; i += 100) {
      const byMessage: Record<string, Reactions> = {};
      const found = await api.getReactions(roomId, ids.slice(i, i + 100));
      for (const id of ids.slice(i, i + 100)) byMessage[id] = found[id] ?? {};
      this.dispatch({ type: 'reactions', roomId, byMessage });
    }
  }

  /** Sends an event whose ack is a value or {error}; throws the error as an Error. */
  private async request(name: string, payload: unknown): Promise<unknown> {
    if (!this.socket.connected) throw new Error('Not connected: try again when the connection is back.');
    let ack: unknown;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(name, payload);
    } catch {
      throw new Error('The server did not answer. Try again.');
    }
    const error = ackError(ack);
    if (error) throw new Error(error);
    return ack;
  }

  async editMessage(roomId: string, messageId: string, text: string): Promise<void> {
    const ack = await this.request('message.edit', { roomId, messageId, message: text });
    if (isMessage(ack)) this.dispatch({ type: 'messageUpdated', message: ack });
  }

  async deleteMessage(roomId: string, messageId: string): Promise<void> {
    const ack = await this.request('message.delete', { roomId, messageId });
    if (isMessage(ack)) this.dispatch({ type: 'messageUpdated', message: ack });
  }

  /** Adds my `emoji` to a message, or takes it back. */
  async react(roomId: string, messageId: string, emoji: string): Promise<void> {
    const ack = (await this.request('message.react', { roomId, messageId, emoji })) as { reactions?: Reactions };
    if (ack && typeof ack.reactions === 'object') this.dispatch({ type: 'reactions', roomId, byMessage: { [messageId]: ack.reactions } });
  }

  /** Called as the user types in a room: the others see "… is typing" (one signal per few seconds). */
  typing(roomId: string): void {
    const now = Date.now();
    if (!this.socket.connected || now - (this.typingSent.get(roomId) ?? 0) < TYPING_EVERY_MS) return;
    this.typingSent.set(roomId, now);
    this.socket.emit('typing', { roomId });
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

  /**
   * A desktop notification for a private message or a mention of me, while the tab is hidden
   * (permission is asked for on a click: see ChatApp).
   */
  private notify(m: Message): void {
    if (m.from === this.state.me.id || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    if (document.visibilityState !== 'hidden') return;
    const me = this.state.me.username;
    const mentioned = splitMentions(m.message, new Set([me])).some((p) => p.mention === me);
    if (!mentioned && otherMemberId(m.roomId, this.state.me.id) === undefined) return;
    const sender = this.state.users[m.from]?.username ?? 'Someone';
    try {
      const n = new Notification(mentioned ? `${sender} mentioned you` : sender, { body: m.message.slice(0, 200), tag: `redchat-${m.roomId}` });
      n.onclick = () => {
        window.focus();
        window.location.hash = `#/room/${encodeURIComponent(m.roomId)}`;
        n.close();
      };
    } catch {
      // some browsers allow notifications only from a service worker: nothing to show then
    }
  }

  // ---- groups ----------------------------------------------------------------------------------

  private applyGroup(g: GroupInfo): void {
    this.dispatch({ type: 'users', users: g.members });
    this.dispatch({ type: 'groupChanged', roomId: g.id, name: g.name, owner: g.owner, members: g.members.map((m) => m.id), removed: [], now: nowSeconds() });
  }

  private async groupCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      this.handleError(err);
      throw err;
    }
  }

  /** Creates a group with `members` (user ids; I am its owner); resolves to its room id. */
  async createGroup(name: string, members: readonly string[]): Promise<string> {
    const g = await this.groupCall(() => api.createGroup(name, members));
    this.applyGroup(g);
    void this.loadNewest(g.id);
    return g.id;
  }

  async renameGroup(roomId: string, name: string): Promise<void> {
    this.applyGroup(await this.groupCall(() => api.renameGroup(roomId, name)));
  }

  async addGroupMembers(roomId: string, members: readonly string[]): Promise<void> {
    this.applyGroup(await this.groupCall(() => api.addGroupMembers(roomId, members)));
  }

  /** The owner removes a member; with my own id, I leave the group. */
  async removeGroupMember(roomId: string, userId: string): Promise<void> {
    await this.groupCall(() => api.removeGroupMember(roomId, userId));
    const g = this.state.groups[roomId];
    if (g) {
      const members = g.members.filter((id) => id !== userId);
      this.dispatch({ type: 'groupChanged', roomId, name: String(this.state.rooms[roomId]?.names[0] ?? ''), owner: g.owner, members, removed: [userId], now: nowSeconds() });
    }
  }

  /** Users whose name starts with `q`, for choosing members (a page of 50). */
  async searchUsers(q: string): Promise<User[]> {
    const { users } = await this.groupCall(() => api.searchUsers(q));
    return users;
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
