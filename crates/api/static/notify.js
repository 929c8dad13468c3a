// Desktop notifications for messages that arrive while the person is elsewhere, and the unread
// count drawn on the favicon while the tab is hidden. Permission is asked only when the person
// clicks the bell (browsers allow the question only on a user gesture).

import { memberName, on, state } from './state.js';
import { announce } from './toast.js';
import { $, snippet } from './util.js';

let openChat = () => {};
let baseIcon = null;
const QUIET_MS = 3000; // one notification per chat in this time: a burst of messages rings once
const lastRung = new Map(); // chat id -> when its last notification was made

const supported = () => typeof window.Notification === 'function';
// Reading Notification.permission asks the browser each time: kept here, read again when it may
// have changed (the bell, the tab coming back after the person changed the site's settings).
let permission = 'default';
const readPermission = () => {
  permission = supported() ? Notification.permission : 'denied';
};

export function initNotifications(open) {
  openChat = open;
  const bell = $('#notify-toggle');
  bell.addEventListener('click', async () => {
    if (!supported()) return;
    try {
      await Notification.requestPermission();
    } catch {
      // an old browser's callback form, or refused: nothing to do
    }
    readPermission();
    renderBell();
  });
  readPermission();
  renderBell();
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') return;
    readPermission();
    renderBell();
  });
  on('incoming', ({ chat, message }) => {
    notify(chat, message);
    const who = memberName(chat.id, message.sender_id);
    announce(`New message from ${who}${chat.type === 'group' ? ` in ${chat.name}` : ''}: ${snippet(message.text, 200)}`);
  });
  baseIcon = drawIcon(0);
  setIcon(baseIcon, 0);
}

/** The bell shows while the browser could still be asked. */
export function renderBell() {
  const bell = $('#notify-toggle');
  bell.hidden = permission !== 'default';
}

/** Only while the person is elsewhere (another tab, another window): otherwise the page shows it. */
function notify(chat, message) {
  if (permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  const now = Date.now();
  if (now - (lastRung.get(chat.id) || 0) < QUIET_MS) return;
  lastRung.set(chat.id, now);
  const sender = memberName(chat.id, message.sender_id);
  const title = chat.type === 'group' ? `${sender} in ${chat.name}` : sender;
  try {
    const note = new Notification(title, {
      body: snippet(message.text, 160),
      tag: `chat-${chat.id}`, // one per chat: a newer message replaces the older notification
      renotify: true,
    });
    note.onclick = () => {
      window.focus();
      openChat(chat.id);
      note.close?.();
    };
  } catch {
    // notifications from a page need a service worker on some platforms: the badge still shows
  }
}

// ---- the favicon ------------------------------------------------------------------------------

function drawIcon(count) {
  const size = 64;
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const g = canvas.getContext('2d');
  if (!g) return null;
  g.fillStyle = '#2470c2';
  g.beginPath();
  g.arc(32, 32, 30, 0, Math.PI * 2);
  g.fill();
  g.fillStyle = '#ffffff';
  g.beginPath(); // a paper plane
  g.moveTo(14, 31);
  g.lineTo(50, 17);
  g.lineTo(43, 49);
  g.lineTo(31, 40);
  g.lineTo(26, 46);
  g.lineTo(25, 37);
  g.closePath();
  g.fill();
  if (count > 0) {
    const text = count > 99 ? '99+' : String(count);
    g.fillStyle = '#e53935';
    g.beginPath();
    const w = text.length > 1 ? 40 : 32;
    g.roundRect?.(size - w, 0, w, 32, 16);
    if (!g.roundRect) g.arc(48, 16, 16, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = '#ffffff';
    g.font = `bold ${text.length > 2 ? 17 : 24}px system-ui, sans-serif`;
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText(text, size - w / 2, 17);
  }
  return canvas.toDataURL('image/png');
}

function setIcon(href, count) {
  const link = $('#favicon');
  if (!link || !href) return;
  if (link.dataset.badge === String(count) && link.href === href) return;
  link.href = href;
  link.dataset.badge = String(count);
}

/** The unread count on the favicon while the tab is hidden; the plain icon otherwise (chatlist.js calls it). */
export function updateBadge() {
  const hidden = document.visibilityState !== 'visible';
  const count = hidden && state.me ? state.unreadTotal || 0 : 0;
  const link = $('#favicon');
  if (link?.dataset.badge === String(count)) return;
  setIcon(count ? drawIcon(count) : baseIcon, count);
}
