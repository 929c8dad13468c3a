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
// Kept per tab in sessionStorage, as before: the access token (short-lived, sent with every call and
// when the WebSocket connects), when it expires, and the refresh token that gets the next one. The
// access token is renewed a little before it expires and whenever a call answers 401 (the call is then
// made once more); only a refused refresh ends the session.
//
// Refresh tokens rotate, and presenting a rotated one again revokes the whole session. A tab the
// browser duplicates starts with a copy of this tab's sessionStorage, so two tabs may hold the same
// refresh token: refreshes are serialised across tabs (navigator.locks), and the tab that rotates a
// token leaves its successor in localStorage under a digest of the old one, where a tab still holding
// the old token finds it (or is told through the `storage` event) instead of presenting the old again.

const TOKEN_KEY = 'messenger.token';
const REFRESH_KEY = 'messenger.refresh';
const EXPIRES_KEY = 'messenger.expires'; // ms since the epoch
const LIFETIME_KEY = 'messenger.lifetime'; // ms the access token was issued for
const ROTATED_KEY = 'messenger.rotated'; // localStorage: {digest of a retired refresh token: its successor}
const ROTATED_MAX = 20;
const LOCK_NAME = 'messenger.refresh';
const REFRESH_LEAD_MS = 60_000; // refresh this long before expiry (a quarter of short lifetimes)
const EXPIRED_SLACK_MS = 5_000; // a call this close to expiry refreshes first

let refreshTimer = null;
let refreshFailures = 0;
let refreshing = null; // the refresh in flight in this tab

const read = (key) => {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
};

export const token = {
  get: () => read(TOKEN_KEY),
  refreshToken: () => read(REFRESH_KEY),
  expiresAt: () => Number(read(EXPIRES_KEY)) || 0,
  /** Keeps the tokens of a POST /auth/token answer and plans the next refresh. */
  set(answer) {
    store(answer);
    scheduleRefresh();
  },
  clear() {
    clearTimeout(refreshTimer);
    refreshTimer = null;
    forgetRotations(read(REFRESH_KEY));
    for (const key of [TOKEN_KEY, REFRESH_KEY, EXPIRES_KEY, LIFETIME_KEY]) sessionStorage.removeItem(key);
  },
};

function store(answer) {
  sessionStorage.setItem(TOKEN_KEY, answer.access_token);
  if (answer.refresh_token) sessionStorage.setItem(REFRESH_KEY, answer.refresh_token);
  const lifetime = Number(answer.expires_in) * 1000;
  if (lifetime > 0) {
    sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + lifetime));
    sessionStorage.setItem(LIFETIME_KEY, String(lifetime));
  } else {
    sessionStorage.removeItem(EXPIRES_KEY);
    sessionStorage.removeItem(LIFETIME_KEY);
  }
}

