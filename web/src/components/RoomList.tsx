// The "Rooms" navigation: each entry is a button named by the room's title and, when there is
// one, its unread count ("Joe 2 unread"); the preview, time and presence are its description.

import { memo } from 'react';
import type { ChatState } from '../state/chat';
import { lastMessage, otherMemberId, roomTitle, unreadLabel, type RoomState } from '../state/rooms';
import { formatListTime, formatTime } from '../state/timeline';
import { GENERAL_ROOM_ID, type User } from '../types';
import { Avatar, RoomAvatar } from './Avatar';
import { useNow } from './hooks';

export function RoomList({ rooms, state, openRoomId, onOpen }: { rooms: RoomState[]; state: ChatState; openRoomId: string | null; onOpen: (id: string) => void }) {
  const now = useNow();
  const onlineCount = Object.values(state.users).filter((u) => u.online).length;
  return (
    <nav className="room-list" aria-label="Rooms">
      {rooms.length === 0 ? (
        <p className="muted pad">Loading rooms…</p>
      ) : (
        <ul>
          {rooms.map((room) => (
            <RoomEntry
              key={room.id}
              room={room}
              me={state.me}
              users={state.users}
              unread={state.unread[room.id] ?? 0}
              selected={room.id === openRoomId}
              now={now}
              onlineCount={room.id === GENERAL_ROOM_ID ? onlineCount : 0}
              onOpen={onOpen}
            />
          ))}
        </ul>
      )}
    </nav>
  );
}

interface EntryProps {
  room: RoomState;
  me: User;
  users: Readonly<Record<string, User>>;
  unread: number;
  selected: boolean;
  now: number;
  onlineCount: number;
  onOpen: (id: string) => void;
}

const RoomEntry = memo(function RoomEntry({ room, me, users, unread, selected, now, onlineCount, onOpen }: EntryProps) {
  const title = roomTitle(room, me.id, users);
  const other = otherMemberId(room.id, me.id);
  const online = other !== undefined ? !!users[other]?.online : undefined;
  const last = lastMessage(room);
  const badge = unreadLabel(unread);
  const sender = last ? (last.from === me.id ? 'You' : other === undefined ? (users[last.from]?.username ?? '…') : '') : '';
  const preview = last ? last.message.replace(/\s+/g, ' ').slice(0, 140) : room.loaded ? 'No messages yet' : '';
  const base = `room-${room.id.replace(/[^a-zA-Z0-9_-]/g, '_')}`;

  const description = [
    other !== undefined ? (online ? 'Online' : 'Offline') : onlineCount > 0 ? `${onlineCount} online` : '',
    last ? `Last message${sender ? ` from ${sender}` : ''} at ${formatTime(last.date)}: ${preview}` : preview,
  ]
    .filter(Boolean)
    .join('. ');

  return (
    <li>
      <button
        type="button"
        className={`room-entry${selected ? ' is-selected' : ''}${badge ? ' has-unread' : ''}`}
        aria-current={selected ? 'page' : undefined}
        aria-labelledby={unread > 0 ? `${base}-title ${base}-unread` : `${base}-title`}
        aria-describedby={`${base}-desc`}
        onClick={() => onOpen(room.id)}
      >
        {other !== undefined ? <Avatar userId={other} name={title} online={online} /> : <RoomAvatar />}
        <span className="room-entry-main">
          <span className="room-entry-top">
            <span className="room-entry-title" id={`${base}-title`}>
              {title}
            </span>
            {last && <span className="room-entry-time">{formatListTime(last.date, now)}</span>}
          </span>
          <span className="room-entry-bottom">
            <span className="room-entry-preview">
              {sender && <span className="room-entry-sender">{sender}: </span>}
              {preview}
            </span>
            {badge && (
              <span className="badge" aria-hidden>
                {badge}
              </span>
            )}
          </span>
        </span>
        {unread > 0 && (
          <span className="sr-only" id={`${base}-unread`}>
            {unread} unread
          </span>
        )}
        <span className="sr-only" id={`${base}-desc`}>
          {description}
        </span>
      </button>
    </li>
  );
});
