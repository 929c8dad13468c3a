// The sidebar: my chats, most recent first, with the last message (or my draft), time and unread
// badge; a search box that filters the chats by name and finds messages (GET /search/messages).
// Each chat's row is built again only when something it shows changed, and rows are moved rather
// than rebuilt when the order changes. Arrow keys move between chats.

import { api } from './api.js';
import { getDraft } from './drafts.js';
import { updateBadge } from './notify.js';
import { member, on, state, typingLabel } from './state.js';
import { showError } from './toast.js';
import { $, avatar, debounce, el, formatListTime, snippet } from './util.js';

let openChat = () => {};
const rows = new Map(); // chat id -> { node, parts, shown: what each part shows now }
let renderQueued = false;
let query = '';
let searchSeq = 0;

export function initChatList(open) {
  openChat = open;
  on('chats', renderSoon);
  on('typing', renderSoon);
  on('open', renderSoon);
  on('draft', renderSoon);
  on('members', renderSoon); // a large group's names: the author of its last message
  const search = $('#chat-search');
  const runSearch = debounce(searchMessages, 300);
  search.addEventListener('input', () => {
    query = search.value.trim();
    renderChatList();
    runSearch();
  });
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && search.value) {
      event.preventDefault();
      event.stopPropagation();
      clearSearch();
    } else if (event.key === 'ArrowDown') {
      event.preventDefault();
      focusable()[0]?.focus();
    } else if (event.key === 'Enter') {
      event.preventDefault();
      focusable()[0]?.click();
    }
  });
  $('#chat-list').addEventListener('keydown', moveFocus);
  $('#search-results').addEventListener('keydown', moveFocus);
}

export function clearSearch() {
  const search = $('#chat-search');
  search.value = '';
  query = '';
  searchSeq += 1;
  $('#search-results-wrap').hidden = true;
  $('#search-results').replaceChildren();
  renderChatList();
}

/** Chat rows and message results the arrow keys move through, in screen order. */
function focusable() {
  return [...document.querySelectorAll('#chat-list .chat-item, #search-results-wrap:not([hidden]) .search-result')]
    .filter((node) => !node.closest('[hidden]'));
}

function moveFocus(event) {
  const keys = ['ArrowDown', 'ArrowUp', 'Home', 'End'];
  if (!keys.includes(event.key)) return;
  const items = focusable();
  const at = items.indexOf(document.activeElement);
  if (at < 0) return;
  event.preventDefault();
  let next = at;
  if (event.key === 'ArrowDown') next = Math.min(items.length - 1, at + 1);
  else if (event.key === 'ArrowUp') {
    if (at === 0) return void $('#chat-search').focus();
    next = at - 1;
  } else if (event.key === 'Home') next = 0;
  else next = items.length - 1;
  items[next].focus();
}

function authorOf(chat, message) {
  if (message.sender_id === state.me?.id) return 'You';
  if (chat.type !== 'group') return '';
  return member(chat, message.sender_id)?.name || '';
}

function preview(chat, active) {
  const typing = typingLabel(chat);
  if (typing) return el('span', { class: 'typing-text', text: typing });
  const draft = active ? '' : getDraft(chat.id);
  if (draft) {
    return el('span', {}, [el('span', { class: 'draft-label', text: 'Draft: ' }), el('span', { dir: 'auto', text: snippet(draft, 80) })]);
  }
  const last = chat.last_message;
  if (!last) return el('span', { class: 'muted', text: chat.type === 'group' ? 'Group created' : 'No messages yet' });
  const author = authorOf(chat, last);
  const body = last.deleted
    ? el('span', { class: 'muted', text: 'Message deleted' })
    : el('span', { dir: 'auto', text: snippet(last.text, 120) });
  return el('span', {}, [author ? el('span', { class: 'preview-author', text: `${author}: ` }) : null, body]);
}

function chatItem(chat) {
  const parts = {
    button: null,
    top: el('span', { class: 'chat-item-top' }, [
      el('span', { class: 'chat-item-name', dir: 'auto', 'data-testid': 'chat-name', text: chat.name }),
    ]),
    time: null,
    bottom: null,
    preview: el('span', { class: 'chat-item-preview', 'data-testid': 'chat-preview' }),
    badge: null,
  };
  parts.bottom = el('span', { class: 'chat-item-bottom' }, [parts.preview]);
  parts.button = el('button', {
    type: 'button',
    class: 'chat-item',
    'data-testid': 'chat-item',
    dataset: { chatId: chat.id, chatName: chat.name },
    on: { click: () => openChat(chat.id) },
  }, [
    avatar(chat.name, chat.id, chat.type === 'group' ? 'avatar-group' : ''),
    el('span', { class: 'chat-item-body' }, [parts.top, parts.bottom]),
  ]);
  return { node: el('li', {}, [parts.button]), parts, shown: { identity: `${chat.name}\u0001${chat.type}` } };
}

