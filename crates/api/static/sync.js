// Keeping the client in step with the server: history pages, catch-up after reconnects,
// the outbox, read pointers, and every frame the WebSocket delivers.

import { NEWEST, api, friendlyMessage } from './api.js';
import { isAtBottom, noteUnseen, renderMessages, wantsOlder } from './conversation.js';
import {
  addMessages, conv, emit, myReadPointer, newestId, noteLastMessage, setChats, setReadPointer, state,
} from './state.js';
import { Realtime } from './socket.js';
import { announce, showError, toast } from './toast.js';
import { debounce, uuid } from './util.js';

const PAGE = 50;
const CATCH_UP_PAGE = 200;
const TYPING_SHOWN_MS = 5000;
const RESEND_AFTER_MS = 15_000;

const realtime = new Realtime({ onFrame, onOpen, onStatus, onFailure: () => api.me().catch(() => {}) });
let resendTimer = null;

export function startSync(bearer) {
  realtime.start(bearer);
  clearInterval(resendTimer);
  resendTimer = setInterval(resendStale, 5000);
}

export function stopSync() {
  realtime.stop();
  clearInterval(resendTimer);
}

const isOpen = (chatId) => state.openChatId === chatId;
const rerender = (chatId, mode = 'auto') => isOpen(chatId) && renderMessages(mode);

// ---- chats and history ----------------------------------------------------------------------

export async function refreshChats() {
  try {
    setChats(await api.chats());
    // Removed from a group by someone else, or the group is gone.
    if (state.openChatId && !state.chats.has(state.openChatId)) emit('chat-gone', state.openChatId);
  } catch (error) {
    // While the connection is down the status line already says so; no need to repeat it.
    if (error.code !== 'network' || state.connection === 'online') showError(error);
  }
}
export const refreshChatsSoon = debounce(refreshChats, 300);

/** Removes queued messages the server already holds (their ack was lost with the connection). */
function settleOutbox(messages) {
  for (const m of messages) if (m.sender_id === state.me?.id && m.client_id) state.outbox.remove(m.client_id);
}

export async function loadLatest(chatId) {
  const c = conv(chatId);
  try {
    const page = await api.historyBefore(chatId, NEWEST, PAGE);
    settleOutbox(addMessages(chatId, page));
    c.hasMore = page.length === PAGE;
    c.ready = true;
    // The newest page must end with the chat's last message; if not, fetch what follows.
    const last = state.chats.get(chatId)?.last_message;
    if (last && !c.byId.has(last.id)) await catchUp(chatId);
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
    const page = await api.historyBefore(chatId, oldest.id, PAGE);
    const added = addMessages(chatId, page);
    c.hasMore = page.length === PAGE && added.length > 0;
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
 * Everything after the newest message held (after a reconnect or when reopening a chat).
 * After a reconnect it starts from the mark taken when the connection came back (`gapAfter`),
 * because acks for re-sent messages may already have added newer ids above the gap.
 */
export async function catchUp(chatId) {
  const c = conv(chatId);
  if (!c.ready) return loadLatest(chatId);
  let after = c.gapAfter ?? newestId(chatId);
  try {
    for (;;) {
      const page = await api.historyAfter(chatId, after, CATCH_UP_PAGE);
      settleOutbox(page);
      for (const m of addMessages(chatId, page)) noteLastMessage(m);
      if (page.length < CATCH_UP_PAGE) break;
      after = Math.max(...page.map((m) => m.id));
    }
    delete c.gapAfter;
  } catch (error) {
    showError(error);
  }
  emit('chats');
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
  }
}

export function sendMessage(chatId, text) {
  const item = state.outbox.add({ client_id: uuid(), chat_id: chatId, text, created_at: new Date().toISOString() });
  transmit(item);
  rerender(chatId, 'bottom');
}

export function retryMessage(clientId) {
  const item = state.outbox.update(clientId, { failed: null });
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

/** A send whose ack never came (lost frame) goes again with the same client_id; the server deduplicates. */
function resendStale() {
  if (!realtime.isOpen) return;
  for (const item of state.outbox.pending()) if (!item.sentAt || Date.now() - item.sentAt > RESEND_AFTER_MS) transmit(item);
}

// ---- the WebSocket --------------------------------------------------------------------------

function onOpen() {
  // Mark where each loaded conversation stands before anything new arrives on this connection.
  for (const [chatId, c] of state.convs) if (c.ready) c.gapAfter = Math.min(c.gapAfter ?? Infinity, newestId(chatId));
  flushOutbox();
  // Connected first, now fetch what happened while we were away.
  refreshChats().then(() => {
    if (state.openChatId && state.convs.get(state.openChatId)?.ready) catchUp(state.openChatId);
  });
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
  },

  message(frame) {
    const message = frame.message;
    const chat = state.chats.get(message?.chat_id);
    if (!chat) return void refreshChatsSoon(); // a chat we did not know about (new group, new private chat)
    const added = state.convs.has(chat.id) ? addMessages(chat.id, [message]).length > 0 : true;
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
  },

  read(frame) {
    const chat = state.chats.get(frame.chat_id);
    if (!chat) return;
    setReadPointer(chat, frame.reader_id, frame.message_id);
    if (frame.reader_id === state.me.id) {
      // Another of my devices read it.
      if (!chat.last_message || frame.message_id >= chat.last_message.id) chat.unread_count = 0;
      else refreshChatsSoon();
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
    refreshChatsSoon();
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
    if (item && frame.code === 'rate_limited') {
      item.sentAt = Date.now() - RESEND_AFTER_MS + 2000; // try again in about two seconds
    } else if (item) {
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
