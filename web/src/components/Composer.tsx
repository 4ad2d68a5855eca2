// The message box: Enter sends, Shift+Enter adds a line; empty messages are ignored; the
// server's length limit is shown before it is hit. Drafts are kept per room. Typing tells the
// room's other members (a signal every few seconds, see ChatSession.typing).

import { useEffect, useId, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { ChatSession } from '../session';
import { checkDraft } from '../state/timeline';
import { MAX_MESSAGE_CHARS } from '../types';
import { SendIcon } from './icons';

const drafts = new Map<string, string>();
/** Show the character counter from this many characters on. */
const COUNTER_FROM = MAX_MESSAGE_CHARS - 500;

export function Composer({ session, roomId, placeholder, onSent }: { session: ChatSession; roomId: string; placeholder: string; onSent: () => void }) {
  const [text, setText] = useState(() => drafts.get(roomId) ?? '');
  const [error, setError] = useState('');
  const area = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  const draft = checkDraft(text, MAX_MESSAGE_CHARS);

  useEffect(() => {
    drafts.set(roomId, text);
  }, [roomId, text]);

  // Grow with the text up to a few lines (CSS caps the height and scrolls beyond).
  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${el.scrollHeight}px`;
  }, [text]);

  function send(e?: FormEvent) {
    e?.preventDefault();
    if (draft.empty) return;
    if (draft.tooLong) {
      setError(`Messages are limited to ${MAX_MESSAGE_CHARS.toLocaleString()} characters: remove ${(draft.length - MAX_MESSAGE_CHARS).toLocaleString()}.`);
      return;
    }
    const outgoing = text.replace(/^\s*\n/, '').trimEnd();
    setError('');
    setText('');
    // It shows in the room at once, as "sending", then sent or failed with a retry.
    session.send(roomId, outgoing);
    onSent();
    area.current?.focus();
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  }

  const showCounter = draft.length >= COUNTER_FROM;
  const describedBy = [`${id}-hint`, error ? `${id}-error` : '', showCounter ? `${id}-counter` : ''].filter(Boolean).join(' ');
  return (
    <form className="composer" onSubmit={send}>
      <div className={`composer-box${draft.tooLong ? ' is-invalid' : ''}`}>
        <label htmlFor={`${id}-input`} className="sr-only">
          Message
        </label>
        <textarea
          ref={area}
          id={`${id}-input`}
          rows={1}
          value={text}
          placeholder={placeholder}
          onChange={(e) => {
            setText(e.target.value);
            if (error) setError('');
            if (e.target.value.trim() !== '') session.typing(roomId);
          }}
          onKeyDown={onKeyDown}
          aria-invalid={draft.tooLong || undefined}
          aria-describedby={describedBy}
        />
        <button type="submit" className="send-btn" disabled={draft.empty || draft.tooLong} title="Send (Enter)">
          <SendIcon />
          <span className="sr-only">Send</span>
        </button>
      </div>
      <div className="composer-footer">
        <span id={`${id}-hint`} className="composer-hint">
          Enter to send, Shift+Enter for a new line
        </span>
        {showCounter && (
          <span id={`${id}-counter`} className={`counter${draft.tooLong ? ' is-over' : ''}`} aria-live="polite">
            {draft.length.toLocaleString()} / {MAX_MESSAGE_CHARS.toLocaleString()}
            {draft.tooLong ? ' — too long' : ''}
          </span>
        )}
      </div>
      {error && (
        <p className="error small" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
