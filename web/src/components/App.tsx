// The top level: finds out who is logged in (GET /me), then shows the login form or the chat.

import { useCallback, useEffect, useState } from 'react';
import * as api from '../api';
import type { User } from '../types';
import { ChatApp } from './ChatApp';
import { LogoMark } from './icons';
import { Login } from './Login';

type Phase = { kind: 'checking' } | { kind: 'anonymous'; notice?: string } | { kind: 'user'; user: User };

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });

  useEffect(() => {
    let cancelled = false;
    api.getMe().then(
      (user) => !cancelled && setPhase(user ? { kind: 'user', user } : { kind: 'anonymous' }),
      (err: unknown) => !cancelled && setPhase({ kind: 'anonymous', notice: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      cancelled = true;
    };
  }, []);

  const onLoggedIn = useCallback((user: User) => setPhase({ kind: 'user', user }), []);
  const onLoggedOut = useCallback((notice?: string) => setPhase({ kind: 'anonymous', notice }), []);

  if (phase.kind === 'checking') {
    return (
      <div className="splash" role="status" aria-label="Loading">
        <LogoMark size={48} />
      </div>
    );
  }
  if (phase.kind === 'anonymous') return <Login onLoggedIn={onLoggedIn} notice={phase.notice} />;
  return <ChatApp key={phase.user.id} me={phase.user} onLoggedOut={onLoggedOut} />;
}
