// The main window: folder tree, file list (virtual, for tens of thousands
// of entries), search, sort, keyboard navigation, details and preview,
// drag-and-drop import with progress, and the file actions. The Activity
// view and "Check vault" live in activity.js.

import * as api from './api.js';
import * as dialogs from './dialogs.js';
import { el } from './dialogs.js';
import * as activity from './activity.js';
import * as team from './team.js';
import * as scanner from './scanner.js';
import {
  formatBytes, formatTime, timeLeft, importSummaryText, percent, parentOf, baseName, joinPath, breadcrumbs,
  indexEntries, sortEntries, searchEntries, visibleRange, clashingNames, syncLabel, previewKind,
  imageType, survivingFolder, visible, shownName,
} from './logic.js';

const $ = (id) => document.getElementById(id);
const ROW_H = 40;

const s = {
  entries: [],
  byPath: new Map(),
  index: new Map([['', []]]),
  folder: '',
  query: '',
  sortKey: 'name',
  ascending: true,
  rows: [],
  selected: new Set(),
  cursor: 0,
  anchor: 0,
  open: new Set(),
  importing: false,
  watched: true,
  previewUrl: null,
  active: false,
};

// ---- Loading ----------------------------------------------------------------

let refreshing = null;
let again = false;
/** Reloads the listing, keeping the folder, selection and scroll position. */
export async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      let listing;
      try {
        listing = await api.list();
      } catch (e) {
        if (e.kind !== 'locked') dialogs.error(e, 'The vault could not be read');
        continue;
      }
      if (!s.active) continue;
      s.entries = listing.entries;
      s.byPath = new Map(listing.entries.map((e) => [e.path, e]));
      s.index = indexEntries(listing.entries);
      s.folder = survivingFolder(s.folder, s.index);
      s.open = new Set(listing.open.map((o) => o.path));
      s.watched = listing.watched;
      for (const p of [...s.selected]) if (!s.byPath.has(p)) s.selected.delete(p);
      showProblems(listing.problems);
      showOpen(listing.open);
      render();
    } while (again);
  })();
  try { await refreshing; } finally { refreshing = null; }
}

function showProblems(problems) {
  const box = $('problems');
  box.hidden = !problems.length;
  if (!problems.length) return;
  const waiting = problems.filter((p) => p.includes('waiting for sync')).length;
  const text = waiting === problems.length
    ? 'Some changes from other computers have not finished syncing yet. They will appear when they arrive.'
    : `ChartSafe found ${problems.length} problem${problems.length > 1 ? 's' : ''} in the cloud folder. Your other files are fine. Tell IT.`;
  box.replaceChildren(el('span', { textContent: `${text} ` }), detailsButton(problems.join('\n')));
}

function detailsButton(details) {
  const b = el('button', { type: 'button', className: 'link', textContent: 'Details' });
  b.addEventListener('click', () => dialogs.panel('Details for IT', el('pre', { textContent: details })));
  return b;
}

function showOpen(open) {
  $('open-panel').hidden = !open.length;
  $('open-list').replaceChildren(...open.map((o) => {
    const close = el('button', { type: 'button', className: 'secondary', textContent: 'Close' });
    close.setAttribute('aria-label', `Close ${baseName(o.path)} and remove its decrypted copy`);
    close.addEventListener('click', async () => { await api.closeOpenFile(o.path).catch(dialogs.error); refresh(); });
    const li = el('li', {}, el('span', { textContent: shownName(o.path), title: visible(o.path) }), close);
    li.dataset.path = o.path;
    return li;
  }));
}

// ---- Rendering --------------------------------------------------------------

function render() {
  renderTree();
  renderCrumbs();
  // The cursor follows its entry when rows come and go (live refresh).
  const cursorPath = s.rows[s.cursor]?.path;
  s.rows = s.query ? sortEntries(searchEntries(s.entries, s.query), s.sortKey, s.ascending)
    : sortEntries(s.index.get(s.folder) || [], s.sortKey, s.ascending);
  const moved = cursorPath ? s.rows.findIndex((e) => e.path === cursorPath) : -1;
  if (moved >= 0) s.cursor = moved;
  s.cursor = Math.min(s.cursor, Math.max(0, s.rows.length - 1));
  $('rows').style.height = `${s.rows.length * ROW_H}px`;
  $('grid').setAttribute('aria-rowcount', String(s.rows.length));
  $('empty').hidden = s.rows.length > 0 || !!s.query;
  const files = s.rows.filter((e) => !e.folder).length;
  const n = (x) => x.toLocaleString();
  $('count').textContent = s.query
    ? `${n(s.rows.length)} found`
    : `${n(s.rows.length - files)} folder${s.rows.length - files === 1 ? '' : 's'}, ${n(files)} file${files === 1 ? '' : 's'}`;
  for (const h of document.querySelectorAll('.thead [data-sort]')) {
    h.parentElement.setAttribute('aria-sort', h.dataset.sort === s.sortKey ? (s.ascending ? 'ascending' : 'descending') : 'none');
  }
  const inVault = s.entries.filter((e) => !e.folder).length;
  $('status-text').textContent = `${n(inVault)} ${inVault === 1 ? 'file' : 'files'} in the vault`;
  const waiting = s.entries.filter((e) => e.sync === 'waiting').length;
  $('status-sync').textContent = waiting ? `${waiting} waiting for sync` : 'Every file is synced';
  drawRows();
  renderDetails();
}

