// One open room: its header, the "Messages" region and the composer.

import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import type { ChatSession } from '../session';
import type { ChatState } from '../state/chat';
import { messageKey } from '../state/messages';
import { otherMemberId, type RoomState } from '../state/rooms';
import { buildTimeline, formatTime, type TimelineItem } from '../state/timeline';
import { roomPeople, splitMentions } from '../state/mentions';
import { GENERAL_ROOM_ID, REACTIONS, isGroupRoom, type Message, type PendingMessage, type Reactions, type User } from '../types';
import { Avatar, RoomAvatar } from './Avatar';
import { Composer } from './Composer';
import { Dialog } from './Dialog';
import { AddMembersDialog, MembersDialog, RenameGroupDialog } from './GroupDialogs';
import { useNow } from './hooks';
import { ArrowDownIcon, BackIcon } from './icons';

interface Props {
  session: ChatSession;
  state: ChatState;
  room: RoomState;
  title: string;
  showBack: boolean;
  onBack: () => void;
  onOpenPrivateChat: (userId: string) => Promise<void>;
}

/** Distance (px) from the bottom under which the list counts as "at the bottom". */
const STICK_PX = 48;

export function RoomView({ session, state, room, title, showBack, onBack, onOpenPrivateChat }: Props) {
  const me = state.me;
  const other = otherMemberId(room.id, me.id);
  const otherUser = other !== undefined ? state.users[other] : undefined;
  const isGeneral = room.id === GENERAL_ROOM_ID;
  const onlineCount = Object.values(state.users).filter((u) => u.online).length;
  const now = useNow();
  const events = isGeneral ? state.events : [];
  const timeline = useMemo(() => buildTimeline(room.messages, events, now), [room.messages, events, now]);
  const receipt = useMemo(() => (isGeneral ? undefined : findReceipt(room.messages, me.id, other, state.receipts[room.id] ?? {}, state.users)), [isGeneral, room.messages, me.id, other, state.receipts, room.id, state.users]);
  const pending = useMemo(() => state.pending.filter((p) => p.roomId === room.id), [state.pending, room.id]);
  const people = useMemo(() => roomPeople(room.id, me.id, state.users, state.groups[room.id]?.members), [room.id, me.id, state.users, state.groups]);
  const rowCtx = useMemo<RowContext>(
    () => ({ session, roomId: room.id, reactions: state.reactions[room.id] ?? {}, names: new Set(people.map((u) => u.username).concat(me.username)) }),
    [session, room.id, state.reactions, people, me.username],
  );
  const typingLine = typingText(Object.values(state.typing[room.id] ?? {}).map((t) => t.username));

  const scroller = useRef<HTMLElement>(null);
  const atBottom = useRef(true);
  const prev = useRef<{ first?: string; last?: string; height: number; count: number }>({ height: 0, count: 0 });
  const [unseenBelow, setUnseenBelow] = useState(0);
  const [olderError, setOlderError] = useState('');
  const [announcement, setAnnouncement] = useState('');
  const [chatError, setChatError] = useState('');

  const scrollToBottom = useCallback(() => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setUnseenBelow(0);
  }, []);

  // Keep the reader's place: older messages prepended keep the scroll offset from the bottom;
  // new messages scroll into view only when already at the bottom (or when they are ours).
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const msgs = room.messages;
    const first = msgs[0] ? messageKey(msgs[0]) : undefined;
    const lastMsg = msgs[msgs.length - 1];
    const last = lastMsg ? messageKey(lastMsg) : undefined;
    const p = prev.current;
    // Whether the reader was at the bottom of the list as it was before this change, measured
    // now rather than remembered from the last scroll event (which may not have been handled
    // yet when a scroll was made by script, or in the same frame as the change).
    const wasAtBottom = p.height - el.scrollTop - el.clientHeight < STICK_PX;
    if (p.count === 0 && msgs.length > 0) {
      el.scrollTop = el.scrollHeight;
    } else if (first !== p.first && last === p.last) {
      el.scrollTop += el.scrollHeight - p.height;
    } else if (last !== p.last && lastMsg) {
      if (wasAtBottom || lastMsg.from === me.id) scrollToBottom();
      else {
        atBottom.current = false;
        setUnseenBelow((n) => n + Math.max(1, msgs.length - p.count));
      }
    } else if (wasAtBottom) {
      el.scrollTop = el.scrollHeight;
    }
    prev.current = { first, last, height: el.scrollHeight, count: msgs.length };
  }, [room.messages, timeline, me.id, scrollToBottom]);

  // Stay at the bottom when the list's box shrinks (a growing message box, a phone keyboard).
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Screen readers hear new messages from others in the open room.
  const lastKey = useRef<string | undefined>(undefined);
  useEffect(() => {
    const m = room.messages[room.messages.length - 1];
    const key = m ? messageKey(m) : undefined;
    if (lastKey.current !== undefined && key !== lastKey.current && m && m.from !== me.id) {
      setAnnouncement(`${state.users[m.from]?.username ?? 'Someone'}: ${m.message.slice(0, 300)}`);
    }
    lastKey.current = key;
  }, [room.messages, me.id, state.users]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;
    if (atBottom.current && unseenBelow) setUnseenBelow(0);
  };

  async function loadOlder() {
    setOlderError('');
    const el = scroller.current;
    if (el) prev.current.height = el.scrollHeight;
    try {
      await session.loadOlder(room.id);
    } catch (err) {
      setOlderError(err instanceof Error ? err.message : 'Could not load older messages.');
    }
  }

  const startChat = useCallback(
    (userId: string) => {
      setChatError('');
      onOpenPrivateChat(userId).catch((err: unknown) => setChatError(err instanceof Error ? err.message : 'Could not open the chat.'));
    },
    [onOpenPrivateChat],
  );

  const group = isGroupRoom(room.id) ? state.groups[room.id] : undefined;
  const [dialog, setDialog] = useState<'members' | 'add' | 'rename' | null>(null);
  const [groupError, setGroupError] = useState('');
  const status =
    other !== undefined ? (otherUser?.online ? 'Online' : 'Offline') : group ? `${group.members.length} member${group.members.length === 1 ? '' : 's'}` : `${onlineCount} online`;

  async function leave() {
    if (!window.confirm(`Leave ${title}? You will no longer see its messages.`)) return;
    setGroupError('');
    try {
      await session.removeGroupMember(room.id, me.id);
    } catch (err) {
      setGroupError(err instanceof Error ? err.message : 'Could not leave the group.');
    }
  }

  return (
    <section className="room-view" aria-labelledby="room-title">
      <header className="room-header">
        {showBack && (
          <button type="button" className="icon-btn back-btn" onClick={onBack} title="Back to rooms">
            <BackIcon />
            <span className="sr-only">Back to rooms</span>
          </button>
        )}
        {other !== undefined ? <Avatar userId={other} name={title} online={!!otherUser?.online} /> : <RoomAvatar />}
        <div className="room-header-text">
          <h1 id="room-title">{title}</h1>
          <p className={`room-status${otherUser?.online ? ' is-online' : ''}`}>{status}</p>
        </div>
        {group && (
          <div className="room-actions">
            <button type="button" className="btn btn-soft btn-small" onClick={() => setDialog('members')}>
              Members
            </button>
            {group.owner === me.id && (
              <>
                <button type="button" className="btn btn-soft btn-small" onClick={() => setDialog('add')}>
                  Add members
                </button>
                <button type="button" className="btn btn-soft btn-small" onClick={() => setDialog('rename')}>
                  Rename group
                </button>
              </>
            )}
            <button type="button" className="btn btn-soft btn-small" onClick={leave}>
              Leave group
            </button>
          </div>
        )}
      </header>
      {groupError && (
        <p className="error small pad-x" role="alert">
          {groupError}
        </p>
      )}
      {dialog === 'members' && <MembersDialog session={session} state={state} roomId={room.id} onClose={() => setDialog(null)} />}
      {dialog === 'add' && <AddMembersDialog session={session} state={state} roomId={room.id} onClose={() => setDialog(null)} />}
      {dialog === 'rename' && <RenameGroupDialog session={session} roomId={room.id} current={title} onClose={() => setDialog(null)} />}

      <section className="messages" aria-label="Messages" ref={scroller} onScroll={onScroll} tabIndex={0}>
        <div className="older">
          {room.hasOlder ? (
            <button type="button" className="btn btn-soft btn-small" onClick={loadOlder} disabled={room.loadingOlder} aria-busy={room.loadingOlder || undefined}>
              {room.loadingOlder ? 'Loading…' : 'Load older messages'}
            </button>
          ) : room.loaded ? (
            <p className="muted small">{room.messages.length ? 'This is the start of the conversation.' : 'No messages yet. Say hello!'}</p>
          ) : (
            <p className="muted small">Loading messages…</p>
          )}
          {olderError && (
            <p className="error small" role="alert">
              {olderError}
            </p>
          )}
        </div>
        <ol className="timeline">
          {timeline.map((item) => (
            <TimelineRow key={item.key} item={item} me={me} users={state.users} isGeneral={isGeneral} onStartChat={startChat} receipt={item.kind === 'message' && receipt?.key === item.key ? receipt : undefined} ctx={rowCtx} />
          ))}
        </ol>
        {pending.length > 0 && (
          <ol className="timeline pending-list" aria-label="Messages being sent">
            {pending.map((p) => (
              <PendingRow key={p.clientId} pending={p} onRetry={() => session.retry(p.clientId)} onDiscard={() => session.discard(p.clientId)} />
            ))}
          </ol>
        )}
      </section>

      {unseenBelow > 0 && (
        <button type="button" className="jump-latest" onClick={scrollToBottom}>
          <ArrowDownIcon />
          {unseenBelow === 1 ? '1 new message' : `${unseenBelow} new messages`}
        </button>
      )}
      {chatError && (
        <p className="error small pad-x" role="alert">
          {chatError}
        </p>
      )}
      <div className="sr-only" aria-live="polite">
        {announcement}
      </div>
      <div className="typing-line" role="status">
        {typingLine}
      </div>
      <Composer session={session} roomId={room.id} people={people} placeholder={other !== undefined ? `Message ${title}` : `Message #${title}`} onSent={scrollToBottom} />
    </section>
  );
}