/** Plans the next refresh a little before the access token expires (at once when that is past). */
export function scheduleRefresh(delay = null) {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  if (!token.refreshToken()) return;
  if (delay === null) {
    const expiresAt = token.expiresAt();
    if (!expiresAt) return;
    const lifetime = Number(read(LIFETIME_KEY)) || 0;
    const lead = lifetime ? Math.min(REFRESH_LEAD_MS, lifetime / 4) : REFRESH_LEAD_MS;
    delay = Math.max(0, expiresAt - lead - Date.now());
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
  const expiresAt = token.expiresAt();
  if (!expiresAt || !token.refreshToken() || refreshing) return;
  const lifetime = Number(read(LIFETIME_KEY)) || 0;
  const lead = lifetime ? Math.min(REFRESH_LEAD_MS, lifetime / 4) : REFRESH_LEAD_MS;
  if (Date.now() > expiresAt - lead) timedRefresh();
}

/** A short digest naming a refresh token in localStorage without writing the retired token itself. */
function digest(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return `${(h2 >>> 0).toString(16).padStart(8, '0')}${(h1 >>> 0).toString(16).padStart(8, '0')}.${text.length}`;
}

function readRotations() {
  try {
    const saved = JSON.parse(localStorage.getItem(ROTATED_KEY) || '{}');
    return saved && typeof saved === 'object' ? saved : {};
  } catch {
    return {};
  }
}

function writeRotations(map) {
  try {
    const now = Date.now();
    const entries = Object.entries(map)
      .filter(([, e]) => e && !(e.refresh_expires_at && e.refresh_expires_at < now))
      .sort(([, a], [, b]) => b.at - a.at)
      .slice(0, ROTATED_MAX);
    if (entries.length) localStorage.setItem(ROTATED_KEY, JSON.stringify(Object.fromEntries(entries)));
    else localStorage.removeItem(ROTATED_KEY);
  } catch {
    // storage full or disabled: only duplicated tabs lose out
  }
}

/** The tokens that replaced `refreshToken`, if a tab rotated it. */
function successorOf(refreshToken) {
  const entry = refreshToken && readRotations()[digest(refreshToken)];
  return entry?.answer?.access_token && entry.answer.refresh_token !== refreshToken ? entry : null;
}

/** Leaves the successor of `old` where tabs still holding `old` (or an earlier one of its chain) find it. */
function recordRotation(old, answer) {
  const map = readRotations();
  const now = Date.now();
  const entry = {
    at: now,
    expires_at: now + Number(answer.expires_in || 0) * 1000,
    refresh_expires_at: answer.refresh_expires_in ? now + Number(answer.refresh_expires_in) * 1000 : null,
    answer,
  };
  for (const [key, value] of Object.entries(map)) if (value?.answer?.refresh_token === old) map[key] = entry;
  map[digest(old)] = entry;
  writeRotations(map);
}

/** Drops every trace of a session that ended (its current refresh token is `current`). */
function forgetRotations(current) {
  if (!current) return;
  const map = readRotations();
  for (const [key, value] of Object.entries(map)) if (value?.answer?.refresh_token === current) delete map[key];
  writeRotations(map);
}

/** Takes over the tokens another tab got for the session this tab holds too. */
function adopt(entry) {
  const left = entry.expires_at ? Math.round((entry.expires_at - Date.now()) / 1000) : 0;
  token.set({ ...entry.answer, expires_in: left > 0 ? left : 1 });
}

window.addEventListener('storage', (event) => {
  if (event.key !== ROTATED_KEY) return;
  const entry = successorOf(token.refreshToken());
  if (entry) adopt(entry);
});

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
 * Gets a new access token (and refresh token) for this tab's session: one refresh at a time in this
 * tab, and across tabs. Rejects with the refresh's ApiError: 401 when the session is over (the
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
  const current = token.refreshToken();
  if (!current) throw new ApiError(401, 'unauthorized');
  if (current !== held) return; // tokens another tab got were adopted meanwhile
  const handed = successorOf(current);
  if (handed) return void adopt(handed);
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
  if (token.refreshToken() !== current) return;
  if (!response.ok || !data?.access_token) {
    const status = response.ok ? 500 : response.status;
    const code = data?.error?.code || (status >= 500 ? 'internal' : 'bad_request');
    throw new ApiError(status, code, data?.error?.message, Number(response.headers.get('Retry-After')) || null);
  }
  recordRotation(current, data);
  token.set(data);
}

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
  /** Ends the session of this refresh token; `keepalive` lets it finish even if the page goes away. */
  logout: (refreshToken) =>
    request('POST', '/auth/logout', { json: { refresh_token: refreshToken }, auth: false, keepalive: true }),
  me: () => request('GET', '/users/me'),
  searchUsers: (q, limit = 20) => request('GET', `/users${query({ q, limit })}`),
  openPrivate: (userId) => request('POST', '/chats/private', { json: { user_id: userId } }),
  createGroup: (name, memberIds) => request('POST', '/groups', { json: { name, member_ids: memberIds } }),
  addMember: (chatId, userId) => request('POST', `/groups/${chatId}/members`, { json: { user_id: userId } }),
  removeMember: (chatId, userId) => request('DELETE', `/groups/${chatId}/members/${userId}`),
  chat: (chatId) => request('GET', `/chats/${chatId}`),
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
  send: (chatId, text, clientId) =>
    request('POST', `/chats/${chatId}/messages`, { json: { text, client_id: clientId } }),
  markRead: (chatId, messageId) => request('POST', `/chats/${chatId}/read`, { json: { message_id: messageId } }),
};
