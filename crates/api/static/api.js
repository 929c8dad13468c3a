// The REST half of the contract. Every call goes through `request`, which turns the
// `{"error": {"code", "message"}}` bodies and network failures into an ApiError with plain words.

/** Largest safe integer: `before_seq` with it returns the latest page of a chat's history. */
export const NEWEST = 9007199254740991;

const FRIENDLY = {
  invalid_credentials: 'Wrong email or password.',
  email_taken: 'An account with this email already exists. Try signing in instead.',
  unauthorized: 'Your session has ended. Please sign in again.',
  forbidden: 'You are not allowed to do that.',
  not_found: 'That chat or person no longer exists.',
  rate_limited: 'You are going a bit fast. Please wait a moment and try again.',
  unavailable: 'The server is slow to answer right now. Trying again…',
  conflict: 'This message clashes with one you already sent.',
  internal: 'Something went wrong on the server. Please try again.',
  network: 'Cannot reach the server. Check your connection and try again.',
};

export class ApiError extends Error {
  constructor(status, code, serverMessage, retryAfter = null) {
    super(friendlyMessage(code, serverMessage));
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from Retry-After (429, 503)
  }
}

/** Plain words for an error code; validation messages from the server are already human text. */
export function friendlyMessage(code, serverMessage) {
  if ((code === 'invalid_input' || code === 'bad_request') && serverMessage) return serverMessage;
  return FRIENDLY[code] || serverMessage || 'Something went wrong. Please try again.';
}

// ---- the session -------------------------------------------------------------------------------
//
// One session per browser, shared by its tabs: kept in localStorage as one JSON value (the access
// token, sent with every call and as the WebSocket's subprotocol; when it expires; the refresh token
// that gets the next one; and `sid`, naming this sign-in). Signing in or out in one tab does it in all
// of them, through the `storage` event (app.js). The access token is renewed a little before it
// expires and whenever a call answers 401 (the call is then made once more); only a refused refresh
// ends the session.
//
// Refresh tokens rotate, and presenting a rotated one again revokes the whole session, so the tabs
// never refresh at once: refreshes are serialised across tabs (navigator.locks), and a tab that gets
// the lock after another one rotated the token finds the successor and uses it. It finds it in
// IndexedDB (the ledger below), not in localStorage, which reaches other tabs a moment late.

const SESSION_KEY = 'messenger.session';
const LOCK_NAME = 'messenger.refresh';
const REFRESH_LEAD_MS = 60_000; // refresh this long before expiry (a quarter of short lifetimes)
const EXPIRED_SLACK_MS = 5_000; // a call this close to expiry refreshes first

let refreshTimer = null;
let refreshFailures = 0;
let refreshing = null; // the refresh in flight in this tab

/** The stored session, or null. */
function readSession() {
  try {
    const saved = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    return saved && typeof saved.access_token === 'string' ? saved : null;
  } catch {
    return null;
  }
}

function writeSession(session) {
  try {
    localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // storage disabled: nothing can be kept, not even for this page's next call
  }
}

export const token = {
  get: () => readSession()?.access_token ?? null,
  refreshToken: () => readSession()?.refresh_token ?? null,
  expiresAt: () => readSession()?.expires_at ?? 0,
  sid: () => readSession()?.sid ?? null,
  /** Starts a session from a sign-in answer (POST /auth/token with a password). */
  start(answer) {
    const session = sessionFrom(answer, { sid: uuidLike() });
    writeSession(session);
    ledgerWrite(session);
    scheduleRefresh();
    if (pendingLogouts().length) flushLogouts(); // the server answers again: end what is owed
  },
  clear() {
    clearTimeout(refreshTimer);
    refreshTimer = null;
    ledgerWrite(null);
    try {
      localStorage.removeItem(SESSION_KEY);
    } catch {
      // nothing was kept
    }
  },
};

// ---- the refresh ledger -----------------------------------------------------------------------
// Each renderer keeps its own copy of localStorage, updated by a message that may arrive after the
// refresh lock does: a tab taking the lock just after another rotated the token could still read the
// retired refresh token, present it, and so revoke the session. IndexedDB has no such delay (a
// transaction begun after another's commit sees its write), so the rotating tab records the new
// session there before it lets go of the lock, and the next one reads it there first.

const LEDGER_DB = 'messenger';
const LEDGER_STORE = 'session';
let ledgerDb = null;

