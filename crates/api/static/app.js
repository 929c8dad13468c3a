// Entry point: wires the views together, signs in and out, and navigates between chats.

import { api, refreshIfDue, scheduleRefresh, setUnauthorizedHandler, token } from './api.js';
import { initAuth, showAuth } from './auth.js';
import { initChatList } from './chatlist.js';
import { hideConversation, initConversation, renderMessages, showConversation } from './conversation.js';
import { initDialogs, openMembersDialog, openUserDialog } from './dialogs.js';
import { conv, emit, forgetHeld, on, removeChat, resetState, restoreHeld, state, upsertChat } from './state.js';
import {
  catchUp, discardMessage, loadLatest, loadOlder, markRead, retryMessage, sendMessage, sendTyping, startSync,
  stopSync, syncNow,
} from './sync.js';
import { showError, toast } from './toast.js';
import { $, avatar } from './util.js';

// A safety net: a frame lost with no later one in its chat leaves no seq gap to notice, and the
// server may not know it failed to deliver it. A sync a minute finds it (and keeps held versions fresh).
const SYNC_EVERY_MS = 60_000;
let syncTimer = null;
let signingOut = false;

async function enterApp() {
  let me;
  try {
    me = await api.me();
  } catch (error) {
    if (error.status !== 401) showAuth(error.message);
    return;
  }
  signingOut = false;
  state.me = me;
  state.outbox.load(me.id);
  restoreHeld(); // the chat list a reload kept, shown at once; the sync below brings what changed
  $('#me-name').textContent = me.name;
  $('#me-avatar').replaceChildren(avatar(me.name, me.id));
  $('#auth-view').hidden = true;
  $('#main-view').hidden = false;
  scheduleRefresh(); // a reloaded tab plans the refresh of the token it kept
  startSync();
  await syncNow();
  clearInterval(syncTimer);
  syncTimer = setInterval(syncNow, SYNC_EVERY_MS);
  const wanted = /^#chat-(\d+)$/.exec(location.hash);
  if (wanted && state.chats.has(Number(wanted[1]))) openChat(Number(wanted[1]));
  else $('#new-chat').focus();
}

/**
 * Signs out: by the person (`manual`, which ends the session on the server too) or because the
 * session ended (its refresh was refused). Messages not sent yet are never dropped: the outbox stays
 * in this tab's storage, per user, and goes out after that user's next sign-in here; a manual sign-out
 * with some in it asks first.
 */
function signOut(message = '', { manual = false } = {}) {
  if (signingOut) return;
  const unsent = state.me ? state.outbox.items.length : 0;
  if (manual && unsent) {
    const what = unsent === 1 ? 'One message has' : `${unsent} messages have`;
    const ok = window.confirm(`${what} not been sent yet. ${unsent === 1 ? 'It stays' : 'They stay'} on this ` +
      `device and will be sent when you sign in again here. Sign out now?`);
    if (!ok) return;
  }
  signingOut = true;
  const refreshToken = token.refreshToken();
  if (manual && refreshToken) api.logout(refreshToken).catch(() => {}); // best effort: offline, it simply expires
  stopSync();
  clearInterval(syncTimer);
  token.clear();
  if (state.me) forgetHeld(state.me.id); // (the outbox stays: see above)
  if (!manual && unsent) {
    message = `${message} Your unsent ${unsent === 1 ? 'message is' : 'messages are'} kept and will be sent ` +
      'after you sign in again.';
  }
  resetState();
  hideConversation();
  document.body.classList.remove('show-conv');
  history.replaceState(null, '', location.pathname);
  $('#chat-list').replaceChildren();
  showAuth(message);
}

async function openChat(chatId) {
  if (!state.chats.has(chatId)) return;
  state.openChatId = chatId;
  history.replaceState(null, '', `#chat-${chatId}`);
  document.body.classList.add('show-conv');
  showConversation(chatId);
  emit('open');
  if (conv(chatId).ready) await catchUp(chatId);
  else await loadLatest(chatId);
}

function closeChat() {
  const previous = state.openChatId;
  state.openChatId = null;
  history.replaceState(null, '', location.pathname);
  document.body.classList.remove('show-conv');
  hideConversation();
  emit('open');
  $(`.chat-item[data-chat-id="${previous}"]`)?.focus();
}

function chatChanged(chat) {
  upsertChat(chat);
  if (state.openChatId === chat.id) renderMessages();
}

function renderConnection(status) {
  const node = $('#conn-status');
  const waiting = state.outbox.pending().length;
  const words = {
    online: 'online',
    connecting: waiting ? 'Connecting… (messages queued)' : 'Connecting…',
    offline: 'Offline: will send when back',
  };
  node.dataset.state = status;
  node.textContent = words[status] || status;
}

function init() {
  initAuth(enterApp);
  initChatList(openChat);
  initConversation({
    back: closeChat,
    send: sendMessage,
    typing: sendTyping,
    loadOlder,
    markRead,
    retry: retryMessage,
    discard: discardMessage,
    showMembers: openMembersDialog,
  });
  initDialogs({
    chatOpened: async (chat) => {
      upsertChat(chat);
      await openChat(chat.id);
    },
    chatChanged,
    chatLeft: (chatId) => {
      if (state.openChatId === chatId) closeChat();
      removeChat(chatId);
    },
  });
  on('connection', renderConnection);
  on('chat-gone', (chatId) => {
    if (state.openChatId === chatId) closeChat();
    toast('You are no longer a member of that chat.', 'info');
  });
  setUnauthorizedHandler(() => signOut('Your session has ended. Please sign in again.'));

  $('#sign-out').addEventListener('click', () => signOut('', { manual: true }));
  $('#new-chat').addEventListener('click', () => openUserDialog('private'));
  $('#new-group').addEventListener('click', () => openUserDialog('group'));
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && state.openChatId && !document.querySelector('dialog[open]') &&
      window.matchMedia('(max-width: 699px)').matches) closeChat();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.me) {
      refreshIfDue(); // timers stall while a computer sleeps: the token may be about to expire
      markRead();
    }
  });
  window.addEventListener('focus', () => state.me && markRead());
  window.addEventListener('online', () => state.me && refreshIfDue());

  if (token.get()) enterApp().catch(showError);
  else showAuth();
}

init();