function drawRows() {
  const vp = $('viewport');
  const { first, last } = visibleRange(vp.scrollTop, vp.clientHeight || 600, ROW_H, s.rows.length);
  const out = [];
  for (let i = first; i <= last; i += 1) out.push(row(s.rows[i], i));
  $('rows').replaceChildren(...out);
}

function row(e, i) {
  const r = el('div', { className: 'tr' });
  r.setAttribute('role', 'row');
  r.setAttribute('aria-rowindex', String(i + 1));
  r.setAttribute('aria-selected', s.selected.has(e.path) ? 'true' : 'false');
  if (i === s.cursor) r.classList.add('cursor');
  r.style.top = `${i * ROW_H}px`;
  r.dataset.index = String(i);
  r.dataset.path = e.path;
  const name = el('span', { className: 'name' },
    el('img', { className: 'icon', src: e.folder ? 'img/folder.svg' : 'img/file.svg', alt: e.folder ? 'Folder' : 'File' }),
    el('span', { textContent: shownName(e.path) }));
  if (s.query && parentOf(e.path)) name.append(el('span', { className: 'path-hint', textContent: visible(parentOf(e.path)) }));
  name.setAttribute('role', 'gridcell');
  const status = el('span', { className: 'sync' });
  status.setAttribute('role', 'gridcell');
  const label = syncLabel(e);
  const warn = e.sync !== 'available' || e.conflict;
  if (s.open.has(e.path) && !warn) status.append(el('span', { className: 'badge open', textContent: 'Open' }));
  else if (label) status.append(el('span', { className: `badge${warn ? ' warn' : ''}`, textContent: label }));
  const cells = [
    name,
    el('span', { className: 'size', textContent: e.folder ? '' : formatBytes(e.size) }),
    el('span', { className: 'modified', textContent: formatTime(e.modified) }),
    el('span', { className: 'by', textContent: visible(e.modified_by), title: e.modified_on ? `on ${visible(e.modified_on)}` : '' }),
    status,
  ];
  for (const c of cells.slice(1, 4)) c.setAttribute('role', 'gridcell');
  r.append(...cells);
  return r;
}

function renderTree() {
  const make = (folder, depth) => {
    const ul = el('ul', {});
    if (depth > 0) ul.setAttribute('role', 'group');
    const subs = sortEntries((s.index.get(folder) || []).filter((e) => e.folder));
    for (const f of subs) {
      const li = el('li', {});
      li.setAttribute('role', 'treeitem');
      const b = el('button', { type: 'button', title: visible(f.path) }, el('img', { src: 'img/folder.svg', alt: '' }), shownName(f.path));
      b.setAttribute('aria-current', f.path === s.folder ? 'true' : 'false');
      b.addEventListener('click', () => goFolder(f.path));
      li.append(b);
      const onPath = s.folder === f.path || s.folder.startsWith(`${f.path}/`);
      li.setAttribute('aria-expanded', onPath ? 'true' : 'false');
      if (onPath && depth < 12) li.append(make(f.path, depth + 1));
      ul.append(li);
    }
    return ul;
  };
  const top = el('li', {});
  top.setAttribute('role', 'treeitem');
  const tb = el('button', { type: 'button' }, el('img', { src: 'img/vault.svg', alt: '' }), 'All files');
  tb.setAttribute('aria-current', s.folder === '' ? 'true' : 'false');
  tb.addEventListener('click', () => goFolder(''));
  top.append(tb, make('', 1));
  $('tree').replaceChildren(top);
}

function renderCrumbs() {
  const crumbs = s.query ? [{ name: `Search: “${s.query}”`, path: null }] : breadcrumbs(s.folder);
  $('crumbs').replaceChildren(...crumbs.map((c, i) => {
    const b = el('button', { type: 'button', textContent: visible(c.name) });
    if (c.path === null) b.disabled = true;
    else b.addEventListener('click', () => goFolder(c.path));
    if (i === crumbs.length - 1) b.setAttribute('aria-current', 'location');
    return el('li', {}, b);
  }));
}

