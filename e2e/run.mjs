// Browser end-to-end test of the web client, in headless Chromium driven by playwright-core.
// Run through ./run.sh (which builds nothing, starts the server and sets BASE_URL), or by hand:
//   BASE_URL=http://127.0.0.1:8080 node e2e/run.mjs
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const SHOTS = resolve(process.env.SCREENSHOT_DIR || join(here, 'screenshots'));
const README_SHOT = process.env.README_SCREENSHOT || join(here, '..', 'docs', 'screenshot.png');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 15_000);

mkdirSync(SHOTS, { recursive: true });
mkdirSync(dirname(README_SHOT), { recursive: true });

const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const password = 'correct horse battery';
const alice = { name: 'Alice Martin', email: `alice.${suffix}@example.com` };
const bob = { name: 'Bob Kowalski', email: `bob.${suffix}@example.com` };

const pageErrors = [];
let step = 0;
const log = (text) => console.log(`[e2e] ${String(++step).padStart(2, '0')} ${text}`);
const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${String(step).padStart(2, '0')}-${name}.png`) });

// ---- helpers ----------------------------------------------------------------------------------

const byTest = (page, id) => page.locator(`[data-testid="${id}"]`);

async function newPage(context, label) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (error) => pageErrors.push(`${label}: ${error.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/WebSocket|ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(msg.text())) {
      pageErrors.push(`${label} console: ${msg.text()}`);
    }
  });
  return page;
}

async function register(page, user) {
  await page.goto(`${BASE_URL}/`);
  await byTest(page, 'auth-tab-register').click();
  await byTest(page, 'register-name').fill(user.name);
  await byTest(page, 'register-email').fill(user.email);
  await byTest(page, 'register-password').fill(password);
  await byTest(page, 'register-submit').click();
  await byTest(page, 'me-name').filter({ hasText: user.name }).waitFor();
  await page.locator('[data-testid="conn-status"][data-state="online"]').waitFor();
}

async function signIn(page, user) {
  await page.goto(`${BASE_URL}/`);
  await byTest(page, 'login-email').fill(user.email);
  await byTest(page, 'login-password').fill(password);
  await byTest(page, 'login-submit').click();
  await byTest(page, 'me-name').filter({ hasText: user.name }).waitFor();
  await page.locator('[data-testid="conn-status"][data-state="online"]').waitFor();
}

const chatItem = (page, name) => page.locator('[data-testid="chat-item"]').filter({ has: page.locator('[data-testid="chat-name"]', { hasText: name }) });
const message = (page, text) => page.locator('[data-testid="message"]').filter({ has: page.locator('[data-testid="message-text"]', { hasText: text }) });

async function openChat(page, name) {
  await chatItem(page, name).click();
  await page.locator('[data-testid="conv-title"]', { hasText: name }).waitFor();
}

async function send(page, text) {
  const input = byTest(page, 'composer-input');
  await input.fill(text);
  await input.press('Enter');
  await message(page, text).waitFor();
  assert.equal(await input.inputValue(), '', 'the composer is cleared after sending');
}

/** Waits until the own message with `text` reaches a status: sent (one tick) or read (two ticks). */
async function waitStatus(page, text, status) {
  await message(page, text).and(page.locator(`[data-own="true"][data-status="${status}"]`)).waitFor();
}

