// The open conversation's message list, kept in step with the model one change at a time: a new
// message is one node inserted at its place (by seq), an edit or a status is one node replaced, and
// only the neighbours' day separators and grouping are looked at again. Nothing here walks or
// redraws the whole list for an event (the list is built whole only when a chat is opened), so a
// conversation of thousands of messages costs the same per event as a short one.
//
// Rows, in order: stored messages by seq, the "X joined" lines after the seq they were noted at, then
// my queued messages. A row's nodes are [day separator?][unread separator?] then the message itself.
// The nodes live in chunks of about a hundred (`li.chunk > ol`), each skipped by layout and paint while
// far from the screen (content-visibility): adding a message lays out one chunk, not the whole list,
// and the browser watches tens of chunks for visibility rather than thousands of rows.
// Reading is what was seen: after every scroll and every change, the lowest message on screen (found
// by hit-testing the bottom edge of the view, which costs the same for any length of list) is
// reported as read when the tab is visible. (An IntersectionObserver on every unread row costed
// tens of milliseconds a frame with thousands of them loaded.)

import { conv, isReadByAll, memberName, myReadPointer, readersOf, state } from './state.js';
import { $, dayKey, el, formatDay, formatFull, formatTime, frameTask, joinNames, linkify, snippet } from './util.js';

const GROUP_WINDOW_MS = 5 * 60_000;
const CHUNK = 100; // nodes per chunk
const NEAR_BOTTOM_PX = 60;

let handlers = {};
let view = null; // { chatId, rows, byKey, ownOpen, quoting, storedClients }
let list = null;
let scroller = null;
let unreadBar = null;
let stick = true; // follow the newest message (the person is at the bottom)
let lastTop = 0; // the scroll position at the last scroll event: which way the person scrolled
let focusTimer = null;
// Work waiting for the next frame: a scroll to the bottom, the jump button's update, a look at what
// is on screen.
const bottomFrame = frameTask(() => {
  if (view && stick) toBottom();
});
const jumpFrame = frameTask(() => renderJump());
const seenFrame = frameTask(() => checkSeen());

/**
 * handlers: seen(chatId, messageId), menu(message, anchor, point), quote(chatId, messageId),
 * retry(clientId), discard(clientId), info(text), scrolled({ nearTop, nearBottom }).
 */
export function initTimeline(h) {
  handlers = h;
  list = $('#message-list');
  scroller = $('#message-scroller');
  // Content that changes size while the person is at the bottom (a message laid out for the first
  // time, a font) keeps the newest message in view.
  new ResizeObserver(() => {
    if (view && stick) toBottom();
  }).observe(list);
  scroller.addEventListener('scroll', onScroll, { passive: true });
  for (const type of ['wheel', 'touchstart', 'keydown']) scroller.addEventListener(type, stopHolding, { passive: true });
  list.addEventListener('click', onClick);
  list.addEventListener('contextmenu', onContextMenu);
}

// ---- rows -------------------------------------------------------------------------------------

const me = () => state.me?.id;

function messageRow(message) {
  const ts = Date.parse(message.timestamp) || 0;
  return {
    key: `m:${message.id}`, kind: 'msg', a: message.seq ?? 0, b: 0, c: 0, message, ts, day: dayKey(ts),
    node: null, dayNode: null, cont: false, tail: true, status: '', readers: '',
  };
}

function pendingRow(item) {
  const ts = Date.parse(item.created_at) || Date.now();
  const message = { ...item, id: null, pending: true, sender_id: me(), timestamp: item.created_at };
  return {
    key: `c:${item.client_id}`, kind: 'pending', a: Infinity, b: 2, c: ts, message, ts, day: dayKey(ts),
    node: null, dayNode: null, cont: false, tail: true, status: '', readers: '',
  };
}

function serviceRow(line) {
  const ts = Date.parse(line.at) || 0;
  return { key: line.key, kind: 'service', a: line.afterSeq, b: 1, c: ts, line, ts, day: dayKey(ts), node: null, dayNode: null };
}

// (Infinity - Infinity is NaN, which `||` passes over to the next key.)
const compareRows = (x, y) => (x.a - y.a) || (x.b - y.b) || (x.c - y.c);

