// Keeping the client in step with the server: history pages, POST /sync after every (re)connect and
// `resync` frame, filling seq gaps, the outbox, read pointers, and every frame the WebSocket delivers.
//
// Nothing may be lost, so nothing relies on having seen every frame: frames are the fast path, and
// two mechanisms make up for any that went missing. POST /sync answers, per chat, everything whose
// version is above the one we hold (held versions only ever move with a sync answer, never with a
// frame, since a frame says nothing about the events before it). And a loaded conversation knows the
// highest seq up to which it has no hole: a frame with a seq above the next one shows a hole, which
// is fetched by seq. (Ids cannot do this: on several server instances a message can get a lower id
// than one already delivered, which is how `after_id` catch-up lost messages during a bus outage.)

import { NEWEST, api, friendlyMessage, token } from './api.js';
import { isAtBottom, noteUnseen, renderMessages, wantsOlder } from './conversation.js';
import {
  addMessages, conv, emit, knownLastSeq, mergeSummary, myReadPointer, newestId, noteLastMessage, removeChat,
  saveHeld, setReadPointer, sortChats, startContig, state,
} from './state.js';
import { Realtime } from './socket.js';
import { announce, showError, toast } from './toast.js';
import { debounce, uuid } from './util.js';

const PAGE = 50;
const GAP_PAGE = 200;
const GAP_WAIT_MS = 300;
const TYPING_SHOWN_MS = 5000;
const RESEND_AFTER_MS = 15_000;
const RETRY_MAX_MS = 30_000;

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
}

const isOpen = (chatId) => state.openChatId === chatId;
const rerender = (chatId, mode = 'auto') => isOpen(chatId) && renderMessages(mode);

/** Growing pause with jitter for the n-th retry (n >= 1), at most `max` ms. */
const backoff = (n, max = RETRY_MAX_MS) => Math.min(max, 1000 * 2 ** (n - 1)) * (0.75 + Math.random() / 2);

/** Errors worth retrying: no answer at all, too many requests, or a server-side failure. */
const retryable = (error) => error.status === 0 || error.status === 429 || error.status >= 500;

/** Removes queued messages the server already holds (their ack was lost with the connection). */
function settleOutbox(messages) {
  for (const m of messages) if (m.sender_id === state.me?.id && m.client_id) state.outbox.remove(m.client_id);
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
  if (state.openChatId) {
    rerender(state.openChatId);
    markRead();
  }
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
    settleOutbox(messages);
    // Upsert by id (some may be held already, in an older state), into a loaded conversation only
    // what falls in the part it holds: an old message edited long ago would otherwise sit alone below
    // a hole that scrolling up (before_seq of the oldest held) would never fill. One still loading
    // gets their current state from its own page.
    const c = state.convs.get(chat.id);
    if (c && c.contig !== null) {
      const floor = c.list[0]?.seq ?? 0;
      addMessages(chat.id, messages.filter((m) => c.byId.has(m.id) || m.seq >= floor));
    }
    for (const m of messages) noteLastMessage(m);
    // While `more` is true the summary is ahead of the messages: hold the last message's version.
    const held = more ? messages[messages.length - 1]?.version : chat.version;
    if (Number.isInteger(held)) state.versions.set(chat.id, held);
    if (more && held > before) again = true; // (only while it moves on, so a confused answer cannot loop)
  }
  for (const chatId of removed) {
    removeChat(chatId); // removed from a group by someone else, or the group is gone
    if (isOpen(chatId)) emit('chat-gone', chatId);
  }
  sortChats();
  emit('chats');
  return again;
}

// ---- seq gaps -----------------------------------------------------------------------------------

/** A loaded conversation knows of a seq above its hole-free mark: fetch what lies between, soon. */
function checkGap(chatId) {
  const c = state.convs.get(chatId);
  if (!c?.ready || c.contig === null || c.filling || c.gapTimer || running) return; // a running sync checks after
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
  if (!c?.ready || c.contig === null) return Promise.resolve();
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
      settleOutbox(page);
      for (const m of addMessages(chatId, page)) noteLastMessage(m);
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
  rerender(chatId);
  if (isOpen(chatId)) markRead();
  return outcome;
}

// ---- history --------------------------------------------------------------------------------

/** Whether older messages exist than the oldest one loaded (seq 1 is the chat's first). */
function hasOlder(c, page) {
  const oldest = c.list[0];
  if (!oldest) return false;
  return oldest.seq ? oldest.seq > 1 : page.length === PAGE;
}

export async function loadLatest(chatId) {
  const c = conv(chatId);
  try {
    const page = await api.historyBefore(chatId, NEWEST, PAGE);
    settleOutbox(addMessages(chatId, page));
    startContig(chatId, page);
    c.hasMore = hasOlder(c, page);
    c.ready = true;
    // The newest page must reach the chat's last message; if something came after it, fetch that.
    await fillGap(chatId);
  } catch (error) {
    showError(error);
    c.ready = true;
  }
  rerender(chatId, 'bottom');
  if (isOpen(chatId) && wantsOlder()) loadOlder(chatId);
  markRead();
}

export async function loadOlder(chatId) {
  const c = conv(chatId);
  if (!c.ready || c.loadingOlder || !c.hasMore || Date.now() - (c.failedAt || 0) < 5000) return;
  const oldest = c.list[0];
  if (!oldest) {
    c.hasMore = false;
    rerender(chatId);
    return;
  }
  c.loadingOlder = true;
  rerender(chatId, 'prepend');
  try {
    const page = await api.historyBefore(chatId, oldest.seq, PAGE);
    const added = addMessages(chatId, page);
    c.hasMore = added.length > 0 && hasOlder(c, page);
  } catch (error) {
    c.failedAt = Date.now();
    showError(error);
  } finally {
    c.loadingOlder = false;
  }
  rerender(chatId, 'prepend');
  if (isOpen(chatId) && c.hasMore && wantsOlder()) requestAnimationFrame(() => loadOlder(chatId));
}