/** Brings a row up to date, touching only the parts whose content changed (a new message: two or three). */
function updateRow(row, chat, active, unread) {
  const { parts, shown } = row;
  const last = chat.last_message;
  const label = `${chat.name}${chat.type === 'group' ? ' (group)' : ''}${unread ? `, ${unread} unread` : ''}`;
  if (shown.label !== label) {
    parts.button.setAttribute('aria-label', label);
    shown.label = label;
  }
  if (shown.active !== active) {
    if (active) parts.button.setAttribute('aria-current', 'true');
    else parts.button.removeAttribute('aria-current');
    shown.active = active;
  }
  const time = last?.timestamp ?? '';
  if (shown.time !== time) {
    parts.time?.remove();
    parts.time = last ? el('time', { class: 'chat-item-time', datetime: time, text: formatListTime(time) }) : null;
    if (parts.time) parts.top.append(parts.time);
    shown.time = time;
  }
  const previewKey = [
    typingLabel(chat), active ? '' : getDraft(chat.id), last?.id, last?.version, last?.deleted, last?.text,
    last ? authorOf(chat, last) : '',
  ].join('\u0001');
  if (shown.preview !== previewKey) {
    parts.preview.replaceChildren(preview(chat, active));
    shown.preview = previewKey;
  }
  if (shown.unread !== unread) {
    parts.badge?.remove();
    parts.badge = unread ? el('span', { class: 'badge', 'data-testid': 'chat-unread', text: unread > 999 ? '999+' : unread }) : null;
    if (parts.badge) parts.bottom.append(parts.badge);
    shown.unread = unread;
  }
}

const matches = (chat) => !query || chat.name.toLocaleLowerCase().includes(query.toLocaleLowerCase());

/**
 * Renders at the next frame, once for everything that changed meanwhile; in a hidden tab (where
 * frames stop) soon after, so the title and the favicon still count what arrives.
 */
function renderSoon() {
  if (renderQueued) return;
  renderQueued = true;
  const run = () => {
    renderQueued = false;
    renderChatList();
  };
  if (document.visibilityState === 'visible') requestAnimationFrame(run);
  else setTimeout(run, 0);
}

export function renderChatList() {
  const list = $('#chat-list');
  if (!list) return;
  const wanted = [];
  for (const id of state.order) {
    const chat = state.chats.get(id);
    if (!chat) continue;
    const active = chat.id === state.openChatId;
    const unread = active ? 0 : chat.unread_count || 0;
    let row = rows.get(id);
    if (!row || row.shown.identity !== `${chat.name}\u0001${chat.type}`) {
      const fresh = chatItem(chat);
      const hadFocus = row?.node.contains(document.activeElement);
      if (row) row.node.replaceWith(fresh.node);
      row = fresh;
      rows.set(id, row);
      if (hadFocus) row.parts.button.focus();
    }
    updateRow(row, chat, active, unread);
    if (matches(chat)) wanted.push(row.node);
  }
  // Rows of chats that are gone.
  for (const [id, row] of rows) {
    if (!state.chats.has(id)) {
      row.node.remove();
      rows.delete(id);
    }
  }
  // Into the wanted order, moving only what is out of place.
  let cursor = list.firstElementChild;
  for (const node of wanted) {
    if (node === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(node, cursor);
  }
  while (cursor) {
    const next = cursor.nextElementSibling;
    cursor.remove();
    cursor = next;
  }
  $('#chat-list-empty').hidden = wanted.length > 0 || Boolean(query);
  $('#chat-list-no-match').hidden = wanted.length > 0 || !query;
  const hidden = document.visibilityState !== 'visible';
  let unread = 0;
  for (const c of state.chats.values()) unread += c.id === state.openChatId && !hidden ? 0 : c.unread_count || 0;
  const title = unread ? `(${unread > 999 ? '999+' : unread}) Messenger` : 'Messenger';
  if (document.title !== title) document.title = title;
  state.unreadTotal = unread;
  updateBadge();
}

/** Forgets the rows (signing out). */
export function resetChatList() {
  rows.clear();
  clearSearch();
  $('#chat-list').replaceChildren();
}

// ---- message search ---------------------------------------------------------------------------

async function searchMessages() {
  const q = query;
  const seq = ++searchSeq;
  const wrap = $('#search-results-wrap');
  const results = $('#search-results');
  if (!q) {
    wrap.hidden = true;
    results.replaceChildren();
    return;
  }
  wrap.hidden = false;
  $('#search-status').textContent = 'Searching messages…';
  try {
    const found = await api.searchMessages(q, { limit: 30 });
    if (seq !== searchSeq) return; // a newer search is under way
    const shown = found.filter((m) => state.chats.has(m.chat_id) && !m.deleted);
    $('#search-status').textContent = shown.length ? '' : 'No messages found.';
    results.replaceChildren(...shown.map(resultItem));
  } catch (error) {
    if (seq !== searchSeq) return;
    $('#search-status').textContent = '';
    showError(error);
  }
}

function resultItem(message) {
  const chat = state.chats.get(message.chat_id);
  const author = authorOf(chat, message);
  return el('li', {}, [
    el('button', {
      type: 'button', class: 'chat-item search-result', 'data-testid': 'search-result',
      dataset: { chatId: message.chat_id, messageId: message.id },
      on: { click: () => openChat(message.chat_id, { focus: message }) },
    }, [
      avatar(chat.name, chat.id, chat.type === 'group' ? 'avatar-group' : ''),
      el('span', { class: 'chat-item-body' }, [
        el('span', { class: 'chat-item-top' }, [
          el('span', { class: 'chat-item-name', dir: 'auto', text: chat.name }),
          el('time', { class: 'chat-item-time', datetime: message.timestamp, text: formatListTime(message.timestamp) }),
        ]),
        el('span', { class: 'chat-item-bottom' }, [
          el('span', { class: 'chat-item-preview' }, [
            author ? el('span', { class: 'preview-author', text: `${author}: ` }) : null,
            el('span', { dir: 'auto', text: snippet(message.text, 140) }),
          ]),
        ]),
      ]),
    ]),
  ]);
}
