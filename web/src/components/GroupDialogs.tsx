// Group rooms: the "New group", "Members", "Add members" and "Rename group" dialogs, and the
// people picker they share (search by name, a checkbox per user).

import { useEffect, useState, type FormEvent } from 'react';
import type { ChatSession } from '../session';
import type { ChatState } from '../state/chat';
import type { User } from '../types';
import { Avatar } from './Avatar';
import { Dialog } from './Dialog';

const errorText = (err: unknown, fallback: string) => (err instanceof Error && err.message ? err.message : fallback);

/** Search people by name and tick some: a checkbox per user, labelled with the username. */
function PeoplePicker({ session, state, exclude, chosen, onToggle }: { session: ChatSession; state: ChatState; exclude: ReadonlySet<string>; chosen: ReadonlyMap<string, User>; onToggle: (u: User) => void }) {
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<User[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let cancelled = false;
    const timer = setTimeout(() => {
      session.searchUsers(query.trim()).then(
        (users) => !cancelled && (setFound(users), setError('')),
        (err: unknown) => !cancelled && setError(errorText(err, 'Could not search.')),
      );
    }, 150);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [session, query]);
  // The ticked ones stay listed whatever the search shows.
  const shown = [...chosen.values(), ...(found ?? []).filter((u) => !chosen.has(u.id))].filter((u) => !exclude.has(u.id));
  return (
    <div className="people-picker">
      <label className="field">
        <span>Search people</span>
        <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} autoComplete="off" />
      </label>
      {error && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
      {found === null && !error ? (
        <p className="muted small">Searching…</p>
      ) : shown.length === 0 ? (
        <p className="muted small">Nobody found.</p>
      ) : (
        <ul className="people-list">
          {shown.map((u) => (
            <li key={u.id}>
              <label className="person">
                <input type="checkbox" checked={chosen.has(u.id)} onChange={() => onToggle(u)} />
                <Avatar userId={u.id} name={u.username} size="sm" online={!!(state.users[u.id] ?? u).online} />
                <span>{u.username}</span>
              </label>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function useChosen() {
  const [chosen, setChosen] = useState<ReadonlyMap<string, User>>(new Map());
  const toggle = (u: User) =>
    setChosen((prev) => {
      const next = new Map(prev);
      if (next.has(u.id)) next.delete(u.id);
      else next.set(u.id, u);
      return next;
    });
  return [chosen, toggle] as const;
}

export function NewGroupDialog({ session, state, onClose, onCreated }: { session: ChatSession; state: ChatState; onClose: () => void; onCreated: (roomId: string) => void }) {
  const [name, setName] = useState('');
  const [chosen, toggle] = useChosen();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  async function create(e: FormEvent) {
    e.preventDefault();
    if (!name.trim()) return setError('Give the group a name.');
    setBusy(true);
    setError('');
    try {
      onCreated(await session.createGroup(name.trim(), [...chosen.keys()]));
      onClose();
    } catch (err) {
      setError(errorText(err, 'Could not create the group.'));
      setBusy(false);
    }
  }
  return (
    <Dialog title="New group" onClose={onClose}>
      <form className="dialog-form" onSubmit={create}>
        <label className="field">
          <span>Group name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={64} required autoFocus />
        </label>
        <PeoplePicker session={session} state={state} exclude={new Set([state.me.id])} chosen={chosen} onToggle={toggle} />
        {error && (
          <p className="error small" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy} aria-busy={busy || undefined}>
          Create
        </button>
      </form>
    </Dialog>
  );
}

export function AddMembersDialog({ session, state, roomId, onClose }: { session: ChatSession; state: ChatState; roomId: string; onClose: () => void }) {
  const [chosen, toggle] = useChosen();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const members = new Set(state.groups[roomId]?.members ?? []);
  async function add(e: FormEvent) {
    e.preventDefault();
    if (chosen.size === 0) return setError('Choose someone to add.');
    setBusy(true);
    setError('');
    try {
      await session.addGroupMembers(roomId, [...chosen.keys()]);
      onClose();
    } catch (err) {
      setError(errorText(err, 'Could not add them.'));
      setBusy(false);
    }
  }
  return (
    <Dialog title="Add members" onClose={onClose}>
      <form className="dialog-form" onSubmit={add}>
        <PeoplePicker session={session} state={state} exclude={members} chosen={chosen} onToggle={toggle} />
        {error && (
          <p className="error small" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy} aria-busy={busy || undefined}>
          Add
        </button>
      </form>
    </Dialog>
  );
}

export function RenameGroupDialog({ session, roomId, current, onClose }: { session: ChatSession; roomId: string; current: string; onClose: () => void }) {
  const [name, setName] = useState(current);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  async function save(e: FormEvent) {
    e.preventDefault();
    if (!name.trim()) return setError('Give the group a name.');
    setBusy(true);
    setError('');
    try {
      await session.renameGroup(roomId, name.trim());
      onClose();
    } catch (err) {
      setError(errorText(err, 'Could not rename the group.'));
      setBusy(false);
    }
  }
  return (
    <Dialog title="Rename group" onClose={onClose}>
      <form className="dialog-form" onSubmit={save}>
        <label className="field">
          <span>Group name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={64} required autoFocus />
        </label>
        {error && (
          <p className="error small" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="btn btn-primary" disabled={busy} aria-busy={busy || undefined}>
          Save
        </button>
      </form>
    </Dialog>
  );
}

/** The members with their online state; the owner may remove each of the others. */
export function MembersDialog({ session, state, roomId, onClose }: { session: ChatSession; state: ChatState; roomId: string; onClose: () => void }) {
  const group = state.groups[roomId];
  const [error, setError] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const me = state.me.id;
  const isOwner = group?.owner === me;
  const members = (group?.members ?? [])
    .map((id) => state.users[id] ?? { id, username: `User ${id}` })
    .sort((a, b) => (a.id === group?.owner ? -1 : b.id === group?.owner ? 1 : a.username.localeCompare(b.username)));
  async function remove(userId: string) {
    setBusy(userId);
    setError('');
    try {
      await session.removeGroupMember(roomId, userId);
    } catch (err) {
      setError(errorText(err, 'Could not remove them.'));
    } finally {
      setBusy(null);
    }
  }
  return (
    <Dialog title="Members" onClose={onClose}>
      {error && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
      <ul className="people-list" aria-label="Members">
        {members.map((u) => (
          <li key={u.id} className="person">
            <Avatar userId={u.id} name={u.username} size="sm" online={!!u.online} />
            <span>
              {u.username}
              {u.id === me ? ' (you)' : ''}
              {u.id === group?.owner ? <span className="muted small"> · owner</span> : null}
              <span className="muted small"> · {u.online ? 'online' : 'offline'}</span>
            </span>
            {isOwner && u.id !== me && (
              <button type="button" className="btn btn-soft btn-small push-right" onClick={() => remove(u.id)} disabled={busy !== null} aria-busy={busy === u.id || undefined}>
                Remove {u.username}
              </button>
            )}
          </li>
        ))}
      </ul>
    </Dialog>
  );
}