/**
 * A conversation opened again. Frames and sync answers kept it current while it was closed, so
 * only a hole (a seq it knows of but does not hold) needs fetching; one that never loaded loads.
 */
export async function catchUp(chatId) {
  const c = conv(chatId);
  if (!c.ready || c.contig === null) return loadLatest(chatId);
  await fillGap(chatId);
  rerender(chatId);
  markRead();
}

// ---- reading --------------------------------------------------------------------------------

/** Marks the open chat read up to its newest message, when that message is on screen. */
export function markRead() {
  const chatId = state.openChatId;
  const chat = state.chats.get(chatId);
  const c = state.convs.get(chatId);
  if (!chat || !c?.ready || document.visibilityState !== 'visible' || !isAtBottom()) return;
  const newest = newestId(chatId);
  if (!newest) return;
  const already = Math.max(myReadPointer(chat), chat.readSent || 0);
  if (newest <= already) {
    if (chat.unread_count) {
      chat.unread_count = 0;
      emit('chats');
    }
    return;
  }
  chat.readSent = newest;
  setReadPointer(chat, state.me.id, newest);
  chat.unread_count = 0;
  emit('chats');
  if (!realtime.send({ type: 'read', chat_id: chatId, message_id: newest })) {
    api.markRead(chatId, newest).catch(() => {});
  }
}

export function sendTyping(chatId) {
  if (chatId) realtime.send({ type: 'typing', chat_id: chatId });
}

// ---- sending --------------------------------------------------------------------------------

function transmit(item) {
  if (realtime.send({ type: 'send', chat_id: item.chat_id, client_id: item.client_id, text: item.text })) {
    item.sentAt = Date.now();
    item.retryAt = item.sentAt + RESEND_AFTER_MS;
  }
}

export function sendMessage(chatId, text) {
  const item = state.outbox.add({ client_id: uuid(), chat_id: chatId, text, created_at: new Date().toISOString() });
  transmit(item);
  rerender(chatId, 'bottom');
}

export function retryMessage(clientId) {
  const item = state.outbox.update(clientId, { failed: null, tries: 0 });
  if (item) {
    transmit(item);
    rerender(item.chat_id);
  }
}

export function discardMessage(clientId) {
  const item = state.outbox.get(clientId);
  state.outbox.remove(clientId);
  if (item) rerender(item.chat_id);
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

// ---- the WebSocket --------------------------------------------------------------------------

function onOpen() {
  flushOutbox();
  // Connected first, so every event from now on arrives live; now ask for whatever happened while
  // we were away (or, after a 1013 close, whatever our overflowing queue held).
  syncNow();
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
    state.outbox.remove(frame.client_id);
    if (!message) return;
    if (state.convs.has(message.chat_id)) addMessages(message.chat_id, [message]);
    noteLastMessage(message);
    emit('chats');
    rerender(message.chat_id);
    checkGap(message.chat_id);
  },

  message(frame) {
    const message = frame.message;
    const chat = state.chats.get(message?.chat_id);
    if (!chat) return void syncSoon(); // a chat we did not know about (new group, new private chat)
    // Count it once, whether a sync answer brought it first or not.
    const added = state.convs.has(chat.id)
      ? addMessages(chat.id, [message]).length > 0
      : !message.seq || message.seq > (chat.last_seq ?? 0);
    if (!added) return;
    noteLastMessage(message);
    state.typing.get(chat.id)?.delete(message.sender_id);
    const mine = message.sender_id === state.me.id;
    if (mine) {
      settleOutbox([message]);
    } else {
      const seen = isOpen(chat.id) && document.visibilityState === 'visible' && isAtBottom();
      if (!seen) chat.unread_count = (chat.unread_count || 0) + 1;
      const who = chat.members?.find((m) => m.id === message.sender_id)?.name || 'someone';
      const where = chat.type === 'group' ? ` in ${chat.name}` : '';
      announce(`New message from ${who}${where}: ${message.text.slice(0, 200)}`);
    }
    emit('chats');
    emit('typing', chat.id);
    if (isOpen(chat.id)) {
      renderMessages('auto');
      if (!mine) noteUnseen();
      markRead();
    }
    checkGap(chat.id);
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
    }
    emit('chats');
    rerender(chat.id);
  },

  read_all(frame) {
    const chat = state.chats.get(frame.chat_id);
    if (!chat) return;
    chat.readAllUpTo = Math.max(chat.readAllUpTo || 0, frame.message_id);
    for (const m of state.convs.get(chat.id)?.list || []) {
      if (m.sender_id === frame.sender_id && m.id <= frame.message_id) m.read = true;
    }
    if (chat.last_message && chat.last_message.id <= frame.message_id) chat.last_message.read = true;
    rerender(chat.id);
  },

  /** Somebody joined or left one of my chats, or I was added to (or removed from) one. */
  chat_updated() {
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
      item.retryAt = Date.now() + backoff(item.tries, 10_000);
      if (item.tries === 1) toast(text, frame.code === 'unavailable' ? 'info' : 'error');
      return;
    }
    if (item) {
      state.outbox.update(frame.client_id, { failed: text });
      rerender(item.chat_id);
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
