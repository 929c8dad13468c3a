// Keeping the client in step with the server: history pages, POST /sync after every (re)connect and
// `resync` frame, filling seq gaps, the outbox, read pointers, edits and deletions, presence, and
// every frame the WebSocket delivers.
//
// Nothing may be lost, so nothing relies on having seen every frame: frames are the fast path, and
// two mechanisms make up for any that went missing. POST /sync answers, per chat, everything whose
// version is above the one we hold (held versions only ever move with a sync answer, never with a
// frame, since a frame says nothing about the events before it). And a loaded conversation knows the
// highest seq up to which it has no hole: a frame with a seq above the next one shows a hole, which
// is fetched by seq. (Ids cannot do this: on several server instances a message can get a lower id
// than one already delivered, which is how `after_id` catch-up lost messages during a bus outage.)
//
// This module changes the model (state.js) and says what changed with `emit`: 'messages' (messages
// of a chat added or changed), 'pending' (its queued messages), 'statuses' (read pointers),
// 'conv-status' (loading), 'position' (where to show an opened chat), 'chats' (the list), 'members'
// (a large group's member list arrived). The views update just that: nothing here redraws a whole
// conversation.

import { NEWEST, api, friendlyMessage, token } from './api.js';
import {
  conv, emit, isPartial, knownLastSeq, mergeSummary, myReadPointer, noteLastMessage, reachesEnd, removeChat, saveHeld,
  setReadPointer, sortChats, startContig, state, upsertMessages,
} from './state.js';
import { Realtime } from './socket.js';
import { showError, toast } from './toast.js';
import { debounce, uuid } from './util.js';

const PAGE = 50;
const GAP_PAGE = 200;
const GAP_WAIT_MS = 300;
const TYPING_SHOWN_MS = 5000;
const RESEND_AFTER_MS = 15_000;
const RETRY_MAX_MS = 30_000;
/** Messages shown above the first unread one (or a search result) when a chat opens there. */
const CONTEXT_ABOVE = 20;

const realtime = new Realtime({ onFrame, onOpen, onStatus, onFailure });
let resendTimer = null;
let session = 0; // bumped on start and stop: an answer that arrives for an earlier session is dropped

export function startSync() {
  session += 1;
  realtime.start(() => token.get()); // each (re)connect presents the access token of the moment
  clearInterval(resendTimer);
  resendTimer = setInterval(resendDue, 1000);
}

export function stopSync() {
  session += 1;
  realtime.stop();
  clearInterval(resendTimer);
  clearTimeout(syncRetryTimer);
  for (const timer of readTimers.values()) clearTimeout(timer);
  readTimers.clear();
}

export const isConnected = () => realtime.isOpen;

const isOpen = (chatId) => state.openChatId === chatId;

/** Growing pause with jitter for the n-th retry (n >= 1), at most `max` ms. */
const backoff = (n, max = RETRY_MAX_MS) => Math.min(max, 1000 * 2 ** (n - 1)) * (0.75 + Math.random() / 2);

/** Errors worth retrying: no answer at all, too many requests, or a server-side failure. */
const retryable = (error) => error.status === 0 || error.status === 429 || error.status >= 500;

/** Removes queued messages the server already holds (their ack was lost with the connection). */
function settleOutbox(messages) {
  const chats = new Set();
  for (const m of messages) {
    if (m.sender_id === state.me?.id && m.client_id && state.outbox.remove(m.client_id)) chats.add(m.chat_id);
  }
  for (const chatId of chats) emit('pending', chatId);
}

/**
 * Takes messages of a chat into its loaded conversation (upsert by id and version) and says what
 * changed. Returns the messages that were new to it.
 */
function ingest(chatId, messages) {
  settleOutbox(messages);
  if (!messages.length || !state.convs.has(chatId)) return [];
  const { added, changed } = upsertMessages(chatId, messages);
  if (added.length || changed.length) emit('messages', { chatId, added, changed });
  return added;
}

