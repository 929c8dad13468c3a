// The open conversation: its header (name, members or presence, typing), the message list
// (timeline.js), the message menu (reply, edit, copy, delete) and the composer (drafts, replies,
// edits, the length limit).

import { getDraft, setDraft } from './drafts.js';
import { conv, emit, memberCount, memberName, on, state, typingLabel } from './state.js';
import {
  applyMembers, applyMessages, applyPending, applyService, applyStatuses, closeTimeline, focusMessage, initTimeline,
  lastEditable, nearTop, openTimeline, position, scrollToBottomSmooth, toBottom, updateJump,
} from './timeline.js';
import { toast } from './toast.js';
import { $, avatar, charCount, debounce, lastSeenLabel, snippet } from './util.js';

/** The server's limit, in characters (Unicode scalar values). */
export const MAX_MESSAGE_CHARS = 4096;
const TYPING_EVERY_MS = 3000;
const PRESENCE_REFRESH_MS = 30_000;

let actions = {};
let lastTypingSent = 0;
let mode = null; // { kind: 'reply' | 'edit', chatId, message } while replying to or editing a message
let presenceTimer = null;
let menuFor = null; // the message the open menu is about

export function initConversation(handlers) {
  actions = handlers;
  initTimeline({
    seen: (chatId, id) => actions.seen(chatId, id),
    menu: openMenu,
    quote: showOriginal,
    retry: (clientId) => actions.retry(clientId),
    discard: (clientId) => actions.discard(clientId),
    info: (text) => toast(text, 'info'),
    scrolled: ({ nearTop: top, nearBottom }) => {
      const chatId = state.openChatId;
      if (!chatId) return;
      if (top) actions.loadOlder(chatId);
      if (nearBottom && conv(chatId).hasNewer) actions.loadNewer(chatId);
    },
  });
  $('#jump-bottom').addEventListener('click', () => {
    const chatId = state.openChatId;
    if (!chatId) return;
    if (conv(chatId).hasNewer) actions.jumpToLatest(chatId);
    else scrollToBottomSmooth();
  });
  $('#conv-back').addEventListener('click', () => actions.back());
  $('#conv-info').addEventListener('click', () => actions.showMembers(state.openChatId));
  initComposer();
  initMenu();

  on('typing', (chatId) => chatId === state.openChatId && renderSubtitle());
  on('chats', () => {
    if (!state.openChatId) return;
    renderHeader();
    updateJump();
  });
  on('presence', (userId) => userId === peerOf(state.chats.get(state.openChatId)) && renderSubtitle());
  on('messages', (change) => {
    applyMessages(change);
    if (change.chatId === state.openChatId && change.added.length) renderHistoryStatus(change.chatId);
    if (mode && change.chatId === mode.chatId) {
      const now = change.changed.find((m) => m.id === mode.message.id);
      if (now?.deleted) cancelMode(); // the message being edited or answered was deleted
    }
  });
  on('pending', (chatId) => {
    applyPending(chatId);
    if (chatId === state.openChatId) renderHistoryStatus(chatId);
  });
  on('statuses', applyStatuses);
  on('members', (chatId) => {
    applyMembers(chatId); // names of a large group's members, and who has read
    applyStatuses(chatId);
  });
  on('service', applyService);
  on('unread', (chatId) => chatId === state.openChatId && updateJump());
  on('position', (where) => {
    position(where);
    loadMoreIfShort(where.chatId);
  });
  on('conv-reset', (chatId) => chatId === state.openChatId && openTimeline(chatId));
  on('conv-status', (chatId) => {
    if (chatId !== state.openChatId) return;
    applyService(chatId); // lines of the part that just loaded
    renderHistoryStatus(chatId);
    loadMoreIfShort(chatId);
  });
  on('sent', (chatId) => {
    if (chatId !== state.openChatId) return;
    if (conv(chatId).hasNewer) actions.jumpToLatest(chatId);
    else toBottom();
  });
}

/**
 * A page that does not fill the view (or a person already at the top) wants the page before it.
 * Looked at in the next frame, once the view has been placed where it goes.
 */
