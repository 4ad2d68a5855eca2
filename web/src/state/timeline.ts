// What the message list shows, in order: day separators, messages grouped by sender, and the
// presence lines of General. Pure, so the rendering component only maps items to elements.

import type { Message } from '../types';
import type { PresenceEvent } from './chat';
import { messageKey } from './messages';

export type TimelineItem =
  | { kind: 'day'; key: string; label: string; date: number }
  | {
      kind: 'message';
      key: string;
      message: Message;
      /** First of a run of messages by the same sender within a few minutes: show name and avatar. */
      groupStart: boolean;
    }
  | { kind: 'presence'; key: string; event: PresenceEvent };

/** Consecutive messages of one sender closer than this (seconds) share one header. */
export const GROUP_GAP_SECONDS = 5 * 60;

/** Local calendar day of a date in seconds, as a sortable number (yyyymmdd). */
export function dayNumber(seconds: number): number {
  const d = new Date(seconds * 1000);
  return d.getFullYear() * 10000 + (d.getMonth() + 1) * 100 + d.getDate();
}

/** "Today", "Yesterday", a weekday within the week, else a date ("Mon, 3 Jun 2024"). */
export function dayLabel(seconds: number, nowSeconds: number, locale?: string): string {
  const day = dayNumber(seconds);
  if (day === dayNumber(nowSeconds)) return 'Today';
  if (day === dayNumber(nowSeconds - 86400)) return 'Yesterday';
  const d = new Date(seconds * 1000);
  const ageDays = (nowSeconds - seconds) / 86400;
  if (ageDays > 0 && ageDays < 6) return d.toLocaleDateString(locale, { weekday: 'long' });
  const now = new Date(nowSeconds * 1000);
  return d.toLocaleDateString(locale, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    ...(d.getFullYear() !== now.getFullYear() ? { year: 'numeric' } : {}),
  });
}

/** "14:05" (the locale's short time). */
export function formatTime(seconds: number, locale?: string): string {
  return new Date(seconds * 1000).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
}

/** The room list's time: a time today, "Yesterday", else a short date. */
export function formatListTime(seconds: number, nowSeconds: number, locale?: string): string {
  const day = dayNumber(seconds);
  if (day === dayNumber(nowSeconds)) return formatTime(seconds, locale);
  if (day === dayNumber(nowSeconds - 86400)) return 'Yesterday';
  return new Date(seconds * 1000).toLocaleDateString(locale, { day: 'numeric', month: 'short' });
}

/** Messages and presence lines merged by date, with day separators and sender groups. */
export function buildTimeline(messages: readonly Message[], events: readonly PresenceEvent[], nowSeconds: number): TimelineItem[] {
  type Entry = { date: number; message?: Message; event?: PresenceEvent };
  const entries: Entry[] = messages.map((m) => ({ date: m.date, message: m }));
  if (events.length > 0) {
    for (const e of events) entries.push({ date: e.date, event: e });
    // stable: messages keep their order; an event goes after messages of the same date
    entries.sort((a, b) => a.date - b.date);
  }
  const items: TimelineItem[] = [];
  let lastDay = -1;
  let prev: Message | undefined;
  for (const e of entries) {
    const day = dayNumber(e.date);
    if (day !== lastDay) {
      items.push({ kind: 'day', key: `day-${day}`, label: dayLabel(e.date, nowSeconds), date: e.date });
      lastDay = day;
      prev = undefined;
    }
    if (e.event) {
      items.push({ kind: 'presence', key: e.event.key, event: e.event });
      prev = undefined;
      continue;
    }
    const m = e.message!;
    const groupStart = !prev || prev.from !== m.from || m.date - prev.date > GROUP_GAP_SECONDS;
    items.push({ kind: 'message', key: messageKey(m), message: m, groupStart });
    prev = m;
  }
  return items;
}

/** Up to two initials of a name, for avatars: "Pablo" → "P", "Mary Jane" → "MJ". */
export function initials(name: string): string {
  const words = name.trim().split(/[\s._-]+/u).filter(Boolean);
  if (words.length === 0) return '?';
  const first = [...words[0]!][0] ?? '?';
  const second = words.length > 1 ? ([...words[words.length - 1]!][0] ?? '') : '';
  return (first + second).toUpperCase();
}

/** A stable hue (0–359) per user id, for avatar colours. */
export function avatarHue(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return ((h >>> 0) * 137) % 360;
}

/** A draft's state against the server's limit (code points, as the server counts). */
export function checkDraft(text: string, maxChars: number): { empty: boolean; length: number; tooLong: boolean } {
  const length = [...text].length;
  return { empty: text.trim().length === 0, length, tooLong: length > maxChars };
}