/** Polls a condition evaluated in Node (e.g. on what a socket tap recorded). */
async function until(condition, what, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const parse = (data) => {
  try {
    return JSON.parse(String(data));
  } catch {
    return null;
  }
};

/**
 * A browser context whose WebSocket connections pass through the test: frames from the server can be
 * dropped (`tap.drop(frame)` says which) or injected (`tap.toPage(frame)`), frames from the page answered
 * in the server's place (`tap.answer(frame, reply)` returns true when it did), and the page's socket
 * closed with any code. Also records the page's POST /sync bodies and `after_seq` history requests.
 */
async function tappedContext(options) {
  const context = await browser.newContext(options);
  const tap = {
    sockets: [], dropped: [], fromPage: [], syncs: [], gapFetches: [],
    drop: () => false,
    answer: () => false,
    get current() { return this.sockets[this.sockets.length - 1]; },
    toPage(frame) { this.current.page.send(JSON.stringify(frame)); },
  };
  await context.routeWebSocket((url) => url.pathname === '/ws', (page) => {
    const server = page.connectToServer();
    tap.sockets.push({ page, server });
    server.onMessage((data) => {
      const frame = parse(data);
      if (frame && tap.drop(frame)) tap.dropped.push(frame);
      else page.send(data);
    });
    page.onMessage((data) => {
      const frame = parse(data);
      if (frame) tap.fromPage.push(frame);
      const reply = (answer) => page.send(JSON.stringify(answer));
      if (!(frame && tap.answer(frame, reply))) server.send(data);
    });
  });
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname === '/sync' && request.method() === 'POST') tap.syncs.push(JSON.parse(request.postData() || '{}'));
    if (url.pathname.startsWith('/history/') && url.searchParams.has('after_seq')) tap.gapFetches.push(url.search);
  });
  return { context, tap };
}

const texts = async (page) => page.locator('[data-testid="message-text"]').allTextContents();

/**
 * Records a page's session traffic: refresh grants (POST /auth/token with grant_type=refresh_token),
 * POST /auth/logout (with the refresh token it named) and REST calls answered 401, each with its status
 * once known (0: no answer).
 */
function watchAuth(page) {
  const seen = { refreshes: [], logouts: [], refused: [] };
  page.on('request', (request) => {
    const { pathname } = new URL(request.url());
    if (request.method() !== 'POST') return;
    const body = request.postData() || '';
    let list = null;
    const entry = { status: null, token: null };
    if (pathname === '/auth/token' && /grant_type\W{1,3}refresh_token/.test(body)) list = seen.refreshes;
    if (pathname === '/auth/logout') {
      list = seen.logouts;
      entry.token = parse(body)?.refresh_token ?? null;
    }
    if (!list) return;
    list.push(entry);
    request.response().then((response) => { entry.status = response ? response.status() : 0; }, () => { entry.status = 0; });
  });
  page.on('response', (response) => {
    const { pathname } = new URL(response.url());
    if (response.status() === 401 && !pathname.startsWith('/auth/')) seen.refused.push(pathname);
  });
  seen.ok = () => seen.refreshes.filter((r) => r.status === 200).length;
  return seen;
}

const GARBAGE = 'expired.or.garbage.access.token';
/** Spoils the access token the page keeps, as if it had expired: its next call is refused with 401. */
const spoilToken = (page) => page.evaluate((bad) => sessionStorage.setItem('messenger.token', bad), GARBAGE);
/** GET /users/me through the page's own api module (the very instance the app uses). */
const whoAmI = (page) => page.evaluate(async () => (await (await import('/static/api.js')).api.me()).name);

// ---- the scenario -----------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

