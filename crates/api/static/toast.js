// Toasts for errors and notices, and a visually hidden announcer that reads out new messages to
// screen readers.
//
// Toasts sit at the top of the window, never over the composer. While a modal dialog is open, what
// would be a toast is shown inside that dialog (its `.dialog-error`), next to what caused it: the
// rest of the page is inert and under the backdrop then. Toasts already showing are lifted into the
// top layer again when a dialog opens (a manual popover), so no backdrop covers them either.

import { $, el } from './util.js';

const TOAST_MS = 6000;

function openDialog() {
  const open = [...document.querySelectorAll('dialog[open]')];
  return open[open.length - 1] || null;
}

/** Puts the toasts showing above everything in the top layer, including a modal shown after them. */
export function raiseToasts() {
  const host = $('#toasts');
  if (host?.children.length) raise(host);
}

function raise(host) {
  if (typeof host.showPopover !== 'function') return;
  try {
    if (host.matches(':popover-open')) host.hidePopover();
    host.showPopover();
  } catch {
    // not a popover (an old browser): the z-index has to do
  }
}

export function toast(message, kind = 'error') {
  const dialog = openDialog();
  const box = dialog?.querySelector('.dialog-error');
  if (box) {
    // Everything outside a modal dialog is inert and under its backdrop: say it in the dialog.
    box.textContent = message;
    box.dataset.kind = kind;
    box.hidden = false;
    return;
  }
  const host = $('#toasts');
  if (!host) return;
  // Do not stack the same words twice.
  for (const existing of host.children) if (existing.dataset.text === message) existing.remove();
  const close = el('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×' });
  const node = el('div', { class: `toast toast-${kind}`, 'data-testid': 'toast', dataset: { text: message } }, [
    el('span', { class: 'toast-text', text: message }),
    close,
  ]);
  const dismiss = () => {
    node.remove();
    if (!host.children.length && typeof host.hidePopover === 'function' && host.matches(':popover-open')) host.hidePopover();
  };
  close.addEventListener('click', dismiss);
  host.append(node);
  while (host.children.length > 4) host.firstElementChild.remove();
  raise(host);
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
