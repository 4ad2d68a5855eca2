// The web client's features beyond the tutorial, in real Chromium against the real server and
// Redis: unread counts kept by the server (every tab agrees, the page title), typing indicators,
// read receipts, and reliable send (a message that failed while Redis hung is sent again with a
// retry, and stored once).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DESKTOP, expectMessageOnce, finish, launchBrowser, login, loginUi, messagesRegion, openApp, roomButton, roomsNav, screenshot, sendMessages, sendUi, startStack, waitFor } from './harness.mjs';

let stack;
let browser;
const pages = [];

async function app(opts = { viewport: DESKTOP }) {
  const a = await openApp(browser, stack.base, opts);
  pages.push(a);
  return a;
}

/** The entry of a room with exactly `n` unread messages in its accessible name. */
const withUnread = (page, title, n) => roomsNav(page).getByRole('button', { name: `${title} ${n} unread`, exact: true });
const withoutUnread = (page, title) => roomsNav(page).getByRole('button', { name: title, exact: true });

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
});

// A retry while the server still finds Redis unavailable may log a 503.
after(() => finish({ apps: pages, browser, stack, allowed: /status of 5\d\d/ }));


describe('web client, beyond the tutorial', () => {
  test('unread counts come from the server: every tab agrees, the title shows the total', async () => {
    const tabA = await app();
    await loginUi(tabA.page, 'Mary');
    const alex = await login(stack.base, 'Alex');
    await sendMessages(alex, '3:4', ['Mary, a question', 'and another one']);
    await withUnread(tabA.page, 'Alex', 2).waitFor();
    await waitFor('the title counts them', async () => (await tabA.page.title()).startsWith('(2) '));

    // A second tab of the same login opens the room: the first tab's count clears, live.
    const tabB = await tabA.context.newPage();
    await tabB.goto(`${stack.base}/`);
    await roomButton(tabB, 'Alex').click();
    await expectMessageOnce(tabB, 'and another one');
    await withoutUnread(tabA.page, 'Alex').waitFor();
    await waitFor('the title has no count', async () => !(await tabA.page.title()).startsWith('('));

    // A reload asks the server: still read.
    await tabB.close();
    await sendMessages(alex, '3:4', ['one more']);
    await withUnread(tabA.page, 'Alex', 1).waitFor();
    await tabA.page.reload();
    await withUnread(tabA.page, 'Alex', 1).waitFor();
    await tabA.context.close();
  });

  test('typing shows to the other member and stops with the message', async () => {
    const pablo = await app();
    const joe = await app();
    await loginUi(pablo.page, 'Pablo');
    await loginUi(joe.page, 'Joe');
    await roomButton(pablo.page, 'Joe').click();
    await roomButton(joe.page, 'Pablo').click();
    await joe.page.getByLabel('Message', { exact: true }).fill('Hel');
    const status = pablo.page.getByRole('status').filter({ hasText: 'Joe is typing' });
    await status.waitFor();
    // Never to the typist.
    assert.equal(await joe.page.getByRole('status').filter({ hasText: 'is typing' }).count(), 0);
    await joe.page.getByLabel('Message', { exact: true }).fill('Hello Pablo');
    await joe.page.getByLabel('Message', { exact: true }).press('Enter');
    await expectMessageOnce(pablo.page, 'Hello Pablo');
    await status.waitFor({ state: 'detached' });
    await pablo.context.close();
    await joe.context.close();
  });

  test('read receipts: "Seen" once the other member has read the message', async () => {
    const pablo = await app();
    const alex = await app();
    await loginUi(pablo.page, 'Pablo');
    await loginUi(alex.page, 'Alex'); // looks at General
    await roomButton(pablo.page, 'Alex').click();
    await sendUi(pablo.page, 'Did you see this?');
    await expectMessageOnce(pablo.page, 'Did you see this?');
    const row = messagesRegion(pablo.page).locator('li.msg', { hasText: 'Did you see this?' });
    const seen = messagesRegion(pablo.page).getByText('Seen', { exact: true });
    assert.equal(await row.getByText('Seen', { exact: true }).count(), 0, 'not read yet');
    await roomButton(alex.page, 'Pablo').click();
    await expectMessageOnce(alex.page, 'Did you see this?');
    // It moves under that message (the newest one of Pablo's that Alex has read), shown once.
    await row.getByText('Seen', { exact: true }).waitFor();
    assert.equal(await seen.count(), 1);
    await pablo.context.close();
    await alex.context.close();
  });

  test('group rooms: create with chosen people, live for members, rename, remove, leave', async () => {
    const pablo = await app();
    const joe = await app();
    const mary = await app();
    await loginUi(pablo.page, 'Pablo');
    await loginUi(joe.page, 'Joe');
    await loginUi(mary.page, 'Mary');

    await pablo.page.getByRole('button', { name: 'New group' }).click();
    const dialog = pablo.page.getByRole('dialog', { name: 'New group' });
    await dialog.getByRole('textbox', { name: 'Group name' }).fill('Launch');
    const search = dialog.getByRole('searchbox', { name: 'Search people' });
    await search.fill('jo');
    await dialog.getByRole('checkbox', { name: 'Joe', exact: true }).check();
    await search.fill('MA');
    await dialog.getByRole('checkbox', { name: 'Mary', exact: true }).check();
    assert.equal(await dialog.getByRole('checkbox', { name: 'Joe', exact: true }).isChecked(), true, 'a ticked person stays listed');
    await screenshot(pablo.page, 'new-group-dialog');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await pablo.page.getByRole('heading', { name: 'Launch' }).waitFor();
    await roomButton(pablo.page, 'Launch').waitFor();

    // It shows up live for the members, and they can talk.
    await roomButton(joe.page, 'Launch').click();
    await roomButton(mary.page, 'Launch').waitFor();
    await sendUi(pablo.page, 'Kick-off at ten');
    await expectMessageOnce(joe.page, 'Kick-off at ten');
    await joe.page.getByText('3 members').waitFor();
    // Joe has read it, Mary (looking at General) has not: "Seen by 1", with the name on demand.
    const seenBy = messagesRegion(pablo.page).locator('li.msg', { hasText: 'Kick-off at ten' }).getByText('Seen by 1');
    await seenBy.waitFor();
    await seenBy.click();
    await messagesRegion(pablo.page).locator('details.receipt', { hasText: 'Joe' }).waitFor();
    // Joe is no owner: no owner's buttons.
    assert.equal(await joe.page.getByRole('button', { name: 'Rename group' }).count(), 0);
    assert.equal(await joe.page.getByRole('button', { name: 'Add members' }).count(), 0);
    await joe.page.getByRole('button', { name: 'Members', exact: true }).click();
    const members = joe.page.getByRole('dialog', { name: 'Members' });
    await members.getByText('Mary').waitFor();
    assert.equal(await members.getByRole('button', { name: /^Remove / }).count(), 0);
    await members.getByRole('button', { name: 'Close' }).click();

    // The owner renames it: everyone sees the new name.
    await pablo.page.getByRole('button', { name: 'Rename group' }).click();
    const rename = pablo.page.getByRole('dialog', { name: 'Rename group' });
    await rename.getByRole('textbox', { name: 'Group name' }).fill('Launch day');
    await rename.getByRole('button', { name: 'Save' }).click();
    await joe.page.getByRole('heading', { name: 'Launch day' }).waitFor();
    await roomButton(mary.page, 'Launch day').waitFor();

    // The owner removes Mary: the room leaves her list at once.
    await pablo.page.getByRole('button', { name: 'Members', exact: true }).click();
    await pablo.page.getByRole('dialog', { name: 'Members' }).getByRole('button', { name: 'Remove Mary' }).click();
    await roomButton(mary.page, 'Launch day').waitFor({ state: 'detached' });
    await joe.page.getByText('2 members').waitFor();
    await screenshot(pablo.page, 'group-members-owner');
    await pablo.page.keyboard.press('Escape');

    // Joe leaves.
    joe.page.once('dialog', (d) => d.accept());
    await joe.page.getByRole('button', { name: 'Leave group' }).click();
    await roomButton(joe.page, 'Launch day').waitFor({ state: 'detached' });
    await pablo.page.getByText('1 member', { exact: true }).waitFor();
    for (const a of [pablo, joe, mary]) await a.context.close();
  });

  test('edit, delete and react to messages, live for the other member', async () => {
    const pablo = await app();
    const joe = await app();
    await loginUi(pablo.page, 'Pablo');
    await loginUi(joe.page, 'Joe');
    await roomButton(pablo.page, 'Joe').click();
    await roomButton(joe.page, 'Pablo').click();
    await sendUi(pablo.page, 'Lunch at noon?');
    await expectMessageOnce(joe.page, 'Lunch at noon?');
    const mine = messagesRegion(pablo.page).locator('li.msg', { hasText: 'Lunch at noon?' });
    // Only the author gets Edit and Delete; everyone gets Add reaction.
    const theirs = messagesRegion(joe.page).locator('li.msg', { hasText: 'Lunch at noon?' });
    assert.equal(await theirs.getByRole('button', { name: 'Edit message' }).count(), 0);
    assert.equal(await theirs.getByRole('button', { name: 'Delete message' }).count(), 0);

    await mine.hover();
    await mine.getByRole('button', { name: 'Edit message' }).click();
    const editBox = pablo.page.getByRole('textbox', { name: 'Edit message' });
    await editBox.fill('Lunch at one?');
    await editBox.press('Enter');
    const edited = messagesRegion(joe.page).locator('li.msg', { hasText: 'Lunch at one?' });
    await edited.getByText('(edited)').waitFor();
    await expectMessageOnce(joe.page, 'Lunch at one?');

    // Joe reacts; Pablo sees the count, then adds his own.
    await edited.hover();
    await edited.getByRole('button', { name: 'Add reaction' }).click();
    await edited.getByRole('group', { name: 'Reactions' }).getByRole('button', { name: '👍' }).click();
    const joesThumb = edited.getByRole('button', { name: '👍 1' });
    await joesThumb.waitFor();
    assert.equal(await joesThumb.getAttribute('aria-pressed'), 'true');
    const pablosView = messagesRegion(pablo.page).locator('li.msg', { hasText: 'Lunch at one?' });
    const thumb = pablosView.getByRole('button', { name: '👍 1' });
    await thumb.waitFor();
    assert.equal(await thumb.getAttribute('aria-pressed'), 'false');
    await thumb.click();
    await pablosView.getByRole('button', { name: '👍 2' }).waitFor();
    await edited.getByRole('button', { name: '👍 2' }).waitFor();
    await screenshot(joe.page, 'edited-and-reactions');

    // Pablo deletes it: a dialog asks first; then it is "Message deleted" for both.
    await pablosView.hover();
    await pablosView.getByRole('button', { name: 'Delete message' }).click();
    await pablo.page.getByRole('dialog', { name: 'Delete message' }).getByRole('button', { name: 'Delete' }).click();
    for (const page of [pablo.page, joe.page]) await messagesRegion(page).getByText('Message deleted').waitFor();
    assert.equal(await messagesRegion(joe.page).getByText('Lunch at one?').count(), 0);
    await pablo.context.close();
    await joe.context.close();
  });

  test('mentions: "@Jo" offers Joe, and the mention stands out for him', async () => {
    const pablo = await app();
    const joe = await app();
    await loginUi(pablo.page, 'Pablo');
    await loginUi(joe.page, 'Joe');
    const box = pablo.page.getByLabel('Message', { exact: true });
    await box.pressSequentially('Over to you @Jo');
    const list = pablo.page.getByRole('listbox', { name: 'Mention' });
    await list.getByRole('option', { name: 'Joe', exact: true }).click();
    assert.equal(await box.inputValue(), 'Over to you @Joe ');
    await box.press('Enter');
    await expectMessageOnce(joe.page, 'Over to you @Joe');
    const row = messagesRegion(joe.page).locator('li.msg.mentions-me', { hasText: 'Over to you @Joe' });
    await row.locator('.mention.is-me', { hasText: '@Joe' }).waitFor();
    await pablo.context.close();
    await joe.context.close();
  });

  test('desktop notifications for private messages and mentions while the tab is hidden', async () => {
    const alex = await app();
    await alex.context.grantPermissions(['notifications'], { origin: stack.base });
    // Record what the page shows (the browser's own notification stays real), and let the test
    // say whether the tab is hidden.
    await alex.page.addInitScript(() => {
      const Real = window.Notification;
      window.__shown = [];
      window.__hidden = false;
      Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (window.__hidden ? 'hidden' : 'visible') });
      window.Notification = class extends Real {
        constructor(title, options) {
          super(title, options);
          window.__shown.push({ title, body: options?.body });
        }
      };
    });
    await alex.page.reload();
    await loginUi(alex.page, 'Alex');
    const shown = () => alex.page.evaluate(() => window.__shown);
    const mary = await login(stack.base, 'Mary');
    const joe = await login(stack.base, 'Joe');
    await sendMessages(mary, '3:4', ['visible, so no notification']);
    await withUnread(alex.page, 'Mary', 1).waitFor(); // handled while visible
    await alex.page.evaluate(() => (window.__hidden = true));
    await sendMessages(mary, '3:4', ['Alex, are you there?']);
    await sendMessages(joe, '0', ['General chatter']);
    await sendMessages(joe, '0', ['@Alex can you check the build?']);
    await waitFor('two notifications', async () => (await shown()).length >= 2);
    // The last message went out after the General chatter: once it is shown, nothing else came.
    assert.deepEqual(await shown(), [
      { title: 'Mary', body: 'Alex, are you there?' },
      { title: 'Joe mentioned you', body: '@Alex can you check the build?' },
    ]);
    // The private-chat dialog finds people by name, online or not.
    await alex.page.evaluate(() => (window.__hidden = false));
    await alex.page.getByRole('button', { name: 'New private chat' }).click();
    const dialog = alex.page.getByRole('dialog', { name: 'New private chat' });
    await dialog.getByRole('searchbox', { name: 'Search people' }).fill('pa');
    await dialog.getByRole('list', { name: 'People found' }).getByRole('button', { name: 'Pablo' }).click();
    await alex.page.getByRole('heading', { name: 'Pablo' }).waitFor();
    await alex.context.close();
  });

  test('a message sent while Redis hangs fails, and Retry stores it exactly once', async () => {
    const joe = await app();
    await loginUi(joe.page, 'Joe');
    await roomButton(joe.page, 'Mary').click();
    const text = `Sent while Redis hangs ${Date.now()}`;
    process.kill(stack.redis.child.pid, 'SIGSTOP');
    let resumed = false;
    try {
      await sendUi(joe.page, text);
      const region = messagesRegion(joe.page);
      await region.getByText('Sending…').waitFor();
      await region.getByText('Failed', { exact: true }).waitFor({ timeout: 15_000 });
      process.kill(stack.redis.child.pid, 'SIGCONT');
      resumed = true;
      // Redis may still run the first attempt (it had the command): the retry carries the same
      // client id, so the server stores it once either way.
      await waitFor('the server ready again', async () => (await fetch(`${stack.base}/readyz`)).status === 200, 20_000);
      await region.getByRole('button', { name: 'Retry' }).click();
      await region.getByText('Failed', { exact: true }).waitFor({ state: 'detached', timeout: 10_000 });
      await expectMessageOnce(joe.page, text);
      const mary = await login(stack.base, 'Mary');
      const history = (await mary.get('/room/2:3/messages?limit=50')).json;
      assert.equal(history.filter((m) => m.message === text).length, 1, 'stored once');
    } finally {
      if (!resumed) process.kill(stack.redis.child.pid, 'SIGCONT');
    }
    await joe.context.close();
  });
});
