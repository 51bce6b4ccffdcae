// The Slack link page (/inbox/link#code=…): a reviewer signed in with their passkey confirms, with a
// passkey assertion, that a Slack user acts as them in Slack. The code comes from /countersign link
// in Slack; it is read from the fragment (never sent in a URL the server logs) and kept in memory.
import { api, describe, post, webauthn } from './api.js';
import { alertBox, el, main, newPage, setText } from './dom.js';

let code = null;

/** Reads the code from the fragment once, then removes it from the address bar (it stays in memory). */
function takeCode() {
  if (!location.hash) return;
  const params = new URLSearchParams(location.hash.slice(1));
  code = params.get('code');
  history.replaceState(history.state, '', location.pathname + location.search);
}

export async function showLink() {
  takeCode();
  const p = newPage('Link your Slack account');
  p.alert = alertBox();
  const title = el('h1', { id: 'link-title', tabindex: -1 }, 'Link your Slack account');
  const card = el('section', { class: 'card narrow', 'aria-labelledby': 'link-title' }, title, p.alert);
  main.append(card);
  if (!code) {
    setText(p.alert, 'This page needs the link from /countersign link in Slack: run it again and open the link it gives you.');
    return;
  }
  let offer;
  try {
    offer = await api(`/v1/slack/link?code=${encodeURIComponent(code)}`);
  } catch (err) {
    if (p.alive) setText(p.alert, describe(err));
    return;
  }
  if (!p.alive) return;
  const who = `@${offer.slack.userName || offer.slack.userId}`;
  const status = el('p', { role: 'status' });
  const button = el('button', { type: 'button', class: 'primary' }, 'Confirm with your passkey');
  button.addEventListener('click', async () => {
    button.disabled = true;
    setText(p.alert, '');
    try {
      const response = await webauthn().startAuthentication({ optionsJSON: {
        challenge: offer.challenge, rpId: offer.passkey.rpId, allowCredentials: offer.passkey.allowCredentials, userVerification: 'required', timeout: 120000,
      } });
      const { authenticatorData, clientDataJSON, signature } = response.response;
      const done = await post('/v1/slack/link', { code, passkey: { credentialId: response.id, authenticatorData, clientDataJSON, signature } });
      if (!p.alive) return;
      code = null;
      button.remove();
      setText(status, done.message);
      status.focus();
    } catch (err) {
      if (!p.alive) return;
      button.disabled = false;
      setText(p.alert, describe(err));
      p.alert.focus();
    }
  });
  card.append(
    el('p', {}, `Slack user ${who} (${offer.slack.userId}, team ${offer.slack.teamId}) will act as you, ${offer.reviewer}, in Slack: their clicks approve and deny requests in your name where a rule allows decisions in chat.`),
    el('p', {}, `Confirm only if you ran /countersign link yourself, just now. This link works once, until ${new Date(offer.expiresAt).toLocaleTimeString()}.`),
    button, status);
  title.focus();
}