/** A message held anywhere (conversation, chat list) changed: an edit or a deletion. */
function applyChange(message) {
  const chat = state.chats.get(message.chat_id);
  if (!chat) return;
  // Only into a conversation that holds it: one further up would sit below a hole (see applySync).
  if (state.convs.get(chat.id)?.byId.has(message.id)) ingest(chat.id, [message]);
  if (chat.last_message?.id === message.id) {
    if ((message.version ?? 0) >= (chat.last_message.version ?? 0)) chat.last_message = { ...chat.last_message, ...message };
    emit('chats');
  }
}

// ---- POST /sync ---------------------------------------------------------------------------------

let running = null; // the sync in flight
let queued = null; // the one to run after it: whoever asked during a sync needs an answer from after it
let syncFailures = 0;
let syncRetryTimer = null;

/** Brings every chat up to date with POST /sync; resolves when a sync that started after the call is done. */
export function syncNow() {
  if (!running) {
    running = runSync().finally(() => {
      running = null;
      afterSync();
    });
    return running;
  }
  queued ??= running.then(() => {
    queued = null;
    return syncNow();
  });
  return queued;
}
export const syncSoon = debounce(syncNow, 300);

async function runSync() {
  const mine = session;
  clearTimeout(syncRetryTimer);
  try {
    // Again while some chat had more than one answer holds (`more`), from where that answer ended.
    for (let more = true; more;) {
      const answer = await api.sync(Object.fromEntries(state.versions));
      if (mine !== session) return;
      more = applySync(answer);
      saveHeld();
    }
    syncFailures = 0;
  } catch (error) {
    if (mine !== session) return;
    retrySyncLater(error);
  }
}

function afterSync() {
  if (!state.me) return;
  // Conversations that know of a seq they do not hold (a hole left by a dropped frame, say).
  for (const chatId of state.convs.keys()) checkGap(chatId);
  if (!state.openChatId) return;
  emit('statuses', state.openChatId);
  loadMembers(state.openChatId); // a large group's list, when it changed
}

function retrySyncLater(error) {
  // 401 signs out (api.js); anything else but these would fail the same way again.
  if (!retryable(error)) return void showError(error);
  syncFailures += 1;
  const wait = error.retryAfter ? error.retryAfter * 1000 : backoff(syncFailures);
  clearTimeout(syncRetryTimer);
  // While the socket is down there is no hurry: the reconnect syncs anyway.
  syncRetryTimer = setTimeout(() => realtime.isOpen && syncNow(), wait);
  if (error.code !== 'network' && syncFailures === 3) showError(error);
}

/** Applies one sync answer; returns whether to call again for the chats that had `more`. */
function applySync({ chats = [], removed = [] }) {
  let again = false;
  for (const { chat, messages = [], more } of chats) {
    const before = state.versions.get(chat.id) ?? -1;
    mergeSummary(chat);
    // Upsert by id (some may be held already, in an older state), into a loaded conversation only
    // what falls in the part it holds: an old message edited long ago would otherwise sit alone below
    // a hole that scrolling up (before_seq of the oldest held) would never fill. One still loading
    // gets their current state from its own page.
    const c = state.convs.get(chat.id);
    if (c && c.contig !== null) {
      const floor = c.list[0]?.seq ?? 0;
      ingest(chat.id, messages.filter((m) => c.byId.has(m.id) || m.seq >= floor));
    } else {
      settleOutbox(messages);
    }
    for (const m of messages) noteLastMessage(m);
    // While `more` is true the summary is ahead of the messages: hold the last message's version.
    const held = more ? messages[messages.length - 1]?.version : chat.version;
    if (Number.isInteger(held)) state.versions.set(chat.id, held);
    if (more && held > before) again = true; // (only while it moves on, so a confused answer cannot loop)
    emit('statuses', chat.id);
  }
  for (const chatId of removed) {
    const wasOpen = isOpen(chatId);
    removeChat(chatId); // removed from a group by someone else, or the group is gone
    if (wasOpen) emit('chat-gone', chatId);
  }
  sortChats();
  emit('chats');
  return again;
}

// ---- seq gaps -----------------------------------------------------------------------------------

