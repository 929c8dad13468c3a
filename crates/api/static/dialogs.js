// Dialogs: find people for a private chat, create a group, see / add / remove / leave members, and
// the page's own confirmation dialog (never window.confirm). An error while a dialog is open shows
// inside it (toast.js): the modal's backdrop would hide a toast.

import { api } from './api.js';
import { addServiceLines, isPartial, memberCount, membersOf, on, state } from './state.js';
import { loadMembers } from './sync.js';
import { raiseToasts, showError } from './toast.js';
import { $, avatar, debounce, el } from './util.js';

let actions = {};
let mode = 'private'; // 'private' | 'group' | 'add'
let selected = new Map(); // user id -> User (group mode)
let searchSeq = 0;

export function initDialogs(handlers) {
  actions = handlers;
  $('#user-search').addEventListener('input', debounce(search, 250));
  $('#user-dialog-form').addEventListener('submit', (event) => event.preventDefault());
  $('#user-dialog-cancel').addEventListener('click', () => $('#user-dialog').close());
  $('#user-dialog-submit').addEventListener('click', createGroup);
  $('#members-close').addEventListener('click', () => $('#members-dialog').close());
  $('#members-list').addEventListener('click', (event) => {
    const button = event.target.closest('[data-remove-user]');
    if (button) removeMember(Number(button.dataset.removeUser));
  });
  for (const dialog of document.querySelectorAll('dialog')) {
    dialog.addEventListener('close', () => clearDialogError(dialog));
  }
  initConfirm();
  $('#members-leave').addEventListener('click', leaveGroup);
  $('#members-add').addEventListener('click', () => {
    $('#members-dialog').close();
    openUserDialog('add');
  });
  on('members', rerenderMembers);
}

export function openUserDialog(nextMode) {
  mode = nextMode;
  selected = new Map();
  const titles = { private: 'New chat', group: 'New group', add: 'Add a member' };
  $('#user-dialog-title').textContent = titles[mode];
  $('#group-name-row').hidden = mode !== 'group';
  $('#group-name').value = '';
  $('#user-dialog-submit').hidden = mode !== 'group';
  $('#user-search').value = '';
  $('#user-search-label').textContent = mode === 'group' ? 'Add people by name or email' : 'Find people by name or email';
  $('#user-results').replaceChildren();
  renderSelected();
  clearDialogError($('#user-dialog'));
  $('#user-dialog').showModal();
  raiseToasts();
  (mode === 'group' ? $('#group-name') : $('#user-search')).focus();
}

async function search() {
  const q = $('#user-search').value.trim();
  const seq = ++searchSeq;
  const results = $('#user-results');
  if (!q) {
    results.replaceChildren();
    return;
  }
  try {
    const users = await api.searchUsers(q);
    if (seq !== searchSeq) return; // a newer search is under way
    const chat = state.chats.get(state.openChatId);
    const members = mode === 'add' ? membersOf(chat) : [];
    const shown = users.filter((u) => u.id !== state.me.id && !members.some((m) => m.id === u.id));
    if (!shown.length) {
      results.replaceChildren(el('li', { class: 'empty-hint', text: 'Nobody found.' }));
      return;
    }
    results.replaceChildren(...shown.map(userRow));
  } catch (error) {
    showError(error);
  }
}

function userRow(user) {
  const picked = selected.has(user.id);
  return el('li', {}, [
    el('button', {
      type: 'button',
      class: 'user-row',
      'data-testid': 'user-result',
      'aria-pressed': mode === 'group' ? String(picked) : false,
      // Other people's email is private: the server sends it only for an exact email search.
      dataset: user.email ? { userId: user.id, email: user.email } : { userId: user.id },
      on: { click: () => pick(user) },
    }, [
      avatar(user.name, user.id),
      el('span', { class: 'user-row-text' }, [
        el('span', { class: 'user-row-name', dir: 'auto', text: user.name }),
        user.email ? el('span', { class: 'user-row-email', text: user.email }) : null,
      ]),
      mode === 'group' ? el('span', { class: 'check', 'aria-hidden': 'true', text: picked ? '✓' : '' }) : null,
    ]),
  ]);
}

async function pick(user) {
  if (mode === 'group') {
    if (selected.has(user.id)) selected.delete(user.id);
    else selected.set(user.id, user);
    renderSelected();
    search();
    return;
  }
  try {
    if (mode === 'private') {
      const chat = await api.openPrivate(user.id);
      $('#user-dialog').close();
      await actions.chatOpened(chat);
    } else {
      const chat = await api.addMember(state.openChatId, user.id);
      $('#user-dialog').close();
      actions.chatChanged(chat);
    }
  } catch (error) {
    showError(error);
  }
}

function renderSelected() {
  const chips = $('#selected-users');
  chips.hidden = selected.size === 0;
  chips.replaceChildren(...[...selected.values()].map((user) => el('li', { class: 'chip' }, [
    el('span', { dir: 'auto', text: user.name }),
    el('button', { type: 'button', class: 'chip-remove', 'aria-label': `Remove ${user.name}`, text: '×', on: { click: () => pick(user) } }),
  ])));
}

async function createGroup() {
  const name = $('#group-name').value.trim();
  if (!name) {
    showError({ message: 'Please give the group a name.' }); // (shown in the dialog, which is open)
    $('#group-name').focus();
    return;
  }
  try {
    const chat = await api.createGroup(name, [...selected.keys()]);
    $('#user-dialog').close();
    await actions.chatOpened(chat);
  } catch (error) {
    showError(error);
  }
}

