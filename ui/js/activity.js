// The Activity view (who did what, and when, from the vault's audit log:
// filters, a virtual list newest first, CSV export), "Who opened this?",
// and "Check vault" with its repair. Everything here is forgotten on lock.

import * as api from './api.js';
import * as dialogs from './dialogs.js';
import { el } from './dialogs.js';
import {
  formatBytes, percent, baseName, visibleRange, actionLabel, outcomeLabel, localDateTime, localIsoDate,
  localDayStart, localDayEnd, memberName, deviceName, indexActivity, filterActivity, activityChoices,
  entryForPath, activityCount, ACCESS_ACTIONS, visible, shownName,
} from './logic.js';

const $ = (id) => document.getElementById(id);
const ROW_H = 40;
// Matches no row: "Who opened this?" for a file the log never named.
const NO_ENTRY = '\u0000none';
const FILTERS = ['activity-search', 'activity-action', 'activity-device', 'activity-member', 'activity-since', 'activity-until'];

const s = {
  log: null, // {rows, problems, chains, people} from the last read
  index: null, // indexActivity(log.rows)
  view: [], // the row indices shown, newest first
  entry: null, // {id, path, name, accessOnly} while showing one file's activity
  lastKey: '', // the filter last applied, so one change filters once
  loading: 0, // bumped to drop an answer nobody waits for any more
  generation: 0, // bumped on lock: late answers then change nothing
};

const n = (x) => x.toLocaleString('en-US');
const plural = (count, one, many) => `${n(count)} ${count === 1 ? one : many}`;

/** Whether the Activity view is showing. */
export function isOpen() {
  return !$('activity-view').hidden;
}

// ---- Showing and loading ------------------------------------------------------

/**
 * Shows the Activity view, read afresh. With `file` (a listing entry), only
 * the times that file was opened, previewed, exported or saved back.
 */
export function open(file = null) {
  forgetView();
  s.entry = file ? { id: file.id || null, path: file.path, name: shownName(file.path), accessOnly: true } : null;
  $('activity-view').hidden = false;
  document.querySelector('#screen-main .body').classList.add('with-activity');
  showEntryChip();
  $('activity-search').focus();
  return load(false);
}

/** Back to the files; `focusFiles` false when the person is typing elsewhere. */
export function close(focusFiles = true) {
  if (!isOpen()) return;
  s.loading += 1;
  $('activity-view').hidden = true;
  document.querySelector('#screen-main .body').classList.remove('with-activity');
  forgetView();
  if (focusFiles) $('viewport').focus();
}

/** Reads the log; `keep` keeps the filters and scroll position (after an export). */
async function load(keep) {
  const token = ++s.loading;
  const gen = s.generation;
  const view = $('activity-view');
  view.dataset.state = 'loading';
  $('activity-grid').setAttribute('aria-busy', 'true');
  $('activity-export').disabled = true;
  if (!keep) {
    $('activity-count').textContent = 'Loading…';
    showEmpty('Reading the activity record…');
  }
  let log;
  try {
    log = await api.auditLog();
  } catch (e) {
    if (token !== s.loading || gen !== s.generation) return;
    view.dataset.state = 'failed';
    $('activity-grid').setAttribute('aria-busy', 'false');
    $('activity-count').textContent = '';
    // A staff member's computer: the record has a key only administrators hold.
    if (e.kind === 'not_allowed') {
      showEmpty(e.message);
      return;
    }
    showEmpty('The activity record could not be read.');
    if (e.kind !== 'locked') dialogs.error(e, 'The activity could not be read');
    return;
  }
  if (token !== s.loading || gen !== s.generation) return;
  s.log = log;
  s.index = indexActivity(log.rows, log.people);
  // Listings without entry ids: the id the file's path had most recently.
  if (s.entry && !s.entry.id) s.entry.id = entryForPath(log.rows, s.entry.path);
  const choices = activityChoices(log.rows, log.people);
  fillSelect('activity-action', 'All actions', choices.actions);
  fillSelect('activity-device', 'All computers', choices.devices);
  fillSelect('activity-member', 'All members', choices.members);
  showProblems(log.problems);
  $('activity-grid').setAttribute('aria-busy', 'false');
  view.dataset.state = 'ready';
  s.lastKey = '';
  apply(keep);
}

function fillSelect(id, all, choices) {
  const select = $(id);
  const was = select.value;
  select.replaceChildren(el('option', { value: '', textContent: all }),
    ...choices.map((c) => el('option', { value: c.value, textContent: c.label, title: c.value })));
  select.value = choices.some((c) => c.value === was) ? was : '';
}