function selectedEntries() {
  return [...s.selected].map((p) => s.byPath.get(p)).filter(Boolean);
}

function renderDetails() {
  const sel = selectedEntries();
  const pane = $('details');
  document.querySelector('#screen-main .body').classList.toggle('with-details', sel.length > 0);
  if (sel.length !== 1) {
    pane.hidden = sel.length === 0;
    pane.dataset.key = '';
    if (sel.length > 1) {
      $('details-name').textContent = `${sel.length} selected`;
      $('details-facts').replaceChildren();
      setPreview(null);
      for (const id of ['act-open', 'act-rename', 'act-history', 'who-opened', 'act-share']) $(id).hidden = true;
    }
    return;
  }
  const e = sel[0];
  pane.hidden = false;
  const key = JSON.stringify([e.path, e.modified, e.size, e.sync, e.conflict, s.open.has(e.path)]);
  if (pane.dataset.key === key) return;
  pane.dataset.key = key;
  $('details-name').textContent = shownName(e.path);
  const facts = [
    ['Folder', visible(parentOf(e.path)) || 'All files'],
    ...(e.folder ? [] : [['Size', formatBytes(e.size)]]),
    ['Modified', formatTime(e.modified)],
    ['By', e.modified_on && e.modified_on !== e.modified_by ? `${visible(e.modified_by)} on ${visible(e.modified_on)}` : visible(e.modified_by)],
    ...(e.folder ? [] : [['Status', syncLabel(e)]]),
  ];
  $('details-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: v })]));
  $('act-open').hidden = false;
  $('act-open').textContent = e.folder ? 'Open folder' : 'Open';
  $('act-rename').hidden = false;
  $('act-history').hidden = e.folder;
  $('who-opened').hidden = e.folder;
  $('act-share').hidden = e.folder;
  setPreview(e);
}

let previewToken = 0;
async function setPreview(e) {
  const box = $('preview');
  if (s.previewUrl) { URL.revokeObjectURL(s.previewUrl); s.previewUrl = null; }
  box.replaceChildren();
  const token = ++previewToken;
  if (!e || e.folder || e.sync !== 'available') return;
  const kind = previewKind(baseName(e.path));
  if (!kind) {
    box.append(el('p', { className: 'help', textContent: 'No preview for this kind of file. Use Open.' }));
    return;
  }
  if (e.size > 32e6) {
    box.append(el('p', { className: 'help', textContent: 'Too big to preview. Use Open.' }));
    return;
  }
  box.append(el('p', { className: 'help', textContent: 'Decrypting preview…' }));
  try {
    const bytes = await api.preview(e.path);
    if (token !== previewToken || !s.active) return;
    if (kind === 'image') {
      s.previewUrl = URL.createObjectURL(new Blob([bytes], { type: imageType(e.path) }));
      box.replaceChildren(el('img', { src: s.previewUrl, alt: `Preview of ${baseName(e.path)}` }));
    } else {
      const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
      box.replaceChildren(el('pre', { textContent: text.slice(0, 200_000) }));
    }
  } catch (err) {
    if (token === previewToken) box.replaceChildren(el('p', { className: 'help', textContent: err.message }));
  }
}

// ---- Navigation and selection -------------------------------------------------

function goFolder(path) {
  s.folder = path;
  s.query = '';
  $('search').value = '';
  s.selected.clear();
  s.cursor = 0;
  $('viewport').scrollTop = 0;
  render();
}

function selectOnly(i) {
  s.cursor = i;
  s.anchor = i;
  s.selected = new Set(s.rows[i] ? [s.rows[i].path] : []);
}

function moveCursor(i, extend) {
  if (!s.rows.length) return;
  const n = Math.max(0, Math.min(s.rows.length - 1, i));
  if (extend) {
    s.cursor = n;
    const [a, b] = [Math.min(s.anchor, n), Math.max(s.anchor, n)];
    s.selected = new Set(s.rows.slice(a, b + 1).map((e) => e.path));
  } else {
    selectOnly(n);
  }
  const vp = $('viewport');
  const top = n * ROW_H;
  if (top < vp.scrollTop) vp.scrollTop = top;
  else if (top + ROW_H > vp.scrollTop + vp.clientHeight) vp.scrollTop = top + ROW_H - vp.clientHeight;
  drawRows();
  renderDetails();
}

async function activate(e) {
  if (!e) return;
  if (e.folder) return goFolder(e.path);
  try {
    await api.openFile(e.path);
    dialogs.toast(`Opened ${baseName(e.path)}. Saving it there stores a new version in the vault.`);
    refresh();
  } catch (err) {
    dialogs.error(err, `${baseName(e.path)} could not be opened`);
  }
}

function onKey(ev) {
  const page = Math.max(1, Math.floor($('viewport').clientHeight / ROW_H) - 1);
  const keys = {
    ArrowDown: () => moveCursor(s.cursor + 1, ev.shiftKey),
    ArrowUp: () => (ev.altKey ? goUp() : moveCursor(s.cursor - 1, ev.shiftKey)),
    PageDown: () => moveCursor(s.cursor + page, ev.shiftKey),
    PageUp: () => moveCursor(s.cursor - page, ev.shiftKey),
    Home: () => moveCursor(0, ev.shiftKey),
    End: () => moveCursor(s.rows.length - 1, ev.shiftKey),
    Enter: () => activate(s.rows[s.cursor]),
    Backspace: goUp,
    Delete: trashSelected,
    F2: renameSelected,
  };
  if (ev.key in keys) {
    ev.preventDefault();
    keys[ev.key]();
  } else if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === 'a') {
    ev.preventDefault();
    s.selected = new Set(s.rows.map((e) => e.path));
    drawRows();
    renderDetails();
  }
}