/** A loaded conversation knows of a seq above its hole-free mark: fetch what lies between, soon. */
function checkGap(chatId) {
  const c = state.convs.get(chatId);
  if (!c?.ready || c.contig === null || c.hasNewer || c.filling || c.gapTimer || running) return; // a running sync checks after
  if (knownLastSeq(chatId) <= c.contig) return;
  // Across server instances a frame may overtake an earlier one: give that one a moment to arrive live.
  c.gapTimer = setTimeout(() => {
    c.gapTimer = null;
    fillGap(chatId);
  }, GAP_WAIT_MS);
}

/** Fetches by seq (`after_seq`, page after page) until the conversation has no hole up to the newest seq known. */
function fillGap(chatId) {
  const c = state.convs.get(chatId);
  if (!c?.ready || c.contig === null || c.hasNewer) return Promise.resolve();
  if (!c.filling) {
    c.filling = fetchGap(chatId, c).then((outcome) => {
      c.filling = null;
      if (outcome === 'retry') {
        c.gapFailures = (c.gapFailures || 0) + 1;
        setTimeout(() => checkGap(chatId), backoff(c.gapFailures));
      } else if (outcome === 'done') {
        c.gapFailures = 0;
        checkGap(chatId); // a frame handled during the last page may have shown a new hole
      }
    });
  }
  return c.filling;
}

/** One round of filling: 'done', 'retry' (later: no answer, or the server lacks the seqs yet) or 'stop'. */
async function fetchGap(chatId, c) {
  if (knownLastSeq(chatId) <= c.contig) return 'done';
  let outcome = 'done';
  try {
    while (knownLastSeq(chatId) > c.contig) {
      const from = c.contig;
      const page = await api.historyAfter(chatId, from, GAP_PAGE);
      if (state.convs.get(chatId) !== c) return 'stop'; // left the chat meanwhile
      for (const m of ingest(chatId, page)) noteLastMessage(m);
      if (c.contig === from) {
        outcome = 'retry'; // nothing above the mark on the server yet
        break;
      }
    }
  } catch (error) {
    if (retryable(error)) outcome = 'retry';
    else {
      showError(error);
      outcome = 'stop';
    }
  }
  emit('chats');
  return outcome;
}

// ---- history --------------------------------------------------------------------------------

/** Whether older messages exist than the oldest one loaded (seq 1 is the chat's first). */
function hasOlder(c, page) {
  const oldest = c.list[0];
  if (!oldest) return false;
  return oldest.seq ? oldest.seq > 1 : page.length === PAGE;
}

/** The first message from someone else that I have not read, among those loaded. */
function firstUnreadId(chatId) {
  const chat = state.chats.get(chatId);
  const c = state.convs.get(chatId);
  if (!chat || !c) return null;
  const pointer = myReadPointer(chat);
  const me = state.me?.id;
  for (const m of c.list) if (m.id > pointer && m.sender_id !== me && !m.deleted) return m.id;
  return null;
}

/** Loads the newest page: everything from it up is then held, and follows the chat live. */
async function loadNewest(chatId, c) {
  const page = await api.historyBefore(chatId, NEWEST, PAGE);
  if (state.convs.get(chatId) !== c) return false;
  startContig(chatId, page);
  ingest(chatId, page);
  c.hasMore = hasOlder(c, page);
  return true;
}

/**
 * Loads a window around position `seq`: a few messages above it and a page from it on. When the
 * window stops before the chat's end, newer messages load as the person scrolls down.
 */
async function loadAround(chatId, c, seq) {
  const [above, below] = await Promise.all([
    seq > 1 ? api.historyBefore(chatId, seq, CONTEXT_ABOVE) : Promise.resolve([]),
    api.historyAfter(chatId, seq - 1, PAGE),
  ]);
  if (state.convs.get(chatId) !== c) return false;
  const page = [...above, ...below];
  startContig(chatId, page);
  c.hasNewer = below.length === PAGE; // (a shorter page reached the end)
  ingest(chatId, page);
  c.hasMore = hasOlder(c, page);
  if (c.hasNewer && c.contig >= knownLastSeq(chatId)) c.hasNewer = false;
  return true;
}

