// Entry point: wires the views together, signs in and out (in every tab of the browser at once),
// and navigates between chats with real history entries (Back closes the open chat).

import {
  api, endSession, refreshIfDue, scheduleRefresh, setSessionChangeHandler, setUnauthorizedHandler, token,
} from './api.js';
import { initAuth, showAuth } from './auth.js';
import { initChatList, renderChatList, resetChatList } from './chatlist.js';
import { escapeConversation, hideConversation, initConversation, showConversation } from './conversation.js';
import { confirmDialog, initDialogs, openMembersDialog, openUserDialog } from './dialogs.js';
import { applyDraftStorageEvent, loadDrafts, unloadDrafts } from './drafts.js';
import { initNotifications } from './notify.js';
import { Outbox } from './outbox.js';
import { emit, forgetHeld, on, removeChat, resetState, restoreHeld, state, upsertChat } from './state.js';
import {
  deleteMessage, discardMessage, editMessage, fetchPresence, jumpToLatest, loadMembers, loadNewer, loadOlder,
  loadUntil, markSeen, openConversation, retryMessage, sendMessage, sendTyping, startSync, stopSync, syncNow,
} from './sync.js';
import { flushSeen } from './timeline.js';
import { showError, toast } from './toast.js';
import { $, avatar } from './util.js';

// A safety net: a frame lost with no later one in its chat leaves no seq gap to notice, and the
// server may not know it failed to deliver it. A sync a minute finds it (and keeps held versions fresh).
const SYNC_EVERY_MS = 60_000;
let syncTimer = null;
let signingOut = false;
let entering = null;

/** Enters the messenger with the session stored in this browser (after a sign-in here or in another tab). */
function enterApp() {
  entering ??= enter().finally(() => {
    entering = null;
  });
  return entering;
}

async function enter() {
  const sid = token.sid();
  let me;
  try {
    me = await api.me();
  } catch (error) {
    if (error.status !== 401) showAuth(error.message);
    return;
  }
  if (!sid || token.sid() !== sid) return; // signed out (or in as someone else) meanwhile
  if (state.me) leaveApp(''); // another sign-in replaced the one this tab showed
  signingOut = false;
  state.me = me;
  state.outbox.load(me.id);
  loadDrafts(me.id);
  restoreHeld(); // the chat list a reload kept, shown at once; the sync below brings what changed
  $('#me-name').textContent = me.name;
  $('#me-avatar').replaceChildren(avatar(me.name, me.id));
  $('#auth-view').hidden = true;
  $('#main-view').hidden = false;
  renderConnection();
  scheduleRefresh(); // a reloaded tab plans the refresh of the token it kept
  startSync();
  // A reload keeps the open chat in the address; it becomes a history entry of its own, so that
  // Back closes the chat instead of leaving the messenger.
  const wanted = /^#chat-(\d+)$/.exec(location.hash);
  history.replaceState(null, '', location.pathname + location.search);
  await syncNow();
  if (state.me !== me) return;
  clearInterval(syncTimer);
  syncTimer = setInterval(syncNow, SYNC_EVERY_MS);
  if (wanted && state.chats.has(Number(wanted[1]))) openChat(Number(wanted[1]));
  else if (!state.openChatId) $('#new-chat').focus();
}

/** Leaves the messenger for the sign-in form, keeping what is queued and drafted (per user). */
function leaveApp(message) {
  signingOut = true;
  stopSync();
  clearInterval(syncTimer);
  hideConversation(); // (keeps the open chat's draft)
  if (state.me) forgetHeld(state.me.id);
  resetState();
  unloadDrafts();
  resetChatList();
  document.body.classList.remove('show-conv');
  history.replaceState(null, '', location.pathname + location.search);
  for (const dialog of document.querySelectorAll('dialog[open]')) if (dialog.id !== 'confirm-dialog') dialog.close();
  showAuth(message);
  renderConnection();
}