function goUp() {
  if (s.query) return goFolder(s.folder);
  if (s.folder) goFolder(parentOf(s.folder));
}

// ---- Actions ----------------------------------------------------------------

async function trashSelected() {
  const sel = selectedEntries();
  if (!sel.length) return;
  const what = sel.length === 1 ? `“${baseName(sel[0].path)}”` : `${sel.length} items`;
  const ok = await dialogs.ask('Move to trash?', `${what} will move to the trash. You can restore it from there.`,
    [{ label: 'Cancel', value: 'no' }, { label: 'Move to trash', value: 'yes', kind: 'primary danger-fill' }]);
  if (ok !== 'yes') return;
  try {
    await api.trash(sel.map((e) => e.path));
    s.selected.clear();
    dialogs.toast(`Moved ${what} to the trash.`);
  } catch (e) {
    dialogs.error(e);
  }
  refresh();
}

async function renameSelected() {
  const sel = selectedEntries();
  if (sel.length !== 1) return;
  const e = sel[0];
  const name = await dialogs.prompt('Rename', 'New name', baseName(e.path), 'Rename');
  if (!name || name === baseName(e.path)) return;
  try {
    await api.rename(e.path, joinPath(parentOf(e.path), name));
    s.selected = new Set([joinPath(parentOf(e.path), name)]);
  } catch (err) {
    dialogs.error(err, 'Could not rename');
  }
  refresh();
}

async function moveSelected() {
  const sel = selectedEntries();
  if (!sel.length) return;
  const folders = s.entries.filter((e) => e.folder).map((e) => e.path);
  const dest = await dialogs.prompt('Move to folder', `Folder path (empty for the top; existing: ${folders.slice(0, 5).join(', ') || 'none'}${folders.length > 5 ? ', …' : ''})`, s.folder, 'Move');
  if (dest === null) return;
  try {
    for (const e of sel) await api.rename(e.path, dest ? joinPath(dest, baseName(e.path)) : baseName(e.path));
    s.selected.clear();
  } catch (err) {
    dialogs.error(err, 'Could not move');
  }
  refresh();
}

async function exportSelected() {
  const sel = selectedEntries();
  if (!sel.length) return;
  const dest = await api.chooseFolder('Export decrypted copies to…').catch(() => null);
  if (!dest) return;
  try {
    const n = await api.exportTo(sel.map((e) => e.path), dest);
    dialogs.toast(`Exported ${n} file${n === 1 ? '' : 's'} to ${dest}. These copies are not encrypted.`, 6000);
  } catch (err) {
    dialogs.error(err, 'Could not export');
  }
}

/**
 * "Share…": one age file of the selected file for someone without
 * ChartSafe (FORMAT.md §15), with a passphrase shown once or to their age
 * key; the note says for whom, and goes into the activity record.
 */
