// The sidebar: my chats, most recent first, with the last message (or my draft), time and unread
// badge; a search box that filters the chats by name and finds messages (GET /search/messages).
// Each chat's row is built again only when something it shows changed, and rows are moved rather
// than rebuilt when the order changes. Arrow keys move between chats.

import { api } from './api.js';
import { getDraft } from './drafts.js';
import { on, state, typingLabel } from './state.js';
import { showError } from './toast.js';
import { $, avatar, debounce, el, formatListTime, snippet } from './util.js';

let openChat = () => {};
const rows = new Map(); // chat id -> { node, signature }
let query = '';
let searchSeq = 0;

export function initChatList(open) {
  openChat = open;
  on('chats', renderChatList);
  on('typing', renderChatList);
  on('open', renderChatList);
  on('draft', renderChatList);
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
  return chat.members?.find((m) => m.id === message.sender_id)?.name || '';
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

function signatureOf(chat, active, unread) {
  const last = chat.last_message;
  return [
    chat.name, chat.type, active, unread, typingLabel(chat), active ? '' : getDraft(chat.id),
    last?.id, last?.version, last?.deleted, last?.text, last?.timestamp, last?.sender_id,
  ].join('\u0001');
}

function chatItem(chat, active, unread) {
  const last = chat.last_message;
  const label = `${chat.name}${chat.type === 'group' ? ' (group)' : ''}${unread ? `, ${unread} unread` : ''}`;
  const button = el('button', {
    type: 'button',
    class: 'chat-item',
    'aria-current': active ? 'true' : false,
    'aria-label': label,
    'data-testid': 'chat-item',
    dataset: { chatId: chat.id, chatName: chat.name },
    on: { click: () => openChat(chat.id) },
  }, [
    avatar(chat.name, chat.id, chat.type === 'group' ? 'avatar-group' : ''),
    el('span', { class: 'chat-item-body' }, [
      el('span', { class: 'chat-item-top' }, [
        el('span', { class: 'chat-item-name', dir: 'auto', 'data-testid': 'chat-name', text: chat.name }),
        last ? el('time', { class: 'chat-item-time', datetime: last.timestamp, text: formatListTime(last.timestamp) }) : null,
      ]),
      el('span', { class: 'chat-item-bottom' }, [
        el('span', { class: 'chat-item-preview', 'data-testid': 'chat-preview' }, [preview(chat, active)]),
        unread ? el('span', { class: 'badge', 'data-testid': 'chat-unread', text: unread > 999 ? '999+' : unread }) : null,
      ]),
    ]),
  ]);
  return el('li', {}, [button]);
}

const matches = (chat) => !query || chat.name.toLocaleLowerCase().includes(query.toLocaleLowerCase());

export function renderChatList() {
  const list = $('#chat-list');
  if (!list) return;
  const wanted = [];
  for (const id of state.order) {
    const chat = state.chats.get(id);
    if (!chat) continue;
    const active = chat.id === state.openChatId;
    const unread = active ? 0 : chat.unread_count || 0;
    const signature = signatureOf(chat, active, unread);
    let row = rows.get(id);
    if (!row || row.signature !== signature) {
      const node = chatItem(chat, active, unread);
      const hadFocus = row?.node.contains(document.activeElement);
      if (row) row.node.replaceWith(node);
      row = { node, signature };
      rows.set(id, row);
      if (hadFocus) node.querySelector('.chat-item').focus();
    }
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
