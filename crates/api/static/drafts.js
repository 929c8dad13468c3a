// What the person has typed but not sent, per chat, kept in localStorage per user
// (`messenger.draft.<user id>.<chat id>`): it survives switching chats, reloads and closed tabs,
// and another tab of the same browser shows it too (the `storage` event).

const ROOT = 'messenger.draft.';
const drafts = new Map(); // chat id -> text
let prefix = null;

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function loadDrafts(userId) {
  prefix = `${ROOT}${userId}.`;
  drafts.clear();
  const store = storage();
  if (!store) return;
  for (let i = 0; i < store.length; i += 1) {
    const key = store.key(i);
    if (!key?.startsWith(prefix)) continue;
    const chatId = Number(key.slice(prefix.length));
    const text = store.getItem(key);
    if (Number.isInteger(chatId) && text) drafts.set(chatId, text);
  }
}

export function unloadDrafts() {
  prefix = null;
  drafts.clear();
}

export const getDraft = (chatId) => drafts.get(chatId) || '';

/** Keeps (or, for blank text, forgets) the draft of a chat; returns whether it changed. */
export function setDraft(chatId, text) {
  if (!prefix || !chatId) return false;
  const value = text.trim() ? text : '';
  if ((drafts.get(chatId) || '') === value) return false;
  try {
    if (value) storage()?.setItem(prefix + chatId, value);
    else storage()?.removeItem(prefix + chatId);
  } catch {
    // storage full or disabled: kept for this page only
  }
  if (value) drafts.set(chatId, value);
  else drafts.delete(chatId);
  return true;
}

/** Another tab changed a draft: returns the chat id it concerns, or null. */
export function applyDraftStorageEvent(event) {
  if (!prefix || !event.key?.startsWith(prefix)) return null;
  const chatId = Number(event.key.slice(prefix.length));
  if (!Number.isInteger(chatId)) return null;
  if (event.newValue) drafts.set(chatId, event.newValue);
  else drafts.delete(chatId);
  return chatId;
}
