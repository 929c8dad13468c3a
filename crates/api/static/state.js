// The client's model of the world: who I am, my chats, the loaded part of each conversation,
// who is typing. Views subscribe with `on(topic, fn)`; the controller mutates and `emit`s.

import { Outbox } from './outbox.js';
import { compareMessages, joinNames } from './util.js';

export const state = {
  me: null,
  chats: new Map(), // chat id -> ChatSummary (+ readAllUpTo, our own high-water mark from read_all)
  order: [], // chat ids, most recent activity first
  openChatId: null,
  convs: new Map(), // chat id -> { byId, list, hasMore, loadingOlder, ready }
  typing: new Map(), // chat id -> Map(user id -> expiry ms)
  outbox: new Outbox(),
  connection: 'connecting',
};

const listeners = new Map();
export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
}
export function emit(topic, payload) {
  for (const fn of listeners.get(topic) || []) fn(payload);
}

export function resetState() {
  state.me = null;
  state.chats.clear();
  state.order = [];
  state.openChatId = null;
  state.convs.clear();
  state.typing.clear();
  state.outbox.unload();
}

/** Replaces the chat list with the server's answer, keeping what frames taught us. */
export function setChats(list) {
  const previous = state.chats;
  state.chats = new Map();
  for (const chat of list) {
    const old = previous.get(chat.id);
    chat.readAllUpTo = Math.max(old?.readAllUpTo || 0, 0);
    state.chats.set(chat.id, chat);
  }
  state.order = list.map((c) => c.id);
  emit('chats');
}

/** Merges a Chat (members, name, creator) into the summary we hold, or adds it. */
export function upsertChat(chat) {
  const old = state.chats.get(chat.id);
  const merged = { last_message: null, unread_count: 0, readAllUpTo: 0, ...old, ...chat };
  state.chats.set(chat.id, merged);
  if (!state.order.includes(chat.id)) state.order.unshift(chat.id);
  emit('chats');
  return merged;
}

export function removeChat(chatId) {
  state.chats.delete(chatId);
  state.convs.delete(chatId);
  state.order = state.order.filter((id) => id !== chatId);
  emit('chats');
}

export function conv(chatId) {
  if (!state.convs.has(chatId)) {
    state.convs.set(chatId, { byId: new Map(), list: [], hasMore: true, loadingOlder: false, ready: false });
  }
  return state.convs.get(chatId);
}

/** Adds messages to a loaded conversation (deduplicated by id); returns the ones that were new. */
export function addMessages(chatId, messages) {
  const c = conv(chatId);
  const added = [];
  for (const message of messages) {
    const existing = c.byId.get(message.id);
    if (existing) {
      existing.read = existing.read || message.read;
      continue;
    }
    c.byId.set(message.id, message);
    c.list.push(message);
    added.push(message);
  }
  if (added.length) c.list.sort(compareMessages);
  return added;
}

/** Records a message as the chat's latest if it is, and moves the chat to the top. */
export function noteLastMessage(message) {
  const chat = state.chats.get(message.chat_id);
  if (!chat) return false;
  if (!chat.last_message || compareMessages(message, chat.last_message) >= 0) {
    chat.last_message = message;
    state.order = [chat.id, ...state.order.filter((id) => id !== chat.id)];
  }
  return true;
}

export const newestId = (chatId) => {
  const list = state.convs.get(chatId)?.list || [];
  return list.length ? Math.max(...list.map((m) => m.id)) : 0;
};

export function member(chat, userId) {
  return chat?.members?.find((m) => m.id === userId);
}

export function memberName(chatId, userId) {
  if (userId === state.me?.id) return 'You';
  return member(state.chats.get(chatId), userId)?.name || 'Someone';
}

const others = (chat) => (chat?.members || []).filter((m) => m.id !== state.me?.id);

/** Two ticks: the server says read, a read_all covered it, or every other member's pointer passed it. */
export function isReadByAll(chat, message) {
  if (message.read) return true;
  if (message.id <= (chat?.readAllUpTo || 0)) return true;
  const rest = others(chat);
  return rest.length > 0 && rest.every((m) => (m.last_read_message_id ?? 0) >= message.id);
}

/** Names of the other members whose read pointer is at or past the message. */
export function readersOf(chat, message) {
  return others(chat)
    .filter((m) => (m.last_read_message_id ?? 0) >= message.id)
    .map((m) => m.name);
}

export function myReadPointer(chat) {
  return member(chat, state.me?.id)?.last_read_message_id ?? 0;
}

export function setReadPointer(chat, userId, messageId) {
  const m = member(chat, userId);
  if (m && (m.last_read_message_id ?? 0) < messageId) m.last_read_message_id = messageId;
}

export function typingNames(chatId) {
  const map = state.typing.get(chatId);
  if (!map) return [];
  const now = Date.now();
  for (const [userId, until] of map) if (until <= now) map.delete(userId);
  return [...map.keys()].map((id) => memberName(chatId, id));
}

/** "Bob is typing…", "Bob and Carol are typing…", or ''. */
export function typingLabel(chat) {
  const names = typingNames(chat.id);
  if (!names.length) return '';
  return `${joinNames(names)} ${names.length > 1 ? 'are' : 'is'} typing…`;
}
