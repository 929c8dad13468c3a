// The client's model of the world: who I am, my chats, the loaded part of each conversation,
// who is typing. Views subscribe with `on(topic, fn)`; the controller mutates and `emit`s.

import { Outbox } from './outbox.js';
import { compareMessages, joinNames } from './util.js';

export const state = {
  me: null,
  chats: new Map(), // chat id -> ChatSummary (+ readAllUpTo, our own high-water mark from read_all)
  order: [], // chat ids, most recent activity first
  // chat id -> the chat version this tab holds: everything of the chat up to it has been applied,
  // so POST /sync only has to answer what came after. Only sync answers move it (see sync.js).
  versions: new Map(),
  openChatId: null,
  // chat id -> { byId, bySeq, list, contig, hasMore, hasNewer, loadingOlder, loadingNewer, ready }:
  // `list` is in seq order; `contig` is the highest seq up to which the loaded part of the
  // conversation has no hole (null until the first page arrived). `hasNewer`: the loaded part is a
  // window that stops before the chat's end (opened at the first unread message or at a search
  // result); newer messages then load as the person scrolls down, not as they arrive.
  convs: new Map(),
  presence: new Map(), // user id -> { online, last_seen }
  // chat id -> { members, count, epoch }: the whole member list of a group whose `members` holds only
  // me (more than 100 members), fetched by sync.js; `count` and `epoch` tell it when it is out of date.
  memberLists: new Map(),
  typing: new Map(), // chat id -> Map(user id -> expiry ms)
  outbox: new Outbox(),
  connection: 'connecting',
  unreadTotal: 0, // unread messages in all chats (the title and the favicon badge show it)
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
  state.versions.clear();
  state.openChatId = null;
  state.convs.clear();
  state.typing.clear();
  state.presence.clear();
  state.memberLists.clear();
  state.outbox.unload();
}

/** Replaces the chat list (with the summaries a reload kept), keeping what frames taught us. */
export function setChats(list) {
  const previous = state.chats;
  state.chats = new Map();
  for (const chat of list) {
    const old = previous.get(chat.id);
    chat.readAllUpTo = Math.max(old?.readAllUpTo || 0, chat.readAllUpTo || 0);
    state.chats.set(chat.id, chat);
  }
  sortChats();
  emit('chats');
}

/** The server's order for GET /chats: the chat with the newest message first, empty chats last. */
export function sortChats() {
  const key = (id) => state.chats.get(id)?.last_message?.id ?? 0;
  state.order = [...state.chats.keys()].sort((a, b) => key(b) - key(a) || b - a);
}

const seqOf = (message) => message?.seq ?? 0;

/**
 * Merges a ChatSummary from POST /sync. The answer is a snapshot taken when the server read it, so a
 * live frame handled meanwhile may already have taught us something newer: a later last message,
 * a read pointer further on. Those are kept; everything else (name, members, unread count) is the
 * server's word.
 */
export function mergeSummary(summary) {
  const old = state.chats.get(summary.id);
  if (!old) {
    summary.readAllUpTo = 0;
    state.chats.set(summary.id, summary);
    return summary;
  }
  noteMemberChanges(old, summary);
  const localIsNewer = seqOf(old.last_message) > seqOf(summary.last_message);
  for (const m of summary.members || []) {
    const pointer = member(old, m.id)?.last_read_message_id ?? 0;
    if (pointer > (m.last_read_message_id ?? 0)) m.last_read_message_id = pointer;
  }
  Object.assign(old, summary, {
    last_message: localIsNewer ? old.last_message : summary.last_message,
    unread_count: localIsNewer ? Math.max(old.unread_count || 0, summary.unread_count || 0) : summary.unread_count,
    last_seq: Math.max(old.last_seq ?? 0, summary.last_seq ?? 0),
  });
  return old;
}

/** Merges a Chat (members, name, creator) into the summary we hold, or adds it. */
export function upsertChat(chat) {
  const old = state.chats.get(chat.id);
  if (old) noteMemberChanges(old, chat);
  const merged = { last_message: null, unread_count: 0, readAllUpTo: 0, ...old, ...chat };
  state.chats.set(chat.id, merged);
  if (!state.order.includes(chat.id)) state.order.unshift(chat.id);
  emit('chats');
  return merged;
}