function openLedger() {
  ledgerDb ??= new Promise((resolve) => {
    try {
      const request = indexedDB.open(LEDGER_DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(LEDGER_STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
      request.onblocked = () => resolve(null);
    } catch {
      resolve(null); // no IndexedDB (a private window of some browsers): localStorage alone
    }
  });
  return ledgerDb;
}

/** Runs one request in a transaction; resolves to its result once committed (null on any failure). */
async function ledger(mode, work) {
  const db = await openLedger();
  if (!db) return null;
  return new Promise((resolve) => {
    try {
      const tx = db.transaction(LEDGER_STORE, mode);
      const request = work(tx.objectStore(LEDGER_STORE));
      tx.oncomplete = () => resolve(request.result ?? null);
      tx.onerror = () => resolve(null);
      tx.onabort = () => resolve(null);
    } catch {
      resolve(null);
    }
  });
}

const ledgerRead = () => ledger('readonly', (store) => store.get('current'));
const ledgerWrite = (session) => ledger('readwrite', (store) => (session ? store.put(session, 'current') : store.delete('current')));

function uuidLike() {
  return globalThis.crypto?.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
}

/** The stored shape of a token answer: absolute expiry, the lifetime for planning the next refresh. */
function sessionFrom(answer, previous) {
  const lifetime = Number(answer.expires_in) * 1000;
  return {
    sid: previous.sid,
    access_token: answer.access_token,
    refresh_token: answer.refresh_token || previous.refresh_token || null,
    expires_at: lifetime > 0 ? Date.now() + lifetime : 0,
    lifetime: lifetime > 0 ? lifetime : 0,
  };
}

const leadFor = (session) => (session?.lifetime ? Math.min(REFRESH_LEAD_MS, session.lifetime / 4) : REFRESH_LEAD_MS);

/** Plans the next refresh a little before the access token expires (at once when that is past). */
export function scheduleRefresh(delay = null) {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  const session = readSession();
  if (!session?.refresh_token) return;
  if (delay === null) {
    if (!session.expires_at) return;
    delay = Math.max(0, session.expires_at - leadFor(session) - Date.now());
  }
  // (A delay over 2^31 ms would fire at once; a token lives far shorter anyway.)
  refreshTimer = setTimeout(timedRefresh, Math.min(delay, 2 ** 31 - 1));
}

function timedRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  refreshSession().catch((error) => {
    if (error.status === 401) return; // the session is over: refreshSession signed out
    // No answer, too many requests or a server failure: try again soon (a call meanwhile tries too).
    refreshFailures += 1;
    const wait = error.retryAfter ? error.retryAfter * 1000 : Math.min(60_000, 2000 * 2 ** (refreshFailures - 1));
    scheduleRefresh(wait * (0.75 + Math.random() / 2));
  });
}

/** Refreshes now when the access token is about to expire (timers stall while a computer sleeps). */
export function refreshIfDue() {
  const session = readSession();
  if (!session?.expires_at || !session.refresh_token || refreshing) return;
  if (Date.now() > session.expires_at - leadFor(session)) timedRefresh();
}

function withLock(work) {
  if (navigator.locks?.request) return navigator.locks.request(LOCK_NAME, work);
  return work();
}

let onUnauthorized = () => {};
/** Called when the session has ended: its refresh was refused (or there is no refresh token). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * Gets a new access token (and refresh token) for the session: one refresh at a time in this tab,
 * and across tabs. Rejects with the refresh's ApiError: 401 when the session is over (the
 * unauthorized handler has been called then), anything else when it may work later.
 */
export function refreshSession() {
  if (!refreshing) {
    const held = token.refreshToken();
    refreshing = Promise.resolve(withLock(() => rotate(held))).then(() => {
      refreshing = null;
      refreshFailures = 0;
    }, (error) => {
      refreshing = null;
      if (error.status === 401) onUnauthorized(error);
      throw error;
    });
  }
  return refreshing;
}

async function rotate(held) {
  const local = readSession();
  if (!local?.refresh_token) throw new ApiError(401, 'unauthorized');
  // The ledger is ahead of this tab's localStorage when another tab has just rotated the token.
  const recorded = await ledgerRead();
  const ahead = recorded?.sid === local.sid && recorded.refresh_token && recorded.expires_at > local.expires_at;
  const session = ahead ? recorded : local;
  if (ahead) writeSession(session);
  const current = session.refresh_token;
  if (current !== held) { // another tab renewed the session meanwhile: its tokens are ours too
    scheduleRefresh();
    return;
  }
  let response;
  try {
    response = await fetch('/auth/token', {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: current }).toString(),
    });
  } catch {
    throw new ApiError(0, 'network');
  }
  const data = await response.json().catch(() => null);
  // Signed out (or in again) while the refresh was on its way: its answer concerns nobody now.
  if (readSession()?.sid !== session.sid) return;
  if (!response.ok || !data?.access_token) {
    const status = response.ok ? 500 : response.status;
    const code = data?.error?.code || (status >= 500 ? 'internal' : 'bad_request');
    throw new ApiError(status, code, data?.error?.message, Number(response.headers.get('Retry-After')) || null);
  }
  const next = sessionFrom(data, session);
  await ledgerWrite(next); // before the lock is let go: the next tab to take it reads it there
  writeSession(next);
  scheduleRefresh();
}