/** Index of the first row that sorts after `row` (the end first: new rows nearly always go there). */
function indexFor(row) {
  const rows = view.rows;
  let hi = rows.length;
  if (!hi || compareRows(rows[hi - 1], row) <= 0) return hi;
  let lo = 0;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareRows(rows[mid], row) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function indexOfRow(row) {
  const rows = view.rows;
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareRows(rows[mid], row) < 0) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < rows.length; i += 1) if (rows[i] === row) return i;
  return rows.indexOf(row);
}

const isBubble = (row) => row && (row.kind === 'msg' || row.kind === 'pending');

/** Two messages in a row from one person, close in time, on one day: shown as one group. */
function joins(prev, row) {
  return isBubble(prev) && isBubble(row) && prev.message.sender_id === row.message.sender_id &&
    prev.day === row.day && row.ts - prev.ts < GROUP_WINDOW_MS && !(unreadBar && view.unreadKey === row.key);
}

// ---- nodes ------------------------------------------------------------------------------------

const TICK_ONE = 'M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4L9 16.2Z';
const TICK_TWO = 'M.4 13.4 6 19l1.4-1.4L1.8 12 .4 13.4ZM22.2 5.6 11.6 16.2 7.4 12 6 13.4l5.6 5.6 12-12-1.4-1.4ZM18 7l-1.4-1.4-6.3 6.3 1.4 1.4L18 7Z';
const CLOCK = 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20Zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16Zm.5-13H11v6l5.2 3.2.8-1.3-4.5-2.7V7Z';
const DOTS = 'M12 8a2 2 0 1 0 0-4 2 2 0 0 0 0 4Zm0 6a2 2 0 1 0 0-4 2 2 0 0 0 0 4Zm0 6a2 2 0 1 0 0-4 2 2 0 0 0 0 4Z';

export function icon(path) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  p.setAttribute('fill', 'currentColor');
  p.setAttribute('d', path);
  svg.append(p);
  return svg;
}

const chatOf = () => state.chats.get(view?.chatId);

const authorName = (chat, userId) => memberName(chat?.id, userId);

/** The names a message's row shows: its author's, and that of the message it replies to. */
function namesIn(chat, message) {
  const original = message.reply_to ? state.convs.get(view.chatId)?.byId.get(message.reply_to) : null;
  return `${authorName(chat, message.sender_id)}\u0001${original ? authorName(chat, original.sender_id) : ''}`;
}

/** One tick when the server stored it, two when everyone else has read it. */
function statusOf(chat, message) {
  if (message.pending) return message.failed ? 'failed' : 'pending';
  if (message.sender_id !== me()) return '';
  return isReadByAll(chat, message) ? 'read' : 'sent';
}

function ticks(chat, message, status) {
  const label = { pending: 'Sending…', failed: 'Not sent', sent: 'Sent', read: chat.type === 'group' ? 'Read by everyone' : 'Read' }[status];
  let title = label;
  const group = chat.type === 'group' && !message.pending;
  if (group) {
    const readers = readersOf(chat, message);
    title = readers.length ? `Read by ${joinNames(readers)}` : 'Not read yet';
  }
  const path = status === 'read' ? TICK_TWO : status === 'sent' ? TICK_ONE : CLOCK;
  const attrs = { class: `ticks ticks-${status}`, title, 'aria-label': title, 'data-testid': 'message-ticks', dataset: { status } };
  // A button in groups, so people on touch screens (no hover) can tap to see who has read it.
  if (group) return el('button', { ...attrs, type: 'button', dataset: { status, action: 'ticks' } }, [icon(path)]);
  return el('span', { ...attrs, role: 'img' }, [icon(path)]);
}

function quote(chat, message) {
  const c = state.convs.get(view.chatId);
  const original = c?.byId.get(message.reply_to);
  let who = 'Reply';
  let text = 'Original message (further up)';
  if (original) {
    who = authorName(chat, original.sender_id);
    text = original.deleted ? 'Message deleted' : snippet(original.text, 90);
  }
  return el('button', {
    type: 'button', class: 'reply-quote', 'data-testid': 'reply-quote',
    dataset: { action: 'quote', replyTo: message.reply_to }, 'aria-label': `Reply to ${who}: ${text}. Show the message`,
  }, [
    el('span', { class: 'reply-author', dir: 'auto', text: who }),
    el('span', { class: 'reply-text', dir: 'auto', text }),
  ]);
}