function loadMoreIfShort(chatId) {
  requestAnimationFrame(() => {
    const c = state.convs.get(chatId);
    if (chatId !== state.openChatId || !c?.ready || c.loadingOlder || !c.hasMore) return;
    if (nearTop()) actions.loadOlder(chatId);
  });
}

// ---- opening and closing --------------------------------------------------------------------

export function showConversation(chatId) {
  const chat = state.chats.get(chatId);
  saveDraftNow();
  cancelMode({ restoreDraft: false });
  closeMenu();
  $('#conv-placeholder').hidden = true;
  $('#conv-pane').hidden = false;
  $('#conv-pane').dataset.chatId = String(chatId);
  renderHeader(chat);
  openTimeline(chatId);
  renderHistoryStatus(chatId);
  const input = $('#composer-input');
  input.value = getDraft(chatId);
  composerChanged({ draft: false });
  if (window.matchMedia('(min-width: 700px)').matches) {
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  } else {
    $('#conv-back').focus();
  }
  clearInterval(presenceTimer);
  presenceTimer = setInterval(() => renderSubtitle(), PRESENCE_REFRESH_MS); // "last seen 5 minutes ago" ages
}

export function hideConversation() {
  saveDraftNow();
  cancelMode({ restoreDraft: false });
  closeMenu();
  clearInterval(presenceTimer);
  closeTimeline();
  $('#conv-pane').hidden = true;
  $('#conv-placeholder').hidden = false;
  delete $('#conv-pane').dataset.chatId;
  $('#composer-input').value = '';
}

// ---- header -----------------------------------------------------------------------------------

function peerOf(chat) {
  if (chat?.type !== 'private') return null;
  return chat.members?.find((m) => m.id !== state.me?.id)?.id ?? null;
}

export function renderHeader(chat = state.chats.get(state.openChatId)) {
  if (!chat) return;
  const title = $('#conv-title');
  if (title.textContent !== chat.name) title.textContent = chat.name;
  const avatarHost = $('#conv-avatar');
  if (avatarHost.dataset.for !== `${chat.id}:${chat.name}`) {
    avatarHost.replaceChildren(avatar(chat.name, chat.id, chat.type === 'group' ? 'avatar-group' : ''));
    avatarHost.dataset.for = `${chat.id}:${chat.name}`;
  }
  $('#conv-info').hidden = chat.type !== 'group';
  renderSubtitle(chat);
}

function renderSubtitle(chat = state.chats.get(state.openChatId)) {
  if (!chat) return;
  const subtitle = $('#conv-subtitle');
  const typing = typingLabel(chat);
  subtitle.classList.toggle('typing-text', Boolean(typing));
  subtitle.dataset.typing = typing ? 'true' : 'false';
  let text;
  let presence = '';
  if (typing) text = typing;
  else if (chat.type === 'group') text = `${memberCount(chat)} members`;
  else {
    const known = state.presence.get(peerOf(chat));
    presence = known ? (known.online ? 'online' : 'offline') : '';
    text = known ? lastSeenLabel(known) : '';
  }
  subtitle.dataset.presence = presence;
  subtitle.classList.toggle('is-online', presence === 'online' && !typing);
  if (subtitle.textContent !== text) subtitle.textContent = text;
}

function renderHistoryStatus(chatId) {
  const c = conv(chatId);
  const status = $('#history-status');
  let text = '';
  if (!c.ready) text = 'Loading messages…';
  else if (c.loadingOlder) text = 'Loading earlier messages…';
  else if (!c.hasMore) text = c.list.length || state.outbox.forChat(chatId).length ? 'This is the beginning of the conversation.' : 'No messages yet. Say hello!';
  if (status.textContent !== text) status.textContent = text;
  const newer = $('#newer-status');
  if (newer.hidden !== !c.hasNewer) newer.hidden = !c.hasNewer;
  const below = c.loadingNewer ? 'Loading newer messages…' : 'Scroll down for newer messages';
  if (newer.textContent !== below) newer.textContent = below;
}

// ---- a reply's original --------------------------------------------------------------------