/** "Joe is typing…", "Joe and Mary are typing…", "Several people are typing…", or "". */
export function typingText(names: readonly string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return 'Several people are typing…';
}

interface Receipt {
  /** The message (messageKey) the receipt shows under. */
  key: string;
  label: string;
  /** Who has read it (groups: shown on demand). */
  names: string[];
}

/**
 * Read receipts of a room (never General): in a private room "Seen" under my newest message the
 * other user has read; in other rooms "Seen by N" under my newest message.
 */
function findReceipt(messages: readonly Message[], myId: string, other: string | undefined, reads: Readonly<Record<string, number>>, users: Readonly<Record<string, User>>): Receipt | undefined {
  if (other !== undefined) {
    const read = reads[other];
    if (read === undefined) return undefined;
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i]!;
      if (m.from === myId && m.date <= read) return { key: messageKey(m), label: 'Seen', names: [] };
    }
    return undefined;
  }
  let mine: Message | undefined;
  for (let i = messages.length - 1; i >= 0 && !mine; i--) if (messages[i]!.from === myId) mine = messages[i];
  if (!mine) return undefined;
  const readers = Object.entries(reads).filter(([id, date]) => id !== myId && date >= mine!.date);
  if (readers.length === 0) return undefined;
  return { key: messageKey(mine), label: `Seen by ${readers.length}`, names: readers.map(([id]) => users[id]?.username ?? `User ${id}`).sort() };
}