/**
 * Opens a chat's conversation. Loaded before: it is current (frames and syncs kept it so), only a
 * hole needs fetching. Otherwise it loads at the first unread message when there are more unread
 * than the newest page shows, else the newest page; `focus` (a search result) loads around it.
 * Emits 'position' once there is something to show.
 */
export async function openConversation(chatId, focus = null) {
  let c = conv(chatId);
  if (focus && !c.byId.has(focus.id)) {
    state.convs.delete(chatId); // a window around the result replaces what was loaded
    c = conv(chatId);
    emit('conv-reset', chatId);
  }
  if (c.ready && c.contig !== null) {
    c.unreadMarkId = focus ? null : firstUnreadId(chatId);
    emit('conv-status', chatId);
    emit('position', { chatId, focusId: focus?.id ?? null, unreadId: c.unreadMarkId });
    if (!c.hasNewer) await fillGap(chatId);
    return;
  }
  const chat = state.chats.get(chatId);
  const unread = chat?.unread_count || 0;
  const last = knownLastSeq(chatId);
  try {
    if (focus?.seq) {
      await loadAround(chatId, c, focus.seq);
    } else if (unread > PAGE - CONTEXT_ABOVE) {
      // More unread than the newest page shows with some context above them: open a window at the
      // first unread message, which is at or before this seq (later messages of mine are not counted).
      await loadAround(chatId, c, Math.max(1, last - unread + 1));
      // If mine were among the unread span, the first unread one may be a little further up.
      const first = firstUnreadId(chatId);
      if (first && first === c.list[0]?.id && c.hasMore) await loadOlder(chatId, PAGE);
    } else {
      await loadNewest(chatId, c);
    }
  } catch (error) {
    showError(error);
  }
  if (state.convs.get(chatId) !== c) return;
  c.ready = true;
  if (c.contig === null) startContig(chatId, []);
  c.unreadMarkId = focus || !unread ? null : firstUnreadId(chatId);
  emit('conv-status', chatId);
  emit('position', { chatId, focusId: focus?.id ?? null, unreadId: c.unreadMarkId });
  // The newest page must reach the chat's last message; if something came after it, fetch that.
  if (!c.hasNewer) await fillGap(chatId);
}

/** Scrolled up to the oldest loaded message: the page before it. */
export async function loadOlder(chatId, limit = PAGE) {
  const c = conv(chatId);
  if (!c.ready && c.contig === null) return;
  if (c.loadingOlder || !c.hasMore || Date.now() - (c.failedAt || 0) < 5000) return;
  const oldest = c.list[0];
  if (!oldest) {
    c.hasMore = false;
    emit('conv-status', chatId);
    return;
  }
  c.loadingOlder = true;
  emit('conv-status', chatId);
  try {
    const page = await api.historyBefore(chatId, oldest.seq, limit);
    if (state.convs.get(chatId) !== c) return;
    const added = ingest(chatId, page);
    c.hasMore = added.length > 0 && hasOlder(c, page);
  } catch (error) {
    c.failedAt = Date.now();
    showError(error);
  } finally {
    c.loadingOlder = false;
  }
  emit('conv-status', chatId);
}

/** Scrolled down to the end of a window: the page after it; at the chat's end the window follows it live. */
export async function loadNewer(chatId, limit = PAGE) {
  const c = state.convs.get(chatId);
  if (!c?.ready || !c.hasNewer || c.loadingNewer) return;
  c.loadingNewer = true;
  emit('conv-status', chatId);
  try {
    const page = await api.historyAfter(chatId, c.contig, limit);
    if (state.convs.get(chatId) !== c) return;
    ingest(chatId, page);
    if (page.length < limit || c.contig >= knownLastSeq(chatId)) c.hasNewer = false;
  } catch (error) {
    showError(error);
  } finally {
    c.loadingNewer = false;
  }
  emit('conv-status', chatId);
  if (!c.hasNewer) fillGap(chatId);
}