let failed = false;
try {
  const viewport = { width: 1280, height: 800 };
  const aliceContext = await browser.newContext({ viewport });
  const bobContext = await browser.newContext({ viewport });
  const a = await newPage(aliceContext, 'alice');
  const b = await newPage(bobContext, 'bob');

  log('both register through the sign-up form');
  await register(a, alice);
  await register(b, bob);
  await byTest(a, 'chat-list-empty').waitFor();
  await shot(a, 'alice-registered');

  log('alice finds bob by email and starts a private chat');
  await byTest(a, 'new-chat').click();
  await byTest(a, 'user-search').fill(bob.email);
  await a.locator(`[data-testid="user-result"][data-email="${bob.email}"]`).click();
  await a.locator('[data-testid="conv-title"]', { hasText: bob.name }).waitFor();
  await chatItem(a, bob.name).waitFor();

  log('alice sends a message: one tick once the server acknowledged it');
  const first = 'Hi Bob! Are we still on for lunch tomorrow?';
  await send(a, first);
  await waitStatus(a, first, 'sent');
  await shot(a, 'alice-one-tick');

  log('bob sees the chat appear with an unread badge, live');
  await chatItem(b, alice.name).waitFor();
  await chatItem(b, alice.name).locator('[data-testid="chat-unread"]', { hasText: '1' }).waitFor();
  await chatItem(b, alice.name).locator('[data-testid="chat-preview"]', { hasText: 'lunch tomorrow' }).waitFor();
  await shot(b, 'bob-unread-badge');

  log('bob opens it, reads it; alice sees two ticks');
  await openChat(b, alice.name);
  await message(b, first).waitFor();
  await waitStatus(a, first, 'read');
  await b.locator('[data-testid="chat-unread"]').first().waitFor({ state: 'detached' });
  await shot(a, 'alice-two-ticks');

  log('bob types: alice sees the typing indicator; then bob replies');
  await byTest(b, 'composer-input').pressSequentially('Sure', { delay: 30 });
  await a.locator('[data-testid="conv-subtitle"]', { hasText: `${bob.name} is typing` }).waitFor();
  await shot(a, 'alice-sees-typing');
  await byTest(b, 'composer-input').fill('');
  const reply = 'Sure! 12:30 at the noodle place?';
  await send(b, reply);
  await message(a, reply).and(a.locator('[data-own="false"]')).waitFor();
  await waitStatus(b, reply, 'read'); // alice has the chat open and visible, so she read it at once
  const more = ['Perfect, see you there.', 'I will bring the slides for Friday too.'];
  for (const text of more) await send(a, text);
  await waitStatus(a, more[1], 'read');
  const bobMore = 'Great, thanks! See you tomorrow.';
  await send(b, bobMore);
  await message(a, bobMore).waitFor();

  log('README screenshot of the conversation (1280x800)');
  await a.locator(':focus').evaluate((node) => node.blur()).catch(() => {});
  await a.screenshot({ path: README_SHOT });
  await shot(a, 'alice-conversation');

  log('escaping: markup typed by a person is shown as text, never parsed');
  const markup = '<img src=x onerror="window.__pwned=1"> <b>not bold</b>';
  await send(b, markup);
  await message(a, markup).waitFor();
  assert.equal(await a.evaluate(() => window.__pwned), undefined, 'user text must not be parsed as HTML');
  assert.equal(await message(a, markup).locator('b, img').count(), 0);

  log('alice reloads: still signed in for this tab, the history is back');
  await a.reload();
  await byTest(a, 'me-name').filter({ hasText: alice.name }).waitFor();
  await a.locator('[data-testid="conv-title"]', { hasText: bob.name }).waitFor();
  for (const text of [first, reply, ...more, bobMore]) await message(a, text).waitFor();
  await waitStatus(a, first, 'read');
  const order = await a.locator('[data-testid="message-text"]').allTextContents();
  assert.deepEqual(order.slice(-6), [first, reply, ...more, bobMore, markup], 'history is in order');
  await shot(a, 'alice-after-reload');

  log('alice opens a second tab (a second device, which signs in on its own)');
  const a2 = await newPage(aliceContext, 'alice-tab-2');
  await a2.goto(`${BASE_URL}/`);
  await byTest(a2, 'auth-view').waitFor();
  await signIn(a2, alice);
  await openChat(a2, bob.name);
  await message(a2, bobMore).waitFor();

  log("bob's next message arrives in both of alice's tabs");
  const live = 'Both of your tabs should see this one.';
  await send(b, live);
  await message(a, live).waitFor();
  await message(a2, live).waitFor();
  await shot(a2, 'alice-second-tab');

  log("a message from alice's second tab shows in her first tab as her own");
  const fromTab2 = 'Sent from my other tab.';
  await send(a2, fromTab2);
  await message(a, fromTab2).and(a.locator('[data-own="true"]')).waitFor();
  await message(b, fromTab2).waitFor();
  await waitStatus(a2, fromTab2, 'read');
  assert.equal(await message(b, fromTab2).count(), 1, 'delivered exactly once');

  log('offline: a message typed without a connection is queued, then sent once when back');
  await a2.close();
  await aliceContext.setOffline(true);
  await a.locator('[data-testid="conn-status"]:not([data-state="online"])').waitFor();
  const queued = 'Typed while offline, sent when back.';
  const input = byTest(a, 'composer-input');
  await input.fill(queued);
  await input.press('Enter');
  await message(a, queued).and(a.locator('[data-status="pending"]')).waitFor();
  const missed = 'Sent while you were offline: you catch up with POST /sync.';
  await send(b, missed);
  await shot(a, 'alice-offline-pending');
  await aliceContext.setOffline(false);
  await a.locator('[data-testid="conn-status"][data-state="online"]').waitFor({ timeout: 30_000 });
  await waitStatus(a, queued, 'read');
  await message(b, queued).waitFor();
  assert.equal(await message(b, queued).count(), 1, 'the queued message arrives exactly once');
  assert.equal(await message(a, queued).count(), 1, 'and shows once for the sender');
  await message(a, missed).waitFor();
  assert.equal(await message(a, missed).count(), 1, 'the missed message is caught up once');

  // ---- never lose a message: POST /sync, seq gaps, resync, 1013, unavailable ----------------------

  log("bob's phone, a third device whose socket the test can tap, signs in: a new device syncs from {}");
  const { context: phoneContext, tap } = await tappedContext({ viewport });
  const phone = await newPage(phoneContext, 'bob-phone');
  await signIn(phone, bob);
  await until(() => tap.syncs.length > 0, 'the first POST /sync');
  assert.deepEqual(tap.syncs[0], { chats: {} }, 'a device that holds nothing lists no chat');
  await openChat(phone, alice.name);
  await message(phone, queued).waitFor();
  const privateId = Number(await phone.locator('#conv-pane').getAttribute('data-chat-id'));
  const tail = async (n) => (await texts(phone)).slice(-n);
  // Bob's own read frames (from his first tab) would make the phone sync; keep them out of the gap check.
  const readFrame = (frame) => frame.type === 'read';

  log('a dropped live message is noticed by the seq gap of the next one and fetched with after_seq');
  const gapA = 'Gap check: this frame never reaches the phone.';
  const gapB = 'Gap check: this one does, and shows the hole before it.';
  tap.drop = (frame) => readFrame(frame) || (frame.type === 'message' && frame.message?.text === gapA);
  await send(a, gapA);
  await message(b, gapA).waitFor();
  await until(() => tap.dropped.some((f) => f.message?.text === gapA), 'the dropped frame');
  await phone.waitForTimeout(300);
  assert.equal(await message(phone, gapA).count(), 0, 'the phone has not got the dropped message');
  const fetchesBefore = tap.gapFetches.length;
  tap.drop = readFrame;
  await send(a, gapB);
  await message(phone, gapB).waitFor();
  await message(phone, gapA).waitFor();
  assert.deepEqual(await tail(2), [gapA, gapB], 'the hole is filled in seq order');
  assert.equal(await message(phone, gapA).count(), 1, 'the missed message shows once');
  assert.equal(await message(phone, gapB).count(), 1, 'and the live one once');
  assert.ok(tap.gapFetches.length > fetchesBefore, 'the hole was fetched by seq (after_seq)');
  const seqs = await phone.locator('[data-testid="message"]').evaluateAll((nodes) => nodes.map((n) => Number(n.dataset.seq)));
  assert.ok(seqs.every((seq, i) => i === 0 || seq === seqs[i - 1] + 1), `seqs without a hole: ${seqs}`);
  await shot(phone, 'phone-gap-filled');

  log('a resync frame (the server may have lost events): the phone calls POST /sync and gets both missed messages once');
  const lost = ['Resync check: lost one.', 'Resync check: lost two.'];
  tap.drop = (frame) => readFrame(frame) || (frame.type === 'message' && lost.includes(frame.message?.text));
  for (const text of lost) await send(a, text);
  await message(b, lost[1]).waitFor();
  await until(() => lost.every((text) => tap.dropped.some((f) => f.message?.text === text)), 'both frames dropped');
  await phone.waitForTimeout(300);
  assert.equal(await message(phone, lost[0]).count(), 0, 'no later frame revealed a gap, so nothing showed yet');
  tap.drop = () => false;
  const syncsBeforeResync = tap.syncs.length;
  tap.toPage({ type: 'resync' });
  await until(() => tap.syncs.length > syncsBeforeResync, 'POST /sync after the resync frame');
  const resyncBody = tap.syncs[syncsBeforeResync];
  assert.ok(resyncBody.chats[String(privateId)] > 0, `the sync holds the private chat's version: ${JSON.stringify(resyncBody)}`);
  for (const text of lost) await message(phone, text).waitFor();
  assert.deepEqual(await tail(2), lost, 'in order');
  for (const text of lost) assert.equal(await message(phone, text).count(), 1, 'each exactly once');
  await chatItem(phone, alice.name).locator('[data-testid="chat-preview"]', { hasText: lost[1] }).waitFor();

  log('a 1013 close (the phone read too slowly): it reconnects and syncs what the lost queue held');
  const slow = 'Sent while the phone was too slow.';
  tap.drop = (frame) => readFrame(frame) || (frame.type === 'message' && frame.message?.text === slow);
  await send(a, slow);
  await until(() => tap.dropped.some((f) => f.message?.text === slow), 'the dropped frame');
  await phone.waitForTimeout(300);
  assert.equal(await message(phone, slow).count(), 0, 'the phone has not got it before the close');
  const socketsBefore = tap.sockets.length;
  const syncsBeforeClose = tap.syncs.length;
  await tap.current.page.close({ code: 1013, reason: 'too slow' });
  tap.drop = () => false;
  await until(() => tap.sockets.length > socketsBefore, 'a new connection');
  await phone.locator('[data-testid="conn-status"][data-state="online"]').waitFor();
  await until(() => tap.syncs.length > syncsBeforeClose, 'POST /sync after the reconnect');
  await message(phone, slow).waitFor();
  assert.equal(await message(phone, slow).count(), 1, 'caught up exactly once');
  assert.equal((await tail(1))[0], slow);

  log('`unavailable` (the database did not answer in time): the message stays queued and goes again with the same client_id');
  const busy = 'Sent while the database was busy.';
  let refused = null;
  tap.answer = (frame, reply) => {
    if (frame.type !== 'send' || frame.text !== busy || refused) return false;
    refused = frame.client_id;
    reply({ type: 'error', code: 'unavailable', message: 'the database did not answer in time', client_id: frame.client_id });
    return true;
  };
  await send(phone, busy);
  await until(() => refused, 'the refused send');
  assert.equal(await message(phone, busy).and(phone.locator('[data-status="failed"]')).count(), 0, 'never shown as not sent');
  await until(() => tap.fromPage.filter((f) => f.type === 'send' && f.text === busy).length >= 2, 'the retry', 20_000);
  const attempts = tap.fromPage.filter((f) => f.type === 'send' && f.text === busy);
  assert.ok(attempts.every((f) => f.client_id === refused), 'every retry keeps the client_id');
  tap.answer = () => false;
  await waitStatus(phone, busy, 'read'); // alice has the chat open
  await message(a, busy).waitFor();
  assert.equal(await message(a, busy).count(), 1, 'stored and delivered once');
  assert.equal(await message(phone, busy).count(), 1, 'shown once for the sender');

  log('the phone reloads: it syncs from the versions it kept, and the conversation is whole');
  const syncsBeforeReload = tap.syncs.length;
  await phone.reload();
  await phone.locator('[data-testid="conv-title"]', { hasText: alice.name }).waitFor();
  await until(() => tap.syncs.length > syncsBeforeReload, 'POST /sync after the reload');
  const kept = tap.syncs[syncsBeforeReload].chats[String(privateId)];
  assert.ok(kept > 0, `the versions held survive the reload: ${JSON.stringify(tap.syncs[syncsBeforeReload])}`);
  await message(phone, busy).waitFor();
  const afterReload = await texts(phone);
  for (const text of [gapA, gapB, ...lost, slow, busy]) {
    assert.equal(afterReload.filter((t) => t === text).length, 1, `"${text}" once after the reload`);
  }
  assert.deepEqual(afterReload.slice(-6), [gapA, gapB, ...lost, slow, busy], 'in order after the reload');
  await shot(phone, 'phone-after-reload');

  log('alice creates a group with bob; in groups the ticks say who has read');
  await byTest(a, 'new-group').click();
  await byTest(a, 'group-name').fill('Lunch club');
  await byTest(a, 'user-search').fill(bob.email);
  await a.locator(`[data-testid="user-result"][data-email="${bob.email}"]`).click();
  await byTest(a, 'selected-users').filter({ hasText: bob.name }).waitFor();
  await byTest(a, 'user-dialog-submit').click();
  await a.locator('[data-testid="conv-title"]', { hasText: 'Lunch club' }).waitFor();
  const groupText = 'Welcome to the lunch club!';
  await send(a, groupText);
  await chatItem(b, 'Lunch club').waitFor(); // bob learns about the group from the message frame
  await chatItem(phone, 'Lunch club').waitFor(); // and so does his phone
  await openChat(b, 'Lunch club');
  await message(b, groupText).waitFor();
  await waitStatus(a, groupText, 'read');
  await a.locator(`[data-testid="message-ticks"][title="Read by ${bob.name}"]`).waitFor();
  await shot(a, 'alice-group-read-by');

  log('paging backwards: 120 older messages arrive as alice scrolls up');
  const groupId = Number(await a.locator('#conv-pane').getAttribute('data-chat-id'));
  const posted = await b.evaluate(async (chatId) => {
    const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${sessionStorage.getItem('messenger.token')}` };
    for (let i = 1; i <= 120; i += 1) {
      const text = `Backlog message ${String(i).padStart(3, '0')}`;
      const res = await fetch(`/chats/${chatId}/messages`, { method: 'POST', headers, body: JSON.stringify({ text, client_id: crypto.randomUUID() }) });
      if (res.status !== 201) return `POST answered ${res.status}: ${await res.text()}`;
    }
    return 'ok';
  }, groupId);
  assert.equal(posted, 'ok');
  await a.reload(); // the hash reopens the group with a fresh latest page
  await a.locator('[data-testid="conv-title"]', { hasText: 'Lunch club' }).waitFor();
  await message(a, 'Backlog message 120').waitFor();
  const count = () => a.locator('[data-testid="message"]').count();
  assert.ok((await count()) <= 60, 'only the latest page is loaded at first');
  for (let i = 0; i < 10 && (await message(a, 'Backlog message 001').count()) === 0; i += 1) {
    const before = await count();
    await byTest(a, 'message-scroller').evaluate((node) => { node.scrollTop = 0; });
    await a.waitForFunction((n) => document.querySelectorAll('[data-testid="message"]').length > n, before);
  }
  await message(a, 'Backlog message 001').waitFor();
  await message(a, groupText).waitFor();
  await byTest(a, 'history-status').filter({ hasText: 'beginning of the conversation' }).waitFor();
  const backlog = (await a.locator('[data-testid="message-text"]').allTextContents()).filter((t) => t.startsWith('Backlog'));
  assert.equal(backlog.length, 120, 'every message once');
  assert.deepEqual(backlog, [...backlog].sort(), 'in order');

  log('phone width: either the list or the conversation, with a back button');
  await b.setViewportSize({ width: 390, height: 780 });
  assert.equal(await b.locator('aside.sidebar').isVisible(), false, 'the list is hidden while a chat is open');
  await shot(b, 'bob-phone-conversation');
  await byTest(b, 'conv-back').click();
  await byTest(b, 'chat-list').waitFor();
  assert.equal(await byTest(b, 'conversation').isVisible(), false, 'the conversation is hidden on the list');
  await shot(b, 'bob-phone-list');

  log('the creator adds a member; a member leaves the group');
  const carol = { name: 'Carol Nguyen', email: `carol.${suffix}@example.com` };
  const registered = await a.evaluate(async (body) => (await fetch('/auth/register', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  })).status, { ...carol, password });
  assert.equal(registered, 201);
  await byTest(a, 'conv-info').click();
  await byTest(a, 'members-list').filter({ hasText: bob.name }).waitFor();
  await byTest(a, 'members-add').click();
  await byTest(a, 'user-search').fill(carol.email);
  await a.locator(`[data-testid="user-result"][data-email="${carol.email}"]`).click();
  await byTest(a, 'conv-subtitle').filter({ hasText: '3 members' }).waitFor();
  await b.setViewportSize(viewport);
  await openChat(b, 'Lunch club');
  b.once('dialog', (dialog) => dialog.accept());
  await byTest(b, 'conv-info').click();
  await byTest(b, 'members-leave').click();
  await chatItem(b, 'Lunch club').waitFor({ state: 'detached' });
  await b.locator('#conv-pane').waitFor({ state: 'hidden' });
  await chatItem(b, alice.name).waitFor();
  // Bob's phone learns it through POST /sync, which lists the group as removed.
  await chatItem(phone, 'Lunch club').waitFor({ state: 'detached' });
  await phoneContext.close();

  log('a wrong password shows an error in plain words');
  const c = await newPage(await browser.newContext({ viewport }), 'stranger');
  await c.goto(`${BASE_URL}/`);
  await byTest(c, 'login-email').fill(alice.email);
  await byTest(c, 'login-password').fill('wrong password');
  await byTest(c, 'login-submit').click();
  await c.locator('[data-testid="login-error"]', { hasText: /wrong email or password/i }).waitFor();
  await shot(c, 'wrong-password');

  // ---- sessions: expired access tokens, a duplicated tab, signing out ---------------------------

  log("alice's access token expires: the next REST call renews it and succeeds, without a sign-out");
  const aAuth = watchAuth(a);
  await spoilToken(a);
  await byTest(a, 'new-chat').click();
  await byTest(a, 'user-search').fill(carol.email);
  await a.locator(`[data-testid="user-result"][data-email="${carol.email}"]`).waitFor();
  assert.equal(aAuth.ok(), 1, 'one refresh renewed the access token');
  assert.ok(aAuth.refused.includes('/users'), 'the search was refused first (then made again)');
  const renewed = await a.evaluate(() => sessionStorage.getItem('messenger.token'));
  assert.ok(renewed && renewed !== GARBAGE, 'a new access token is kept');
  assert.equal(await byTest(a, 'auth-view').isVisible(), false, 'still signed in');
  assert.equal(await a.locator('[data-testid="conn-status"][data-state="online"]').count(), 1, 'the socket stayed up');

  log("other people's email is private: a search by name shows none, and never \"undefined\"");
  await byTest(a, 'user-search').fill(carol.name);
  const byName = a.locator('[data-testid="user-result"]:not([data-email])').filter({ hasText: carol.name });
  await byName.waitFor();
  assert.ok(!/undefined/.test(await byName.textContent()), 'no "undefined" for a missing email');
  assert.equal(await a.locator('[data-testid="user-result"][data-email="undefined"]').count(), 0);
  await byTest(a, 'user-dialog-cancel').click();
  await byTest(a, 'user-dialog').waitFor({ state: 'hidden' });

  log('the socket reconnects with a renewed token when the one it held has expired');
  const okBeforeReconnect = aAuth.ok();
  await spoilToken(a);
  await aliceContext.setOffline(true);
  await a.locator('[data-testid="conn-status"]:not([data-state="online"])').waitFor();
  await aliceContext.setOffline(false);
  const backAt = Date.now();
  await a.locator('[data-testid="conn-status"][data-state="online"]').waitFor();
  assert.ok(Date.now() - backAt < 5000, `back online within 5 s (${Date.now() - backAt} ms)`);
  assert.equal(aAuth.ok(), okBeforeReconnect + 1, 'the token was renewed for the new connection');
  const afterRenewal = 'Sent over a socket opened with a renewed token.';
  await send(a, afterRenewal);
  await waitStatus(a, afterRenewal, 'sent');
  assert.equal(await byTest(a, 'auth-view').isVisible(), false, 'still signed in');

  log('a token about to expire is renewed ahead of time: no call is refused on the way');
  const okBeforeExpiry = aAuth.ok();
  aAuth.refused.length = 0;
  await a.evaluate(() => sessionStorage.setItem('messenger.expires', String(Date.now() + 2000)));
  await a.reload();
  await byTest(a, 'me-name').filter({ hasText: alice.name }).waitFor();
  await until(() => aAuth.ok() > okBeforeExpiry, 'the refresh ahead of expiry');
  await a.locator('[data-testid="conn-status"][data-state="online"]').waitFor();
  await message(a, afterRenewal).waitFor();
  assert.deepEqual(aAuth.refused, [], 'no REST call was answered 401');

  log('a duplicated tab shares the session: both renew at once, the token is rotated once, nobody is signed out');
  const saved = await a.evaluate(() => JSON.stringify(Object.entries(sessionStorage)));
  const twin = await newPage(aliceContext, 'alice-twin');
  await twin.addInitScript((entries) => {
    if (!sessionStorage.length) for (const [key, value] of JSON.parse(entries)) sessionStorage.setItem(key, value);
  }, saved);
  const twinAuth = watchAuth(twin);
  await twin.goto(`${BASE_URL}/`);
  await byTest(twin, 'me-name').filter({ hasText: alice.name }).waitFor();
  await twin.locator('[data-testid="conn-status"][data-state="online"]').waitFor();
  const rotatedBefore = aAuth.ok() + twinAuth.ok();
  await Promise.all([spoilToken(a), spoilToken(twin)]);
  assert.deepEqual(await Promise.all([whoAmI(a), whoAmI(twin)]), [alice.name, alice.name], 'both calls succeed');
  assert.equal(aAuth.ok() + twinAuth.ok() - rotatedBefore, 1, 'one tab rotated the refresh token, the other took its successor');
  for (const page of [twin, a]) { // the session lives on: each tab renews again on its own
    await spoilToken(page);
    assert.equal(await whoAmI(page), alice.name);
  }
  assert.equal(aAuth.ok() + twinAuth.ok() - rotatedBefore, 3);
  for (const page of [a, twin]) assert.equal(await byTest(page, 'auth-view').isVisible(), false, 'still signed in');
  await twin.close();

  log('signing out with a message still queued keeps it: sent exactly once after alice signs in again');
  await openChat(a, bob.name);
  await aliceContext.setOffline(true);
  await a.locator('[data-testid="conn-status"]:not([data-state="online"])').waitFor();
  const keptText = 'Queued before signing out, sent after signing in again.';
  await byTest(a, 'composer-input').fill(keptText);
  await byTest(a, 'composer-input').press('Enter');
  await message(a, keptText).and(a.locator('[data-status="pending"]')).waitFor();
  let asked = null;
  a.once('dialog', (dialog) => {
    asked = dialog.message();
    dialog.accept();
  });
  await byTest(a, 'sign-out').click();
  await byTest(a, 'auth-view').waitFor();
  await aliceContext.setOffline(false);
  await openChat(b, alice.name);
  await b.waitForTimeout(500);
  assert.equal(await message(b, keptText).count(), 0, 'not delivered while alice is signed out');
  await signIn(a, alice);
  await message(b, keptText).waitFor();
  await openChat(a, bob.name);
  await waitStatus(a, keptText, 'read');
  await b.waitForTimeout(500);
  assert.equal(await message(b, keptText).count(), 1, 'delivered exactly once');
  assert.equal(await message(a, keptText).count(), 1, 'and shown once for alice');
  assert.match(asked || '', /not been sent/, 'signing out with unsent messages asks first');

  log('sign out ends the session on the server (POST /auth/logout) and returns to the sign-in form');
  const logoutsBefore = aAuth.logouts.length;
  await byTest(a, 'sign-out').click();
  await byTest(a, 'auth-view').waitFor();
  await until(() => aAuth.logouts.length > logoutsBefore && aAuth.logouts.at(-1).status !== null, 'POST /auth/logout');
  const logout = aAuth.logouts.at(-1);
  assert.equal(logout.status, 204, 'the logout was answered 204');
  assert.ok(logout.token, 'it named the refresh token');
  const reuse = await fetch(`${BASE_URL}/auth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: logout.token }),
  });
  assert.equal(reuse.status, 401, 'the ended session cannot be refreshed');
  assert.equal(await a.evaluate(() => sessionStorage.getItem('messenger.token')), null, 'no token left in the tab');

  assert.deepEqual(pageErrors, [], 'no script errors in any page');
  console.log('[e2e] PASS');
} catch (error) {
  failed = true;
  console.error('[e2e] FAIL at step', step, error);
  if (pageErrors.length) console.error('[e2e] page errors:', pageErrors);
  for (const [i, context] of browser.contexts().entries()) {
    for (const [j, page] of context.pages().entries()) {
      await page.screenshot({ path: join(SHOTS, `failure-context${i}-page${j}.png`) }).catch(() => {});
    }
  }
} finally {
  await browser.close();
}
console.log(`[e2e] screenshots: ${SHOTS}`);
process.exit(failed ? 1 : 0);
