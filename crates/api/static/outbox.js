// Messages typed but not yet acknowledged. Kept in memory and in sessionStorage (per user),
// so a reload or a lost connection re-sends them with their ORIGINAL client_id: the server
// deduplicates on (sender, client_id), so nothing is lost and nothing is doubled.
// A sign-out leaves them there too (app.js): they go out after that user's next sign-in in this tab.

export class Outbox {
  constructor() {
    this.key = null;
    this.items = [];
  }

  load(userId) {
    this.key = `messenger.outbox.${userId}`;
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.key) || '[]');
      this.items = Array.isArray(saved) ? saved.filter((i) => i && i.client_id && i.chat_id && i.text) : [];
    } catch {
      this.items = [];
    }
  }

  unload() {
    this.key = null;
    this.items = [];
  }

  save() {
    if (!this.key) return;
    try {
      sessionStorage.setItem(this.key, JSON.stringify(this.items));
    } catch {
      // storage full or disabled: the in-memory queue still works for this page
    }
  }

  add(item) {
    this.items.push(item);
    this.save();
    return item;
  }

  get(clientId) {
    return this.items.find((i) => i.client_id === clientId);
  }

  update(clientId, patch) {
    const item = this.get(clientId);
    if (item) {
      Object.assign(item, patch);
      this.save();
    }
    return item;
  }

  remove(clientId) {
    const before = this.items.length;
    this.items = this.items.filter((i) => i.client_id !== clientId);
    if (this.items.length !== before) this.save();
    return this.items.length !== before;
  }

  forChat(chatId) {
    return this.items.filter((i) => i.chat_id === chatId);
  }

  /** Items still to (re)send, oldest first. */
  pending() {
    return this.items.filter((i) => !i.failed);
  }
}