function showProblems(problems) {
  const box = $('activity-problems');
  box.hidden = !problems.length;
  if (!problems.length) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(
    el('p', {}, el('strong', { textContent: 'Warning: part of the activity record was changed or is missing.' })),
    el('p', { textContent: 'The list below may not be complete or true. Tell IT now, and keep this computer as it is.' }),
    el('ul', {}, ...problems.map((p) => el('li', { textContent: visible(p) }))),
  );
}

function showEntryChip() {
  const chip = $('activity-entry');
  chip.hidden = !s.entry;
  const text = $('activity-entry-text');
  text.textContent = s.entry ? `${s.entry.accessOnly ? 'Who opened' : 'Activity for'} “${s.entry.name}”` : '';
  text.title = s.entry ? `${visible(s.entry.path)}${s.entry.accessOnly ? ': opened, previewed, exported or saved back' : ''}` : '';
}

function showEmpty(text) {
  $('activity-empty').hidden = !text;
  $('activity-empty-text').textContent = text;
}

// ---- Filtering and drawing -------------------------------------------------------

function currentFilter() {
  return {
    text: $('activity-search').value,
    action: $('activity-action').value,
    actions: s.entry && s.entry.accessOnly ? ACCESS_ACTIONS : null,
    device: $('activity-device').value,
    member: $('activity-member').value,
    entry: s.entry ? s.entry.id || NO_ENTRY : '',
    // Days of this computer's calendar; the "To" day counts whole.
    since: localDayStart($('activity-since').value),
    until: localDayEnd($('activity-until').value),
  };
}

/** Filters and redraws; `keepScroll` keeps the list where it was. */
function apply(keepScroll = false) {
  if (!s.index) return;
  const filter = currentFilter();
  const key = JSON.stringify(filter);
  if (key === s.lastKey) return;
  s.lastKey = key;
  s.view = filterActivity(s.index, filter).reverse();
  const total = s.log.rows.length;
  $('activity-rows').style.height = `${s.view.length * ROW_H}px`;
  $('activity-grid').setAttribute('aria-rowcount', String(s.view.length));
  $('activity-count').textContent = activityCount(s.view.length, total);
  $('activity-export').disabled = !s.view.length;
  if (!keepScroll) $('activity-list').scrollTop = 0;
  let empty = '';
  if (!total) empty = 'Nothing has been recorded yet.';
  else if (!s.view.length) {
    const narrowed = FILTERS.some((id) => $(id).value);
    empty = s.entry && s.entry.accessOnly && !narrowed
      ? `Nobody has opened “${s.entry.name}” yet.`
      : 'Nothing matches these filters.';
  }
  showEmpty(empty);
  drawRows();
}

function drawRows() {
  if (!isOpen() || !s.log) return;
  const vp = $('activity-list');
  const { first, last } = visibleRange(vp.scrollTop, vp.clientHeight || 600, ROW_H, s.view.length);
  const out = [];
  for (let p = first; p <= last; p += 1) out.push(row(s.view[p], p));
  $('activity-rows').replaceChildren(...out);
}

function row(i, p) {
  const a = s.log.rows[i];
  const r = el('div', { className: 'activity-row' });
  r.setAttribute('role', 'row');
  r.setAttribute('aria-rowindex', String(p + 1));
  r.style.top = `${p * ROW_H}px`;
  r.dataset.index = String(i);
  r.dataset.action = a.action;
  r.dataset.entry = a.entry || '';
  r.dataset.outcome = a.outcome;
  const outcome = el('span', { className: 'a-outcome' });
  let label = outcomeLabel(a.outcome) || (a.outcome && a.outcome !== 'ok' ? a.outcome : '');
  // No signature vouches for it (FORMAT.md §10.6): a claim, shown as such.
  if (a.unverified) label = label ? `${label}, unverified` : 'Unverified';
  if (label) {
    outcome.append(el('span', { className: 'badge bad', textContent: label }));
    if (a.reason) {
      outcome.title = a.reason;
      outcome.append(el('span', { className: 'reason', textContent: a.reason }));
    }
  }
  const member = visible(memberName(s.log.people, a.member));
  const device = visible(deviceName(s.log.people, a.device, a.device_name));
  const cells = [
    el('span', { className: 'a-time', textContent: localDateTime(a.time) }),
    el('span', { className: 'a-member', textContent: member, title: `${member} (member ${a.member}) on ${device}` }),
    el('span', { className: 'a-device', textContent: device, title: `${device} (computer ${a.device})` }),
    el('span', { className: 'a-action', textContent: actionLabel(a.action) }),
    el('span', { className: 'a-path', textContent: visible(a.path || ''), title: visible(a.path || '') }),
    outcome,
    el('span', { className: 'a-detail', textContent: visible(a.detail || ''), title: visible(a.detail || '') }),
  ];
  for (const c of cells) c.setAttribute('role', 'gridcell');
  r.append(...cells);
  return r;
}

