// The login form; a name the server does not know creates an account (HTTP 201).

import { useId, useRef, useState, type FormEvent } from 'react';
import * as api from '../api';
import type { User } from '../types';
import { LogoMark } from './icons';

export function Login({ onLoggedIn, notice }: { onLoggedIn: (user: User) => void; notice?: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<{ text: string; field?: 'username' | 'password' } | null>(notice ? { text: notice } : null);
  const [busy, setBusy] = useState(false);
  const userRef = useRef<HTMLInputElement>(null);
  const passRef = useRef<HTMLInputElement>(null);
  const id = useId();

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    const name = username.trim();
    if (name === '') {
      setError({ text: 'Enter your username, or a new one to create an account.', field: 'username' });
      userRef.current?.focus();
      return;
    }
    if (password === '') {
      setError({ text: 'Enter your password.', field: 'password' });
      passRef.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const { user } = await api.login(name, password);
      onLoggedIn(user);
    } catch (err) {
      const status = err instanceof api.ApiError ? err.status : 0;
      const text = err instanceof Error ? err.message : 'Something went wrong. Please try again.';
      if (status === 404) {
        setError({ text: 'Invalid username or password.', field: 'password' });
        setPassword('');
        passRef.current?.focus();
      } else if (status === 400 || status === 409) {
        setError({ text, field: /password/i.test(text) ? 'password' : 'username' });
      } else {
        setError({ text });
      }
      setBusy(false);
    }
  }

  const errorId = `${id}-error`;
  return (
    <main className="login">
      <div className="login-card">
        <div className="login-brand">
          <LogoMark size={44} />
          <h1>redchat</h1>
        </div>
        <p className="login-lead">Log in, or choose a new name and password to create an account.</p>
        <form onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor={`${id}-user`}>Username</label>
            <input
              ref={userRef}
              id={`${id}-user`}
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              autoFocus
              maxLength={64}
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              aria-invalid={error?.field === 'username' || undefined}
              aria-describedby={error?.field === 'username' ? errorId : `${id}-user-hint`}
            />
            <p className="hint" id={`${id}-user-hint`}>
              1–32 characters, no spaces or “:”.
            </p>
          </div>
          <div className="field">
            <label htmlFor={`${id}-pass`}>Password</label>
            <input
              ref={passRef}
              id={`${id}-pass`}
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-invalid={error?.field === 'password' || undefined}
              aria-describedby={error?.field === 'password' ? errorId : `${id}-pass-hint`}
            />
            <p className="hint" id={`${id}-pass-hint`}>
              New accounts need at least 6 characters.
            </p>
          </div>
          <div className="form-error" id={errorId} role="alert">
            {error?.text}
          </div>
          <button type="submit" className="btn btn-primary btn-block" disabled={busy} aria-busy={busy || undefined}>
            Log in
          </button>
        </form>
      </div>
    </main>
  );
}