function buildNode(row) {
  if (row.kind === 'service') {
    return el('li', { class: 'service-line', role: 'note', 'data-testid': 'service-line', dataset: { key: row.key } }, [
      el('span', { dir: 'auto', text: row.line.text }),
    ]);
  }
  const chat = chatOf();
  const message = row.message;
  const own = message.sender_id === me();
  const status = statusOf(chat, message);
  row.status = status;
  row.readers = chat.type === 'group' && own && !message.pending ? readersOf(chat, message).join(',') : '';
  const author = authorName(chat, message.sender_id);
  row.names = namesIn(chat, message);
  const deleted = Boolean(message.deleted);
  const bubble = el('div', { class: 'bubble' }, [
    chat.type === 'group' && !own
      ? el('span', { class: 'msg-author', dir: 'auto', style: `color:var(--c${message.sender_id % 8})`, text: author })
      : null,
    message.reply_to && !deleted ? quote(chat, message) : null,
    deleted
      ? el('span', { class: 'msg-text msg-deleted', 'data-testid': 'message-text', text: 'Message deleted' })
      : el('span', { class: 'msg-text', dir: 'auto', 'data-testid': 'message-text' }, linkify(message.text)),
    el('span', { class: 'msg-meta' }, [
      message.edited_at && !deleted ? el('span', { class: 'msg-edited', 'data-testid': 'message-edited', text: 'edited' }) : null,
      el('time', { datetime: message.timestamp, title: formatFull(message.timestamp), text: formatTime(message.timestamp) }),
      own ? ticks(chat, message, status) : null,
    ]),
  ]);
  const children = [bubble];
  if (row.kind === 'msg' && !deleted) {
    children.push(el('button', {
      type: 'button', class: 'msg-actions', 'aria-label': 'Message actions', 'aria-haspopup': 'menu',
      'data-testid': 'message-actions', dataset: { action: 'menu' },
    }, [icon(DOTS)]));
  }
  if (message.failed) {
    children.push(el('div', { class: 'msg-failed', role: 'alert' }, [
      el('span', { text: `Not sent: ${message.failed}` }),
      el('button', { type: 'button', class: 'link-button', text: 'Retry', dataset: { action: 'retry' } }),
      el('button', { type: 'button', class: 'link-button', text: 'Delete', dataset: { action: 'discard' } }),
    ]));
  }
  const classes = ['msg', own ? 'own' : 'other'];
  if (row.cont) classes.push('cont');
  if (row.tail) classes.push('tail');
  return el('li', {
    class: classes.join(' '),
    'data-testid': 'message',
    'aria-label': `${own ? 'You' : author}, ${formatTime(message.timestamp)}${deleted ? ', deleted' : ''}`,
    'data-deleted': deleted ? 'true' : false,
    'data-edited': message.edited_at && !deleted ? 'true' : false,
    dataset: {
      key: row.key, id: message.id ?? '', seq: message.seq ?? '', clientId: message.client_id ?? '',
      own: String(own), status, senderId: message.sender_id,
    },
  }, children);
}

function dayNode(row) {
  return el('li', { class: 'day-separator', role: 'separator', 'aria-label': formatDay(row.ts) }, [el('span', { text: formatDay(row.ts) })]);
}

/** The first of a row's nodes: its day separator, else the unread separator before it, else itself. */
function firstNode(row) {
  if (row.dayNode) return row.dayNode;
  if (unreadBar && view.unreadKey === row.key && unreadBar.isConnected) return unreadBar;
  return row.node;
}

function track(row) {
  if (row.kind === 'msg') {
    const m = row.message;
    if (m.sender_id === me() && row.status !== 'read') view.ownOpen.add(row);
    else view.ownOpen.delete(row);
    if (m.reply_to) {
      if (!view.quoting.has(m.reply_to)) view.quoting.set(m.reply_to, new Set());
      view.quoting.get(m.reply_to).add(row.key);
    }
    if (m.client_id) view.storedClients.add(m.client_id);
  } else if (row.kind === 'pending') {
    view.pendingKeys.add(row.key);
  }
}

function untrack(row) {
  view.ownOpen.delete(row);
  view.pendingKeys.delete(row.key);
  if (row.kind === 'msg' && row.message.reply_to) view.quoting.get(row.message.reply_to)?.delete(row.key);
}

// ---- chunks -----------------------------------------------------------------------------------

