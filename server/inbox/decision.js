// The decision panel: the chosen decision's fields, local checks, then a statement signed with the passkey.
import { describe, post, Problem, state, webauthn } from './api.js';
import { REASON_CODES, SUGGESTED_DENY_REASONS } from './constants.js';
import { dateTime, deepEqual, el, humanize, pretty, setText } from './dom.js';

/** A reason code as the inbox asks for it: UPPER_SNAKE_CASE (the server accepts any /^[A-Z][A-Z0-9_]{1,63}$/, DenyReason). */
const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

/** Each decision's fields: [body field, label, message when required and empty]. */
const DECISIONS = [
  { value: 'approve', label: 'Approve', fields: [['comment', 'Comment (optional)']] },
  { value: 'approve_edit', label: 'Approve with edit', fields: [['editedPayload', 'Edited payload (JSON)', 'Enter the edited payload.'], ['check'], ['comment', 'Comment (optional)']] },
  { value: 'deny', label: 'Deny', fields: [['reasonCode', 'Reason code', 'Enter a reason code, such as AMOUNT_TOO_HIGH.'], ['message', 'Message', 'Enter a message for the agent.']] },
  { value: 'request_changes', label: 'Request changes', fields: [['comment', 'Comment', 'Enter a comment saying what should change.'], ['proposedPayload', 'Proposed payload (JSON, optional)']] },
];
const isJsonField = (key) => key.endsWith('Payload');

export function decisionForm(ctx) {
  const form = el('form', { class: 'decision-form', novalidate: true });
  ctx.form = {
    el: form, choice: null, controls: {},
    fields: el('div', { class: 'decision-fields' }),
    error: el('p', { role: 'alert', class: 'alert', id: 'form-error' }),
    signing: el('div', { class: 'signing', 'aria-live': 'polite' }),
    submit: el('button', { type: 'submit', class: 'button primary' }, 'Sign and submit'),
  };
  const radios = DECISIONS.map((d) => el('div', { class: 'choice' },
    el('input', { type: 'radio', name: 'decision', id: `decision-${d.value}`, value: d.value, onchange: () => chooseDecision(ctx, d) }),
    el('label', { for: `decision-${d.value}` }, d.label)));
  form.append(el('fieldset', {}, el('legend', {}, 'Your decision'), radios), ctx.form.fields, ctx.form.error, ctx.form.signing, ctx.form.submit);
  form.addEventListener('submit', (event) => { event.preventDefault(); submitDecision(ctx); });
  return form;
}

/** Renders only the chosen decision's fields; what was typed in another decision's fields is kept as a draft. */
function chooseDecision(ctx, decision) {
  const f = ctx.form;
  for (const [key, control] of Object.entries(f.controls)) ctx.drafts[`${f.choice}:${key}`] = control.value;
  f.choice = decision.value;
  f.controls = {};
  setText(f.error, '');
  f.fields.replaceChildren(...decision.fields.map(([key, label, required]) => (key === 'check' ? checkButton(ctx) : fieldFor(ctx, key, label, Boolean(required)))));
}

function fieldFor(ctx, key, label, required) {
  const id = `field-${key}`;
  const draft = ctx.drafts[`${ctx.form.choice}:${key}`];
  const json = isJsonField(key);
  let control;
  let hint = null;
  if (key === 'reasonCode') {
    hint = el('p', { id: `${id}-hint`, class: 'hint' }, 'UPPER_SNAKE_CASE, for example AMOUNT_TOO_HIGH.');
    control = el('input', { type: 'text', id, name: key, placeholder: 'AMOUNT_TOO_HIGH', pattern: UPPER_SNAKE.source, list: 'reason-codes', autocomplete: 'off',
      spellcheck: 'false', autocapitalize: 'characters', required, value: draft ?? '', 'aria-describedby': hint.id });
  } else {
    const value = draft ?? (key === 'editedPayload' ? pretty(ctx.view.currentPayload) : '');
    const rows = json ? Math.min(18, Math.max(4, value.split('\n').length + 1)) : 3;
    control = el('textarea', { id, name: key, rows, spellcheck: json ? 'false' : null, class: json ? 'mono' : null, required, value });
  }
  ctx.form.controls[key] = control;
  control.addEventListener('input', () => control.removeAttribute('aria-invalid'));
  return el('div', { class: 'field' }, el('label', { for: id }, label), hint, control,
    key === 'reasonCode' ? el('datalist', { id: 'reason-codes' }, SUGGESTED_DENY_REASONS.map((code) => el('option', { value: code }))) : null);
}

function checkButton(ctx) {
  const ok = el('p', { class: 'check-ok', 'aria-live': 'polite', id: 'check-ok' });
  const error = el('p', { class: 'alert', role: 'alert', id: 'check-error' });
  const button = el('button', { type: 'button', class: 'button secondary' }, 'Check payload');
  button.addEventListener('click', async () => {
    setText(ok, '');
    setText(error, '');
    const edited = ctx.form.controls.editedPayload;
    const parsed = parseJson(edited.value);
    const problem = parsed.error ?? (await validatePayload(ctx, parsed.value));
    if (!ctx.p.alive || !button.isConnected) return;
    if (problem) {
      edited.setAttribute('aria-invalid', 'true');
      setText(error, problem);
    } else setText(ok, `The payload is valid for ${ctx.view.request?.action ?? 'this action'}.`);
  });
  return el('div', { class: 'check' }, button, ok, error);
}

