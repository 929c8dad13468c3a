// The open conversation: header, messages (with paging backwards on scroll up), composer.

import { conv, isReadByAll, on, readersOf, state, typingLabel } from './state.js';
import { toast } from './toast.js';
import { $, avatar, dayKey, el, formatDay, formatFull, formatTime, joinNames } from './util.js';

const NEAR_TOP_PX = 120;
const NEAR_BOTTOM_PX = 60;
const TYPING_EVERY_MS = 3000;

let actions = {};
let lastTypingSent = 0;
let unseenBelow = 0;

export function initConversation(handlers) {
  actions = handlers;
  const scroller = $('#message-scroller');
  scroller.addEventListener('scroll', onScroll, { passive: true });
  $('#jump-bottom').addEventListener('click', () => scrollToBottom(true));
  $('#conv-back').addEventListener('click', () => actions.back());
  $('#conv-info').addEventListener('click', () => actions.showMembers(state.openChatId));

  const input = $('#composer-input');
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', () => {
    autoGrow(input);
    if (input.value.trim() && Date.now() - lastTypingSent > TYPING_EVERY_MS) {
      lastTypingSent = Date.now();
      actions.typing(state.openChatId);
    }
  });
  $('#composer').addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });

  on('typing', (chatId) => chatId === state.openChatId && renderSubtitle());
  on('chats', () => state.openChatId && renderHeader());
}

function autoGrow(input) {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

function submit() {
  const input = $('#composer-input');
  const text = input.value.trim();
  if (!text || !state.openChatId) return;
  if (text.length > 4096) {
    toast('A message can have at most 4096 characters.');
    return;
  }
  input.value = '';
  autoGrow(input);
  lastTypingSent = 0;
  actions.send(state.openChatId, text);
  scrollToBottom(true);
}

export function showConversation(chatId) {
  const chat = state.chats.get(chatId);
  $('#conv-placeholder').hidden = true;
  $('#conv-pane').hidden = false;
  $('#conv-pane').dataset.chatId = String(chatId);
  $('#message-list').replaceChildren();
  rendered.clear();
  unseenBelow = 0;
  renderHeader(chat);
  renderMessages('bottom');
  const input = $('#composer-input');
  input.value = '';
  autoGrow(input);
  if (window.matchMedia('(min-width: 700px)').matches) input.focus();
  else $('#conv-back').focus();
}

export function hideConversation() {
  $('#conv-pane').hidden = true;
  $('#conv-placeholder').hidden = false;
  delete $('#conv-pane').dataset.chatId;
}

export function renderHeader(chat = state.chats.get(state.openChatId)) {
  if (!chat) return;
  $('#conv-title').textContent = chat.name;
  $('#conv-avatar').replaceChildren(avatar(chat.name, chat.id, chat.type === 'group' ? 'avatar-group' : ''));
  $('#conv-info').hidden = chat.type !== 'group';
  renderSubtitle(chat);
}

function renderSubtitle(chat = state.chats.get(state.openChatId)) {
  if (!chat) return;
  const subtitle = $('#conv-subtitle');
  const typing = typingLabel(chat);
  subtitle.classList.toggle('typing-text', Boolean(typing));
  subtitle.dataset.typing = typing ? 'true' : 'false';
  if (typing) subtitle.textContent = typing;
  else if (chat.type === 'group') subtitle.textContent = `${chat.members?.length || 0} members`;
  else subtitle.textContent = 'private chat';
}

// ---- messages -------------------------------------------------------------------------------

const rendered = new Map(); // key -> { node, signature }

const TICK_ONE = 'M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4L9 16.2Z';
const TICK_TWO = 'M.4 13.4 6 19l1.4-1.4L1.8 12 .4 13.4ZM22.2 5.6 11.6 16.2 7.4 12 6 13.4l5.6 5.6 12-12-1.4-1.4ZM18 7l-1.4-1.4-6.3 6.3 1.4 1.4L18 7Z';
const CLOCK = 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20Zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16Zm.5-13H11v6l5.2 3.2.8-1.3-4.5-2.7V7Z';

function icon(path) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  p.setAttribute('fill', 'currentColor');
  p.setAttribute('d', path);
  svg.append(p);
  return svg;
}

/** One tick when the server stored it, two when everyone else has read it. */
function statusOf(chat, message) {
  if (message.pending) return message.failed ? 'failed' : 'pending';
  return isReadByAll(chat, message) ? 'read' : 'sent';
}

function ticks(chat, message, status) {
  const label = { pending: 'Sending…', failed: 'Not sent', sent: 'Sent', read: chat.type === 'group' ? 'Read by everyone' : 'Read' }[status];
  let title = label;
  if (chat.type === 'group' && !message.pending) {
    const readers = readersOf(chat, message);
    title = readers.length ? `Read by ${joinNames(readers)}` : 'Not read yet';
  }
  const path = status === 'read' ? TICK_TWO : status === 'sent' ? TICK_ONE : CLOCK;
  const attrs = { class: `ticks ticks-${status}`, title, 'aria-label': title, 'data-testid': 'message-ticks', dataset: { status } };
  if (chat.type === 'group' && !message.pending) {
    // A button so people on touch screens (no hover) can tap to see who has read it.
    return el('button', { ...attrs, type: 'button', on: { click: () => toast(title, 'info') } }, [icon(path)]);
  }
  return el('span', { ...attrs, role: 'img' }, [icon(path)]);
}