function newChunk(before = null) {
  const rows = el('ol', { class: 'chunk-rows', role: 'none' });
  list.insertBefore(el('li', { class: 'chunk', role: 'none' }, [rows]), before);
  return rows;
}

/** Puts a new row's node between its neighbours' nodes, starting a chunk where the one there is full. */
function placeNode(node, prev, next) {
  if (next) {
    const ref = firstNode(next);
    const chunk = ref.parentNode;
    if (ref !== chunk.firstChild) return void chunk.insertBefore(node, ref);
    // At a chunk's start: the end of the chunk before it (where `prev` is last) or this one, if not full.
    const before = prev?.node.parentNode;
    if (before && before !== chunk && before.childElementCount < CHUNK) return void before.append(node);
    if (chunk.childElementCount < CHUNK) return void chunk.insertBefore(node, ref);
    return void newChunk(chunk.parentNode).append(node);
  }
  const last = prev?.node.parentNode;
  if (last && last.childElementCount < CHUNK) last.append(node);
  else newChunk(null).append(node);
}

/** Removes a node, and its chunk when that is left empty. */
function dropNode(node) {
  const chunk = node?.parentNode;
  if (!chunk) return;
  node.remove();
  if (!chunk.firstChild && chunk.classList.contains('chunk-rows')) chunk.parentNode.remove();
}

/** Looks again at a row's day separator and grouping, which depend on its neighbours. */
function relayout(i) {
  const rows = view.rows;
  const row = rows[i];
  if (!row) return;
  const prev = rows[i - 1];
  const needsDay = !prev || prev.day !== row.day;
  if (needsDay && !row.dayNode) {
    const first = firstNode(row);
    row.dayNode = dayNode(row);
    first.parentNode.insertBefore(row.dayNode, first);
  } else if (!needsDay && row.dayNode) {
    dropNode(row.dayNode);
    row.dayNode = null;
  }
  if (!isBubble(row)) return;
  const cont = joins(prev, row);
  const tail = !joins(row, rows[i + 1]);
  if (cont !== row.cont) {
    row.cont = cont;
    row.node.classList.toggle('cont', cont);
  }
  if (tail !== row.tail) {
    row.tail = tail;
    row.node.classList.toggle('tail', tail);
  }
}

function insertRow(row) {
  const i = indexFor(row);
  const prev = view.rows[i - 1];
  const next = view.rows[i];
  row.node = buildNode(row);
  placeNode(row.node, prev, next);
  view.rows.splice(i, 0, row);
  view.byKey.set(row.key, row);
  track(row);
  relayout(i - 1);
  relayout(i);
  relayout(i + 1);
  return i;
}

function removeRow(row) {
  const i = indexOfRow(row);
  if (i < 0) return;
  untrack(row);
  view.rows.splice(i, 1);
  view.byKey.delete(row.key);
  dropNode(row.dayNode);
  if (view.unreadKey === row.key) {
    dropNode(unreadBar);
    unreadBar = null;
    view.unreadKey = null;
  }
  dropNode(row.node);
  relayout(i - 1);
  relayout(i);
}

/** Builds a row's node again (its message changed) in the same place. */
function rebuild(row) {
  const old = row.node;
  untrack(row);
  row.node = buildNode(row);
  old.replaceWith(row.node);
  track(row);
}

// ---- whole list (a chat opened) ---------------------------------------------------------------

/** Shows a chat's conversation: the one time its list is built whole. */
export function openTimeline(chatId) {
  closeTimeline();
  view = {
    chatId, rows: [], byKey: new Map(), ownOpen: new Set(), quoting: new Map(), storedClients: new Set(),
    pendingKeys: new Set(), unreadKey: null,
  };
  const c = conv(chatId);
  const rows = c.list.map(messageRow);
  const chat = state.chats.get(chatId);
  const lines = (chat?.service || []).filter((line) => inRange(c, line)).map(serviceRow);
  if (lines.length) {
    rows.push(...lines);
    rows.sort(compareRows);
  }
  const held = new Set(c.list.map((m) => m.client_id).filter(Boolean));
  for (const item of state.outbox.forChat(chatId)) if (!held.has(item.client_id)) rows.push(pendingRow(item));
  const fragment = document.createDocumentFragment();
  let chunk = null;
  let prev = null;
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i];
    if (!chunk || chunk.childElementCount >= CHUNK) {
      chunk = el('ol', { class: 'chunk-rows', role: 'none' });
      fragment.append(el('li', { class: 'chunk', role: 'none' }, [chunk]));
    }
    if (isBubble(row)) {
      row.cont = joins(prev, row);
      row.tail = !joins(row, rows[i + 1]);
    }
    if (!prev || prev.day !== row.day) {
      row.dayNode = dayNode(row);
      chunk.append(row.dayNode);
    }
    row.node = buildNode(row);
    chunk.append(row.node);
    view.rows.push(row);
    view.byKey.set(row.key, row);
    track(row);
    prev = row;
  }
  list.replaceChildren(fragment);
  stick = true;
  toBottom();
  flushSeen();
}

