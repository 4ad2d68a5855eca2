// Mentions: "@name" in a message names one of the room's people. Which names the composer
// offers, where a mention is being typed, and how a text splits into plain parts and mentions.

import { GENERAL_ROOM_ID, type User } from '../types';
import { otherMemberId } from './rooms';

/** The people of a room besides me, by name: everyone I know of in General, the other person of a private room, the members of a group. */
export function roomPeople(roomId: string, myId: string, users: Readonly<Record<string, User>>, groupMembers?: readonly string[]): User[] {
  let ids: string[];
  if (roomId === GENERAL_ROOM_ID) ids = Object.keys(users);
  else if (groupMembers) ids = [...groupMembers];
  else {
    const other = otherMemberId(roomId, myId);
    ids = other !== undefined ? [other] : [];
  }
  return ids
    .filter((id) => id !== myId && users[id])
    .map((id) => users[id]!)
    .sort((a, b) => a.username.localeCompare(b.username));
}

/** The mention being typed just before `caret`: "@Jo|" → { start (of the "@"), query: "Jo" }. */
export function mentionAt(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)@([^\s@]*)$/.exec(before);
  if (!m) return null;
  return { start: caret - m[2]!.length - 1, query: m[2]! };
}

/** Up to `max` people whose name starts with `query` (any case). */
export function mentionCandidates(people: readonly User[], query: string, max = 8): User[] {
  const q = query.toLowerCase();
  return people.filter((u) => u.username.toLowerCase().startsWith(q)).slice(0, max);
}

/** `text` with the mention at `start` (the "@" and `query`) replaced by "@name ". */
export function insertMention(text: string, start: number, query: string, name: string): { text: string; caret: number } {
  const inserted = `@${name} `;
  return { text: text.slice(0, start) + inserted + text.slice(start + 1 + query.length), caret: start + inserted.length };
}

export interface TextPart {
  text: string;
  /** The username this part mentions. */
  mention?: string;
}

/** Splits a message into plain text and "@name" mentions of `names` (trailing punctuation is not part of a name). */
export function splitMentions(text: string, names: ReadonlySet<string>): TextPart[] {
  const parts: TextPart[] = [];
  const re = /(^|\s)@([^\s@]+)/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let name = m[2]!;
    while (name && !names.has(name) && /[.,!?;:)\]'"]$/.test(name)) name = name.slice(0, -1);
    if (!names.has(name)) continue;
    const at = m.index + m[1]!.length;
    if (at > last) parts.push({ text: text.slice(last, at) });
    parts.push({ text: `@${name}`, mention: name });
    last = at + 1 + name.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}
