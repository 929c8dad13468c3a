// Toasts for errors and notices (an aria-live region), and a visually hidden announcer
// that reads out new messages to screen readers.

import { $, el } from './util.js';

const TOAST_MS = 6000;

export function toast(message, kind = 'error') {
  const host = $('#toasts');
  if (!host) return;
  // Do not stack the same words twice.
  for (const existing of host.children) if (existing.dataset.text === message) existing.remove();
  const close = el('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×' });
  const node = el('div', { class: `toast toast-${kind}`, 'data-testid': 'toast', dataset: { text: message } }, [
    el('span', { class: 'toast-text', text: message }),
    close,
  ]);
  const dismiss = () => node.remove();
  close.addEventListener('click', dismiss);
  host.append(node);
  while (host.children.length > 4) host.firstElementChild.remove();
  setTimeout(dismiss, kind === 'error' ? TOAST_MS * 1.5 : TOAST_MS);
}

export function showError(error) {
  toast(error?.message || 'Something went wrong. Please try again.', 'error');
}

/** Polite announcement for assistive technology (e.g. "New message from Bob: hi"). */
export function announce(text) {
  const live = $('#announcer');
  if (!live) return;
  live.textContent = '';
  // A fresh text node in a later task makes screen readers read it even if it repeats.
  setTimeout(() => {
    live.textContent = text;
  }, 50);
}