export function closeTimeline() {
  stopHolding();
  bottomFrame.cancel();
  seenFrame.cancel();
  clearTimeout(focusTimer);
  unreadBar = null;
  view = null;
  list?.replaceChildren();
}

// ---- changes ----------------------------------------------------------------------------------

/**
 * Whether an "X joined" line falls in the loaded part of the conversation: one noted after a seq
 * further up (or further down, in a window) shows when that part loads.
 */
function inRange(c, line) {
  if (c.contig === null) return false; // nothing loaded yet: placed when the first page comes
  const lo = c.hasMore ? (c.list[0]?.seq ?? 0) : -Infinity;
  const hi = c.hasNewer ? c.contig ?? 0 : Infinity;
  return line.afterSeq >= lo && line.afterSeq <= hi;
}

/** Messages of a chat were added to the model or changed there (sync.js's 'messages'). */
export function applyMessages({ chatId, added, changed }) {
  if (!view || view.chatId !== chatId) return;
  for (const message of changed) {
    const row = view.byKey.get(`m:${message.id}`);
    if (row) {
      row.message = message;
      rebuild(row);
    }
    requote(message.id);
  }
  if (!added.length) return;
  const first = view.rows.find((r) => r.kind === 'msg');
  const above = first && added.every((m) => (m.seq ?? 0) < first.a);
  // Older messages arrive above what the person is reading: keep that where it is on screen.
  const anchor = above && !stick ? first.node : null;
  const anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
  for (const message of added) {
    if (view.byKey.has(`m:${message.id}`)) continue;
    if (message.client_id) {
      const pending = view.byKey.get(`c:${message.client_id}`);
      if (pending) removeRow(pending);
    }
    insertRow(messageRow(message));
  }
  for (const message of added) requote(message.id);
  if (state.chats.get(chatId)?.service?.length) insertService(chatId);
  if (anchor) scroller.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
  else if (stick) followBottom();
  updateJump();
  flushSeen();
}

/** A large group's member list arrived: rows that showed "Someone" (or an old name) show the name. */
export function applyMembers(chatId) {
  if (!view || view.chatId !== chatId) return;
  const chat = chatOf();
  for (const row of view.rows) if (isBubble(row) && row.names !== namesIn(chat, row.message)) rebuild(row);
}

/** Rows quoting a message show it again (it loaded, or it was edited or deleted). */
function requote(messageId) {
  const keys = view.quoting.get(messageId);
  if (!keys?.size) return;
  for (const key of [...keys]) {
    const row = view.byKey.get(key);
    if (row) rebuild(row);
  }
}

/** The chat's queued messages changed: add, update or remove their rows. */
export function applyPending(chatId) {
  if (!view || view.chatId !== chatId) return;
  const items = state.outbox.forChat(chatId);
  const wanted = new Set();
  for (const item of items) {
    if (view.storedClients.has(item.client_id)) continue; // stored already; its ack was lost
    const key = `c:${item.client_id}`;
    wanted.add(key);
    const row = view.byKey.get(key);
    if (!row) insertRow(pendingRow(item));
    else if ((row.message.failed || '') !== (item.failed || '')) {
      row.message = { ...row.message, failed: item.failed };
      rebuild(row);
    }
  }
  for (const key of [...view.pendingKeys]) if (!wanted.has(key)) removeRow(view.byKey.get(key));
  if (stick) followBottom();
}

