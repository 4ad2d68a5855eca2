// The web client's features beyond the tutorial, in real Chromium against the real server and
// Redis: unread counts kept by the server (every tab agrees, the page title), typing indicators,
// read receipts, and reliable send (a message that failed while Redis hung is sent again with a
// retry, and stored once).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DESKTOP, expectMessageOnce, finish, launchBrowser, login, loginUi, messagesRegion, openApp, roomButton, roomsNav, sendMessages, sendUi, startStack, waitFor } from './harness.mjs';

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
