// The Insights page (issue 28), for auditors: the figures of GET /v1/insights over sealed evidence,
// with the server's SVG charts shown as images (img-src data:, no script in them). An auditor has an
// API key, not a passkey: it is typed here, kept in this page's memory only (never a cookie or
// storage) and sent as a bearer credential to this origin; reloading the page forgets it.
import { Problem, describe } from './api.js';
import { alertBox, el, main, newPage, plural, setText } from './dom.js';

let auditorKey = null;

const pct = (x) => `${Math.round(x * 1000) / 10} %`;
function secs(ms) {
  if (!ms) return '—';
  if (ms < 10_000) return `${Math.round(ms / 100) / 10} s`;
  if (ms < 600_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

async function fetchInsights(since) {
  const res = await fetch(`/v1/insights?since=${encodeURIComponent(since)}&charts=svg`, {
    headers: { accept: 'application/json, application/problem+json', authorization: `Bearer ${auditorKey}` },
    credentials: 'omit',
    cache: 'no-store',
  }).catch(() => {
    throw new Problem(0, { detail: 'The server could not be reached: check your connection and try again.' });
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Problem(res.status, data);
  return data;
}

function chart(svgText, alt) {
  const bytes = new TextEncoder().encode(svgText);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return el('img', { class: 'chart', alt, src: `data:image/svg+xml;base64,${btoa(binary)}` });
}

function tile(label, value, detail) {
  return el('div', { class: 'tile' }, el('p', { class: 'tile-value' }, value), el('p', { class: 'tile-label' }, label), detail ? el('p', { class: 'tile-detail' }, detail) : null);
}

function tableOf(caption, headers, rows) {
  return el('div', { class: 'table-wrap' }, el('table', {},
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => (i === 0 ? el('th', { scope: 'row' }, String(c)) : el('td', {}, String(c)))))))));
}

function outcomesTable(caption, key, rows) {
  return tableOf(caption, [key, 'requests', 'auto-allowed', 'denied by policy', 'approved', 'denied', 'changes', 'expired', 'executed', 'failed'],
    rows.map((r) => [r[key], r.requests, r.auto_allowed, r.policy_denied, r.approved, r.denied, r.changes_requested, r.expired, r.executed, r.failed]));
}

function render(out, r) {
  const o = r.outcomes;
  const flagged = r.reviewers.filter((v) => v.flag);
  out.replaceChildren(
    el('p', { class: 'lead' }, `${plural(o.requests, 'request')} sealed between ${r.window.since.slice(0, 16).replace('T', ' ')} and ${r.window.until.slice(0, 16).replace('T', ' ')} UTC${r.window.complete ? '' : ' (the newest only: the window holds more)'}.`),
    el('div', { class: 'tiles' },
      tile('automated', pct(r.automatedShare), `${o.auto_allowed} auto-allowed${o.edge_allowed ? ` (${o.edge_allowed} at the edge)` : ''}, ${o.policy_denied} denied by policy`),
      tile('reviewed', String(o.reviewed), `${o.approved} approved, ${o.denied} denied, ${o.changes_requested} changes, ${o.expired} expired`),
      tile('SLA breaches', String(r.slaBreaches), plural(r.escalations, 'escalation')),
      tile('executed', String(o.executed), `${o.failed} failed`)),
    flagged.length
      ? el('section', { class: 'panel flags', 'aria-labelledby': 'flags-title' }, el('h2', { id: 'flags-title' }, 'Looks like rubber-stamping'),
        el('ul', {}, flagged.map((v) => el('li', { class: 'flag' }, el('strong', {}, v.reviewer), `: ${v.flag}`))))
      : el('p', { class: 'no-flags' }, 'No reviewer looks like a rubber stamp in this window.'),
    el('h2', {}, 'Outcomes by action'),
    chart(r.charts.outcomesByAction, 'Outcomes by action: a stacked bar per action'),
    el('h2', {}, 'Time from shown to decided, per reviewer'),
    chart(r.charts.reviewerTimes, 'p50 and p90 time to decide, per reviewer'),
    tableOf('Reviewers', ['reviewer', 'decisions', 'approval rate', 'median', 'p90', `decided within ${r.thresholds.fastDecisionMs / 1000} s`],
      r.reviewers.map((v) => [v.reviewer, v.count, pct(v.approvalRate), secs(v.medianMs), secs(v.p90Ms), pct(v.fastShare)])),
    el('h2', {}, 'Time to decide, per group'),
    chart(r.charts.groupTimes, 'p50 and p90 time to decide, per group'),
    tableOf('Groups', ['group', 'decided', 'p50', 'p90', 'SLA breaches', 'escalations'], r.timeToDecideByGroup.map((g) => [g.group, g.count, secs(g.p50Ms), secs(g.p90Ms), g.slaBreaches, g.escalations])),
    outcomesTable('By rule', 'rule', r.byRule),
    outcomesTable('By agent', 'agent', r.byAgent));
}

export function showInsights() {
  const p = newPage('Insights');
  p.alert = alertBox();
  const out = el('div', { id: 'insights' });
  const key = el('input', { id: 'auditor-key', type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: 'cs_auditor_…', value: auditorKey ?? '' });
  const since = el('select', { id: 'insights-since' }, ['1d', '7d', '30d', '90d', '366d'].map((d) => el('option', { value: d, selected: d === '7d' }, `last ${d}`)));
  const button = el('button', { type: 'submit', class: 'button primary' }, 'Show insights');
  const form = el('form', { class: 'insights-form' },
    el('div', { class: 'field' }, el('label', { for: 'auditor-key' }, 'Auditor API key'), key),
    el('div', { class: 'field inline' }, el('label', { for: 'insights-since' }, 'Window'), since),
    button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setText(p.alert, '');
    auditorKey = key.value.trim();
    button.disabled = true;
    try {
      const report = await fetchInsights(since.value);
      if (p.alive) render(out, report);
    } catch (err) {
      if (p.alive) setText(p.alert, err instanceof Problem && err.status === 401 ? 'That is not a valid auditor key.' : describe(err));
    } finally {
      button.disabled = false;
    }
  });
  main.append(el('section', { class: 'card insights', 'aria-labelledby': 'insights-title' },
    el('h1', { id: 'insights-title', tabindex: -1 }, 'Insights'),
    el('p', {}, 'What got automated, what got blocked and what needed a human, from the sealed evidence. For auditors: your API key stays in this page and is forgotten when you leave it.'),
    form, p.alert, out));
}