function parseJson(text) {
  try { return { value: JSON.parse(text) }; } catch (err) { return { error: `The payload is not valid JSON: ${err.message}` }; }
}

/** null when the action's schema accepts the payload, else the reason. */
async function validatePayload(ctx, payload) {
  try {
    await post(`/v1/reviews/${encodeURIComponent(ctx.id)}/validate`, { payload });
    return null;
  } catch (err) {
    return describe(err);
  }
}

/** Checks the fields locally and builds the statement body (empty optional fields left out); { error, control } on a problem. */
function buildDecision(ctx) {
  const f = ctx.form;
  const decision = DECISIONS.find((d) => d.value === f.choice);
  if (!decision) return { error: 'Choose a decision first.', control: f.el.querySelector('input[name="decision"]') };
  const body = { decision: decision.value === 'approve_edit' ? 'approve' : decision.value, versionDigest: ctx.view.currentDigest };
  for (const [key, , required] of decision.fields) {
    const control = f.controls[key];
    const text = control?.value.trim();
    if (!text) {
      if (required) return { error: required, control };
      continue;
    }
    const parsed = isJsonField(key) ? parseJson(control.value) : { value: text };
    if (parsed.error) return { error: parsed.error, control };
    if (key === 'reasonCode' && !UPPER_SNAKE.test(text)) return { error: 'The reason code must be in UPPER_SNAKE_CASE, such as AMOUNT_TOO_HIGH.', control };
    body[key] = parsed.value;
  }
  if (body.editedPayload !== undefined && deepEqual(body.editedPayload, ctx.view.currentPayload)) {
    return { error: 'The edited payload is the same as the current one: choose Approve instead.', control: f.controls.editedPayload };
  }
  return { body };
}

function formError(ctx, text, control) {
  setText(ctx.form.error, text);
  if (control) {
    if (control.type !== 'radio') control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-errormessage', 'form-error');
    control.focus();
  }
}

function signingSummary(ctx, st, body) {
  const label = DECISIONS.find((d) => d.value === ctx.form.choice)?.label ?? body.decision;
  const full = typeof st.statement === 'string' ? st.statement : pretty(st.statement);
  ctx.form.signing.replaceChildren(
    el('p', {}, `You are signing: ${label} for request ${ctx.view.requestId ?? ctx.id}, version ${String(body.versionDigest ?? '').slice(0, 16)}…, as ${state.me?.reviewer ?? 'you'}, at ${dateTime(st.signedAt)}. Confirm with your passkey.`),
    el('details', {}, el('summary', {}, 'The full statement'), el('pre', { class: 'code' }, full)));
}

function receiptText(receipt) {
  const count = Array.isArray(receipt?.approvals) ? receipt.approvals.length : receipt?.approvals;
  const tally = typeof count === 'number' && typeof receipt?.approvalsNeeded === 'number' ? ` (${count} of ${receipt.approvalsNeeded} approvals)` : '';
  return `Decision recorded: ${humanize(receipt?.status ?? 'unknown')}${tally}`;
}

function resetSubmit(f) {
  f.busy = false;
  f.submit.disabled = false;
  f.signing.replaceChildren();
}

async function submitDecision(ctx) {
  const f = ctx.form;
  if (f.busy) return;
  setText(f.error, '');
  setText(ctx.p.alert, '');
  setText(ctx.status, '');
  const built = buildDecision(ctx);
  if (built.error) return formError(ctx, built.error, built.control);
  const { body } = built;
  const path = `/v1/reviews/${encodeURIComponent(ctx.id)}`;
  f.busy = true;
  f.submit.disabled = true;
  const progress = (text) => f.signing.replaceChildren(el('p', {}, text));
  try {
    if (body.editedPayload !== undefined) {
      progress('Checking the edited payload…');
      const problem = await validatePayload(ctx, body.editedPayload);
      if (problem) throw Object.assign(new Error(problem), { field: f.controls.editedPayload });
    }
    progress('Preparing the statement to sign…');
    const st = await post(`${path}/statement`, body);
    signingSummary(ctx, st, body);
    const response = await webauthn().startAuthentication({ optionsJSON: {
      challenge: st.challenge, rpId: st.passkey?.rpId, allowCredentials: st.passkey?.allowCredentials ?? [], userVerification: 'required', timeout: 120000,
    } });
    progress('Recording your decision…');
    const { authenticatorData, clientDataJSON, signature } = response.response;
    const receipt = await post(`${path}/decisions`, { ...body, signature: { signedAt: st.signedAt, passkey: { credentialId: response.id, authenticatorData, clientDataJSON, signature } } });
    if (!ctx.p.alive) return;
    setText(ctx.status, receiptText(receipt));
    await ctx.reload();
    if (!ctx.p.alive) return;
    resetSubmit(f); // a no-op after a re-render; keeps the form usable when the re-fetch failed
    ctx.status.focus();
  } catch (err) {
    if (!ctx.p.alive) return;
    resetSubmit(f);
    if (err.field) return formError(ctx, err.message, err.field);
    const stale = err instanceof Problem && err.code === REASON_CODES.STALE_VERSION;
    setText(ctx.p.alert, stale ? `The request changed while you were looking: ${describe(err)}` : describe(err));
    if (stale) await ctx.reload();
    if (ctx.p.alive) ctx.p.alert.focus();
  }
}