function PendingRow({ pending: p, onRetry, onDiscard }: { pending: PendingMessage; onRetry: () => void; onDiscard: () => void }) {
  const failed = p.status === 'failed';
  return (
    <li className={`msg is-mine group-start is-pending${failed ? ' is-failed' : ''}`}>
      <div className="msg-body">
        <div className="bubble">{p.text}</div>
        <p className="msg-status small">
          {failed ? (
            <>
              <span className="error">Failed</span>
              {p.error ? <span className="muted">: {p.error}</span> : null}{' '}
              <button type="button" className="btn btn-soft btn-small" onClick={onRetry}>
                Retry
              </button>{' '}
              <button type="button" className="btn btn-soft btn-small" onClick={onDiscard}>
                Discard
              </button>
            </>
          ) : (
            <span className="muted">Sending…</span>
          )}
        </p>
      </div>
    </li>
  );
}

interface RowProps {
  item: TimelineItem;
  me: User;
  users: Readonly<Record<string, User>>;
  isGeneral: boolean;
  onStartChat: (userId: string) => void;
  receipt?: Receipt;
  ctx: RowContext;
}

function TimelineRow({ item, me, users, isGeneral, onStartChat, receipt, ctx }: RowProps) {
  if (item.kind === 'day') {
    return (
      <li className="day-separator">
        <span>{item.label}</span>
      </li>
    );
  }
  if (item.kind === 'presence') {
    const e = item.event;
    return (
      <li className="presence-line">
        <span>
          {e.username} {e.online ? 'connected' : 'left'} · {formatTime(e.date)}
        </span>
      </li>
    );
  }
  return <MessageRow message={item.message} groupStart={item.groupStart} me={me} users={users} isGeneral={isGeneral} onStartChat={onStartChat} receipt={receipt} ctx={ctx} />;
}