/** The person wants the newest messages: a window is replaced by the newest page. */
export async function jumpToLatest(chatId) {
  const c = state.convs.get(chatId);
  if (!c?.hasNewer) {
    emit('position', { chatId, bottom: true });
    return;
  }
  state.convs.delete(chatId);
  const fresh = conv(chatId);
  emit('conv-reset', chatId);
  try {
    await loadNewest(chatId, fresh);
  } catch (error) {
    showError(error);
  }
  fresh.ready = true;
  if (fresh.contig === null) startContig(chatId, []);
  emit('conv-status', chatId);
  emit('position', { chatId, bottom: true });
  fillGap(chatId);
}

/**
 * Loads older pages until the message `messageId` is held (a reply's original further up), at most
 * `pages` of them. Resolves to whether it is held.
 */
export async function loadUntil(chatId, messageId, pages = 20) {
  const c = conv(chatId);
  for (let i = 0; i < pages && !c.byId.has(messageId) && c.hasMore; i += 1) {
    c.failedAt = 0;
    await loadOlder(chatId, GAP_PAGE);
    if (state.convs.get(chatId) !== c) return false;
  }
  return c.byId.has(messageId);
}

// ---- reading --------------------------------------------------------------------------------

const readTimers = new Map(); // chat id -> timer of the read about to be sent

/**
 * The person has seen message `messageId` of a chat (it was on screen in a visible tab): the chat
 * is read up to it. Reads are gathered for a moment and sent once, for the highest.
 */
export function markSeen(chatId, messageId) {
  const chat = state.chats.get(chatId);
  if (!chat || !messageId) return;
  const already = Math.max(myReadPointer(chat), chat.readSent || 0, chat.readQueued || 0);
  if (messageId <= already) return;
  chat.readQueued = messageId;
  if (!readTimers.has(chatId)) readTimers.set(chatId, setTimeout(() => sendRead(chatId), 100));
}

function sendRead(chatId) {
  readTimers.delete(chatId);
  const chat = state.chats.get(chatId);
  if (!chat || !state.me) return;
  const upTo = chat.readQueued || 0;
  chat.readQueued = 0;
  const before = Math.max(myReadPointer(chat), chat.readSent || 0);
  if (upTo <= before) return;
  chat.readSent = upTo;
  setReadPointer(chat, state.me.id, upTo);
  const c = state.convs.get(chatId);
  const me = state.me.id;
  if (c && reachesEnd(chatId)) {
    // Everything after the pointer is loaded: count what is left exactly.
    let left = 0;
    for (let i = c.list.length - 1; i >= 0; i -= 1) {
      const m = c.list[i];
      if (m.id > upTo && m.sender_id !== me) left += 1;
    }
    chat.unread_count = left;
  } else {
    let seen = 0;
    for (const m of c?.list || []) if (m.id > before && m.id <= upTo && m.sender_id !== me) seen += 1;
    chat.unread_count = Math.max(0, (chat.unread_count || 0) - seen);
    syncSoon(); // the server's count comes with the chat's next version
  }
  emit('chats');
  emit('unread', chatId);
  if (!realtime.send({ type: 'read', chat_id: chatId, message_id: upTo })) {
    api.markRead(chatId, upTo).catch(() => {});
  }
}

export function sendTyping(chatId) {
  if (chatId) realtime.send({ type: 'typing', chat_id: chatId });
}

// ---- sending, editing, deleting ---------------------------------------------------------------

function transmit(item) {
  const frame = { type: 'send', chat_id: item.chat_id, client_id: item.client_id, text: item.text };
  if (item.reply_to) frame.reply_to = item.reply_to;
  if (realtime.send(frame)) {
    item.sentAt = Date.now();
    state.outbox.update(item.client_id, { retryAt: item.sentAt + RESEND_AFTER_MS });
  }
}

export function sendMessage(chatId, text, replyTo = null) {
  // Stored with its resend time already, so another tab that sees it appear waits as long.
  const item = state.outbox.add({
    client_id: uuid(), chat_id: chatId, text, reply_to: replyTo || null, created_at: new Date().toISOString(),
    retryAt: realtime.isOpen ? Date.now() + RESEND_AFTER_MS : 0,
  });
  transmit(item);
  emit('pending', chatId);
  emit('sent', chatId);
}

