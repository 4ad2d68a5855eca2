// The message box: Enter sends, Shift+Enter adds a line; empty messages are ignored; the
// server's length limit is shown before it is hit. Drafts are kept per room. Typing tells the
// room's other members (a signal every few seconds, see ChatSession.typing).

import { useEffect, useId, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { ChatSession } from '../session';
import { checkDraft } from '../state/timeline';
import { insertMention, mentionAt, mentionCandidates } from '../state/mentions';
import { MAX_MESSAGE_CHARS, type User } from '../types';
import { SendIcon } from './icons';

const drafts = new Map<string, string>();
/** Show the character counter from this many characters on. */
const COUNTER_FROM = MAX_MESSAGE_CHARS - 500;

export function Composer({ session, roomId, people, placeholder, onSent }: { session: ChatSession; roomId: string; people: readonly User[]; placeholder: string; onSent: () => void }) {
  const [text, setText] = useState(() => drafts.get(roomId) ?? '');
  const [error, setError] = useState('');
  // "@Jo" before the caret offers the room's people whose name starts so ("Mention" listbox).
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState<number | null>(null);
  const typed = mentionAt(text, caret);
  const candidates = typed && dismissed !== typed.start ? mentionCandidates(people, typed.query) : [];
  const choosing = candidates.length > 0;
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

  function choose(u: User) {
    if (!typed) return;
    const next = insertMention(text, typed.start, typed.query, u.username);
    setText(next.text);
    setCaret(next.caret);
    requestAnimationFrame(() => {
      area.current?.focus();
      area.current?.setSelectionRange(next.caret, next.caret);
    });
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (choosing) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const step = e.key === 'ArrowDown' ? 1 : -1;
        setActive((i) => (i + step + candidates.length) % candidates.length);
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        choose(candidates[Math.min(active, candidates.length - 1)]!);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setDismissed(typed!.start);
        return;
      }
    }
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
            setCaret(e.target.selectionStart ?? e.target.value.length);
            setActive(0);
            if (error) setError('');
            if (e.target.value.trim() !== '') session.typing(roomId);
          }}
          onKeyDown={onKeyDown}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart ?? 0)}
          aria-autocomplete="list"
          aria-controls={choosing ? `${id}-mentions` : undefined}
          aria-activedescendant={choosing ? `${id}-mention-${Math.min(active, candidates.length - 1)}` : undefined}
          aria-invalid={draft.tooLong || undefined}
          aria-describedby={describedBy}
        />
        <button type="submit" className="send-btn" disabled={draft.empty || draft.tooLong} title="Send (Enter)">
          <SendIcon />
          <span className="sr-only">Send</span>
        </button>
      </div>
      {choosing && (
        <ul className="mention-list" id={`${id}-mentions`} role="listbox" aria-label="Mention">
          {candidates.map((u, i) => (
            <li
              key={u.id}
              id={`${id}-mention-${i}`}
              role="option"
              aria-selected={i === Math.min(active, candidates.length - 1)}
              onMouseDown={(e) => {
                e.preventDefault(); // keep the focus in the text box
                choose(u);
              }}
            >
              <span aria-hidden>@</span>
              {u.username}
            </li>
          ))}
        </ul>
      )}
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