const messages = (n) => (n === 1 ? 'One message has' : `${n} messages have`);

/**
 * The person signs out. Messages not sent yet are never dropped without asking: they stay in this
 * browser, per user, and go out after that user's next sign-in here, unless the person chooses to
 * discard them.
 */
async function signOutByPerson() {
  if (!state.me || signingOut) return;
  const unsent = state.outbox.items.length;
  if (unsent) {
    const choice = await confirmDialog({
      title: 'Sign out?',
      text: `${messages(unsent)} not been sent yet. ${unsent === 1 ? 'It stays' : 'They stay'} on this device ` +
        'and will be sent when you sign in again here.',
      ok: 'Sign out',
      extra: unsent === 1 ? 'Discard it and sign out' : 'Discard them and sign out',
    });
    if (choice === 'cancel' || !state.me) return;
    if (choice === 'extra') state.outbox.clear();
  }
  endSession(token.refreshToken()); // now, or once the server can be reached
  token.clear(); // every other tab of this browser signs out too (the storage event)
  leaveApp('');
}

/**
 * The session ended on its own: its refresh was refused. It cannot wait for an answer, but what is
 * queued stays, and the person is asked whether to keep it for the next sign-in or discard it.
 */
function sessionEnded() {
  if (!state.me || signingOut) return;
  const me = state.me;
  const unsent = state.outbox.items.length;
  token.clear();
  leaveApp('Your session has ended. Please sign in again.');
  if (!unsent) return;
  confirmDialog({
    title: 'Your session has ended',
    text: `${messages(unsent)} not been sent yet. ${unsent === 1 ? 'It is' : 'They are'} kept on this device ` +
      `and will be sent when you sign in again as ${me.name}.`,
    ok: unsent === 1 ? 'Keep it' : 'Keep them',
    cancel: null,
    extra: unsent === 1 ? 'Discard it' : 'Discard them',
  }).then((choice) => {
    if (choice !== 'extra') return;
    const outbox = new Outbox();
    outbox.load(me.id);
    outbox.clear();
  });
}

/** Another tab signed in or out (or in as someone else). */
function sessionChanged(session) {
  if (!session) {
    if (!state.me || signingOut) return;
    const unsent = state.outbox.items.length;
    leaveApp(unsent
      ? 'You signed out in another tab. Your unsent messages are kept and will be sent after you sign in again.'
      : 'You signed out in another tab.');
    return;
  }
  enterApp().catch(showError);
}

// ---- navigation -----------------------------------------------------------------------------

/**
 * Opens a chat, optionally at a message (`focus`, a search result). Opening one from the chat list
 * adds a history entry (switching between chats replaces it), so Back closes the chat.
 */
async function openChat(chatId, { focus = null, fromHistory = false } = {}) {
  if (!state.chats.has(chatId)) return;
  const previous = state.openChatId;
  if (!fromHistory) {
    const entry = { chat: chatId };
    if (previous || history.state?.chat) history.replaceState(entry, '', `#chat-${chatId}`);
    else history.pushState(entry, '', `#chat-${chatId}`);
  }
  document.body.classList.add('show-conv');
  if (previous === chatId) {
    if (focus) await openConversation(chatId, focus);
    return;
  }
  state.openChatId = chatId;
  showConversation(chatId);
  emit('open');
  const chat = state.chats.get(chatId);
  if (chat.type === 'private') fetchPresence(chat.members?.find((m) => m.id !== state.me.id)?.id);
  loadMembers(chatId); // a large group's names, for its messages
  await openConversation(chatId, focus);
}

/** Back, the back button, Esc: closes the chat through history when it has an entry there. */
function closeChat() {
  if (history.state?.chat) history.back(); // popstate closes it
  else closeChatNow();
}