export function retryMessage(clientId) {
  const item = state.outbox.update(clientId, { failed: null, tries: 0 });
  if (item) {
    transmit(item);
    emit('pending', item.chat_id);
  }
}

export function discardMessage(clientId) {
  const item = state.outbox.remove(clientId);
  if (item) emit('pending', item.chat_id);
}

/** Changes the text of one of my messages; resolves to whether it was saved. */
export async function editMessage(chatId, messageId, text) {
  try {
    const message = await api.editMessage(chatId, messageId, text);
    if (message) applyChange(message);
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}

/** Deletes a message for everyone (mine, or any in a group I created); resolves to whether it was. */
export async function deleteMessage(chatId, messageId) {
  try {
    await api.deleteMessage(chatId, messageId);
    const held = state.convs.get(chatId)?.byId.get(messageId);
    // Until the frame with its new version arrives, it shows as what it now is: a tombstone.
    if (held && !held.deleted) {
      held.deleted = true;
      held.text = '';
      emit('messages', { chatId, added: [], changed: [held] });
    }
    const chat = state.chats.get(chatId);
    if (chat?.last_message?.id === messageId) {
      chat.last_message = { ...chat.last_message, deleted: true, text: '' };
      emit('chats');
    }
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}

function flushOutbox() {
  for (const item of state.outbox.pending()) transmit(item);
}

/**
 * Sends what is due again with the same client_id (the server deduplicates): a send whose ack never
 * came (a lost frame), or one the server asked us to retry later (`unavailable`, `rate_limited`).
 */
function resendDue() {
  if (!realtime.isOpen) return;
  const now = Date.now();
  for (const item of state.outbox.pending()) if (!item.retryAt || now >= item.retryAt) transmit(item);
}

// ---- a large group's members ------------------------------------------------------------------
// A chat of more than 100 members comes with only me in `members` (and the total in `member_count`),
// so its other members' names come from GET /chats/{id}/members: fetched page by page when they are
// wanted (the chat opens, its members dialog shows), kept in state.memberLists, and fetched again once
// the group changed (a `chat_updated` frame, or a sync answer with another member count). Emits
// 'members' with the chat id when a list arrived.

const MEMBERS_PAGE = 1000; // the route's largest page
const MEMBER_TRIES = 3; // fetches of one load while the group keeps changing under it

const memberLoads = new Map(); // chat id -> the load in flight
const memberEpochs = new Map(); // chat id -> how many changes of its members frames announced

const epochOf = (chatId) => memberEpochs.get(chatId) ?? 0;

/** A `chat_updated` frame: whatever list is held for the chat may be out of date. */
function membersChanged(chatId) {
  memberEpochs.set(chatId, epochOf(chatId) + 1);
}

/** Whether the held list is as long as the chat says and no change was announced since its fetch. */
function isCurrent(chat) {
  const held = state.memberLists.get(chat.id);
  return Boolean(held) && held.epoch === epochOf(chat.id) && held.count === chat.member_count;
}

/**
 * Fetches a large group's member list unless the one held is current; resolves when done (never
 * rejects: on a failure the list held stays, and the next call tries again).
 */
export function loadMembers(chatId) {
  const chat = state.chats.get(chatId);
  if (!isPartial(chat) || isCurrent(chat)) return Promise.resolve();
  if (!memberLoads.has(chatId)) {
    memberLoads.set(chatId, loadMemberList(chatId).catch(() => {}).finally(() => memberLoads.delete(chatId)));
  }
  return memberLoads.get(chatId);
}

async function loadMemberList(chatId) {
  const mine = session;
  for (let i = 0; i < MEMBER_TRIES; i += 1) {
    const epoch = epochOf(chatId);
    const members = await fetchAllMembers(chatId);
    const chat = state.chats.get(chatId);
    if (mine !== session || !chat) return; // signed out, or no longer a member
    keepMembers(chat, members, epoch);
    // A change announced while it was fetched may not be in it: once more (it is shown meanwhile).
    if (epoch === epochOf(chatId)) return;
  }
}

/** Every member, by user id ascending, a page at a time. */
async function fetchAllMembers(chatId) {
  const all = [];
  for (;;) {
    const page = await api.members(chatId, all.at(-1)?.id, MEMBERS_PAGE);
    all.push(...page);
    if (page.length < MEMBERS_PAGE) return all;
  }
}

/** Holds a fetched list; members it no longer has keep their name on their messages. */
function keepMembers(chat, members, epoch) {
  const previous = state.memberLists.get(chat.id)?.members || [];
  const now = new Set(members.map((m) => m.id));
  for (const gone of previous.filter((m) => !now.has(m.id))) {
    chat.former = { ...chat.former, [gone.id]: gone.name };
  }
  state.memberLists.set(chat.id, { members, count: members.length, epoch });
  emit('members', chat.id);
}

// ---- presence -------------------------------------------------------------------------------

/** Asks the server whether a person is online (and since when not); presence frames keep it current. */
export async function fetchPresence(userId) {
  if (!userId || userId === state.me?.id) return;
  try {
    const user = await api.user(userId);
    if (!state.me) return;
    state.presence.set(userId, { online: Boolean(user.online), last_seen: user.last_seen ?? null });
    emit('presence', userId);
  } catch {
    // unknown or unreachable: the header shows no presence
  }
}

/** The other member of the open private chat, whose presence its header shows. */
function openPeer() {
  const chat = state.chats.get(state.openChatId);
  if (chat?.type !== 'private') return null;
  return chat.members?.find((m) => m.id !== state.me?.id)?.id ?? null;
}

// ---- the WebSocket --------------------------------------------------------------------------

function onOpen() {
  flushOutbox();
  // Connected first, so every event from now on arrives live; now ask for whatever happened while
  // we were away (or, after a 1013 close, whatever our overflowing queue held).
  syncNow();
  const peer = openPeer();
  if (peer) fetchPresence(peer); // presence frames missed while away
}

/**
 * A connection attempt failed before it opened: maybe the server is away, maybe the access token
 * expired. A REST call tells which, and renews the token when it was refused (api.js); with a new
 * token, try again at once instead of after the backoff.
 */
function onFailure() {
  const before = token.get();
  api.me().then(() => {
    if (token.get() !== before) realtime.reconnectNow();
  }, () => {});
}

function onStatus(status) {
  state.connection = status;
  emit('connection', status);
}

const handlers = {
  ack(frame) {
    const message = frame.message;
    const item = state.outbox.remove(frame.client_id);
    if (item) emit('pending', item.chat_id);
    if (!message) return;
    const c = state.convs.get(message.chat_id);
    if (c && c.contig !== null) ingest(message.chat_id, [message]);
    noteLastMessage(message);
    emit('chats');
    checkGap(message.chat_id);
  },

  message(frame) {
    const message = frame.message;
    const chat = state.chats.get(message?.chat_id);
    if (!chat) return void syncSoon(); // a chat we did not know about (new group, new private chat)
    // Count it once, whether a sync answer brought it first or not.
    const c = state.convs.get(chat.id);
    let added = !message.seq || message.seq > (chat.last_seq ?? 0);
    if (c && c.contig !== null) {
      // A conversation that follows the chat live holds what it was given: that says whether it is new.
      // A window that stops before the end takes it only when it is right after its last message.
      const attached = !c.hasNewer;
      const taken = !c.byId.has(message.id) && ingest(chat.id, [message]).length > 0;
      if (attached) added = taken;
      else if (c.contig >= Math.max(knownLastSeq(chat.id), message.seq ?? 0)) c.hasNewer = false;
    }
    if (!added) return;
    noteLastMessage(message);
    state.typing.get(chat.id)?.delete(message.sender_id);
    const mine = message.sender_id === state.me.id;
    if (mine) {
      settleOutbox([message]);
    } else if (message.id > myReadPointer(chat)) {
      chat.unread_count = (chat.unread_count || 0) + 1;
      emit('incoming', { chat, message });
    }
    emit('chats');
    emit('typing', chat.id);
    checkGap(chat.id);
  },

  message_edited(frame) {
    if (frame.message) applyChange(frame.message);
  },

  /** Our own edit over the socket (edits go over REST here, but a frame answers the same). */
  edit_ack(frame) {
    if (frame.message) applyChange(frame.message);
  },

  message_deleted(frame) {
    const chat = state.chats.get(frame.chat_id);
    if (!chat) return;
    const held = state.convs.get(chat.id)?.byId.get(frame.message_id);
    const tombstone = {
      ...(held || {}), id: frame.message_id, chat_id: frame.chat_id, seq: frame.seq ?? held?.seq,
      version: frame.version ?? held?.version, deleted: true, text: '',
    };
    if (held) applyChange(tombstone);
    else if (chat.last_message?.id === frame.message_id) {
      chat.last_message = { ...chat.last_message, deleted: true, text: '', version: tombstone.version };
      emit('chats');
    }
  },

  presence(frame) {
    if (!frame.user_id || frame.user_id === state.me?.id) return;
    state.presence.set(frame.user_id, { online: Boolean(frame.online), last_seen: frame.last_seen ?? null });
    emit('presence', frame.user_id);
  },

  /** The server may have failed to deliver us some events (e.g. its bus was down): ask for them. */
  resync() {
    syncNow();
  },

  read(frame) {
    const chat = state.chats.get(frame.chat_id);
    if (!chat) return;
    setReadPointer(chat, frame.reader_id, frame.message_id);
    if (frame.reader_id === state.me.id) {
      // Another of my devices read it.
      if (!chat.last_message || frame.message_id >= chat.last_message.id) chat.unread_count = 0;
      else syncSoon();
      emit('unread', chat.id);
    }
    emit('chats');
    emit('statuses', chat.id);
  },

  read_all(frame) {
    const chat = state.chats.get(frame.chat_id);
    if (!chat) return;
    chat.readAllUpTo = Math.max(chat.readAllUpTo || 0, frame.message_id);
    const c = state.convs.get(chat.id);
    if (c) {
      // Newest first, and only as far as the messages are not already read.
      for (let i = c.list.length - 1; i >= 0; i -= 1) {
        const m = c.list[i];
        if (m.sender_id === frame.sender_id && m.id <= frame.message_id) {
          if (m.read) break;
          m.read = true;
        }
      }
    }
    if (chat.last_message && chat.last_message.id <= frame.message_id) chat.last_message.read = true;
    emit('statuses', chat.id);
  },

  /** Somebody joined or left one of my chats, or I was added to (or removed from) one. */
  chat_updated(frame) {
    membersChanged(frame.chat_id);
    syncSoon();
  },

  typing(frame) {
    if (frame.user_id === state.me.id || !state.chats.has(frame.chat_id)) return;
    if (!state.typing.has(frame.chat_id)) state.typing.set(frame.chat_id, new Map());
    state.typing.get(frame.chat_id).set(frame.user_id, Date.now() + TYPING_SHOWN_MS);
    emit('typing', frame.chat_id);
    setTimeout(() => emit('typing', frame.chat_id), TYPING_SHOWN_MS + 50);
  },

  error(frame) {
    const text = friendlyMessage(frame.code, frame.message);
    const item = frame.client_id && state.outbox.get(frame.client_id);
    if (item && (frame.code === 'unavailable' || frame.code === 'rate_limited')) {
      // Not stored (nothing is acked that is not): the message stays queued, shown as sending, and
      // goes again with the same client_id after a short, growing pause. Never "not sent" for this.
      item.tries = (item.tries || 0) + 1;
      state.outbox.update(item.client_id, { retryAt: Date.now() + backoff(item.tries, 10_000) });
      if (item.tries === 1) toast(text, frame.code === 'unavailable' ? 'info' : 'error');
      return;
    }
    if (item) {
      state.outbox.update(frame.client_id, { failed: text });
      emit('pending', item.chat_id);
    }
    toast(text);
  },
};

function onFrame(frame) {
  try {
    handlers[frame.type]?.(frame);
  } catch (error) {
    console.error('could not handle frame', frame.type, error);
  }
}