async function shareSelected() {
  const sel = selectedEntries();
  if (sel.length !== 1 || sel[0].folder) return;
  const file = sel[0];
  const name = baseName(file.path);
  const note = el('input', { type: 'text', id: 'share-note', autocomplete: 'off', spellcheck: false, placeholder: 'For example: Dr Lee, Riverside Cardiology' });
  const byPass = el('input', { type: 'radio', name: 'share-how', id: 'share-by-pass', checked: true });
  const byKey = el('input', { type: 'radio', name: 'share-how', id: 'share-by-key' });
  const key = el('input', { type: 'text', id: 'share-recipient', autocomplete: 'off', spellcheck: false, placeholder: 'age1…' });
  key.setAttribute('aria-label', 'Their age public key');
  const problem = el('p', { className: 'form-error', id: 'share-error', hidden: true });
  problem.setAttribute('role', 'alert');
  const how = el('fieldset', { className: 'share-how' },
    el('legend', { textContent: 'It opens with' }),
    el('label', { className: 'radio' }, byPass, ' a passphrase ChartSafe makes, which you give them by phone'),
    el('label', { className: 'radio' }, byKey, ' their own key (an “age1…” public key their IT gave you)'),
    key);
  // A message about what was typed goes as soon as it changes.
  for (const input of [note, key, byPass, byKey]) input.addEventListener('input', () => { problem.hidden = true; });
  const sync = () => { key.disabled = !byKey.checked; };
  byPass.addEventListener('change', sync);
  byKey.addEventListener('change', sync);
  sync();
  const body = [
    el('p', { textContent: `ChartSafe writes one encrypted copy of “${visible(name)}” that opens without ChartSafe, with the free “age” encryption tool or any program that reads its files. It is recorded in the activity with the name you give.` }),
    el('label', { htmlFor: 'share-note', textContent: 'For whom' }), note, how, problem,
  ];
  for (;;) {
    const answer = await dialogs.ask('Share outside the clinic', body,
      [{ label: 'Cancel', value: 'cancel' }, { label: 'Choose where to save…', value: 'ok', kind: 'primary' }]);
    if (answer !== 'ok') return;
    const wrong = !note.value.trim() ? 'Say for whom the copy is.'
      : byKey.checked && !/^age1[02-9ac-hj-np-z]{50,}$/.test(key.value.trim()) ? 'That is not an age public key: it starts with age1.' : '';
    if (!wrong) break;
    problem.textContent = wrong;
    problem.hidden = false;
  }
  const dest = await api.chooseSaveFile('Save the shared copy', `${name}.age`, 'age').catch(() => null);
  if (!dest) return;
  let out;
  try {
    out = await api.shareFile(file.path, byKey.checked ? key.value.trim() : null, note.value.trim(), dest);
  } catch (err) {
    dialogs.error(err, 'Could not share');
    return;
  }
  const shown = [el('p', { textContent: `Saved as ${out.file}. Send this file to ${note.value.trim()}.` })];
  if (out.passphrase) {
    const copied = el('span', { className: 'help', id: 'share-copied' });
    const copy = el('button', { type: 'button', className: 'secondary', id: 'share-copy', textContent: 'Copy passphrase' });
    copy.addEventListener('click', async () => {
      await navigator.clipboard.writeText(out.passphrase).catch(() => {});
      copied.textContent = 'Copied.';
    });
    shown.push(
      el('p', { textContent: 'The passphrase is shown only now. Give it to them by phone or in person, never with the file:' }),
      el('p', { className: 'share-passphrase', id: 'share-passphrase', textContent: out.passphrase }),
      el('div', { className: 'check-repair-row' }, copy, copied));
  }
  shown.push(el('details', { open: true }, el('summary', { textContent: 'How to open it (send this with the file)' }),
    el('pre', { className: 'share-how-to', id: 'share-how-to', textContent: out.how_to_open })));
  await dialogs.panel('Shared', shown);
}

async function newFolder() {
  const name = await dialogs.prompt('New folder', 'Folder name', '', 'Create');
  if (!name) return;
  try {
    await api.mkdir(joinPath(s.folder, name));
  } catch (err) {
    dialogs.error(err, 'Could not create the folder');
  }
  refresh();
}

async function showHistory() {
  const sel = selectedEntries();
  if (sel.length !== 1 || sel[0].folder) return;
  const e = sel[0];
  let list;
  try { list = await api.versions(e.path); } catch (err) { return dialogs.error(err); }
  const table = el('table', {}, el('tr', {}, ...['Version', 'Saved', 'By', 'Size', ''].map((h) => headerCell(h))));
  for (const v of list) {
    const cell = el('td', {});
    if (v.number === 1) cell.textContent = 'Current';
    else {
      const b = el('button', { type: 'button', className: 'secondary', textContent: 'Restore' });
      b.addEventListener('click', async () => {
        try {
          await api.revert(e.path, v.number, v.changed);
          dialogs.closeAll();
          dialogs.toast(`Restored the version from ${formatTime(v.changed)}. The newer one stays in the history.`, 5000);
        } catch (err) { dialogs.error(err); }
        refresh();
      });
      cell.append(b);
    }
    table.append(el('tr', {}, el('td', { textContent: String(list.length + 1 - v.number) }), el('td', { textContent: formatTime(v.changed) }),
      el('td', { textContent: visible(v.changed_by), title: `on ${visible(v.changed_on)}` }), el('td', { textContent: formatBytes(v.size) }), cell));
  }
  dialogs.panel(`Versions of ${baseName(e.path)}`, table);
}