/** Read pointers moved: the ticks of my messages not yet read by everyone. */
export function applyStatuses(chatId) {
  if (!view || view.chatId !== chatId) return;
  const chat = chatOf();
  for (const row of [...view.ownOpen]) {
    const status = statusOf(chat, row.message);
    const readers = chat.type === 'group' ? readersOf(chat, row.message).join(',') : '';
    if (status === row.status && readers === row.readers) continue;
    row.status = status;
    row.readers = readers;
    row.node.dataset.status = status;
    row.node.querySelector('[data-testid="message-ticks"]')?.replaceWith(ticks(chat, row.message, status));
    if (status === 'read') view.ownOpen.delete(row);
  }
}

/** "X joined" lines the chat gained. */
export function applyService(chatId) {
  if (!view || view.chatId !== chatId) return;
  insertService(chatId);
  if (stick) followBottom();
}

function insertService(chatId) {
  const c = conv(chatId);
  for (const line of state.chats.get(chatId)?.service || []) {
    if (!view.byKey.has(line.key) && inRange(c, line)) insertRow(serviceRow(line));
  }
}

// ---- where the person is -----------------------------------------------------------------------

export function atBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
}

/** A window that stops before the chat's end is never followed: its end is not the newest message. */
const followable = () => Boolean(view) && !state.convs.get(view.chatId)?.hasNewer;

export function toBottom() {
  stopHolding();
  bottomFrame.cancel();
  scroller.scrollTop = scroller.scrollHeight;
  lastTop = scroller.scrollTop;
  stick = followable();
  updateJump();
  flushSeen();
}

/**
 * Keeps the newest message in view after rows were added: at the next frame, where the layout is
 * done once for everything that changed, not in the middle of handling an event.
 */
function followBottom() {
  bottomFrame.schedule();
}

export function scrollToBottomSmooth() {
  scroller.scrollTo({ top: scroller.scrollHeight, behavior: 'smooth' });
  stick = followable();
}

/** Whether the list is near its top (or too short to scroll): time for older messages. */
export function nearTop() {
  return scroller.scrollTop < 300 || scroller.scrollHeight <= scroller.clientHeight;
}

function nearBottomEdge() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 600;
}

function onScroll() {
  if (!view) return;
  flushSeen();
  // Rows added below do not move the scroll position; only the person does: scrolling up lets go
  // of the newest message, reaching the bottom takes hold of it again.
  const top = scroller.scrollTop;
  if (top < lastTop - 1) stick = atBottom() && followable();
  else if (atBottom()) stick = followable();
  lastTop = top;
  updateJump();
  handlers.scrolled?.({ nearTop: nearTop(), nearBottom: nearBottomEdge() });
}

/** Shows or hides the jump-to-newest button (and its count) at the next frame. */
export function updateJump() {
  jumpFrame.schedule();
}

function renderJump() {
  if (!view) return;
  const c = state.convs.get(view.chatId);
  const chat = chatOf();
  const bottom = stick || (atBottom() && !c?.hasNewer);
  $('#jump-bottom').hidden = bottom;
  const count = $('#jump-count');
  const unread = chat?.unread_count || 0;
  count.hidden = bottom || unread === 0;
  count.textContent = unread > 999 ? '999+' : String(unread);
}

/** Places the view after a chat opened: at a message, at the first unread one, or at the bottom. */
export function position({ chatId, focusId = null, unreadId = null }) {
  if (!view || view.chatId !== chatId) return;
  if (focusId) {
    const row = view.byKey.get(`m:${focusId}`);
    if (row) {
      focus(row);
      return;
    }
  }
  if (unreadId && view.byKey.has(`m:${unreadId}`)) {
    placeUnreadBar(view.byKey.get(`m:${unreadId}`));
    holdAt(unreadBar, () => 8);
    return;
  }
  toBottom();
}

let holding = 0; // the frame request of holdAt, while it holds

/**
 * Scrolls so that `node` sits at `offset()` px below the top of the list's view, and keeps it there
 * for the next few frames: rows far from the screen have an estimated height until they are first
 * laid out (content-visibility), so the first measure may be a few pixels off. The person scrolling
 * ends the hold.
 */
function holdAt(node, offset) {
  cancelAnimationFrame(holding);
  const place = () => {
    if (!node.isConnected) return;
    const top = node.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
    const delta = top - offset();
    if (Math.abs(delta) >= 1) scroller.scrollTop += delta;
    lastTop = scroller.scrollTop;
    stick = atBottom() && followable();
    updateJump();
  };
  place();
  let frames = 4;
  const again = () => {
    place();
    frames -= 1;
    holding = frames > 0 ? requestAnimationFrame(again) : 0;
    if (!holding) flushSeen();
  };
  holding = requestAnimationFrame(again);
}