async function showOriginal(chatId, messageId) {
  if (focusMessage(messageId)) return;
  toast('Loading the original message…', 'info');
  const found = await actions.loadUntil(chatId, messageId);
  if (state.openChatId !== chatId) return;
  if (!found || !focusMessage(messageId)) toast('The original message is not available.', 'info');
}

// ---- the message menu ---------------------------------------------------------------------

function canDelete(chat, message) {
  if (message.deleted || !message.id) return false;
  return message.sender_id === state.me?.id || (chat?.type === 'group' && chat.creator_id === state.me?.id);
}

function initMenu() {
  const menu = $('#message-menu');
  menu.addEventListener('click', (event) => {
    const item = event.target.closest('[data-item]');
    if (!item || !menuFor) return;
    const message = menuFor;
    closeMenu();
    runMenuItem(item.dataset.item, message);
  });
  menu.addEventListener('keydown', (event) => {
    const items = [...menu.querySelectorAll('[data-item]:not([hidden])')];
    const at = items.indexOf(document.activeElement);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = (at + (event.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
      items[next]?.focus();
    } else if (event.key === 'Tab') {
      closeMenu();
    }
  });
  document.addEventListener('pointerdown', (event) => {
    if (menuFor && !event.target.closest('#message-menu')) closeMenu(false);
  });
  window.addEventListener('resize', () => closeMenu(false));
  // The person scrolling away closes it (not a scroll of the page's own, which may just have begun).
  for (const type of ['wheel', 'touchmove']) {
    $('#message-scroller').addEventListener(type, () => menuFor && closeMenu(false), { passive: true });
  }
}

let menuReturnFocus = null;

function openMenu(message, anchor, point) {
  const chat = state.chats.get(state.openChatId);
  if (!chat || !message?.id || message.deleted) return;
  const menu = $('#message-menu');
  const own = message.sender_id === state.me?.id;
  menu.querySelector('[data-item="edit"]').hidden = !own;
  menu.querySelector('[data-item="delete"]').hidden = !canDelete(chat, message);
  menuFor = message;
  menuReturnFocus = anchor?.closest?.('.msg')?.querySelector('.msg-actions') || document.activeElement;
  menu.hidden = false;
  const rect = anchor.getBoundingClientRect();
  const x = point ? point.x : (own ? rect.left - menu.offsetWidth : rect.right);
  const y = point ? point.y : rect.top;
  menu.style.left = `${Math.max(8, Math.min(x, window.innerWidth - menu.offsetWidth - 8))}px`;
  menu.style.top = `${Math.max(8, Math.min(y, window.innerHeight - menu.offsetHeight - 8))}px`;
  menu.querySelector('[data-item]:not([hidden])')?.focus();
}

/** Closes the message menu; returns whether it was open. */
export function closeMenu(restoreFocus = true) {
  if (!menuFor) return false;
  menuFor = null;
  $('#message-menu').hidden = true;
  if (restoreFocus && menuReturnFocus?.isConnected) menuReturnFocus.focus();
  menuReturnFocus = null;
  return true;
}

async function runMenuItem(item, message) {
  const chatId = message.chat_id;
  if (item === 'reply') startMode('reply', message);
  else if (item === 'edit') startMode('edit', message);
  else if (item === 'copy') {
    try {
      await navigator.clipboard.writeText(message.text);
      toast('Copied.', 'info');
    } catch {
      toast('Could not copy: select the text instead.', 'info');
    }
  } else if (item === 'delete') {
    const choice = await actions.confirm({
      title: 'Delete message?',
      text: 'It will be deleted for everyone in this chat.',
      ok: 'Delete',
      danger: true,
    });
    if (choice === 'ok') await actions.deleteMessage(chatId, message.id);
  }
}

// ---- composer ---------------------------------------------------------------------------------

function initComposer() {
  const input = $('#composer-input');
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === 'Escape' && mode) {
      event.preventDefault();
      event.stopPropagation();
      cancelMode();
    } else if (event.key === 'ArrowUp' && !input.value && !mode && !event.shiftKey && !event.altKey) {
      const last = lastEditable();
      if (last) {
        event.preventDefault();
        startMode('edit', last);
      }
    }
  });
  input.addEventListener('input', () => {
    composerChanged({ draft: true });
    if (input.value.trim() && mode?.kind !== 'edit' && Date.now() - lastTypingSent > TYPING_EVERY_MS) {
      lastTypingSent = Date.now();
      actions.typing(state.openChatId);
    }
  });
  $('#composer').addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  $('#composer-cancel').addEventListener('click', () => {
    cancelMode();
    input.focus();
  });
  window.addEventListener('pagehide', saveDraftNow);
}