/** A table header; the column of buttons gets a name only screen readers hear. */
function headerCell(text) {
  return text ? el('th', { textContent: text }) : el('th', {}, el('span', { className: 'visually-hidden', textContent: 'Action' }));
}

async function showTrash() {
  let list;
  try { list = await api.trashList(); } catch (err) { return dialogs.error(err); }
  if (!list.length) return dialogs.message('Trash', 'The trash is empty.');
  const table = el('table', {}, el('tr', {}, ...['Name', 'Deleted', 'By', ''].map((h) => headerCell(h))));
  for (const t of list) {
    const b = el('button', { type: 'button', className: 'secondary', textContent: 'Restore' });
    b.addEventListener('click', async () => {
      try { await api.restore(t.id); b.disabled = true; b.textContent = 'Restored'; } catch (err) { dialogs.error(err); }
      refresh();
    });
    table.append(el('tr', {}, el('td', { textContent: t.path }), el('td', { textContent: formatTime(t.trashed) }),
      el('td', { textContent: visible(t.trashed_by), title: `on ${visible(t.trashed_on)}` }), el('td', {}, b)));
  }
  dialogs.panel('Trash', table);
}

async function showSettings() {
  const st = await api.status();
  const up = await api.updateStatus();
  const input = el('input', { type: 'number', id: 'dialog-input', min: 1, max: 240, value: String(st.idle_minutes) });
  const check = el('input', { type: 'checkbox', id: 'settings-updates', checked: up.enabled, disabled: up.locked_by_policy });
  const atLogin = await api.startAtLogin().catch(() => false);
  const login = el('input', { type: 'checkbox', id: 'settings-login', checked: atLogin });
  const scan = await scanner.section();
  const chosen = await dialogs.ask('Settings', [
    el('label', { htmlFor: 'dialog-input', textContent: 'Lock after this many minutes without use' }), input,
    el('p', { className: 'help', textContent: 'ChartSafe also locks when the screen locks or the computer sleeps. Ctrl+L locks at once.' }),
    el('label', { className: 'check', htmlFor: 'settings-updates' }, check,
      el('span', { textContent: ` Look for updates (this is version ${up.current})` })),
    el('p', { className: 'help', id: 'settings-updates-note', textContent: up.note || 'Updates are installed only when their signature is ChartSafe\'s.' }),
    el('label', { className: 'check', htmlFor: 'settings-login' }, login,
      el('span', { textContent: ' Start ChartSafe when I log in (it opens locked)' })),
    ...scan.nodes,
  ], [{ label: 'Cancel', value: 'cancel' }, { label: 'Save', value: 'ok', kind: 'primary' }]);
  if (chosen !== 'ok') return;
  const n = Number.parseInt(input.value, 10);
  if (!(n >= 1 && n <= 240)) return dialogs.message('Settings', 'Choose between 1 and 240 minutes.');
  await api.setIdleMinutes(n).catch(dialogs.error);
  if (!up.locked_by_policy && check.checked !== up.enabled) await api.setUpdateCheck(check.checked).catch(dialogs.error);
  if (login.checked !== atLogin) await api.setStartAtLogin(login.checked).catch(dialogs.error);
  await scan.save();
}

// ---- Import -----------------------------------------------------------------

