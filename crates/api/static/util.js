// Small helpers shared by the views. Everything that touches user text goes through
// `el`, which only ever sets textContent, never innerHTML.

/**
 * Builds an element. `attrs` keys: `class`, `text`, `dataset` (object), `on` (event map),
 * any other key is set as an attribute (false/null/undefined are skipped, true sets "").
 */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    // Through the CSSOM: the CSP (style-src 'self') refuses style attributes written as markup.
    else if (key === 'style') node.style.cssText = value;
    else if (key === 'on') for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of [].concat(children)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** A sortable number for an RFC 3339 timestamp, keeping the microseconds Date.parse drops. */
export function tsKey(timestamp) {
  if (!timestamp) return 0;
  const ms = Date.parse(timestamp);
  if (Number.isNaN(ms)) return 0;
  const frac = /\.(\d+)/.exec(timestamp);
  const micros = frac ? Number((frac[1] + '000000').slice(3, 6)) : 0;
  return ms + micros / 1000;
}

/**
 * Orders a chat's messages as the server does: by seq, the position the database gave each one.
 * Across server instances frames may arrive out of that order, and ids need not follow it; without
 * seqs (never in practice) by timestamp, then id.
 */
export function compareMessages(a, b) {
  if (a.seq && b.seq && a.chat_id === b.chat_id) return a.seq - b.seq;
  return tsKey(a.timestamp) - tsKey(b.timestamp) || a.id - b.id;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long' });
const dayYearFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

export const formatTime = (ts) => timeFormat.format(new Date(ts));
export const formatFull = (ts) => fullFormat.format(new Date(ts));

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** "Today", "Yesterday", "3 March", "3 March 2023" for the day separators. */
export function formatDay(ts) {
  const date = new Date(ts);
  const days = Math.round((startOfDay(new Date()) - startOfDay(date)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return date.getFullYear() === new Date().getFullYear() ? dayFormat.format(date) : dayYearFormat.format(date);
}

/** Short time for the chat list: the time today, the weekday this week, else the date. */
export function formatListTime(ts) {
  const date = new Date(ts);
  const days = Math.round((startOfDay(new Date()) - startOfDay(date)) / 86_400_000);
  if (days === 0) return timeFormat.format(date);
  if (days < 7) return weekdayFormat.format(date);
  return date.toLocaleDateString();
}

export const dayKey = (ts) => new Date(ts).toDateString();

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

const AVATAR_COLORS = ['#e17076', '#7bc862', '#e5a64e', '#65aadd', '#a695e7', '#ee7aae', '#6ec9cb', '#faa774'];
export const avatarColor = (seed) => AVATAR_COLORS[Math.abs(Number(seed) || 0) % AVATAR_COLORS.length];

export function avatar(name, seed, extraClass = '') {
  return el('span', { class: `avatar ${extraClass}`.trim(), 'aria-hidden': 'true', style: `background:${avatarColor(seed)}`, text: initials(name) });
}

/** RFC 4122 v4; crypto.randomUUID only exists in secure contexts, so fall back on getRandomValues. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * `fn` run once at the next animation frame however often it is asked for before then: `schedule()`
 * asks, `cancel()` drops a run that has not happened yet.
 */
export function frameTask(fn) {
  let frame = 0;
  return {
    schedule() {
      if (!frame) {
        frame = requestAnimationFrame(() => {
          frame = 0;
          fn();
        });
      }
    },
    cancel() {
      cancelAnimationFrame(frame);
      frame = 0;
    },
  };
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** "Bob", "Bob and Carol", "Bob, Carol and Dave". */
export function joinNames(names) {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Characters as the server counts them (Unicode scalar values), not UTF-16 code units. */
export function charCount(text) {
  let n = 0;
  for (const _ of text) n += 1; // the string iterator walks code points: a surrogate pair is one
  return n;
}

// ---- links ----------------------------------------------------------------------------------
// Only http and https, found in plain text and built as elements with textContent: a person's
// text is never parsed as markup, and no other scheme (javascript:, data:) ever becomes a link.

const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"'`]+/giu;
const TRAILING = /[.,;:!?'"»”’)\]}]+$/u;

function trimUrl(raw) {
  let url = raw;
  // Punctuation that ends a sentence is not part of the link; a closing bracket is, when the link opened it.
  for (;;) {
    const match = TRAILING.exec(url);
    if (!match) break;
    const last = url[url.length - 1];
    const pairs = { ')': '(', ']': '[', '}': '{' };
    if (pairs[last] && url.split(pairs[last]).length > url.split(last).length - 1) break;
    url = url.slice(0, -1);
  }
  return url;
}

/** A safe href for text that looks like a link, or null. */
export function safeHref(text) {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** The text as nodes: plain text, with http(s) links as anchors that open in a new tab. */
export function linkify(text) {
  const nodes = [];
  let at = 0;
  URL_IN_TEXT.lastIndex = 0;
  for (let match = URL_IN_TEXT.exec(text); match; match = URL_IN_TEXT.exec(text)) {
    const raw = trimUrl(match[0]);
    const href = safeHref(raw);
    if (!href) continue;
    if (match.index > at) nodes.push(document.createTextNode(text.slice(at, match.index)));
    nodes.push(el('a', { href, target: '_blank', rel: 'noopener noreferrer', class: 'msg-link', text: raw }));
    at = match.index + raw.length;
    URL_IN_TEXT.lastIndex = at;
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

// ---- presence wording ----------------------------------------------------------------------

/** "online", "last seen just now", "last seen 5 minutes ago", "last seen today at 14:03", … */
export function lastSeenLabel(presence, now = Date.now()) {
  if (!presence) return '';
  if (presence.online) return 'online';
  if (!presence.last_seen) return 'last seen recently';
  const at = new Date(presence.last_seen);
  const minutes = Math.floor((now - at.getTime()) / 60_000);
  if (minutes < 1) return 'last seen just now';
  if (minutes < 60) return `last seen ${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  const days = Math.round((startOfDay(new Date(now)) - startOfDay(at)) / 86_400_000);
  if (days === 0) return `last seen today at ${timeFormat.format(at)}`;
  if (days === 1) return `last seen yesterday at ${timeFormat.format(at)}`;
  return `last seen ${formatDay(at)}`;
}

/** A one-line snippet of a message's text for quotes, previews and notifications. */
export function snippet(text, max = 120) {
  const line = String(text || '').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