function autoGrow(input) {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

const saveDraftSoon = debounce(() => saveDraftNow(), 400);

/** Keeps what is typed in the open chat as its draft (not while editing a message: that is not a draft). */
function saveDraftNow() {
  // The chat the composer belongs to: when switching chats, state already names the next one.
  const chatId = Number($('#conv-pane').dataset.chatId);
  if (!chatId || mode?.kind === 'edit' || !state.chats.has(chatId)) return;
  if (setDraft(chatId, $('#composer-input').value)) emit('draft', chatId);
}

/** The composer's text changed: its height, the length limit, the draft. */
function composerChanged({ draft }) {
  const input = $('#composer-input');
  autoGrow(input);
  const count = charCount(input.value);
  const over = count > MAX_MESSAGE_CHARS;
  const limit = $('#composer-limit');
  limit.hidden = !over;
  if (over) {
    limit.textContent = `Messages are limited to ${MAX_MESSAGE_CHARS} characters ` +
      `(this one has ${count.toLocaleString()}: remove ${(count - MAX_MESSAGE_CHARS).toLocaleString()}).`;
  }
  input.setAttribute('aria-invalid', over ? 'true' : 'false');
  $('#send-button').setAttribute('aria-disabled', over ? 'true' : 'false');
  $('#composer').classList.toggle('over-limit', over);
  if (draft) saveDraftSoon();
}

async function submit() {
  const input = $('#composer-input');
  const chatId = state.openChatId;
  const text = input.value.trim();
  if (!chatId) return;
  if (charCount(text) > MAX_MESSAGE_CHARS) {
    composerChanged({ draft: false });
    $('#composer-limit').hidden = false;
    input.focus();
    return; // never cut: the person decides what to remove
  }
  if (mode?.kind === 'edit') {
    const { message } = mode;
    if (!text || text === message.text) {
      cancelMode();
      return;
    }
    const saved = await actions.edit(chatId, message.id, text);
    if (saved && mode?.message === message) cancelMode();
    return;
  }
  if (!text) return;
  const replyTo = mode?.kind === 'reply' ? mode.message.id : null;
  input.value = '';
  lastTypingSent = 0;
  if (mode) cancelMode({ restoreDraft: false });
  setDraft(chatId, '');
  emit('draft', chatId);
  composerChanged({ draft: false });
  actions.send(chatId, text, replyTo);
}

function startMode(kind, message) {
  const input = $('#composer-input');
  if (mode?.kind !== 'edit') saveDraftNow(); // what was typed stays the draft while editing
  mode = { kind, chatId: message.chat_id, message };
  const author = memberName(message.chat_id, message.sender_id);
  $('#composer-context').hidden = false;
  $('#composer-context').dataset.mode = kind;
  $('#composer-context-title').textContent = kind === 'edit' ? 'Edit message' : `Reply to ${author}`;
  $('#composer-context-text').textContent = snippet(message.text, 100);
  if (kind === 'edit') input.value = message.text; // (a reply keeps what is typed)
  composerChanged({ draft: false });
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

/** Leaves reply or edit mode; returns whether there was one. */
export function cancelMode({ restoreDraft = true } = {}) {
  if (!mode) return false;
  const wasEdit = mode.kind === 'edit';
  const chatId = mode.chatId;
  mode = null;
  $('#composer-context').hidden = true;
  delete $('#composer-context').dataset.mode;
  if (wasEdit && restoreDraft && chatId === state.openChatId) {
    $('#composer-input').value = getDraft(chatId);
    composerChanged({ draft: false });
  }
  return true;
}

/** Esc inside the conversation: closes the menu, else leaves reply or edit mode. Returns whether it did. */
export function escapeConversation() {
  return closeMenu() || cancelMode();
}