// A tab from before sessions were shared kept its tokens in sessionStorage: carry them over once.
try {
  const old = sessionStorage.getItem('messenger.token');
  if (old && !readSession()) {
    const expires = Number(sessionStorage.getItem('messenger.expires')) || 0;
    writeSession({
      sid: uuidLike(),
      access_token: old,
      refresh_token: sessionStorage.getItem('messenger.refresh'),
      expires_at: expires,
      lifetime: Number(sessionStorage.getItem('messenger.lifetime')) || 0,
    });
  }
  for (const key of ['messenger.token', 'messenger.refresh', 'messenger.expires', 'messenger.lifetime']) {
    sessionStorage.removeItem(key);
  }
} catch {
  // storage disabled
}

// ---- ending a session on the server -------------------------------------------------------------
// Signing out revokes the session's refresh token on the server. Signed out without a connection,
// the token is kept (only for this) and revoked when the server can be reached again: on the next
// page load, when the browser is back online, after the next sign-in.

const LOGOUT_KEY = 'messenger.logout';
let flushingLogouts = null;

function pendingLogouts() {
  try {
    const saved = JSON.parse(localStorage.getItem(LOGOUT_KEY) || '[]');
    return Array.isArray(saved) ? saved.filter((t) => typeof t === 'string') : [];
  } catch {
    return [];
  }
}

function setPendingLogouts(tokens) {
  try {
    if (tokens.length) localStorage.setItem(LOGOUT_KEY, JSON.stringify(tokens));
    else localStorage.removeItem(LOGOUT_KEY);
  } catch {
    // storage disabled: the token expires on its own
  }
}

/** Ends the session of `refreshToken` on the server, now or as soon as it can be reached. */
export function endSession(refreshToken) {
  if (!refreshToken) return Promise.resolve();
  setPendingLogouts([...new Set([...pendingLogouts(), refreshToken])]);
  return flushLogouts();
}

/** Sends the logouts still owed; each is forgotten once the server has answered it. */
export function flushLogouts() {
  flushingLogouts ??= (async () => {
    for (const refreshToken of pendingLogouts()) {
      try {
        const response = await fetch('/auth/logout', {
          method: 'POST',
          headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
          body: JSON.stringify({ refresh_token: refreshToken }),
          keepalive: true, // (it may be sent as the page goes away)
        });
        if (response.status >= 500 || response.status === 429) continue; // later
      } catch {
        continue; // no connection: later
      }
      setPendingLogouts(pendingLogouts().filter((t) => t !== refreshToken));
    }
  })().finally(() => {
    flushingLogouts = null;
  });
  return flushingLogouts;
}

window.addEventListener('online', () => flushLogouts());
if (pendingLogouts().length) flushLogouts();

let onSessionChange = () => {};
/**
 * Called when another tab changed the session: `fn(session or null, previous sid)`. A renewal there
 * only moves this tab's refresh timer; a sign-in or sign-out is app.js's business.
 */
export function setSessionChangeHandler(fn) {
  onSessionChange = fn;
}

window.addEventListener('storage', (event) => {
  if (event.key !== SESSION_KEY && event.key !== null) return; // (null: the storage was cleared)
  let previous = null;
  try {
    previous = JSON.parse(event.oldValue || 'null')?.sid ?? null;
  } catch {
    previous = null;
  }
  const session = readSession();
  if (session && session.sid === previous) {
    scheduleRefresh(); // renewed by another tab
    return;
  }
  if (!session) {
    clearTimeout(refreshTimer);
    refreshTimer = null;
  }
  onSessionChange(session, previous);
});

