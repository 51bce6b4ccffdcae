// Sign-in with a passkey, the session in the header, sign-out, and enrolment from an invite.
import { api, describe, post, state, webauthn } from './api.js';
import { alertBox, currentPage, el, main, newPage, sessionBox, setText } from './dom.js';

let invite = null; // { reviewer, token } from an enrolment link's fragment

/** What follows a sign-in (the entry module renders the page asked for): set once by the entry module. */
let signedIn = () => {};
export function onSignedIn(fn) {
  signedIn = fn;
}

export function setSession(me) {
  state.me = { reviewer: me.reviewer, groups: me.groups ?? [] };
  state.csrf = me.csrf ?? null;
  renderSession();
}

function renderSession() {
  sessionBox.replaceChildren(...(state.me ? [
    el('p', { class: 'who' }, 'Signed in as ', el('strong', {}, state.me.reviewer)),
    el('button', { type: 'button', class: 'button secondary', onclick: signOut }, 'Sign out')] : []));
}

async function signOut() {
  try {
    await post('/v1/inbox/logout', {}, false);
  } catch (err) {
    if (err.status !== 401) {
      const page = currentPage();
      if (page?.alert) { setText(page.alert, `Signing out failed: ${describe(err)}`); page.alert.focus(); }
      return;
    }
  }
  showSignIn();
  main.querySelector('h1')?.focus();
}

/** true when signed in, false when not; when the check itself fails, the sign-in view shows why. */
export async function loadSession() {
  try {
    setSession(await api('/v1/inbox/me', { signInOn401: false }));
    return true;
  } catch (err) {
    if (err.status !== 401) showSignIn(describe(err));
    return err.status === 401 ? false : null;
  }
}

/** A button that runs a passkey ceremony: disabled while it runs; a failure goes to the page's alert. */
function ceremonyButton(p, label, run) {
  const button = el('button', { type: 'button', class: 'button primary' }, label);
  button.addEventListener('click', async () => {
    setText(p.alert, '');
    button.disabled = true;
    try {
      await run(button);
    } catch (err) {
      if (!p.alive) return;
      button.disabled = false;
      setText(p.alert, describe(err));
      button.focus();
    }
  });
  return button;
}

export function showSignIn(notice) {
  state.me = null;
  state.csrf = null;
  renderSession();
  const p = newPage('Sign in');
  p.alert = alertBox();
  const button = ceremonyButton(p, 'Sign in with a passkey', async () => {
    const { options, ticket } = await post('/v1/inbox/login/options', {}, false);
    const response = await webauthn().startAuthentication({ optionsJSON: options });
    const me = await post('/v1/inbox/login', { ticket, response }, false);
    if (!p.alive) return;
    setSession(me);
    signedIn();
  });
  main.append(el('section', { class: 'card narrow', 'aria-labelledby': 'signin-title' },
    el('h1', { id: 'signin-title', tabindex: -1 }, 'Sign in'),
    el('p', {}, 'Use the passkey you enrolled for this inbox. There is no password.'),
    p.alert, button));
  if (notice) setText(p.alert, notice);
}

/** Reads the invite from the fragment once, then removes it from the address bar (it stays in memory). */
function takeInvite() {
  if (!location.hash) return;
  const params = new URLSearchParams(location.hash.slice(1));
  invite = { reviewer: params.get('reviewer') ?? '', token: params.get('token') ?? '' };
  history.replaceState(history.state, '', location.pathname + location.search);
}

export function showEnroll() {
  takeInvite();
  const p = newPage('Create your passkey');
  p.alert = alertBox();
  const status = el('p', { role: 'status', class: 'status-msg', tabindex: -1 });
  const card = el('section', { class: 'card narrow', 'aria-labelledby': 'enroll-title' }, el('h1', { id: 'enroll-title', tabindex: -1 }, 'Create your passkey'));
  main.append(card);
  if (!invite?.reviewer || !invite?.token) {
    card.append(p.alert);
    setText(p.alert, 'This enrolment link is incomplete: ask your operator for a new one.');
    return;
  }
  const { reviewer, token } = invite;
  const button = ceremonyButton(p, 'Create passkey', async () => {
    const { options, ticket } = await post('/v1/inbox/enroll/options', { reviewer, token }, false);
    const response = await webauthn().startRegistration({ optionsJSON: options });
    const answer = await post('/v1/inbox/enroll', { reviewer, token, ticket, response }, false);
    if (!p.alive) return;
    setText(status, answer?.message || `Passkey created: ask your operator to run countersign reviewers confirm ${reviewer}.`);
    if (answer?.fingerprint) {
      // The operator confirms this fingerprint, heard from the reviewer: a passkey made from an intercepted link has another.
      status.after(el('p', { class: 'fingerprint' }, 'Your passkey\'s fingerprint: ', el('strong', { id: 'passkey-fingerprint' }, answer.fingerprint)));
    }
    button.remove(); // the invite is spent
    status.focus();
  });
  card.append(
    el('p', { class: 'lead' }, `for reviewer ${reviewer}`),
    el('p', {}, 'Your device will ask you to create a passkey for this inbox. It signs you in and signs every decision you make.'),
    p.alert, status, button);
}