/** What a message row needs besides the message: its room, its reactions, the names to highlight. */
interface RowContext {
  session: ChatSession;
  roomId: string;
  reactions: Readonly<Record<string, Reactions>>;
  /** Usernames of the room's people: "@name" of one of them is a mention. */
  names: ReadonlySet<string>;
}

/** The text with "@name" mentions of known people marked (mine stronger). */
function MessageText({ text, names, me }: { text: string; names: ReadonlySet<string>; me: string }) {
  const parts = splitMentions(text, names);
  return (
    <>
      {parts.map((p, i) =>
        p.mention ? (
          <span key={i} className={`mention${p.mention === me ? ' is-me' : ''}`}>
            {p.text}
          </span>
        ) : (
          p.text
        ),
      )}
    </>
  );
}

function MessageRow({ message: m, groupStart, me, users, isGeneral, onStartChat, receipt, ctx }: { message: Message; groupStart: boolean; me: User; users: Readonly<Record<string, User>>; isGeneral: boolean; onStartChat: (userId: string) => void; receipt?: Receipt; ctx: RowContext }) {
  const mine = m.from === me.id;
  const name = mine ? me.username : (users[m.from]?.username ?? '…');
  const time = formatTime(m.date);
  const iso = new Date(m.date * 1000).toISOString();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.message);
  const [picking, setPicking] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState('');
  const changeable = m.id !== undefined && /^\d+-[0-9A-Za-z]+$/.test(m.id) && !m.deleted;
  const reactions = m.id !== undefined ? ctx.reactions[m.id] : undefined;
  const mentionsMe = !mine && !m.deleted && splitMentions(m.message, ctx.names).some((p) => p.mention === me.username);

  const act = (what: () => Promise<void>) => {
    setError('');
    what().catch((err: unknown) => setError(err instanceof Error ? err.message : 'That did not work.'));
  };
  async function save(e?: FormEvent) {
    e?.preventDefault();
    const text = draft.trim();
    if (!text || text === m.message) return setEditing(false);
    setError('');
    try {
      await ctx.session.editMessage(ctx.roomId, m.id!, text);
      setEditing(false);
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Could not save the edit.');
    }
  }

  return (
    <li className={`msg ${mine ? 'is-mine' : 'is-theirs'}${groupStart ? ' group-start' : ''}${mentionsMe ? ' mentions-me' : ''}`}>
      {!mine && (groupStart ? <Avatar userId={m.from} name={name} size="sm" /> : <span className="avatar-spacer" aria-hidden />)}
      <div className="msg-body">
        {groupStart ? (
          <div className="msg-meta">
            {mine ? (
              <span className="sr-only">You</span>
            ) : isGeneral ? (
              <button type="button" className="msg-author as-link" onClick={() => onStartChat(m.from)} title={`Start a private chat with ${name}`}>
                {name}
              </button>
            ) : (
              <span className="msg-author">{name}</span>
            )}
            <time dateTime={iso}>{time}</time>
          </div>
        ) : (
          <span className="sr-only">
            {mine ? 'You' : name} at {time}:
          </span>
        )}
        {editing ? (
          <form className="msg-edit" onSubmit={save}>
            <textarea
              aria-label="Edit message"
              value={draft}
              autoFocus
              rows={Math.min(6, draft.split('\n').length)}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
                  e.preventDefault();
                  void save();
                } else if (e.key === 'Escape') {
                  setEditing(false);
                }
              }}
            />
            <div className="msg-edit-buttons">
              <button type="submit" className="btn btn-primary btn-small">
                Save
              </button>
              <button type="button" className="btn btn-soft btn-small" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </div>
          </form>
        ) : m.deleted ? (
          <div className="bubble is-deleted">Message deleted</div>
        ) : (
          <div className="bubble" title={groupStart ? undefined : time}>
            <MessageText text={m.message} names={ctx.names} me={me.username} />
          </div>
        )}
        {m.edited !== undefined && !m.deleted && !editing && <span className="msg-edited small">(edited)</span>}
        {reactions && (
          <div className="reactions">
            {Object.entries(reactions).map(([emoji, who]) => (
              <button
                key={emoji}
                type="button"
                className="reaction"
                aria-pressed={who.includes(me.id)}
                title={who.map((id) => (id === me.id ? 'You' : (users[id]?.username ?? `User ${id}`))).join(', ')}
                onClick={() => act(() => ctx.session.react(ctx.roomId, m.id!, emoji))}
              >
                {emoji} {who.length}
              </button>
            ))}
          </div>
        )}
        {changeable && !editing && (
          <div className="msg-actions">
            <button type="button" className="msg-action" aria-expanded={picking} onClick={() => setPicking((p) => !p)}>
              Add reaction
            </button>
            {mine && (
              <>
                <button
                  type="button"
                  className="msg-action"
                  onClick={() => {
                    setDraft(m.message);
                    setEditing(true);
                  }}
                >
                  Edit message
                </button>
                <button type="button" className="msg-action" onClick={() => setConfirming(true)}>
                  Delete message
                </button>
              </>
            )}
          </div>
        )}
        {picking && changeable && (
          <div className="reaction-picker" role="group" aria-label="Reactions">
            {REACTIONS.map((emoji) => (
              <button
                key={emoji}
                type="button"
                onClick={() => {
                  setPicking(false);
                  act(() => ctx.session.react(ctx.roomId, m.id!, emoji));
                }}
              >
                {emoji}
              </button>
            ))}
          </div>
        )}
        {error && (
          <p className="error small" role="alert">
            {error}
          </p>
        )}
        {receipt &&
          (receipt.names.length > 0 ? (
            <details className="receipt small">
              <summary>{receipt.label}</summary>
              {receipt.names.join(', ')}
            </details>
          ) : (
            <p className="receipt small">{receipt.label}</p>
          ))}
        {confirming && (
          <ConfirmDelete
            onCancel={() => setConfirming(false)}
            onDelete={() => {
              setConfirming(false);
              act(() => ctx.session.deleteMessage(ctx.roomId, m.id!));
            }}
          />
        )}
      </div>
    </li>
  );
}

function ConfirmDelete({ onCancel, onDelete }: { onCancel: () => void; onDelete: () => void }) {
  return (
    <Dialog title="Delete message" onClose={onCancel}>
      <p className="muted">Everyone in the room will see "Message deleted" instead.</p>
      <div className="dialog-buttons">
        <button type="button" className="btn btn-soft" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className="btn btn-primary" onClick={onDelete}>
          Delete
        </button>
      </div>
    </Dialog>
  );
}