async function startImport(paths) {
  if (!paths.length) return;
  if (s.importing) {
    dialogs.toast('Please wait until the files being added are done, then drop these again.', 5000);
    return;
  }
  const dest = s.query ? '' : s.folder;
  let keepBoth = false;
  const clashes = clashingNames(paths, s.index.get(dest) || []);
  if (clashes.length) {
    const names = clashes.slice(0, 3).map((n) => `“${n}”`).join(', ') + (clashes.length > 3 ? ` and ${clashes.length - 3} more` : '');
    const choice = await dialogs.ask(clashes.length === 1 ? 'This name is already in this folder' : 'Some names are already in this folder',
      `${names} already exist${clashes.length === 1 ? 's' : ''} here. Keep both, or store the new file${clashes.length === 1 ? '' : 's'} as a new version (the old version stays in the history)?`,
      [{ label: 'Cancel', value: 'cancel' }, { label: 'New version', value: 'version' }, { label: 'Keep both', value: 'both', kind: 'primary' }]);
    if (choice !== 'both' && choice !== 'version') return;
    keepBoth = choice === 'both';
  }
  s.importing = true;
  const panel = $('import-panel');
  panel.hidden = false;
  panel.dataset.state = 'running';
  $('import-title').textContent = 'Encrypting files';
  $('import-summary').replaceChildren();
  $('import-cancel').hidden = false;
  $('import-cancel').disabled = false;
  $('import-close').hidden = true;
  setBar('import-bar', 0);
  setBar('import-file-bar', 0);
  $('import-file-bar').hidden = false;
  $('import-total-text').hidden = false;
  $('import-current').textContent = 'Looking at the files…';
  $('import-total-text').textContent = '';
  try {
    const sum = await api.importPaths(paths, dest, keepBoth, onProgress);
    showSummary(sum);
  } catch (e) {
    panel.dataset.state = 'failed';
    $('import-title').textContent = 'The import stopped';
    $('import-summary').replaceChildren(
      el('p', { textContent: e.message }),
      el('p', { className: 'help', textContent: 'Files finished before this are in the vault; check the list before adding the rest again.' }),
      detailsButton(e.details || ''),
    );
  } finally {
    s.importing = false;
    $('import-cancel').hidden = true;
    $('import-close').hidden = false;
    $('import-close').focus();
    refresh();
  }
}

function setBar(id, pct) {
  const bar = $(id);
  bar.setAttribute('aria-valuenow', String(pct));
  bar.firstElementChild.style.width = `${pct}%`;
}

function onProgress(p) {
  // Before the sizes are known there is nothing done yet.
  const pct = p.bytes ? percent(p.bytes_done, p.bytes) : 0;
  setBar('import-bar', p.finished ? percent(p.files_done, p.files) : pct);
  setBar('import-file-bar', percent(p.current_done, p.current_size));
  $('import-bar').dataset.percent = String(p.finished ? percent(p.files_done, p.files) : pct);
  $('import-current').textContent = p.current && !p.finished ? `${p.current} (${formatBytes(p.current_done)} of ${formatBytes(p.current_size)})` : '';
  const left = timeLeft(p.bytes_done, p.bytes, p.elapsed_ms);
  $('import-total-text').textContent = `${p.files_done} of ${p.files} ${p.files === 1 ? 'file' : 'files'} · ${formatBytes(p.bytes_done)} of ${formatBytes(p.bytes)}${left ? ` · ${left}` : ''}`;
}

function showSummary(sum) {
  const panel = $('import-panel');
  panel.dataset.elapsed = String(sum.elapsed_ms);
  panel.dataset.state = sum.cancelled ? 'cancelled' : sum.failed.length ? 'partial' : 'done';
  const text = importSummaryText(sum);
  $('import-title').textContent = text.title;
  const lines = [el('p', { textContent: `${text.line} (${formatBytes(sum.bytes)})` })];
  // Done: one bar and one sentence say it (the file bar and the running
  // count would repeat it).
  $('import-total-text').textContent = '';
  $('import-total-text').hidden = true;
  $('import-current').textContent = '';
  $('import-file-bar').hidden = true;
  if (sum.cancelled) lines.push(el('p', { className: 'help', textContent: 'Files finished before you cancelled are in the vault; the others were not added.' }));
  if (sum.failed.length) {
    lines.push(el('p', { textContent: text.failedIntro }));
    lines.push(el('ul', {}, ...sum.failed.map((f) => el('li', { title: f.details }, el('strong', { textContent: baseName(f.file) }), ` — ${f.message}`))));
    lines.push(detailsButton(sum.failed.map((f) => `${f.file}: ${f.details}`).join('\n')));
  }
  $('import-summary').replaceChildren(...lines);
}

// ---- Setup, entering and clearing ------------------------------------------

