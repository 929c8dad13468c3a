// The REST half of the contract. Every call goes through `request`, which turns the
// `{"error": {"code", "message"}}` bodies and network failures into an ApiError with plain words.

const TOKEN_KEY = 'messenger.token';

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

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

let onUnauthorized = () => {};
/** Called when an authenticated request answers 401 (expired or revoked token). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

async function request(method, path, { json, form, auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const bearer = token.get();
  if (auth && bearer) headers.Authorization = `Bearer ${bearer}`;

  let response;
  try {
    response = await fetch(path, { method, headers, body });
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
    if (response.status === 401 && auth && code !== 'invalid_credentials') onUnauthorized(error);
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
