// One room's messages: a list sorted oldest first, without duplicates, whichever way a message
// arrived (history page, live event, the acknowledgement of our own send, reconnect catch-up).

import type { Message } from '../types';

/**
 * The identity of a message. Messages written by redchat carry a unique `id`; legacy messages
 * (another port's data) have none, and are identified by their whole content instead.
 */
export function messageKey(m: Message): string {
  return m.id !== undefined && m.id !== '' ? `id:${m.id}` : `v:${m.from}\u0000${m.date}\u0000${m.message}`;
}

/** Oldest first; equal dates fall back to the key so that the order never depends on arrival. */
export function compareMessages(a: Message, b: Message): number {
  if (a.date !== b.date) return a.date - b.date;
  const ka = messageKey(a);
  const kb = messageKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** True when `value` has the shape of a stored message (bad data from the wire is dropped). */
export function isMessage(value: unknown): value is Message {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.roomId === 'string' &&
    typeof m.from === 'string' &&
    typeof m.date === 'number' &&
    Number.isFinite(m.date) &&
    typeof m.message === 'string' &&
    (m.id === undefined || typeof m.id === 'string') &&
    (m.edited === undefined || typeof m.edited === 'number') &&
    (m.deleted === undefined || typeof m.deleted === 'boolean')
  );
}

/**
 * Merges `incoming` (any order, possibly overlapping `existing` or itself) into `existing`
 * (sorted, unique). Returns `existing` itself when nothing is new, so callers can skip renders.
 */
export function mergeMessages(existing: readonly Message[], incoming: readonly Message[]): readonly Message[] {
  if (incoming.length === 0) return existing;
  const known = new Set(existing.map(messageKey));
  const fresh: Message[] = [];
  for (const m of incoming) {
    const key = messageKey(m);
    if (known.has(key)) continue;
    known.add(key);
    fresh.push(m);
  }
  if (fresh.length === 0) return existing;
  fresh.sort(compareMessages);
  // Common cases: a live message after everything, or an older page before everything.
  const last = existing[existing.length - 1];
  if (last === undefined || compareMessages(last, fresh[0]!) < 0) return [...existing, ...fresh];
  const first = existing[0]!;
  if (compareMessages(fresh[fresh.length - 1]!, first) < 0) return [...fresh, ...existing];
  return [...existing, ...fresh].sort(compareMessages);
}

/**
 * The cursor for the page before `oldest`: its id when that is a cursor ("<date in ms>-<hex>",
 * as the server writes them), otherwise its date (messages written by other servers, or with
 * ids of another form).
 */
export function beforeCursor(oldest: Message): string {
  return oldest.id !== undefined && /^\d+-[0-9A-Za-z]+$/.test(oldest.id) ? oldest.id : String(oldest.date);
}

/**
 * `existing` with the message of the same key replaced by `updated` (an edit or a delete), or
 * `existing` itself when it does not hold that message.
 */
export function replaceMessage(existing: readonly Message[], updated: Message): readonly Message[] {
  const key = messageKey(updated);
  const i = existing.findIndex((m) => messageKey(m) === key);
  if (i < 0) return existing;
  const out = [...existing];
  out[i] = updated;
  return out;
}