function messageNode(chat, message, status, showAuthor) {
  const own = message.sender_id === state.me?.id;
  const author = chat.members?.find((m) => m.id === message.sender_id)?.name || 'Someone';
  const meta = el('span', { class: 'msg-meta' }, [
    message.edited_at && !message.deleted ? el('span', { class: 'msg-edited', text: 'edited' }) : null,
    el('time', { datetime: message.timestamp, title: formatFull(message.timestamp), text: formatTime(message.timestamp) }),
    own ? ticks(chat, message, status) : null,
  ]);
  const bubble = el('div', { class: 'bubble' }, [
    showAuthor ? el('span', { class: 'msg-author', style: `color:var(--c${message.sender_id % 8})`, text: author }) : null,
    message.deleted
      ? el('span', { class: 'msg-text msg-deleted', 'data-testid': 'message-text', text: 'Message deleted' })
      : el('span', { class: 'msg-text', 'data-testid': 'message-text', text: message.text }),
    meta,
  ]);
  const children = [bubble];
  if (message.failed) {
    children.push(el('div', { class: 'msg-failed', role: 'alert' }, [
      el('span', { text: `Not sent: ${message.failed}` }),
      el('button', { type: 'button', class: 'link-button', text: 'Retry', on: { click: () => actions.retry(message.client_id) } }),
      el('button', { type: 'button', class: 'link-button', text: 'Delete', on: { click: () => actions.discard(message.client_id) } }),
    ]));
  }
  return el('li', {
    class: `msg ${own ? 'own' : 'other'}`,
    'data-testid': 'message',
    'aria-label': `${own ? 'You' : author}, ${formatTime(message.timestamp)}`,
    dataset: {
      id: message.id ?? '', seq: message.seq ?? '', clientId: message.client_id ?? '', own: String(own), status,
      senderId: message.sender_id,
    },
  }, children);
}

/** Stored messages, then what is still waiting in the outbox. */
function entries(chatId) {
  const stored = conv(chatId).list;
  const held = new Set(stored.map((m) => m.client_id).filter(Boolean));
  const pending = state.outbox.forChat(chatId)
    .filter((item) => !held.has(item.client_id))
    .map((item) => ({ ...item, id: null, pending: true, sender_id: state.me.id, timestamp: item.created_at }));
  return [...stored, ...pending];
}

/**
 * Re-renders the message list, reusing unchanged nodes.
 * mode: 'bottom' scrolls to the newest, 'prepend' keeps the view still while older pages
 * arrive above, 'auto' follows the newest only if the person was already at the bottom.
 */
export function renderMessages(mode = 'auto') {
  const chatId = state.openChatId;
  const chat = state.chats.get(chatId);
  if (!chat) return;
  const scroller = $('#message-scroller');
  const wasAtBottom = isAtBottom();
  const oldHeight = scroller.scrollHeight;
  const oldTop = scroller.scrollTop;

  const nodes = [];
  const keep = new Set();
  let previous = null;
  for (const message of entries(chatId)) {
    if (!previous || dayKey(previous.timestamp) !== dayKey(message.timestamp)) {
      nodes.push(el('li', { class: 'day-separator', role: 'separator' }, [el('span', { text: formatDay(message.timestamp) })]));
    }
    const status = statusOf(chat, message);
    const showAuthor = chat.type === 'group' && message.sender_id !== state.me?.id &&
      (!previous || previous.sender_id !== message.sender_id || dayKey(previous.timestamp) !== dayKey(message.timestamp));
    const readers = chat.type === 'group' ? readersOf(chat, message).join(',') : '';
    const key = message.pending ? `c:${message.client_id}` : `m:${message.id}`;
    // The version too: a message held already may come again edited or deleted (sync upserts by id).
    const signature = `${status}|${showAuthor}|${readers}|${message.failed || ''}|${message.version ?? ''}`;
    let entry = rendered.get(key);
    if (!entry || entry.signature !== signature) {
      entry = { node: messageNode(chat, message, status, showAuthor), signature };
      rendered.set(key, entry);
    }
    keep.add(key);
    nodes.push(entry.node);
    previous = message;
  }
  for (const key of rendered.keys()) if (!keep.has(key)) rendered.delete(key);
  $('#message-list').replaceChildren(...nodes);

  const c = conv(chatId);
  const status = $('#history-status');
  if (!c.ready) status.textContent = 'Loading messages…';
  else if (c.loadingOlder) status.textContent = 'Loading earlier messages…';
  else if (!c.hasMore) status.textContent = nodes.length ? 'This is the beginning of the conversation.' : 'No messages yet. Say hello!';
  else status.textContent = '';

  if (mode === 'bottom' || (mode === 'auto' && wasAtBottom)) scrollToBottom();
  else if (mode === 'prepend') scroller.scrollTop = oldTop + (scroller.scrollHeight - oldHeight);
}

/** A message from someone else arrived while the person is reading further up. */
export function noteUnseen() {
  if (isAtBottom()) return;
  unseenBelow += 1;
  updateJump();
}

export function isAtBottom() {
  const s = $('#message-scroller');
  return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
}

export function scrollToBottom(smooth = false) {
  const s = $('#message-scroller');
  s.scrollTo({ top: s.scrollHeight, behavior: smooth ? 'smooth' : 'instant' });
  unseenBelow = 0;
  updateJump();
}

function updateJump() {
  const atBottom = isAtBottom();
  if (atBottom) unseenBelow = 0;
  $('#jump-bottom').hidden = atBottom;
  const count = $('#jump-count');
  count.hidden = unseenBelow === 0;
  count.textContent = String(unseenBelow);
}

/** Whether older history should be fetched now (near the top, or the page does not fill the view). */
export function wantsOlder() {
  const s = $('#message-scroller');
  return s.scrollTop < NEAR_TOP_PX || s.scrollHeight <= s.clientHeight;
}

function onScroll() {
  updateJump();
  if (!state.openChatId) return;
  if (wantsOlder()) actions.loadOlder(state.openChatId);
  if (isAtBottom()) actions.markRead();
}