export function removeChat(chatId) {
  state.chats.delete(chatId);
  state.convs.delete(chatId);
  state.versions.delete(chatId);
  state.memberLists.delete(chatId);
  state.order = state.order.filter((id) => id !== chatId);
  emit('chats');
}

export function conv(chatId) {
  if (!state.convs.has(chatId)) {
    state.convs.set(chatId, {
      byId: new Map(), bySeq: new Map(), list: [], contig: null, hasMore: true, hasNewer: false,
      loadingOlder: false, loadingNewer: false, ready: false, unreadMarkId: null,
    });
  }
  return state.convs.get(chatId);
}

/** Where a message goes in a seq-ordered list: after every message that comes before it. */
function insertionIndex(list, message) {
  let lo = 0;
  let hi = list.length;
  // Nearly always the newest: try the end first.
  if (!hi || compareMessages(list[hi - 1], message) <= 0) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareMessages(list[mid], message) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Upserts messages into a conversation by id: a message we hold may come again in a newer state
 * (a sync answer, an edit, a deletion). Returns `{ added, changed }`: the messages that were new,
 * and the held ones that changed. A conversation that is a window (`hasNewer`) takes no message past
 * the seq right after its end: those are below the window and load when scrolled to.
 */
export function upsertMessages(chatId, messages) {
  const c = conv(chatId);
  const added = [];
  const changed = [];
  const incoming = messages.length > 1 ? [...messages].sort(compareMessages) : messages;
  for (const message of incoming) {
    const existing = c.byId.get(message.id);
    if (existing) {
      // `read` only ever flips to true; anything else changes only with the message's version.
      const read = existing.read || message.read;
      let moved = false;
      if ((message.version ?? 0) > (existing.version ?? 0)) {
        Object.assign(existing, message);
        moved = true;
      }
      if (read !== existing.read) moved = true;
      existing.read = read;
      if (moved) changed.push(existing);
      continue;
    }
    if (c.hasNewer && c.contig !== null && message.seq && message.seq > c.contig + 1) continue;
    c.byId.set(message.id, message);
    if (message.seq) c.bySeq.set(message.seq, message);
    c.list.splice(insertionIndex(c.list, message), 0, message);
    added.push(message);
    advanceContig(c);
  }
  return { added, changed };
}

/** Moves the conversation's hole-free mark as far up as the held seqs allow. */
export function advanceContig(c) {
  if (c.contig === null) return;
  while (c.bySeq.has(c.contig + 1)) c.contig += 1;
}

/**
 * Starts the hole-free mark once the newest page has arrived: everything from the page's first seq
 * up is held (or about to be fetched when something above it arrived first).
 */
export function startContig(chatId, page) {
  const c = conv(chatId);
  if (c.contig !== null) return;
  const seqs = page.map(seqOf).filter(Boolean);
  c.contig = seqs.length ? Math.min(...seqs) - 1 : 0;
  advanceContig(c);
}

/** The highest seq of the chat we know exists: held, seen live, or named by the summary. */
export function knownLastSeq(chatId) {
  const chat = state.chats.get(chatId);
  const c = state.convs.get(chatId);
  const held = c?.list.length ? seqOf(c.list[c.list.length - 1]) : 0;
  return Math.max(chat?.last_seq ?? 0, seqOf(chat?.last_message), held);
}

/** Records a message as the chat's latest if it is, and moves the chat to the top. */
export function noteLastMessage(message) {
  const chat = state.chats.get(message.chat_id);
  if (!chat) return false;
  if (message.seq) chat.last_seq = Math.max(chat.last_seq ?? 0, message.seq);
  if (!chat.last_message || compareMessages(message, chat.last_message) >= 0) {
    // The same message in a newer state (edited) replaces it without moving the chat.
    const moved = chat.last_message?.id !== message.id;
    chat.last_message = message;
    if (moved) state.order = [chat.id, ...state.order.filter((id) => id !== chat.id)];
  }
  return true;
}

/** Whether the loaded part of a conversation reaches the newest message of the chat. */
export function reachesEnd(chatId) {
  const c = state.convs.get(chatId);
  return Boolean(c && c.contig !== null && !c.hasNewer && c.contig >= knownLastSeq(chatId));
}

// ---- "X joined" / "X left" ----------------------------------------------------------------------
// The server keeps no such messages: the client writes them when a chat's member list it holds
// changes (after `chat_updated` and POST /sync, or a dialog's GET /chats/{id}), placed after the
// newest message known then. They are kept with the chat summary, so a reload keeps them too.
// A large group's `members` holds only me: comparing it would invent departures, so no lines there.

const SERVICE_KEPT = 50;
let serviceCounter = 0;

function noteMemberChanges(chat, next) {
  if (!Array.isArray(chat.members) || !Array.isArray(next.members) || chat.type !== 'group') return;
  if (isPartial(chat) || isPartial(next)) return;
  const before = new Map(chat.members.map((m) => [m.id, m]));
  const after = new Map(next.members.map((m) => [m.id, m]));
  const lines = [];
  for (const [id, m] of after) if (!before.has(id)) lines.push({ userId: id, text: `${id === state.me?.id ? 'You' : m.name} joined` });
  for (const [id, m] of before) {
    if (after.has(id)) continue;
    lines.push({ userId: id, text: `${id === state.me?.id ? 'You' : m.name} left` });
    chat.former = { ...chat.former, [id]: m.name }; // their messages keep their name
  }
  if (!lines.length) return;
  addServiceLines(chat, lines);
}

/** Adds lines like "Carol joined" to a chat, after its newest known message. */
export function addServiceLines(chat, lines) {
  const afterSeq = knownLastSeq(chat.id);
  const at = new Date().toISOString();
  chat.service = [...(chat.service || []), ...lines.map((line) => ({
    ...line, key: `s:${Date.now().toString(36)}.${(serviceCounter += 1)}`, afterSeq, at,
  }))].slice(-SERVICE_KEPT);
  emit('service', chat.id);
}

// ---- members --------------------------------------------------------------------------------

/** Whether the chat's `members` is only part of it (a group of more than 100 lists only me). */
export const isPartial = (chat) => Boolean(chat) && (chat.members?.length ?? 0) < (chat.member_count ?? 0);

/** How many members the chat has (`member_count`; a summary kept from an older server lacks it). */
export const memberCount = (chat) => chat?.member_count ?? chat?.members?.length ?? 0;

/** The members known: a large group's whole list once sync.js has fetched it, else `members`. */
export function membersOf(chat) {
  if (!isPartial(chat)) return chat?.members || [];
  return state.memberLists.get(chat.id)?.members || chat.members || [];
}

/** A member (with read pointer): `members` first, where mine is kept current, then the whole list. */
export function member(chat, userId) {
  const inline = chat?.members?.find((m) => m.id === userId);
  if (inline || !isPartial(chat)) return inline;
  return state.memberLists.get(chat.id)?.members.find((m) => m.id === userId);
}

export function memberName(chatId, userId) {
  if (userId === state.me?.id) return 'You';
  const chat = state.chats.get(chatId);
  return member(chat, userId)?.name || chat?.former?.[userId] || 'Someone';
}

const others = (chat) => membersOf(chat).filter((m) => m.id !== state.me?.id);

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
  const listed = state.memberLists.get(chat?.id)?.members.find((m) => m.id === userId);
  for (const m of [chat?.members?.find((x) => x.id === userId), listed]) {
    if (m && (m.last_read_message_id ?? 0) < messageId) m.last_read_message_id = messageId;
  }
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

// ---- what a reload keeps --------------------------------------------------------------------
// The chat summaries and the version held of each, per user in sessionStorage like the token and
// the outbox: after a reload POST /sync answers only what changed meanwhile, not every chat again.
// Conversations are not kept (they load again when opened), so neither is their hole-free seq.

const heldKey = (userId) => `messenger.held.${userId}`;

export function restoreHeld() {
  if (!state.me) return;
  try {
    const saved = JSON.parse(sessionStorage.getItem(heldKey(state.me.id)) || 'null');
    if (!saved || !Array.isArray(saved.chats) || !Array.isArray(saved.versions)) return;
    setChats(saved.chats.filter((c) => c && Number.isInteger(c.id)));
    state.versions = new Map(saved.versions.filter(([id, v]) => state.chats.has(id) && Number.isInteger(v)));
  } catch {
    // unreadable: start as a new device, POST /sync sends everything
  }
}

export function saveHeld() {
  if (!state.me) return;
  const chats = [...state.chats.values()];
  try {
    sessionStorage.setItem(heldKey(state.me.id), JSON.stringify({ chats, versions: [...state.versions] }));
  } catch {
    // storage full or disabled: this page still holds everything in memory
  }
}

export function forgetHeld(userId) {
  sessionStorage.removeItem(heldKey(userId));
}