function stopHolding() {
  cancelAnimationFrame(holding);
  holding = 0;
}

/** Scrolls to a message and highlights it (a search result, a reply's original). */
export function focusMessage(messageId) {
  const row = view?.byKey.get(`m:${messageId}`);
  if (!row) return false;
  focus(row);
  return true;
}

function focus(row) {
  for (const node of list.querySelectorAll('[data-focused]')) node.removeAttribute('data-focused');
  holdAt(row.node, () => Math.max(8, (scroller.clientHeight - row.node.offsetHeight) / 2));
  row.node.dataset.focused = 'true';
  row.node.classList.remove('flash');
  void row.node.offsetWidth; // restart the animation
  row.node.classList.add('flash');
  clearTimeout(focusTimer);
  focusTimer = setTimeout(() => row.node.classList.remove('flash'), 2000);
}

function placeUnreadBar(row) {
  dropNode(unreadBar);
  unreadBar = el('li', { class: 'unread-separator', role: 'separator', 'data-testid': 'unread-separator' }, [
    el('span', { text: 'Unread messages' }),
  ]);
  view.unreadKey = row.key;
  row.node.parentNode.insertBefore(unreadBar, row.node);
  const i = indexOfRow(row);
  relayout(i - 1);
  relayout(i);
}

// ---- reading ----------------------------------------------------------------------------------

/** Looks for what is on screen at the next frame (after a scroll, new rows, the tab showing). */
export function flushSeen() {
  seenFrame.schedule();
}

/** Reports the lowest message on screen, when at least half of it shows, as read (in a visible tab). */
function checkSeen() {
  if (!view || document.visibilityState !== 'visible') return;
  const box = scroller.getBoundingClientRect();
  if (box.height < 1) return; // the conversation is not shown (the chat list on a phone)
  const column = list.getBoundingClientRect();
  const x = column.left + column.width / 2;
  // From the bottom of the view, or of the list when it is shorter than the view.
  for (let y = Math.min(box.bottom, column.bottom) - 2, tries = 0; y > box.top && tries < 16; y -= 20, tries += 1) {
    const node = document.elementFromPoint(x, y)?.closest?.('#message-list li.msg');
    const row = node && view.byKey.get(node.dataset.key);
    if (!row || row.kind !== 'msg') continue;
    const rect = node.getBoundingClientRect();
    const shown = Math.min(rect.bottom, box.bottom) - Math.max(rect.top, box.top);
    if (shown < Math.min(rect.height / 2, box.height * 0.4)) continue; // the one above, then
    if (row.message.id > myReadPointer(chatOf())) handlers.seen(view.chatId, row.message.id);
    return;
  }
}

// ---- the person's actions on messages -------------------------------------------------------

function rowOf(target) {
  const node = target.closest?.('.msg');
  return node && view ? view.byKey.get(node.dataset.key) : null;
}

function onClick(event) {
  const button = event.target.closest('[data-action]');
  if (!button || !view) return;
  const row = rowOf(button);
  if (!row) return;
  const action = button.dataset.action;
  if (action === 'menu') handlers.menu(row.message, button, null);
  else if (action === 'quote') handlers.quote(view.chatId, Number(button.dataset.replyTo));
  else if (action === 'retry') handlers.retry(row.message.client_id);
  else if (action === 'discard') handlers.discard(row.message.client_id);
  else if (action === 'ticks') handlers.info(button.title);
}

function onContextMenu(event) {
  const row = rowOf(event.target);
  if (!row || row.kind !== 'msg' || row.message.deleted) return;
  if (event.target.closest('a')) return; // the browser's own menu for links
  event.preventDefault();
  handlers.menu(row.message, row.node.querySelector('.bubble'), { x: event.clientX, y: event.clientY });
}

/** My last message that can still be edited (for ArrowUp in an empty composer). */
export function lastEditable() {
  if (!view) return null;
  for (let i = view.rows.length - 1, n = 0; i >= 0 && n < 500; i -= 1, n += 1) {
    const row = view.rows[i];
    if (row.kind === 'msg' && row.message.sender_id === me() && !row.message.deleted) return row.message;
  }
  return null;
}
