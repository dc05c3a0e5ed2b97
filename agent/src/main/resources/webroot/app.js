// The status page: plain JavaScript, no build step, no CDN. Reads the API and follows the
// server-sent event stream so that a rollout in progress updates live.
'use strict';

const state = { deployments: [], history: {}, live: {} };

const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
const short = (sha) => (sha ? sha.slice(0, 7) : '–');
const ms = (v) => (v == null ? '' : v >= 1000 ? (v / 1000).toFixed(1) + ' s' : v + ' ms');

async function getJson(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(url + ': ' + r.status);
  return r.json();
}

async function refresh() {
  const list = await getJson('/api/v1/deployments');
  state.deployments = list.items;
  await Promise.all(list.items.map(async (d) => {
    state.history[d.name] = (await getJson('/api/v1/deployments/' + encodeURIComponent(d.name) + '/history?limit=10')).items;
  }));
  render();
}

function commitCell(d, sha, revision) {
  const info = (d.commits || {})[sha];
  return `<span class="sha">${esc(short(sha))}</span>${revision ? ' <code>' + esc(revision) + '</code>' : ''}` +
    (info ? ` <span class="muted">${esc(info.subject)}</span>` : '');
}

function renderChecks(checks) {
  if (!checks || !checks.length) return '<p class="muted">No check results yet.</p>';
  return `<table class="checks"><tr><th>check</th><th>kind</th><th>status</th><th>value</th><th>duration</th><th>message</th></tr>` +
    checks.map((c) => `<tr data-check="${esc(c.name)}"><td>${esc(c.name)}</td><td>${esc(c.kind)}</td>` +
      `<td class="${esc(c.status)}">${esc(c.status)}</td><td>${esc(c.value)}</td><td>${ms(c.durationMs)}</td>` +
      `<td>${esc(c.message)}</td></tr>`).join('') + '</table>';
}

function renderRollout(r, live) {
  const steps = r.steps || [];
  const t0 = Date.parse(r.startedAt);
  const total = Math.max(1, (r.finishedAt ? Date.parse(r.finishedAt) : Date.now()) - t0);
  const stepRows = steps.map((s) => {
    const start = Date.parse(s.startedAt) - t0;
    const dur = s.durationMs ?? (Date.now() - Date.parse(s.startedAt));
    return `<tr class="step" data-step="${esc(s.name)}"><td>${esc(s.name)}</td><td class="${esc(s.result || 'Started')}">${esc(s.result || 'running')}</td>` +
      `<td>+${ms(start)}</td><td>${ms(dur)}</td><td><span class="bar" style="margin-left:${(start / total) * 160}px;width:${Math.max(2, (dur / total) * 160)}px"></span></td></tr>`;
  }).join('');
  const liveRows = (live || []).filter((e) => !steps.some((s) => s.name === e.step)).map((e) =>
    `<tr class="step" data-step="${esc(e.step)}"><td>${esc(e.step)}</td><td class="${esc(e.state)}">${esc(e.state === 'Started' ? 'running' : e.state)}</td><td></td><td></td><td></td></tr>`).join('');
  // The checks that failed the rollout: the failing ones of the last round of its verification.
  const verifyRounds = (r.checks || []).filter((c) => /^(Verifying|Previewing)/.test(String(c.stage)));
  const lastRound = verifyRounds.length ? verifyRounds[verifyRounds.length - 1] : null;
  const failingChecks = r.result && r.result !== 'Succeeded' && lastRound
    ? verifyRounds.filter((c) => c.stage === lastRound.stage && c.round === lastRound.round && c.status === 'Failing')
    : [];
  // Which rule ended each verification (DESIGN.md §2): the verify steps say it in their output.
  const endedBy = steps
    .filter((s) => s.name === 'verify' || s.name === 'verify-rollback' || s.name === 'preview-verify')
    .map((s) => ({ step: s.name, rule: ((s.output || '').match(/ended by: ([^)]*)\)/) || [])[1] }))
    .filter((e) => e.rule);
  return `<div class="rollout ${r.result ? 'result-' + esc(r.result) : 'active'}" data-rollout="${r.id}">
    <div><b>#${r.id}</b> ${esc(r.kind)} <span class="sha">${esc(short(r.from))}</span> → <span class="sha">${esc(short(r.to))}</span>
      ${r.revision ? '<code>' + esc(r.revision) + '</code>' : ''}
      <span class="${esc(r.result || 'Started')}">${esc(r.result || r.stage)}</span>
      ${r.reason && r.reason !== 'Succeeded' ? ' — ' + esc(r.reason) : ''} <span class="muted">${esc(r.startedAt)} ${r.durationMs != null ? '(' + ms(r.durationMs) + ')' : ''}</span></div>
    ${r.message && r.result !== 'Succeeded' ? `<pre class="reason">${esc(r.message)}</pre>` : ''}
    ${failingChecks.map((c) => `<div class="failing-check">failing check: <b>${esc(c.name)}</b> — ${esc(c.message)}${c.failure ? ' <span class="muted">(' + (c.failure === 'Wrong' ? 'wrong answer' : 'not ready') + ')</span>' : ''}</div>`).join('')}
    ${endedBy.map((e) => `<div class="ended-by">${esc(e.step)} ended by: <b>${esc(e.rule)}</b></div>`).join('')}
    <table class="steps"><tr><th>step</th><th>result</th><th>at</th><th>took</th><th>timeline</th></tr>${stepRows}${liveRows}</table>
  </div>`;
}

