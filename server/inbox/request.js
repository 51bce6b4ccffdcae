// One request: at a glance (the catalog's display fields, marked as countersign's, and the agent's own words, marked as its), its details, payload (with the changes against the agent's original), history, and the decision panel.
import { api, describe } from './api.js';
import { alertBox, dateTime, deepEqual, displayLabel, el, every, humanize, isWaiting, lineDiff, main, newPage, pretty, riskBadge, setText, statusBadge, timeLeft } from './dom.js';
import { decisionForm } from './decision.js';

export function showRequest(id, focus) {
  const p = newPage('Request');
  p.alert = alertBox();
  const ctx = {
    p, id, view: null, drafts: {}, tick: null,
    heading: el('h1', { tabindex: -1, class: 'request-title' }, 'Loading the request…'),
    status: el('p', { role: 'status', class: 'status-msg', tabindex: -1 }),
    body: el('div', { class: 'request' }),
    /** Fetches the view again and renders it (after a decision, or a stale version). */
    reload: () => loadView(ctx),
  };
  main.append(el('p', { class: 'back' }, el('a', { href: '/inbox' }, 'Back to the queue')), ctx.heading, p.alert, ctx.status, ctx.body);
  every(p, 1000, () => ctx.tick?.());
  loadView(ctx).then(() => { if (focus && p.alive) ctx.heading.focus(); });
}

async function loadView(ctx) {
  try {
    const view = await api(`/v1/reviews/${encodeURIComponent(ctx.id)}`);
    if (!ctx.p.alive) return;
    ctx.view = view;
    renderView(ctx);
  } catch (err) {
    if (!ctx.p.alive) return;
    if (err.status === 404 || !ctx.view) {
      ctx.view = null;
      ctx.tick = null;
      setText(ctx.heading, err.status === 404 ? 'Request not found' : 'The request could not be loaded');
      ctx.body.replaceChildren();
      document.title = `${ctx.heading.textContent} · countersign inbox`;
    }
    setText(ctx.p.alert, describe(err));
  }
}

function renderView(ctx) {
  const v = ctx.view;
  const r = v.request ?? {};
  // The headline is what the request does, not the agent's summary (which is shown below, as the agent's words).
  const resource = r.resource && typeof r.resource === 'object' ? [r.resource.type, r.resource.id].filter(Boolean).join(':') : '';
  const title = String(r.action || 'Request') + (resource ? ` on ${resource}` : '');
  setText(ctx.heading, title);
  document.title = `${title} · countersign inbox`;
  const open = isWaiting(v.status);
  const side = el('section', { class: 'panel decision', 'aria-labelledby': 'decision-title' }, el('h2', { id: 'decision-title' }, 'Decision'));
  if (open) side.append(decisionForm(ctx));
  else side.append(el('p', { class: 'closed' }, `This request is ${humanize(v.status)}.`));
  const notice = versionNotice(v);
  ctx.body.replaceChildren(
    ...(notice ? [notice] : []),
    el('div', { class: 'request-grid' }, el('div', { class: 'request-main' }, glanceSection(v), detailsSection(ctx), payloadSection(v)), side),
    historySection(v));
}

/**
 * A link that names a version (`?version=<digest>`, the Slack message's step-up link): whether the
 * version on the page is that one. When the request changed since, it says so plainly, before the
 * reviewer signs (a signature is always over the version shown here).
 */
function versionNotice(v) {
  const wanted = new URLSearchParams(location.search).get('version');
  if (!wanted) return null;
  const short = (digest) => `${String(digest ?? '').slice(0, 12)}…`;
  if (wanted === v.currentDigest) {
    return el('p', { class: 'version-notice same', id: 'version-notice' }, `This is the version your link named (${short(wanted)}).`);
  }
  const editedBy = Array.isArray(v.history) ? [...v.history].reverse().find((e) => e?.type === 'edited' && e.actor)?.actor : undefined;
  return el('p', { class: 'version-notice changed', id: 'version-notice', role: 'note' },
    el('strong', {}, 'This request changed since your link was made. '),
    `The link named version ${short(wanted)}; the version now under review is ${short(v.currentDigest)}${editedBy ? ` (edited by ${editedBy})` : ''}. `,
    'Read it again below: what you sign is the version shown on this page, not the one in the link.');
}

