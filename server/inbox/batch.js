// Approve selected: the queue's ticked rows approved with one passkey signature over a Merkle root of
// them (docs/inbox.md). Each request is looked at when it is ticked; the version shown then is the one signed.
import { api, describe, post, state, webauthn } from './api.js';
import { MAX_BATCH_SIZE } from './constants.js';
import { dateTime, el, humanize, plural, pretty, setText } from './dom.js';

/** The panel under the queue: what is selected, an optional comment, the button, and each request's answer. */
export function batchPanel(onDone) {
  const b = { selected: new Map(), boxes: new Map(), busy: false, onDone };
  b.count = el('p', { class: 'batch-count' });
  b.list = el('ul', { class: 'batch-list' });
  b.comment = el('textarea', { id: 'batch-comment', rows: 2 });
  b.error = el('p', { role: 'alert', class: 'alert', id: 'batch-error' });
  b.signing = el('div', { class: 'signing', 'aria-live': 'polite' });
  b.results = el('ul', { class: 'batch-results', role: 'status' });
  b.button = el('button', { type: 'button', class: 'button primary', onclick: () => approveSelected(b) }, 'Approve selected');
  b.form = el('div', { class: 'batch-form', hidden: true }, b.count, b.list,
    el('div', { class: 'field' }, el('label', { for: 'batch-comment' }, 'Comment for each request (optional)'), b.comment), b.signing, b.button);
  b.el = el('section', { class: 'batch', 'aria-label': 'Approve selected requests' }, b.form, b.error, b.results);
  return b;
}

/** The row's checkbox: ticking it looks the request up, so that the version signed is the one shown. */
export function selectBox(b, requestId, label) {
  const box = el('input', { type: 'checkbox', class: 'select-row', 'aria-label': `Select ${label}` });
  box.addEventListener('change', () => toggle(b, requestId, box));
  b.boxes.set(requestId, box);
  return box;
}

/** A request that left the queue leaves the selection too. */
export function forget(b, requestId) {
  b.boxes.delete(requestId);
  if (b.selected.delete(requestId)) render(b);
}

async function toggle(b, requestId, box) {
  setText(b.error, '');
  if (!box.checked) {
    b.selected.delete(requestId);
    return render(b);
  }
  if (b.selected.size >= MAX_BATCH_SIZE) {
    box.checked = false;
    return setText(b.error, `A batch approves at most ${MAX_BATCH_SIZE} requests: approve these first.`);
  }
  try {
    const view = await api(`/v1/reviews/${encodeURIComponent(requestId)}`);
    if (!box.checked) return;
    if (view?.policy?.batch !== true) {
      box.checked = false;
      return setText(b.error, `Rule ${(view?.policy?.ruleIds ?? []).join(', ')} does not allow batch approval of ${view?.request?.action ?? requestId}: open it to approve it on its own.`);
    }
    b.selected.set(requestId, view);
    render(b);
  } catch (err) {
    box.checked = false;
    setText(b.error, describe(err));
  }
}

const titleOf = (view) => `${view.request?.action ?? 'request'} on ${view.request?.resource?.type ?? ''}:${view.request?.resource?.id ?? ''}`;

function render(b) {
  const views = [...b.selected.values()];
  b.form.hidden = views.length === 0;
  setText(b.count, `${plural(views.length, 'request')} selected`);
  // The exact payload each signature approves, shown open: a summary is the agent's words, the payload is what runs.
  b.list.replaceChildren(
    ...views.map((v) =>
      el(
        'li',
        { 'data-request-id': v.requestId },
        `${titleOf(v)} — request ${v.requestId}, version ${String(v.currentDigest).slice(0, 12)}…`,
        el('details', { open: true }, el('summary', {}, 'Exact payload'), el('pre', { class: 'code' }, JSON.stringify(v.request?.payload ?? null, null, 2))),
      ),
    ),
  );
}

async function approveSelected(b) {
  if (b.busy || !b.selected.size) return;
  b.busy = true;
  b.button.disabled = true;
  setText(b.error, '');
  b.results.replaceChildren();
  const views = [...b.selected.values()];
  const comment = b.comment.value.trim();
  const progress = (text) => b.signing.replaceChildren(el('p', {}, text));
  try {
    progress('Preparing the statement to sign…');
    const st = await post('/v1/batches/statement', { items: views.map((v) => ({ id: v.workflowId, versionDigest: v.currentDigest })), ...(comment ? { comment } : {}) });
    b.signing.replaceChildren(
      el('p', {}, `You are signing: Approve ${plural(views.length, 'request')} as ${state.me?.reviewer ?? 'you'}, at ${dateTime(st.signedAt)}, with one passkey signature over root ${String(st.statement?.root).slice(0, 16)}…. Confirm with your passkey.`),
      el('details', {}, el('summary', {}, 'The full statement and its requests'), el('pre', { class: 'code' }, pretty({ statement: st.statement, items: st.items }))));
    const response = await webauthn().startAuthentication({ optionsJSON: {
      challenge: st.challenge, rpId: st.passkey?.rpId, allowCredentials: st.passkey?.allowCredentials ?? [], userVerification: 'required', timeout: 120000,
    } });
    progress('Recording your approvals…');
    const { authenticatorData, clientDataJSON, signature } = response.response;
    const answer = await post('/v1/batches', { items: st.items, ...(comment ? { comment } : {}), signature: { signedAt: st.signedAt, passkey: { credentialId: response.id, authenticatorData, clientDataJSON, signature } } });
    const byId = new Map(views.map((v) => [v.workflowId, v]));
    b.results.replaceChildren(...(answer?.results ?? []).map((r) => el('li', { class: r.accepted ? 'batch-ok' : 'batch-refused', 'data-request-id': r.requestId },
      r.accepted
        ? `Approved: ${titleOf(byId.get(r.workflowId) ?? {})} (request ${r.requestId}): ${humanize(r.status)} (${r.approvals?.length ?? 0} of ${r.approvalsNeeded} approvals)`
        : `Refused (${r.code}): ${titleOf(byId.get(r.workflowId) ?? {})} (request ${r.requestId}): ${r.message}`)));
    for (const id of b.selected.keys()) { const box = b.boxes.get(id); if (box) box.checked = false; }
    b.selected.clear();
    b.comment.value = '';
    render(b);
    b.onDone();
  } catch (err) {
    setText(b.error, describe(err));
  } finally {
    b.busy = false;
    b.button.disabled = false;
    b.signing.replaceChildren();
  }
}
