// Messages typed but not yet acknowledged, per user, in localStorage: one key per message
// (`messenger.outbox.<user id>.<client_id>`), so tabs adding and removing at the same time never
// overwrite each other's. Every tab of the browser shows and sends them with their ORIGINAL client_id
// (the server deduplicates on (sender, client_id)), so a reload, a closed tab, a lost connection or a
// sign-out loses nothing and doubles nothing: they go out after that user's next sign-in here.

const ROOT = 'messenger.outbox.';

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

const valid = (item) => item && typeof item.client_id === 'string' && Number.isInteger(item.chat_id) &&
  typeof item.text === 'string' && item.text.length > 0;

export class Outbox {
  constructor() {
    this.prefix = null;
    this.items = [];
  }

  load(userId) {
    this.prefix = `${ROOT}${userId}.`;
    this.items = [];
    const store = storage();
    if (!store) return;
    // Before the outbox was shared by tabs it was one list per tab, in sessionStorage.
    try {
      const legacyKey = `${ROOT}${userId}`;
      const legacy = JSON.parse(sessionStorage.getItem(legacyKey) || '[]');
      if (Array.isArray(legacy)) for (const item of legacy.filter(valid)) this.write(item);
      sessionStorage.removeItem(legacyKey);
    } catch {
      // unreadable: nothing to carry over
    }
    for (let i = 0; i < store.length; i += 1) {
      const key = store.key(i);
      if (!key?.startsWith(this.prefix)) continue;
      const item = this.read(key);
      if (item) this.items.push(item);
    }
    this.items.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  }

  unload() {
    this.prefix = null;
    this.items = [];
  }

  read(key) {
    try {
      const item = JSON.parse(storage()?.getItem(key) || 'null');
      return valid(item) ? item : null;
    } catch {
      return null;
    }
  }

  write(item) {
    if (!this.prefix) return;
    try {
      // Timers of this tab (when to resend) are kept too: another tab then waits as long before it
      // sends the same message again.
      storage()?.setItem(this.prefix + item.client_id, JSON.stringify(item));
    } catch {
      // storage full or disabled: the in-memory queue still works for this page
    }
  }

  add(item) {
    this.items.push(item);
    this.write(item);
    return item;
  }

  get(clientId) {
    return this.items.find((i) => i.client_id === clientId);
  }

  update(clientId, patch) {
    const item = this.get(clientId);
    if (item) {
      Object.assign(item, patch);
      this.write(item);
    }
    return item;
  }

  remove(clientId) {
    const index = this.items.findIndex((i) => i.client_id === clientId);
    if (this.prefix) storage()?.removeItem(this.prefix + clientId);
    if (index < 0) return null;
    return this.items.splice(index, 1)[0];
  }

  /** Drops every queued message of this user (the person chose to discard them). */
  clear() {
    for (const item of [...this.items]) this.remove(item.client_id);
  }

  /**
   * Another tab added, changed or removed a queued message: mirrors it. Returns the chat id it
   * concerns (to show the change), or null when the event was not about this outbox.
   */
  applyStorageEvent(event) {
    if (!this.prefix || !event.key?.startsWith(this.prefix)) return null;
    const clientId = event.key.slice(this.prefix.length);
    const index = this.items.findIndex((i) => i.client_id === clientId);
    const item = event.newValue ? this.read(event.key) : null;
    if (!item) {
      if (index < 0) return null;
      return this.items.splice(index, 1)[0].chat_id;
    }
    if (index >= 0) Object.assign(this.items[index], item);
    else this.items.push(item);
    return item.chat_id;
  }

  forChat(chatId) {
    return this.items.filter((i) => i.chat_id === chatId);
  }

  /** Items still to (re)send, oldest first. */
  pending() {
    return this.items.filter((i) => !i.failed);
  }
}
