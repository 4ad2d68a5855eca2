// The server restarts under two open clients: both show "reconnecting", come back by themselves,
// fetch what was said while they were away, and keep chatting; no message is lost or doubled.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  DESKTOP,
  PHONE,
  expectMessageOnce,
  freePort,
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

before(async () => {
  // A fixed port: the browsers find the restarted server where they left it.
  stack = await startStack({ port: await freePort() });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const banner = (page) => page.getByRole('status').filter({ hasText: 'Reconnecting' });

test('both clients recover from a server restart without losing a message', async () => {
  const pablo = await openApp(browser, stack.base, { viewport: DESKTOP });
  const joe = await openApp(browser, stack.base, { viewport: PHONE });
  await loginUi(pablo.page, 'Pablo');
  await loginUi(joe.page, 'Joe');
  await roomButton(joe.page, 'Pablo').click();
  await sendUi(joe.page, 'Before the restart');
  await waitFor('badge', async () => (await roomButton(pablo.page, 'Joe').locator('.badge').count()) === 1);

  await stack.server.stop();
  await banner(pablo.page).waitFor();
  await banner(joe.page).waitFor();
  await screenshot(pablo.page, 'restart-reconnecting-desktop');
  await screenshot(joe.page, 'restart-reconnecting-phone');

  // The browsers stay offline until messages were written on the restarted server: only the
  // catch-up after reconnecting can bring those.
  await pablo.context.setOffline(true);
  await joe.context.setOffline(true);
  await stack.server.start();
  const mary = await login(stack.base, 'Mary');
  const joeElsewhere = await login(stack.base, 'Joe');
  await sendMessages(mary, '0', ['Missed while away 1', 'Missed while away 2']);
  await sendMessages(joeElsewhere, '1:2', ['Joe from his laptop']);
  await new Promise((resolve) => setTimeout(resolve, 1000)); // a reconnect attempt or two fails meanwhile
  assert.ok(await banner(pablo.page).isVisible(), 'still disconnected while offline');
  await pablo.context.setOffline(false);
  await joe.context.setOffline(false);

  await banner(pablo.page).waitFor({ state: 'detached', timeout: 15_000 });
  await banner(joe.page).waitFor({ state: 'detached', timeout: 15_000 });
  await expectMessageOnce(pablo.page, 'Missed while away 1');
  await expectMessageOnce(pablo.page, 'Missed while away 2');
  await expectMessageOnce(joe.page, 'Joe from his laptop');
  await expectMessageOnce(joe.page, 'Before the restart');

  // Pablo had two unread messages from Joe: the one before and the one during the restart.
  assert.equal(await roomButton(pablo.page, 'Joe').locator('.badge').innerText(), '2');

  // Live chat goes on, both ways.
  await roomButton(pablo.page, 'Joe').click();
  await expectMessageOnce(pablo.page, 'Joe from his laptop');
  await sendUi(pablo.page, 'Back online, Joe?');
  await expectMessageOnce(joe.page, 'Back online, Joe?');
  await sendUi(joe.page, 'Yes, nothing lost');
  await expectMessageOnce(pablo.page, 'Yes, nothing lost');

  // Every message of the private room is shown once, in the server's order.
  const history = (await joeElsewhere.get('/room/1:2/messages?limit=50')).json.map((m) => m.message).reverse();
  for (const a of [pablo, joe]) {
    const shown = await messagesRegion(a.page).locator('.bubble').allInnerTexts();
    assert.deepEqual(shown, history);
  }
  await screenshot(pablo.page, 'restart-recovered-desktop');
  await screenshot(joe.page, 'restart-recovered-phone');
  for (const a of [pablo, joe]) {
    assert.deepEqual(a.problems.filter((p) => !/WebSocket|ERR_CONNECTION_REFUSED|ERR_INTERNET_DISCONNECTED|status of 5\d\d/.test(p)), [], 'no page errors');
    assert.deepEqual(a.foreign, []);
  }
});
