// The web client in real Chromium against the real server and Redis: logging in, live chat in
// General and private rooms, new rooms, unread badges, history paging and HTML shown as text.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DESKTOP,
  PHONE,
  expectMessageOnce,
  finish,
  launchBrowser,
  login,
  loginUi,
  messagesRegion,
  openApp,
  roomButton,
  screenshot,
  sendMessages,
  sendUi,
  startStack,
  waitFor,
} from './harness.mjs';

let stack;
let browser;
const pages = [];

async function app(opts) {
  const a = await openApp(browser, stack.base, opts);
  pages.push(a);
  return a;
}

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
});

after(() => finish({ apps: pages, browser, stack }));


describe('web client', () => {
  test('login errors, account creation, staying logged in across reloads, log out', async () => {
    const { page, context } = await app({ viewport: PHONE, httpErrorsExpected: true });
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Enter your username' }).waitFor();

    await page.getByLabel('Username').fill('Pablo');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Invalid username or password' }).waitFor();
    await screenshot(page, 'login-error-phone');

    // A new name with a bad password: the server's reason is shown.
    await page.getByLabel('Username').fill('Newbie');
    await page.getByLabel('Password').fill('123');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: /password/i }).waitFor();

    await page.getByLabel('Password').fill('secret-pass');
    await page.getByRole('button', { name: 'Log in' }).click();
    await roomButton(page, 'General').waitFor();

    await page.reload();
    await roomButton(page, 'General').waitFor();
    assert.ok((await context.cookies()).some((c) => c.name === 'redchat_sid'));

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Username').waitFor();
    await page.reload();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
  });

  test('two users chat live in General', async () => {
    const pablo = await app({ viewport: DESKTOP });
    const joe = await app({ viewport: DESKTOP, colorScheme: 'dark' });
    await loginUi(pablo.page, 'Pablo');
    await loginUi(joe.page, 'Joe');

    // Desktop opens General by default, with the demo messages.
    await messagesRegion(pablo.page).getByText("Wow that's great").waitFor();
    await sendUi(pablo.page, 'Hi Joe, are you there?');
    await expectMessageOnce(joe.page, 'Hi Joe, are you there?');
    await expectMessageOnce(pablo.page, 'Hi Joe, are you there?');

    // Shift+Enter makes a new line; an empty message is ignored.
    const box = joe.page.getByLabel('Message', { exact: true });
    await box.fill('Yes!');
    await box.press('Shift+Enter');
    await box.pressSequentially('Two lines here');
    await box.press('Enter');
    await expectMessageOnce(pablo.page, 'Yes!\nTwo lines here');
    await box.fill('   ');
    await box.press('Enter');
    assert.equal(await box.inputValue(), '   ', 'whitespace is not sent');
    assert.equal(await joe.page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    await box.fill('');

    // Own messages and others' are on opposite sides.
    const mine = messagesRegion(pablo.page).locator('.msg.is-mine', { hasText: 'Hi Joe, are you there?' });
    const theirs = messagesRegion(pablo.page).locator('.msg.is-theirs', { hasText: 'Two lines here' });
    const [mb, tb] = [await mine.locator('.bubble').boundingBox(), await theirs.locator('.bubble').boundingBox()];
    assert.ok(mb.x > tb.x + 100, 'own messages on the right, others on the left');

    await screenshot(pablo.page, 'general-desktop-light');
    await screenshot(joe.page, 'general-desktop-dark');
    await pablo.context.close();
    await joe.context.close();
  });

  test('private room: live chat and unread badge', async () => {
    const pablo = await app({ viewport: DESKTOP });
    const joe = await app({ viewport: PHONE });
    await loginUi(pablo.page, 'Pablo');
    await loginUi(joe.page, 'Joe');

    // Joe (phone) opens his room with Pablo and writes while Pablo looks at General.
    await roomButton(joe.page, 'Pablo').click();
    await joe.page.getByRole('heading', { name: 'Pablo' }).waitFor();
    await sendUi(joe.page, 'Psst, private question');
    await sendUi(joe.page, 'Are you free at 3?');

    const joeEntry = roomButton(pablo.page, 'Joe');
    await pablo.page.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: 'Joe 2 unread', exact: true }).waitFor();
    assert.equal(await joeEntry.locator('.badge').innerText(), '2');
    // The room with the newest message comes right after General.
    const order = await pablo.page.getByRole('navigation', { name: 'Rooms' }).locator('.room-entry-title').allInnerTexts();
    assert.deepEqual(order.slice(0, 2), ['General', 'Joe']);
    await screenshot(pablo.page, 'private-unread-desktop');

    await joeEntry.click();
    await expectMessageOnce(pablo.page, 'Are you free at 3?');
    await waitFor('badge cleared', async () => (await joeEntry.locator('.badge').count()) === 0);
    await sendUi(pablo.page, 'Sure, 3 works');
    await expectMessageOnce(joe.page, 'Sure, 3 works');
    await screenshot(joe.page, 'private-chat-phone');

    // Back to the room list on the phone.
    await joe.page.getByRole('button', { name: 'Back to rooms' }).click();
    await roomButton(joe.page, 'General').waitFor();
    await pablo.context.close();
    await joe.context.close();
  });

  test('a new private room appears for the other user', async () => {
    const pablo = await app({ viewport: DESKTOP });
    await loginUi(pablo.page, 'Pablo');
    const zoe = await app({ viewport: PHONE, colorScheme: 'dark' });
    await loginUi(zoe.page, 'Zoe', 'zoe-secret'); // a new account

    // Zoe chooses Pablo from the users online.
    await zoe.page.getByRole('button', { name: 'New private chat' }).click();
    const dialog = zoe.page.getByRole('dialog', { name: 'New private chat' });
    await dialog.getByRole('button', { name: 'Pablo', exact: true }).waitFor();
    await screenshot(zoe.page, 'new-chat-dialog-phone-dark');
    await dialog.getByRole('button', { name: 'Pablo', exact: true }).click();
    await zoe.page.getByRole('heading', { name: 'Pablo' }).waitFor();
    await sendUi(zoe.page, 'Hi Pablo, I am new here');

    const entry = roomButton(pablo.page, 'Zoe');
    await entry.waitFor({ timeout: 10_000 });
    assert.equal(await entry.locator('.badge').innerText(), '1');
    await entry.click();
    await expectMessageOnce(pablo.page, 'Hi Pablo, I am new here');
    await sendUi(pablo.page, 'Welcome, Zoe!');
    await expectMessageOnce(zoe.page, 'Welcome, Zoe!');
    await screenshot(zoe.page, 'new-room-phone-dark');
    await screenshot(pablo.page, 'new-room-desktop');

    // Clicking a sender's name in General opens a private chat too (Mary, no room with Zoe yet).
    await zoe.page.getByRole('button', { name: 'Back to rooms' }).click();
    const mary = await login(stack.base, 'Mary');
    await sendMessages(mary, '0', ['Mary says hi to everyone']);
    await roomButton(zoe.page, 'General').click();
    await messagesRegion(zoe.page).getByRole('button', { name: 'Mary', exact: true }).last().click();
    await zoe.page.getByRole('heading', { name: 'Mary' }).waitFor();
    const zoeRooms = await zoe.page.evaluate(() => fetch('/me').then((r) => r.json()).then((me) => fetch(`/rooms/${me.id}`)).then((r) => r.json()));
    assert.ok(zoeRooms.some((r) => r.id.split(':').includes(mary.user.id)), 'POST /room created the room with Mary');
    await pablo.context.close();
    await zoe.context.close();
  });

  test('older messages load on demand, keeping the scroll position', async () => {
    const mary = await login(stack.base, 'Mary');
    const texts = Array.from({ length: 45 }, (_, i) => `History message ${String(i + 1).padStart(2, '0')}`);
    await sendMessages(mary, '1:3', texts);

    const pablo = await app({ viewport: DESKTOP });
    await loginUi(pablo.page, 'Pablo');
    await roomButton(pablo.page, 'Mary').click();
    const region = messagesRegion(pablo.page);
    await region.getByText('History message 45').waitFor();
    assert.equal(await region.getByText('History message 01', { exact: true }).count(), 0, 'not in the first page');

    // The newest message is in view (the list starts at the bottom).
    assert.ok(await region.getByText('History message 45').isVisible());
    await region.evaluate((el) => (el.scrollTop = 0));
    const anchor = region.getByText('History message 16', { exact: true });
    const yBefore = (await anchor.boundingBox()).y;
    await region.getByRole('button', { name: 'Load older messages' }).click();
    await region.getByText('History message 01', { exact: true }).waitFor();
    const yAfter = (await anchor.boundingBox()).y;
    assert.ok(Math.abs(yAfter - yBefore) < 4, `scroll position kept (${yBefore} → ${yAfter})`);
    // 45 + the two demo greetings: all loaded, each once.
    const shown = (await region.locator('.bubble').allInnerTexts()).filter((t) => t.startsWith('History message'));
    assert.equal(shown.length, 45);
    assert.equal(new Set(shown).size, 45);
    await region.getByText('This is the start of the conversation.').waitFor();
    await screenshot(pablo.page, 'history-desktop');
    // Still where the reader is: no later render takes the view back to the bottom (one did, when
    // the scroll made by script had not been handled as a scroll event yet).
    assert.ok(Math.abs((await anchor.boundingBox()).y - yAfter) < 4, 'the view stayed on the older messages');

    // Reading old messages: a new one does not yank the view, it shows a "new message" button.
    await sendMessages(mary, '1:3', ['A live one while scrolled up']);
    await pablo.page.getByRole('button', { name: '1 new message' }).waitFor();
    await screenshot(pablo.page, 'history-new-message-desktop');
    await pablo.page.getByRole('button', { name: '1 new message' }).click();
    await waitFor('scrolled to the bottom', () => region.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 5));
    await pablo.context.close();
  });

  test('a message with HTML or script is shown as text', async () => {
    const pablo = await app({ viewport: DESKTOP });
    const joe = await app({ viewport: PHONE });
    await loginUi(pablo.page, 'Pablo');
    await loginUi(joe.page, 'Joe');
    await roomButton(joe.page, 'General').click();

    const evil = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold?</b> & "quotes"`;
    await sendUi(pablo.page, evil);
    for (const a of [pablo, joe]) {
      await expectMessageOnce(a.page, evil);
      const region = messagesRegion(a.page);
      assert.equal(await region.locator('img, script, b').count(), 0, 'no element was created from the text');
      assert.equal(await a.page.evaluate(() => window.__pwned), undefined);
    }
    // The preview in the room list is text too.
    assert.match(await roomButton(pablo.page, 'General').locator('.room-entry-preview').innerText(), /<img src=x/);

    // Over the limit: the counter says so and nothing is sent.
    const box = joe.page.getByLabel('Message', { exact: true });
    await box.fill('x'.repeat(4001));
    await joe.page.getByText('4,001 / 4,000').waitFor();
    assert.equal(await joe.page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    await box.press('Enter');
    await joe.page.getByRole('alert').filter({ hasText: 'limited to 4,000 characters' }).waitFor();
    await screenshot(joe.page, 'html-as-text-phone');
    await screenshot(pablo.page, 'html-as-text-desktop');
    await pablo.context.close();
    await joe.context.close();
  });
});
