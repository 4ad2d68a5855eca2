// "New private chat": pick one of the users online now (GET /users/online), or anyone found by
// name (GET /users/search), to open a private room.

import { useEffect, useState } from 'react';
import type { ChatSession } from '../session';
import type { ChatState } from '../state/chat';
import type { User } from '../types';
import { Avatar } from './Avatar';
import { Dialog } from './Dialog';

interface Props {
  session: ChatSession;
  state: ChatState;
  onClose: () => void;
  onChoose: (userId: string) => Promise<void>;
}

export function NewChatDialog({ session, state, onClose, onChoose }: Props) {
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<User[] | null>(null);

  useEffect(() => {
    const q = query.trim();
    if (!q) return setFound(null);
    let cancelled = false;
    const timer = setTimeout(() => {
      session.searchUsers(q).then(
        (list) => !cancelled && setFound(list),
        (err: unknown) => !cancelled && setError(err instanceof Error ? err.message : 'Could not search.'),
      );
    }, 150);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [session, query]);

  useEffect(() => {
    let cancelled = false;
    session.onlineUsers().then(
      (list) => !cancelled && setUsers(list),
      (err: unknown) => !cancelled && setError(err instanceof Error ? err.message : 'Could not load the users online.'),
    );
    return () => {
      cancelled = true;
    };
  }, [session]);

  // Presence events keep the list fresh while it is open. A search lists anyone, online or not.
  const others = (found ?? users ?? [])
    .filter((u) => u.id !== state.me.id)
    .map((u) => state.users[u.id] ?? u)
    .filter((u) => found !== null || u.online !== false)
    .sort((a, b) => a.username.localeCompare(b.username));

  async function choose(userId: string) {
    setBusy(userId);
    setError('');
    try {
      await onChoose(userId);
      onClose();
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Could not open the chat.');
      setBusy(null);
    }
  }

  return (
    <Dialog title="New private chat" onClose={onClose}>
        <label className="field">
          <span>Search people</span>
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} autoComplete="off" />
        </label>
        <p className="muted small">{found === null ? 'People online now. Search to find anyone; you can also click a name in General.' : 'People whose name starts so.'}</p>
        {error && (
          <p className="error small" role="alert">
            {error}
          </p>
        )}
        {users === null && !error ? (
          <p className="muted">Loading…</p>
        ) : others.length === 0 && !error ? (
          <p className="muted">{found === null ? 'Nobody else is online right now.' : 'Nobody found.'}</p>
        ) : (
          <ul className="user-list" aria-label={found === null ? 'Users online' : 'People found'}>
            {others.map((u) => (
              <li key={u.id}>
                <button type="button" className="user-entry" onClick={() => choose(u.id)} disabled={busy !== null} aria-busy={busy === u.id || undefined}>
                  <Avatar userId={u.id} name={u.username} online={!!u.online} />
                  <span>{u.username}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
    </Dialog>
  );
}