async function request(method, path, options = {}, retried = false) {
  const { json, form, auth = true, keepalive = false } = options;
  const headers = { Accept: 'application/json' };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  // About to expire (after a sleep, in a throttled tab): renew first rather than collect a 401.
  const expiresAt = token.expiresAt();
  if (auth && !retried && expiresAt && Date.now() > expiresAt - EXPIRED_SLACK_MS && token.refreshToken()) {
    await refreshSession().catch(() => {}); // a failure shows in this call's own answer
  }
  const bearer = token.get();
  if (auth && bearer) headers.Authorization = `Bearer ${bearer}`;

  let response;
  try {
    response = await fetch(path, { method, headers, body, keepalive });
  } catch {
    throw new ApiError(0, 'network');
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const code = data?.error?.code || (response.status >= 500 ? 'internal' : 'bad_request');
    const retryAfter = Number(response.headers.get('Retry-After')) || null;
    const error = new ApiError(response.status, code, data?.error?.message, retryAfter);
    if (response.status === 401 && auth && code !== 'invalid_credentials') {
      if (!retried) {
        // The access token expired (or went bad): renew it, then make the call once more. A refused
        // refresh signs out; any other failure of it is this call's answer (worth trying again later).
        if (token.get() === bearer) await refreshSession();
        return request(method, path, options, true);
      }
      onUnauthorized(error); // refused even with a fresh token
    }
    throw error;
  }
  return data;
}

const query = (params) => {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null);
  return entries.length ? `?${new URLSearchParams(entries)}` : '';
};

export const api = {
  register: (name, email, password) =>
    request('POST', '/auth/register', { json: { name, email, password }, auth: false }),
  login: (email, password) =>
    request('POST', '/auth/token', { form: { username: email, password }, auth: false }),
  me: () => request('GET', '/users/me'),
  searchUsers: (q, limit = 20) => request('GET', `/users${query({ q, limit })}`),
  openPrivate: (userId) => request('POST', '/chats/private', { json: { user_id: userId } }),
  createGroup: (name, memberIds) => request('POST', '/groups', { json: { name, member_ids: memberIds } }),
  addMember: (chatId, userId) => request('POST', `/groups/${chatId}/members`, { json: { user_id: userId } }),
  removeMember: (chatId, userId) => request('DELETE', `/groups/${chatId}/members/${userId}`),
  chat: (chatId) => request('GET', `/chats/${chatId}`),
  /** A page of a chat's members (with read pointers) by user id ascending, after user `afterId`. */
  members: (chatId, afterId, limit = 1000) =>
    request('GET', `/chats/${chatId}/members${query({ after_id: afterId, limit })}`),
  /** Ascending page of at most `limit` messages right before position `beforeSeq` (scrolling up). */
  historyBefore: (chatId, beforeSeq, limit = 50) =>
    request('GET', `/history/${chatId}${query({ before_seq: beforeSeq, limit })}`),
  /** Ascending page of at most `limit` messages right after position `afterSeq` (filling a gap). */
  historyAfter: (chatId, afterSeq, limit = 200) =>
    request('GET', `/history/${chatId}${query({ after_seq: afterSeq, limit })}`),
  /**
   * What changed in my chats since the versions held (`{chat id: version}`; chats never seen are
   * left out and come back whole): `{chats: [{chat, messages, more}], removed: [chat id]}`.
   */
  sync: (versions) => request('POST', '/sync', { json: { chats: versions } }),
  send: (chatId, text, clientId, replyTo = null) =>
    request('POST', `/chats/${chatId}/messages`, { json: { text, client_id: clientId, ...(replyTo ? { reply_to: replyTo } : {}) } }),
  editMessage: (chatId, messageId, text) =>
    request('PATCH', `/chats/${chatId}/messages/${messageId}`, { json: { text } }),
  deleteMessage: (chatId, messageId) => request('DELETE', `/chats/${chatId}/messages/${messageId}`),
  /** A user with `online` and `last_seen` (for me and people who share a chat with me). */
  user: (userId) => request('GET', `/users/${userId}`),
  /** Messages matching every word of `q`, newest first; `chatId` narrows to one chat. */
  searchMessages: (q, { chatId, limit = 30, beforeId } = {}) =>
    request('GET', `/search/messages${query({ q, chat_id: chatId, limit, before_id: beforeId })}`),
  markRead: (chatId, messageId) => request('POST', `/chats/${chatId}/read`, { json: { message_id: messageId } }),
};