function closeChatNow() {
  const previous = state.openChatId;
  if (!previous) return;
  state.openChatId = null;
  if (history.state?.chat) history.replaceState(null, '', location.pathname + location.search);
  document.body.classList.remove('show-conv');
  hideConversation();
  emit('open');
  $(`#chat-list .chat-item[data-chat-id="${previous}"]`)?.focus();
}

window.addEventListener('popstate', (event) => {
  if (!state.me) return;
  const chatId = event.state?.chat;
  if (chatId && state.chats.has(chatId)) openChat(chatId, { fromHistory: true });
  else closeChatNow();
});

function chatChanged(chat) {
  upsertChat(chat);
  // Someone I added or removed: no frame tells me of it in a large group, so its list is fetched here.
  if (chat.id === state.openChatId) loadMembers(chat.id);
}

function renderConnection() {
  const status = state.me ? state.connection : 'connecting';
  const queued = state.me ? state.outbox.items.filter((i) => !i.failed).length : 0;
  const waiting = status === 'offline' || navigator.onLine === false ? 'Waiting for network…' : 'Connecting…';
  const words = queued ? `${waiting} ${queued === 1 ? '1 message' : `${queued} messages`} queued` : waiting;
  const node = $('#conn-status');
  node.dataset.state = status;
  node.textContent = status === 'online' ? 'online' : words;
  const bar = $('#net-status');
  bar.hidden = !state.me || status === 'online';
  bar.dataset.queued = String(queued);
  bar.textContent = words;
}

function onEscape(event) {
  if (event.key !== 'Escape' || !state.me) return;
  if (document.querySelector('dialog[open]')) return; // the dialog closes itself
  if (escapeConversation()) {
    event.preventDefault();
    event.stopPropagation();
    return;
  }
  const search = $('#chat-search');
  if (document.activeElement === search && search.value) return; // the search box clears itself
  if (state.openChatId) {
    event.preventDefault();
    closeChat();
  }
}

function init() {
  initAuth(enterApp);
  initChatList(openChat);
  initNotifications(openChat);
  initConversation({
    back: closeChat,
    send: sendMessage,
    edit: editMessage,
    deleteMessage,
    typing: sendTyping,
    loadOlder,
    loadNewer,
    loadUntil,
    jumpToLatest,
    seen: markSeen,
    retry: retryMessage,
    discard: discardMessage,
    showMembers: openMembersDialog,
    confirm: confirmDialog,
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
  on('pending', renderConnection);
  on('chat-gone', (chatId) => {
    if (state.openChatId === chatId) closeChatNow();
    toast('You are no longer a member of that chat.', 'info');
  });
  setUnauthorizedHandler(sessionEnded);
  setSessionChangeHandler(sessionChanged);

  $('#sign-out').addEventListener('click', signOutByPerson);
  $('#new-chat').addEventListener('click', () => openUserDialog('private'));
  $('#new-group').addEventListener('click', () => openUserDialog('group'));
  // Capture: seen before a dialog or the browser acts on it, and before the composer does.
  window.addEventListener('keydown', onEscape, true);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.me) {
      refreshIfDue(); // timers stall while a computer sleeps: the token may be about to expire
      flushSeen(); // what is on screen now counts as seen
    }
    renderChatList(); // (the title and the favicon count the open chat too while the tab is hidden)
  });
  window.addEventListener('focus', () => state.me && flushSeen());
  window.addEventListener('online', () => {
    if (state.me) refreshIfDue();
    renderConnection();
  });
  window.addEventListener('offline', renderConnection);
  // Queued messages and drafts of another tab of this browser.
  window.addEventListener('storage', (event) => {
    if (!state.me) return;
    const chatId = state.outbox.applyStorageEvent(event);
    if (chatId) emit('pending', chatId);
    const draftChat = applyDraftStorageEvent(event);
    if (draftChat && draftChat !== state.openChatId) emit('draft', draftChat);
  });

  renderConnection();
  if (token.get()) enterApp().catch(showError);
  else showAuth();
}

init();