function render() {
  const main = document.getElementById('deployments');
  if (!state.deployments.length) {
    main.innerHTML = '<p class="muted">No deployments addressed to this agent.</p>';
    return;
  }
  main.innerHTML = state.deployments.map((d) => {
    const st = d.status || {};
    const history = state.history[d.name] || [];
    const live = state.live[d.name] || [];
    return `<section class="card" data-deployment="${esc(d.name)}">
      <h2>${esc(d.name)} <span class="phase ${esc(st.phase)}">${esc(st.phase || 'Unknown')}</span></h2>
      <div class="message">${esc(st.message)}</div>
      <table class="commits"><tr><th>desired</th><td>${commitCell(d, st.desiredCommit, st.desiredRevision)}</td></tr>
        <tr><th>current</th><td>${commitCell(d, st.currentCommit)}</td></tr>
        <tr><th>last healthy</th><td>${commitCell(d, st.lastHealthyCommit)}</td></tr>
        ${(st.quarantinedCommits || []).length ? `<tr><th>quarantined</th><td>${st.quarantinedCommits.map((c) => '<span class="sha">' + esc(short(c)) + '</span>').join(', ')}</td></tr>` : ''}
      </table>
      <h3>Checks</h3>${renderChecks(st.checks)}
      <h3>Rollouts</h3>${history.map((r) => renderRollout(r, r.finishedAt ? [] : live)).join('') || '<p class="muted">None yet.</p>'}
    </section>`;
  }).join('');
}

// A refresh reads the list and every deployment's history. Soon after a change; after a status
// event that says what the page shows already (every check round sends one), at most every
// QUIET_MS: with many deployments those come many times a second. One refresh at a time.
const QUIET_MS = 2000;
let pending = null;
let pendingDue = 0;
let running = false;
let again = false;
let lastRefresh = 0;

function scheduleRefresh(quiet) {
  const now = Date.now();
  const due = quiet ? Math.max(now + 150, lastRefresh + QUIET_MS) : now + 150;
  if (pending && pendingDue <= due) return;
  if (pending) clearTimeout(pending);
  pendingDue = due;
  pending = setTimeout(runRefresh, due - now);
}

function runRefresh() {
  pending = null;
  if (running) { again = true; return; }
  running = true;
  lastRefresh = Date.now();
  refresh().catch(console.error).finally(() => {
    running = false;
    if (again) { again = false; scheduleRefresh(false); }
  });
}

/** Whether a status event says nothing the page does not show already. */
function known(e) {
  const d = state.deployments.find((x) => x.name === e.deployment);
  const st = d && d.status;
  return !!st && st.phase === e.phase && st.message === e.message &&
    st.currentCommit === e.currentCommit && st.desiredCommit === e.desiredCommit;
}

function follow() {
  const es = new EventSource('/api/v1/events');
  const liveEl = document.getElementById('live');
  es.onopen = () => liveEl.classList.replace('off', 'on');
  es.onerror = () => liveEl.classList.replace('on', 'off');
  es.addEventListener('step', (m) => {
    const e = JSON.parse(m.data);
    (state.live[e.deployment] = state.live[e.deployment] || []).push(e);
    render();
    scheduleRefresh(false);
  });
  for (const type of ['status', 'rollout', 'round']) {
    es.addEventListener(type, (m) => {
      const e = JSON.parse(m.data);
      if (type === 'rollout') state.live[e.deployment] = [];
      if (type === 'round') {
        const d = state.deployments.find((x) => x.name === e.deployment);
        if (d && d.status) { d.status.checks = e.checks; render(); }
        return;
      }
      scheduleRefresh(type === 'status' && known(e));
    });
  }
}

refresh().catch((e) => { document.getElementById('deployments').textContent = 'Cannot read the API: ' + e.message; });
follow();