/** What a reviewer reads first: the catalog's display fields (countersign's), then the agent's summary (the agent's words). */
function glanceSection(v) {
  const r = v.request ?? {};
  const fields = Array.isArray(v.policy?.display) ? v.policy.display.filter((f) => f && typeof f.name === 'string') : [];
  const parts = [];
  if (fields.length) {
    parts.push(
      el('p', { class: 'source', id: 'display-source' }, 'From the catalog — countersign derived these from the payload:'),
      el('dl', { class: 'details display-fields', 'aria-describedby': 'display-source' },
        fields.flatMap((f) => [el('dt', {}, displayLabel(f.name)), el('dd', { 'data-display': f.name }, String(f.value ?? ''))])));
  }
  if (r.summary) {
    parts.push(el('div', { class: 'agent-says' },
      el('p', { class: 'source', id: 'agent-says-label' }, 'The agent says:'),
      el('blockquote', { class: 'agent-summary', 'aria-labelledby': 'agent-says-label' }, String(r.summary))));
  }
  if (!parts.length) return null;
  return el('section', { class: 'panel glance', 'aria-labelledby': 'glance-title' }, el('h2', { id: 'glance-title' }, 'At a glance'), parts);
}


function detailsSection(ctx) {
  const v = ctx.view;
  const r = v.request ?? {};
  const policy = v.policy ?? {};
  const item = (term, ...desc) => [el('dt', {}, term), el('dd', {}, ...desc)];
  const res = r.resource ?? {};
  const resource = el('dl', { class: 'inline' }, ...[['Type', res.type], ['ID', res.id], ['Owner', res.owner], ['Environment', res.environment]]
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .flatMap(([term, value]) => item(term, String(value))));
  const names = Array.isArray(v.approvals) ? v.approvals : [];
  const countdown = el('span', { class: 'countdown' });
  ctx.tick = () => {
    const left = timeLeft(v.deadline);
    setText(countdown, left === 'overdue' ? 'overdue' : `${left} left`);
    countdown.classList.toggle('overdue', left === 'overdue');
  };
  ctx.tick();
  return el('section', { class: 'panel', 'aria-labelledby': 'details-title' },
    el('h2', { id: 'details-title' }, 'Request'),
    el('dl', { class: 'details' },
      item('Status', statusBadge(v.status)),
      item('Action', el('code', {}, String(r.action ?? ''))),
      item('Resource', resource),
      item('Agent', String(r.agentId ?? ''), r.onBehalfOf ? `, on behalf of ${r.onBehalfOf}` : ''),
      item('Risk', riskBadge(policy.risk), policy.reason ? el('span', { class: 'reason' }, String(policy.reason)) : null),
      item('Rules', ...(policy.ruleIds?.length ? policy.ruleIds.map((id) => el('code', { class: 'tag' }, String(id))) : ['none'])),
      item('Suggested group', String(policy.route?.group?.name ?? 'none')),
      item('Eligible groups', (v.eligibleGroups ?? []).join(', ') || 'none'),
      item('Approvals', `${names.length} of ${v.approvalsNeeded ?? 1}`, names.length ? `: ${names.join(', ')}` : ''),
      item('Deadline', v.deadline ? [el('time', { datetime: v.deadline }, dateTime(v.deadline)), ' (', countdown, ')'] : 'no deadline'),
      v.nextEscalation ? item('Next escalation', el('time', { datetime: v.nextEscalation }, dateTime(v.nextEscalation))) : []));
}

function payloadSection(v) {
  const current = pretty(v.currentPayload);
  const section = el('section', { class: 'panel', 'aria-labelledby': 'payload-title' },
    el('h2', { id: 'payload-title' }, 'Payload'), el('pre', { class: 'code' }, current));
  if (!deepEqual(v.request?.payload, v.currentPayload)) {
    const lines = lineDiff(pretty(v.request?.payload).split('\n'), current.split('\n'));
    section.append(
      el('h2', {}, 'Changes against the original'),
      el('p', { class: 'hint' }, 'Lines marked - are only in the agent\'s original; lines marked + are only in the version you are deciding on.'),
      el('pre', { class: 'code diff' }, lines.map(([op, line]) =>
        op === ' ' ? el('span', { class: 'diff-line diff-same' }, `  ${line}\n`)
          : el(op === '-' ? 'del' : 'ins', { class: `diff-line ${op === '-' ? 'diff-del' : 'diff-add'}` }, `${op} ${line}\n`))));
  }
  return section;
}

function historySection(v) {
  const events = Array.isArray(v.history) ? v.history : [];
  return el('section', { class: 'panel history', 'aria-labelledby': 'history-title' },
    el('h2', { id: 'history-title' }, 'History'),
    events.length ? el('ol', { class: 'history-list' }, events.map((e) => el('li', {},
      el('p', { class: 'history-head' }, el('time', { datetime: e.at }, dateTime(e.at)), ' ', el('strong', {}, humanize(e.type)), e.actor ? ` by ${e.actor}` : ''),
      e.detail ? el('p', { class: 'history-detail' }, String(e.detail)) : null)))
      : el('p', {}, 'No events yet.'));
}