export function openMembersDialog(chatId) {
  const chat = state.chats.get(chatId);
  if (!chat) return;
  renderMembers(chat);
  clearDialogError($('#members-dialog'));
  $('#members-dialog').showModal();
  raiseToasts();
  loadMembers(chatId); // a large group's list (renders again when it arrives)
  api.chat(chatId).then((fresh) => {
    actions.chatChanged(fresh);
    rerenderMembers(chatId);
  }).catch(() => {});
}

/** Shows the members dialog again if it is open on the chat. */
function rerenderMembers(chatId) {
  const now = state.chats.get(chatId);
  if (now && $('#members-dialog').open && $('#members-dialog').dataset.chatId === String(chatId)) renderMembers(now);
}

function renderMembers(chat) {
  const creator = chat.creator_id === state.me.id;
  const members = membersOf(chat);
  $('#members-dialog').dataset.chatId = String(chat.id);
  $('#members-dialog-title').textContent = `${chat.name}: ${memberCount(chat)} members`;
  const loading = members.length < memberCount(chat) ? [el('li', { class: 'empty-hint', text: 'Loading members…' })] : [];
  $('#members-list').replaceChildren(...members.map((m) => el('li', { class: 'user-row static', 'data-testid': 'member', dataset: { userId: m.id } }, [
    avatar(m.name, m.id),
    el('span', { class: 'user-row-text' }, [
      el('span', { class: 'user-row-name', dir: 'auto', text: m.id === state.me.id ? `${m.name} (you)` : m.name }),
      el('span', { class: 'user-row-email', text: m.id === chat.creator_id ? 'creator' : 'member' }),
    ]),
    creator && m.id !== state.me.id
      ? el('button', {
        type: 'button', class: 'danger small', 'data-testid': 'member-remove', dataset: { removeUser: m.id },
        'aria-label': `Remove ${m.name} from the group`, text: 'Remove',
      })
      : null,
  ])), ...loading);
  $('#members-add').hidden = !creator;
}

/** The creator removes someone from the group. */
async function removeMember(userId) {
  const chatId = Number($('#members-dialog').dataset.chatId);
  const chat = state.chats.get(chatId);
  const person = membersOf(chat).find((m) => m.id === userId);
  if (!chat || !person) return;
  const choice = await confirmDialog({
    title: `Remove ${person.name}?`,
    text: `${person.name} will no longer see new messages in “${chat.name}”.`,
    ok: 'Remove',
    danger: true,
  });
  if (choice !== 'ok') return;
  try {
    await api.removeMember(chatId, userId);
    const now = state.chats.get(chatId);
    if (!now) return;
    now.former = { ...now.former, [userId]: person.name };
    addServiceLines(now, [{ userId, text: `You removed ${person.name}` }]);
    if (isPartial(now)) {
      // A large group: no frame tells me how it is now, so ask (its list is fetched again then).
      api.chat(chatId).then(actions.chatChanged, () => {});
    } else {
      // Noted here, and the member list changed in place, so neither this nor the sync that follows
      // finds a change of its own to note as "left".
      now.members = now.members.filter((m) => m.id !== userId);
      actions.chatChanged({ ...now });
    }
    if ($('#members-dialog').open) renderMembers(state.chats.get(chatId));
  } catch (error) {
    showError(error);
  }
}

async function leaveGroup() {
  const chatId = state.openChatId;
  const chat = state.chats.get(chatId);
  if (!chat) return;
  const choice = await confirmDialog({
    title: `Leave “${chat.name}”?`,
    text: 'You will stop receiving its messages.',
    ok: 'Leave group',
    danger: true,
  });
  if (choice !== 'ok') return;
  try {
    await api.removeMember(chatId, state.me.id);
    $('#members-dialog').close();
    actions.chatLeft(chatId);
  } catch (error) {
    showError(error);
  }
}

// ---- errors inside a dialog ------------------------------------------------------------------

function clearDialogError(dialog) {
  const box = dialog?.querySelector('.dialog-error');
  if (box) {
    box.textContent = '';
    box.hidden = true;
  }
}

// ---- the page's confirmation dialog ------------------------------------------------------------

let settle = null;

function initConfirm() {
  const dialog = $('#confirm-dialog');
  for (const [id, answer] of [['#confirm-ok', 'ok'], ['#confirm-cancel', 'cancel'], ['#confirm-extra', 'extra']]) {
    $(id).addEventListener('click', () => finish(answer));
  }
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault(); // Esc: answered as Cancel, through finish
    finish('cancel');
  });
}

function finish(answer) {
  const dialog = $('#confirm-dialog');
  const done = settle;
  settle = null;
  if (dialog.open) dialog.close();
  done?.(answer);
}

/**
 * Asks in the page. `{ title, text, ok, cancel, extra, danger }`; resolves to 'ok', 'extra' or
 * 'cancel' (also for Esc). A question asked while another is open answers the first as 'cancel'.
 */
export function confirmDialog({ title, text, ok = 'OK', cancel = 'Cancel', extra = null, danger = false }) {
  if (settle) finish('cancel');
  const dialog = $('#confirm-dialog');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  const okButton = $('#confirm-ok');
  okButton.textContent = ok;
  okButton.className = danger ? 'danger' : 'primary';
  $('#confirm-cancel').textContent = cancel;
  $('#confirm-cancel').hidden = !cancel;
  $('#confirm-extra').textContent = extra || '';
  $('#confirm-extra').hidden = !extra;
  return new Promise((resolve) => {
    settle = resolve;
    dialog.showModal();
    raiseToasts();
    okButton.focus();
  });
}
