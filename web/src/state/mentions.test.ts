import { describe, expect, it } from 'vitest';
import { insertMention, mentionAt, mentionCandidates, roomPeople, splitMentions } from './mentions';

const users = { '1': { id: '1', username: 'Pablo' }, '2': { id: '2', username: 'Joe' }, '3': { id: '3', username: 'Joanna' }, '4': { id: '4', username: 'Mary' } };

describe('mentions', () => {
  it('offers the people of the room', () => {
    expect(roomPeople('0', '1', users).map((u) => u.username)).toEqual(['Joanna', 'Joe', 'Mary']);
    expect(roomPeople('1:2', '1', users).map((u) => u.username)).toEqual(['Joe']);
    expect(roomPeople('g0123456789abcdef', '1', users, ['1', '4']).map((u) => u.username)).toEqual(['Mary']);
  });

  it('finds the mention being typed and completes it', () => {
    expect(mentionAt('hi @Jo', 6)).toEqual({ start: 3, query: 'Jo' });
    expect(mentionAt('@', 1)).toEqual({ start: 0, query: '' });
    expect(mentionAt('mail me@home', 12)).toBeNull();
    expect(mentionAt('hi @Jo there', 12)).toBeNull();
    expect(mentionCandidates(roomPeople('0', '1', users), 'jo').map((u) => u.username)).toEqual(['Joanna', 'Joe']);
    expect(insertMention('hi @Jo!', 3, 'Jo', 'Joe')).toEqual({ text: 'hi @Joe !', caret: 8 });
  });

  it('marks mentions of known names only', () => {
    const names = new Set(['Joe', 'Mary']);
    expect(splitMentions('hey @Joe, and @Nobody and @Mary.', names)).toEqual([
      { text: 'hey ' },
      { text: '@Joe', mention: 'Joe' },
      { text: ', and @Nobody and ' },
      { text: '@Mary', mention: 'Mary' },
      { text: '.' },
    ]);
    expect(splitMentions('me@Joe', names)).toEqual([{ text: 'me@Joe' }]);
  });
});
