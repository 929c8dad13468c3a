// The sidebar: my chats, most recent first, with the last message, time and unread badge.

import { on, state, typingLabel } from './state.js';
import { $, avatar, el, formatListTime } from './util.js';

let openChat = () => {};

export function initChatList(open) {
  openChat = open;
  on('chats', renderChatList);
  on('typing', renderChatList);
  on('open', renderChatList);
}

function preview(chat) {
  const typing = typingLabel(chat);
  if (typing) return el('span', { class: 'typing-text', text: typing });
  const last = chat.last_message;
  if (!last) return el('span', { class: 'muted', text: chat.type === 'group' ? 'Group created' : 'No messages yet' });
  const own = last.sender_id === state.me?.id;
  let author = '';
  if (own) author = 'You';
  else if (chat.type === 'group') author = chat.members?.find((m) => m.id === last.sender_id)?.name || '';
  return el('span', {}, [author ? el('span', { class: 'preview-author', text: `${author}: ` }) : null, last.text]);
}

function chatItem(chat) {
  const active = chat.id === state.openChatId;
  const unread = active ? 0 : chat.unread_count || 0;
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
        el('span', { class: 'chat-item-name', 'data-testid': 'chat-name', text: chat.name }),
        last ? el('time', { class: 'chat-item-time', datetime: last.timestamp, text: formatListTime(last.timestamp) }) : null,
      ]),
      el('span', { class: 'chat-item-bottom' }, [
        el('span', { class: 'chat-item-preview', 'data-testid': 'chat-preview' }, [preview(chat)]),
        unread ? el('span', { class: 'badge', 'data-testid': 'chat-unread', text: unread > 999 ? '999+' : unread }) : null,
      ]),
    ]),
  ]);
  return el('li', {}, [button]);
}

export function renderChatList() {
  const list = $('#chat-list');
  if (!list) return;
  const focusedId = document.activeElement?.closest?.('.chat-item')?.dataset.chatId;
  const items = state.order.map((id) => state.chats.get(id)).filter(Boolean).map(chatItem);
  list.replaceChildren(...items);
  $('#chat-list-empty').hidden = items.length > 0;
  if (focusedId) list.querySelector(`.chat-item[data-chat-id="${CSS.escape(focusedId)}"]`)?.focus();
  const hidden = document.visibilityState !== 'visible';
  const unread = [...state.chats.values()].reduce((n, c) => n + (c.id === state.openChatId && !hidden ? 0 : c.unread_count || 0), 0);
  document.title = unread ? `(${unread}) Messenger` : 'Messenger';
}
