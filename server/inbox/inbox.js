// countersign reviewer inbox: one shell, routed by location.pathname. See docs/inbox.md for the API.
// The entry module: routing and in-app navigation. The views are in session.js (sign-in, enrolment),
// queue.js and request.js (with decision.js); the server calls in api.js; the DOM helpers in dom.js;
// the values shared with the server in constants.js, which the server writes (server/inbox-assets.ts).
import { onUnauthenticated, state } from './api.js';
import { showInsights } from './insights.js';
import { showLink } from './link.js';
import { showQueue } from './queue.js';
import { showRequest } from './request.js';
import { loadSession, onSignedIn, showEnroll, showSignIn } from './session.js';

let renderSeq = 0;
let renderedPath = null;

function currentRoute() {
  const path = location.pathname.replace(/\/+$/, '');
  if (path === '/inbox/enroll') return { name: 'enroll' };
  if (path === '/inbox/link') return { name: 'link' };
  if (path === '/inbox/insights') return { name: 'insights' };
  const match = /^\/inbox\/requests\/([^/]+)$/.exec(path);
  if (match) {
    try { return { name: 'request', id: decodeURIComponent(match[1]) }; } catch { return { name: 'request', id: match[1] }; }
  }
  return { name: 'queue' };
}

async function render({ focus = false } = {}) {
  const seq = ++renderSeq;
  renderedPath = location.pathname;
  const route = currentRoute();
  if (route.name === 'enroll') return showEnroll();
  if (route.name === 'insights') return showInsights(); // auditors: an API key, not a reviewer session
  if (!state.me) {
    const signedIn = await loadSession();
    if (seq !== renderSeq || signedIn === null) return;
    if (!signedIn) return showSignIn();
  }
  if (route.name === 'link') showLink();
  else if (route.name === 'request') showRequest(route.id, focus);
  else showQueue(focus);
}


/** In-app links swap the page without a reload, so the session and queue settings stay in memory. */
function onLinkClick(event) {
  const link = event.target instanceof Element ? event.target.closest('a[href]') : null;
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !/^\/inbox(\/|$)/.test(url.pathname) || url.pathname.startsWith('/inbox/assets/') || url.hash) return;
  event.preventDefault();
  if (url.pathname !== location.pathname) history.pushState(null, '', url.pathname);
  render({ focus: true });
}

// ---------------------------------------------------------------- start

onUnauthenticated(showSignIn);
onSignedIn(() => render({ focus: true }));
document.addEventListener('click', onLinkClick);
window.addEventListener('popstate', () => { if (location.pathname !== renderedPath) render({ focus: true }); });
window.addEventListener('hashchange', () => { if (location.hash && ['enroll', 'link'].includes(currentRoute().name)) render(); });
render();
