// The sign-in / create-account screen.

import { api, token } from './api.js';
import { $ } from './util.js';

let onSignedIn = () => {};

export function initAuth(signedIn) {
  onSignedIn = signedIn;
  const tabs = [$('#tab-login'), $('#tab-register')];
  tabs.forEach((tab, index) => {
    tab.addEventListener('click', () => selectTab(index));
    tab.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
      const next = (index + 1) % 2;
      selectTab(next);
      tabs[next].focus();
    });
  });
  $('#login-form').addEventListener('submit', submitLogin);
  $('#register-form').addEventListener('submit', submitRegister);
}

function selectTab(index) {
  const tabs = [$('#tab-login'), $('#tab-register')];
  const panels = [$('#login-form'), $('#register-form')];
  tabs.forEach((tab, i) => {
    tab.setAttribute('aria-selected', String(i === index));
    tab.tabIndex = i === index ? 0 : -1;
    panels[i].hidden = i !== index;
  });
}

export function showAuth(message = '') {
  $('#main-view').hidden = true;
  $('#auth-view').hidden = false;
  document.title = 'Messenger';
  $('#login-password').value = '';
  $('#register-password').value = '';
  $('[data-testid="login-error"]').textContent = message;
  selectTab(0);
  $('#login-email').focus();
}

async function withBusy(form, errorBox, work) {
  const button = form.querySelector('button[type="submit"]');
  errorBox.textContent = '';
  button.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    await work();
  } catch (error) {
    errorBox.textContent = error.message;
  } finally {
    button.disabled = false;
    form.removeAttribute('aria-busy');
  }
}

async function signIn(email, password) {
  const answer = await api.login(email, password);
  token.start(answer); // the access token, its lifetime and the refresh token, for every tab
  await onSignedIn();
}

function submitLogin(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const email = $('#login-email').value.trim();
  const password = $('#login-password').value;
  const errorBox = form.querySelector('.form-error');
  if (!email || !password) {
    errorBox.textContent = 'Please enter your email and password.';
    return;
  }
  withBusy(form, errorBox, () => signIn(email, password));
}

function submitRegister(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const name = $('#register-name').value.trim();
  const email = $('#register-email').value.trim();
  const password = $('#register-password').value;
  const errorBox = form.querySelector('.form-error');
  if (!name) return void (errorBox.textContent = 'Please enter your name.');
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) return void (errorBox.textContent = 'Please enter a valid email address.');
  if (password.length < 8) return void (errorBox.textContent = 'The password needs at least 8 characters.');
  withBusy(form, errorBox, async () => {
    await api.register(name, email, password);
    await signIn(email, password);
  });
}