// ---- Export ------------------------------------------------------------------------

async function exportShown() {
  if (!s.view.length) return;
  const gen = s.generation;
  const rows = [...s.view];
  const name = `chartsafe-activity-${localIsoDate(Date.now())}.csv`;
  const dest = await api.chooseSaveFile('Export activity', name).catch(() => null);
  if (!dest || gen !== s.generation || !isOpen()) return;
  const button = $('activity-export');
  button.disabled = true;
  try {
    const count = await api.exportAudit(rows, dest);
    if (gen !== s.generation) return;
    dialogs.toast(`Exported ${plural(count, 'entry', 'entries')} to ${dest}. This file is not encrypted: keep it safe.`, 6000);
    // The export is itself recorded: show it.
    if (isOpen()) load(true);
  } catch (e) {
    if (gen !== s.generation) return;
    button.disabled = !s.view.length;
    if (e.kind !== 'locked') dialogs.error(e, 'The activity could not be exported');
  }
}

// ---- Check vault -------------------------------------------------------------------

// The check's content in the one dialog; kept while the check runs, and
// until its result was seen, so "Check vault" shows it again.
const check = { box: null, running: false, unseen: false };

function showCheck() {
  dialogs.panel('Check vault', check.box);
}

/** Whether the dialog shows `box` now (not closed, nor showing another question). */
function showing(box) {
  return box.isConnected && $('dialog').open;
}

async function checkVault() {
  if (check.box && (check.running || check.unseen)) {
    check.unseen = false;
    showCheck();
    return;
  }
  const gen = s.generation;
  const bar = el('div', { className: 'bar big', id: 'check-progress' }, el('div', {}));
  bar.setAttribute('role', 'progressbar');
  bar.setAttribute('aria-label', 'Vault check');
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', '100');
  bar.setAttribute('aria-valuenow', '0');
  bar.dataset.percent = '0';
  const box = el('div', { id: 'check-dialog' },
    el('p', { className: 'check-status', id: 'check-status', textContent: 'ChartSafe reads every file in the vault to make sure it is whole. A large vault takes a few minutes; other actions wait until it is done.' }),
    bar,
    el('p', { className: 'help', id: 'check-bytes', textContent: 'Getting started…' }),
    el('div', { id: 'check-result', hidden: true }));
  box.dataset.state = 'running';
  Object.assign(check, { box, running: true, unseen: false });
  showCheck();
  let out;
  try {
    out = await api.checkVault((p) => { if (check.box === box) checkProgress(box, p); });
  } catch (e) {
    if (gen !== s.generation || check.box !== box) return;
    Object.assign(check, { box: null, running: false, unseen: false });
    if (e.kind !== 'locked') dialogs.error(e, 'The vault check could not finish');
    return;
  }
  if (gen !== s.generation || check.box !== box) return;
  check.running = false;
  const problems = checkResult(box, out);
  if (!showing(box)) {
    check.unseen = true;
    dialogs.toast(problems
      ? `The vault check found ${plural(problems, 'problem', 'problems')}. Click Check vault to see ${problems === 1 ? 'it' : 'them'}.`
      : 'The vault check found no problems.', 6000);
  }
}

function setCheckBar(box, pct) {
  const bar = box.querySelector('#check-progress');
  bar.setAttribute('aria-valuenow', String(pct));
  bar.dataset.percent = String(pct);
  bar.firstElementChild.style.width = `${pct}%`;
}

function checkProgress(box, p) {
  if (!p.total) return;
  setCheckBar(box, percent(p.bytes, p.total));
  box.querySelector('#check-bytes').textContent = `${formatBytes(p.bytes)} of ${formatBytes(p.total)} checked`;
}

