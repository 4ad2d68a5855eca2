// The logged-in screen: the room list beside the open room on a desktop; one of the two on a phone.

import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import * as api from '../api';
import { ChatSession } from '../session';
import { orderRooms, roomTitle } from '../state/rooms';
import { GENERAL_ROOM_ID, type User } from '../types';
import { Avatar } from './Avatar';
import { ConnectionBanner } from './ConnectionBanner';
import { canGoBackInApp, useMediaQuery, useRoomRoute } from './hooks';
import { LogoMark, LogoutIcon, NewChatIcon } from './icons';
import { NewChatDialog } from './NewChatDialog';
import { NewGroupDialog } from './GroupDialogs';
import { RoomList } from './RoomList';
import { RoomView } from './RoomView';

export function ChatApp({ me, onLoggedOut }: { me: User; onLoggedOut: (notice?: string) => void }) {
  const [session, setSession] = useState<ChatSession | null>(null);
  useEffect(() => {
    const s = new ChatSession(me, () => onLoggedOut('Your session has ended. Please log in again.'));
    s.start();
    setSession(s);
    return () => s.stop();
  }, [me, onLoggedOut]);
  if (!session) return null;
  return <ChatScreen session={session} onLoggedOut={onLoggedOut} />;
}

function ChatScreen({ session, onLoggedOut }: { session: ChatSession; onLoggedOut: (notice?: string) => void }) {
  const state = useSyncExternalStore(session.subscribe, session.getState);
  const wide = useMediaQuery('(min-width: 760px)');
  const [route, navigate] = useRoomRoute();
  const [dialogOpen, setDialogOpen] = useState(false);
  const [groupDialogOpen, setGroupDialogOpen] = useState(false);
  // Desktop notifications: asked for on a click (browsers refuse to ask otherwise).
  const [notifications, setNotifications] = useState(() => (typeof Notification === 'undefined' ? 'unsupported' : Notification.permission));
  const [loggingOut, setLoggingOut] = useState(false);
  const me = state.me;

  const roomsKnown = Object.keys(state.rooms).length > 0;
  // An unknown room in the URL (e.g. from another account) falls back to the list.
  const routeRoom = route !== null && (state.rooms[route] || !roomsKnown) ? route : null;
  const openRoomId = routeRoom ?? (wide ? GENERAL_ROOM_ID : null);
  const openRoom = openRoomId !== null ? state.rooms[openRoomId] : undefined;

  useEffect(() => {
    session.setViewing(openRoom ? openRoom.id : null);
  }, [session, openRoom?.id]);

  const titleOf = useCallback((id: string) => roomTitle(state.rooms[id] ?? { id, names: [] }, me.id, state.users), [state.rooms, state.users, me.id]);
  const ordered = useMemo(() => orderRooms(Object.values(state.rooms), (r) => roomTitle(r, me.id, state.users)), [state.rooms, state.users, me.id]);

  const totalUnread = useMemo(() => Object.keys(state.rooms).reduce((n, id) => n + (state.unread[id] ?? 0), 0), [state.rooms, state.unread]);
  useEffect(() => {
    const base = openRoom ? `${titleOf(openRoom.id)} · redchat` : 'redchat';
    document.title = totalUnread > 0 ? `(${totalUnread}) ${base}` : base;
  }, [openRoom, titleOf, totalUnread]);

  const openPrivateChat = useCallback(
    async (userId: string) => {
      if (userId === me.id) return;
      const roomId = await session.openPrivateChat(userId);
      navigate(roomId);
    },
    [session, navigate, me.id],
  );

  async function logout() {
    setLoggingOut(true);
    session.stop();
    try {
      await api.logout();
    } catch {
      // the cookie may already be gone; either way we show the login form
    }
    window.history.replaceState(null, '', window.location.pathname);
    onLoggedOut();
  }

  return (
    <div className="chat-app" data-view={openRoom ? 'room' : 'list'}>
      <ConnectionBanner status={state.connection} />
      <aside className="sidebar" aria-label="Chats">
        <header className="sidebar-header">
          <div className="brand">
            <LogoMark size={28} />
            <span className="brand-name">redchat</span>
          </div>
          <div className="me">
            <Avatar userId={me.id} name={me.username} size="sm" />
            <span className="me-name" title={`Logged in as ${me.username}`}>
              {me.username}
            </span>
          </div>
          <button type="button" className="icon-btn" onClick={logout} disabled={loggingOut} title="Log out">
            <LogoutIcon />
            <span className="sr-only">Log out</span>
          </button>
        </header>
        <div className="sidebar-actions">
          <button type="button" className="btn btn-soft btn-block" onClick={() => setDialogOpen(true)}>
            <NewChatIcon />
            New private chat
          </button>
          <button type="button" className="btn btn-soft btn-block" onClick={() => setGroupDialogOpen(true)}>
            <NewChatIcon />
            New group
          </button>
          {notifications === 'default' && (
            <button
              type="button"
              className="btn btn-soft btn-block"
              onClick={() => void Notification.requestPermission().then((p) => setNotifications(p))}
              title="Private messages and mentions of you, while this tab is in the background"
            >
              Enable notifications
            </button>
          )}
        </div>
        <RoomList rooms={ordered} state={state} openRoomId={openRoom?.id ?? null} onOpen={(id) => navigate(id)} />
      </aside>
      <main className="room-pane">
        {openRoom ? (
          <RoomView
            key={openRoom.id}
            session={session}
            state={state}
            room={openRoom}
            title={titleOf(openRoom.id)}
            showBack={!wide}
            onBack={() => (canGoBackInApp() ? window.history.back() : navigate(null, true))}
            onOpenPrivateChat={openPrivateChat}
          />
        ) : (
          <div className="empty-pane">
            <LogoMark size={56} />
            <p>Choose a room to start chatting.</p>
          </div>
        )}
      </main>
      {groupDialogOpen && <NewGroupDialog session={session} state={state} onClose={() => setGroupDialogOpen(false)} onCreated={(id) => navigate(id)} />}
      {dialogOpen && <NewChatDialog session={session} state={state} onClose={() => setDialogOpen(false)} onChoose={openPrivateChat} />}
    </div>
  );
}