export function setup() {
  const vp = $('viewport');
  vp.addEventListener('scroll', () => requestAnimationFrame(drawRows), { passive: true });
  vp.addEventListener('keydown', onKey);
  vp.addEventListener('click', (ev) => {
    const r = ev.target.closest('.tr');
    if (!r) return;
    const i = Number(r.dataset.index);
    if (ev.shiftKey) return moveCursor(i, true);
    if (ev.ctrlKey || ev.metaKey) {
      const p = s.rows[i].path;
      if (s.selected.has(p)) s.selected.delete(p); else s.selected.add(p);
      s.cursor = i;
      s.anchor = i;
      drawRows();
      renderDetails();
      return;
    }
    moveCursor(i, false);
  });
  vp.addEventListener('dblclick', (ev) => {
    const r = ev.target.closest('.tr');
    if (r) activate(s.rows[Number(r.dataset.index)]);
  });
  window.addEventListener('resize', () => requestAnimationFrame(drawRows));
  for (const h of document.querySelectorAll('.thead [data-sort]')) {
    h.addEventListener('click', () => {
      if (s.sortKey === h.dataset.sort) s.ascending = !s.ascending;
      else { s.sortKey = h.dataset.sort; s.ascending = true; }
      render();
    });
  }
  let searchTimer = null;
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      s.query = $('search').value.trim();
      s.cursor = 0;
      $('viewport').scrollTop = 0;
      render();
    }, 120);
  });
  $('search').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { $('search').value = ''; s.query = ''; render(); }
    if (ev.key === 'ArrowDown') { ev.preventDefault(); vp.focus(); moveCursor(0, false); }
  });
  window.addEventListener('keydown', (ev) => {
    if (document.body.dataset.screen !== 'main') return;
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === 'f') {
      ev.preventDefault();
      $(activity.isOpen() ? 'activity-search' : 'search').focus();
    }
  });
  $('btn-add').addEventListener('click', async () => startImport(await api.chooseFiles().catch(() => [])));
  $('btn-mkdir').addEventListener('click', newFolder);
  $('btn-trash-view').addEventListener('click', showTrash);
  $('btn-settings').addEventListener('click', showSettings);
  $('details-close').addEventListener('click', () => { s.selected.clear(); drawRows(); renderDetails(); });
  $('act-open').addEventListener('click', () => activate(selectedEntries()[0]));
  $('act-export').addEventListener('click', exportSelected);
  $('act-share').addEventListener('click', shareSelected);
  $('act-rename').addEventListener('click', renameSelected);
  $('act-move').addEventListener('click', moveSelected);
  $('act-history').addEventListener('click', showHistory);
  $('act-trash').addEventListener('click', trashSelected);
  $('who-opened').addEventListener('click', () => {
    const sel = selectedEntries();
    if (sel.length === 1 && !sel[0].folder) activity.open(sel[0]);
  });
  $('import-cancel').addEventListener('click', () => { $('import-cancel').disabled = true; api.cancelImport(); });
  $('import-close').addEventListener('click', () => { $('import-panel').hidden = true; vp.focus(); });

  activity.setup();
  team.setup();
  scanner.setup();
  $('team-button').addEventListener('click', () => { activity.close(false); team.open(); });
  $('activity-button').addEventListener('click', () => team.close(false));

  api.onDragDrop((d) => {
    if (document.body.dataset.screen !== 'main') return;
    const overlay = $('drop-overlay');
    if (d.type === 'enter' || d.type === 'over') {
      overlay.hidden = false;
      $('drop-target').textContent = s.query || !s.folder ? 'All files' : s.folder;
    } else if (d.type === 'leave') {
      overlay.hidden = true;
    } else if (d.type === 'drop') {
      overlay.hidden = true;
      startImport(d.paths || []);
    }
  });
  api.on('vault-changed', () => { if (s.active) refresh(); });
  api.on('file-saved', (path) => { if (s.active) { dialogs.toast(`Saved a new version of ${baseName(path)}.`); refresh(); } });
  api.on('file-save-failed', ([path, e]) => { if (s.active) dialogs.error(e, `${baseName(path)} could not be saved into the vault`); });
  // Where the folder cannot be watched (some network shares), a timer refreshes.
  setInterval(() => { if (s.active && !s.importing && !s.watched) refresh(); }, 30_000);
}

/** Shows the main window for a freshly unlocked vault. */
export function enter() {
  s.active = true;
  s.folder = '';
  $('viewport').focus();
  refresh();
}

/** Forgets every name shown (on lock), the Activity view's too. */
export function clear() {
  s.active = false;
  activity.clear();
  team.clear();
  scanner.clear();
  Object.assign(s, {
    entries: [], byPath: new Map(), index: new Map([['', []]]), rows: [], selected: new Set(), open: new Set(), query: '', folder: '',
  });
  setPreview(null);
  for (const id of ['rows', 'tree', 'crumbs', 'details-facts', 'open-list', 'import-summary', 'problems']) $(id).replaceChildren();
  for (const id of ['details-name', 'count', 'status-text', 'status-sync', 'import-current', 'import-total-text']) $(id).textContent = '';
  $('search').value = '';
  $('drop-target').textContent = '';
  $('details').hidden = true;
  $('details').dataset.key = '';
  document.querySelector('#screen-main .body').classList.remove('with-details');
  $('import-panel').hidden = true;
  $('drop-overlay').hidden = true;
  $('open-panel').hidden = true;
}