/** Shows what the check found; returns the number of problems. */
function checkResult(box, out) {
  box.dataset.state = 'done';
  setCheckBar(box, 100);
  box.querySelector('#check-status').textContent = 'The check is finished.';
  box.querySelector('#check-bytes').textContent = '';
  const result = box.querySelector('#check-result');
  result.hidden = false;
  // Contents, not names: every stored version and what is in the trash too,
  // so the count can be above the files the list shows.
  const checked = `Checked ${plural(out.contents, 'stored file', 'stored files')} (current files, older versions and the trash: ${formatBytes(out.bytes)}) and ${plural(out.audit_entries, 'activity entry', 'activity entries')}.`;
  if (!out.problems.length) {
    result.replaceChildren(el('p', { className: 'check-ok', textContent: `No problems found. ${checked}` }));
    return 0;
  }
  const list = el('ul', {}, ...out.problems.map((p) => {
    const li = el('li', { className: 'check-problem' },
      el('div', { className: 'what', textContent: p.what }),
      el('p', { className: 'remedy', textContent: p.remedy }));
    li.dataset.repairable = String(p.repairable);
    return li;
  }));
  result.replaceChildren(el('p', { textContent: `ChartSafe found ${plural(out.problems.length, 'problem', 'problems')}. ${checked}` }), list);
  const stray = out.problems.filter((p) => p.repairable).length;
  if (stray) {
    const button = el('button', { type: 'button', className: 'secondary', id: 'check-repair', textContent: `Remove ${plural(stray, 'stray file', 'stray files')}` });
    button.addEventListener('click', () => repair(box, stray));
    const done = el('span', { id: 'check-repaired', className: 'help' });
    done.setAttribute('role', 'status');
    result.append(el('div', { className: 'check-repair-row' }, button, done));
  }
  return out.problems.length;
}

async function repair(box, stray) {
  const gen = s.generation;
  const files = plural(stray, 'stray file', 'stray files');
  const answer = await dialogs.ask('Remove stray files?', [
    `ChartSafe will delete ${files} from the vault folder. No file in the vault uses ${stray === 1 ? 'it' : 'them'}: ${stray === 1 ? 'it is' : 'they are'} left over from interrupted work or syncing.`,
    'Your files and their earlier versions are not touched.',
  ], [{ label: 'Cancel', value: 'no' }, { label: `Remove ${files}`, value: 'yes', kind: 'primary' }]);
  if (gen !== s.generation || check.box !== box) return;
  showCheck();
  if (answer !== 'yes') return;
  const button = box.querySelector('#check-repair');
  const label = button.textContent;
  button.disabled = true;
  button.textContent = 'Removing…';
  try {
    const removed = await api.repairVault();
    if (gen !== s.generation || check.box !== box) return;
    button.hidden = true;
    const text = removed === stray
      ? `Removed ${files}.`
      : `Removed ${n(removed)} of ${files}; the others had changed since the check.`;
    box.querySelector('#check-repaired').textContent = `${text} Check the vault again to make sure all is well.`;
    if (!showing(box)) dialogs.toast(text);
  } catch (e) {
    if (gen !== s.generation || check.box !== box) return;
    button.disabled = false;
    button.textContent = label;
    if (e.kind !== 'locked') dialogs.error(e, 'The stray files could not be removed');
  }
}

// ---- Setup and clearing ------------------------------------------------------------

export function setup() {
  $('activity-button').addEventListener('click', () => open());
  $('check-button').addEventListener('click', checkVault);
  $('activity-close').addEventListener('click', () => close());
  $('activity-export').addEventListener('click', exportShown);
  for (const id of FILTERS) {
    $(id).addEventListener('input', () => apply());
    $(id).addEventListener('change', () => apply());
  }
  $('activity-entry').querySelector('.chip-clear').addEventListener('click', () => {
    s.entry = null;
    showEntryChip();
    apply();
    $('activity-search').focus();
  });
  $('activity-list').addEventListener('scroll', () => requestAnimationFrame(drawRows), { passive: true });
  window.addEventListener('resize', () => requestAnimationFrame(drawRows));
  window.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape' || !isOpen() || $('dialog').open || document.body.dataset.screen !== 'main') return;
    ev.preventDefault();
    close();
  });
  // Typing a file search goes back to the files.
  $('search').addEventListener('input', () => close(false));
}

/** Empties the view's list, filters and choices. */
function forgetView() {
  s.loading += 1;
  Object.assign(s, { log: null, index: null, view: [], entry: null, lastKey: '' });
  $('activity-rows').replaceChildren();
  $('activity-rows').style.height = '0px';
  $('activity-grid').setAttribute('aria-rowcount', '0');
  $('activity-grid').setAttribute('aria-busy', 'false');
  $('activity-list').scrollTop = 0;
  for (const id of FILTERS) $(id).value = '';
  fillSelect('activity-action', 'All actions', []);
  fillSelect('activity-device', 'All computers', []);
  fillSelect('activity-member', 'All members', []);
  showProblems([]);
  showEntryChip();
  showEmpty('');
  $('activity-count').textContent = '';
  $('activity-export').disabled = true;
  delete $('activity-view').dataset.state;
}

/** Forgets everything shown (on lock): the view, and any check and its result. */
export function clear() {
  s.generation += 1;
  close(false);
  forgetView();
  Object.assign(check, { box: null, running: false, unseen: false });
}
