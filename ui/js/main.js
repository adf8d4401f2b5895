// The app's screens: first run, create (with the recovery phrase), open,
// unlock, recover; then the main window (browser.js). Locking returns here.

import * as api from './api.js';
import * as dialogs from './dialogs.js';
import { el } from './dialogs.js';
import { passphraseStrength, ordinal, baseName, plantedWarning } from './logic.js';
import * as browser from './browser.js';
import * as updates from './updates.js';

const $ = (id) => document.getElementById(id);
const screens = ['welcome', 'create', 'phrase', 'confirm', 'open', 'unlock', 'recover', 'main'];
let vaultPath = null;
let history = [];
let clipboardTimer = null;

function show(name) {
  for (const s of screens) $(`screen-${s}`).hidden = s !== name;
  document.body.dataset.screen = name;
  const first = $(`screen-${name}`).querySelector('[autofocus], input:not([type=hidden]), button.primary');
  if (first && name !== 'main') first.focus();
}

function go(name) {
  history.push(document.body.dataset.screen);
  show(name);
}

function back() {
  show(history.pop() || 'welcome');
}

function formError(form, e) {
  const p = form.querySelector('.form-error');
  p.hidden = !e;
  p.textContent = e ? e.message || String(e) : '';
  if (e && e.details) p.title = e.details;
}

async function busy(button, work) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = 'Please wait…';
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

function strengthMeter(input, meter, hint) {
  input.addEventListener('input', () => {
    const s = passphraseStrength(input.value);
    meter.style.width = `${Math.max(4, s.score * 25)}%`;
    meter.className = `s${s.score}`;
    hint.textContent = input.value ? `${s.label}. ${s.hint}` : '';
  });
}

function checkNewPassphrase(p1, p2) {
  if (p1.value.length < 8) return { message: 'The passphrase must have at least 8 characters.' };
  if (p1.value !== p2.value) return { message: 'The two passphrases are not the same. Type them again.' };
  return null;
}

// ---- First run and create -------------------------------------------------

async function startCreate() {
  go('create');
  const box = $('create-suggestions');
  box.replaceChildren();
  const places = await api.suggestLocations().catch(() => []);
  for (const p of places) {
    const b = el('button', { type: 'button', className: 'secondary suggestion' },
      el('strong', { textContent: p.service }), el('span', { className: 'muted path', textContent: p.path }));
    b.setAttribute('aria-pressed', 'false');
    b.dataset.path = p.path;
    b.addEventListener('click', () => {
      for (const other of box.querySelectorAll('.suggestion')) other.setAttribute('aria-pressed', 'false');
      b.setAttribute('aria-pressed', 'true');
      $('create-path').value = p.path;
    });
    box.append(b);
  }
  if (places.length) {
    box.prepend(el('p', { className: 'help', textContent: 'Found on this computer:' }));
    if (!$('create-path').value) {
      box.querySelector('.suggestion').click();
      // The folder is chosen; the passphrase is next (unless the person
      // has already moved on).
      if (document.activeElement === $('create-path')) $('create-pass').focus();
    }
  }
}

async function createSubmit(ev) {
  ev.preventDefault();
  const form = $('create-form');
  formError(form, null);
  const path = $('create-path').value.trim();
  if (!path) return formError(form, { message: 'Choose a folder for the vault.' });
  const bad = checkNewPassphrase($('create-pass'), $('create-pass2'));
  if (bad) return formError(form, bad);
  try {
    const created = await busy($('create-submit'), () => api.createVault(path, $('create-pass').value));
    $('create-pass').value = '';
    $('create-pass2').value = '';
    vaultPath = path;
    showPhrase(created);
  } catch (e) {
    formError(form, e);
  }
}

let pendingAsk = null;
function showPhrase({ words, ask }) {
  pendingAsk = ask;
  $('phrase-words').replaceChildren(...words.map((w) => el('li', { textContent: w })));
  $('phrase-copy').onclick = async () => {
    try {
      await navigator.clipboard.writeText(words.join(' '));
      $('phrase-copied').textContent = 'Copied. The clipboard is cleared in one minute.';
      clearTimeout(clipboardTimer);
      clipboardTimer = setTimeout(clearClipboard, 60_000);
    } catch {
      $('phrase-copied').textContent = 'Copying is not available here; write the words down or print them.';
    }
  };
  history = [];
  show('phrase');
}

// Clears the clipboard only if it still may hold the phrase we put there.
function clearClipboard() {
  if (!clipboardTimer) return;
  clearTimeout(clipboardTimer);
  clipboardTimer = null;
  navigator.clipboard.writeText('').catch(() => {});
  $('phrase-copied').textContent = '';
}

function showConfirm() {
  const box = $('confirm-fields');
  box.replaceChildren();
  pendingAsk.forEach((i, n) => {
    const id = `confirm-word-${n}`;
    box.append(
      el('label', { htmlFor: id, textContent: `${ordinal(i)} word` }),
      el('input', { id, type: 'text', autocomplete: 'off', spellcheck: false, className: 'confirm-word' }),
    );
  });
  // A space moves on to the next word, as on the sheet: "word word word"
  // typed or pasted into the first field fills all three.
  const fields = [...box.querySelectorAll('.confirm-word')];
  fields.forEach((f, n) => f.addEventListener('input', () => {
    const next = fields[n + 1];
    if (!next || !/\S\s/.test(f.value)) return;
    const [word, ...rest] = f.value.trim().split(/\s+/);
    f.value = word;
    next.value = rest.join(' ');
    next.focus();
    next.dispatchEvent(new Event('input'));
  }));
  formError($('confirm-form'), null);
  show('confirm');
}

async function confirmSubmit(ev) {
  ev.preventDefault();
  const answers = [...document.querySelectorAll('.confirm-word')].map((i) => i.value);
  try {
    await busy($('confirm-submit'), () => api.confirmPhrase(answers));
    $('phrase-words').replaceChildren();
    pendingAsk = null;
    enterMain();
  } catch (e) {
    formError($('confirm-form'), e);
  }
}

// ---- Open, unlock, recover ------------------------------------------------

async function browseInto(input, title) {
  const chosen = await api.chooseFolder(title).catch(() => null);
  if (chosen) input.value = chosen;
}

async function openSubmit(ev) {
  ev.preventDefault();
  const form = $('open-form');
  const path = $('open-path').value.trim();
  if (!path) return formError(form, { message: 'Choose the vault folder.' });
  const info = await api.inspectFolder(path);
  if (info.kind !== 'vault') {
    return formError(form, { message: 'This folder is not a ChartSafe vault. Choose the folder that holds chartsafe-vault.json.' });
  }
  vaultPath = path;
  if (info.enrolled) {
    showUnlock();
  } else {
    $('recover-path').value = path;
    go('recover');
  }
}

function showUnlock(reason, unsaved = 0) {
  $('unlock-vault').textContent = vaultPath || '';
  const r = $('unlock-reason');
  const reasons = {
    idle: 'ChartSafe locked itself because nobody used it for a while.',
    screen_locked: 'ChartSafe locked when the screen locked.',
    sleep: 'ChartSafe locked when the computer went to sleep.',
  };
  const lost = unsaved
    ? ` ${unsaved} open file${unsaved === 1 ? '' : 's'} had changes that could not be saved into the vault before it locked; open ${unsaved === 1 ? 'it' : 'them'} again and redo the changes.`
    : '';
  r.hidden = !reasons[reason] && !lost;
  r.textContent = (reasons[reason] || '') + lost;
  formError($('unlock-form'), null);
  history = [];
  show('unlock');
  $('unlock-pass').focus();
}

async function unlockSubmit(ev) {
  ev.preventDefault();
  const form = $('unlock-form');
  formError(form, null);
  const pass = $('unlock-pass');
  if (!pass.value) return formError(form, { message: 'Type your passphrase.' });
  try {
    await busy($('unlock-submit'), () => api.unlock(vaultPath, pass.value));
    pass.value = '';
    enterMain();
  } catch (e) {
    pass.select();
    if (e.kind === 'not_enrolled') {
      $('recover-path').value = vaultPath;
      go('recover');
    }
    formError(form, e);
  }
}

async function recoverSubmit(ev) {
  ev.preventDefault();
  const form = $('recover-form');
  formError(form, null);
  const path = $('recover-path').value.trim();
  if (!path) return formError(form, { message: 'Choose the vault folder.' });
  const words = $('recover-words').value.trim().toLowerCase().split(/\s+/).join(' ');
  if (words.split(' ').length !== 24) {
    return formError(form, { message: `The recovery phrase has 24 words; you typed ${words ? words.split(' ').length : 0}.` });
  }
  const bad = checkNewPassphrase($('recover-pass'), $('recover-pass2'));
  if (bad) return formError(form, bad);
  try {
    const recovered = await busy($('recover-submit'), () => api.recover(path, words, $('recover-pass').value));
    for (const id of ['recover-words', 'recover-pass', 'recover-pass2']) $(id).value = '';
    vaultPath = path;
    enterMain();
    const warning = plantedWarning(recovered.planted);
    if (warning) dialogs.message('Someone tampered with the vault folder', warning);
  } catch (e) {
    formError(form, e);
  }
}

// ---- Main window and locking ----------------------------------------------

function enterMain() {
  history = [];
  $('vault-name').textContent = baseName(vaultPath || '') || 'ChartSafe';
  $('vault-name').title = vaultPath || '';
  show('main');
  browser.enter();
}

function onLocked({ reason, unsaved }) {
  browser.clear();
  dialogs.closeAll();
  clearClipboard();
  $('phrase-words').replaceChildren();
  $('confirm-fields').replaceChildren();
  if (document.body.dataset.screen === 'main' || ['phrase', 'confirm'].includes(document.body.dataset.screen)) {
    showUnlock(reason, unsaved);
  }
}

// Activity keeps the vault unlocked; reported at most every 5 seconds.
let lastPing = 0;
function activity() {
  const now = Date.now();
  const unlocked = ['main', 'phrase', 'confirm'].includes(document.body.dataset.screen);
  if (now - lastPing > 5000 && unlocked) {
    lastPing = now;
    api.activity().catch(() => {});
  }
}

async function start() {
  for (const b of document.querySelectorAll('.back')) b.addEventListener('click', back);
  $('go-create').addEventListener('click', startCreate);
  $('go-open').addEventListener('click', () => go('open'));
  $('go-recover').addEventListener('click', () => go('recover'));
  // A suggestion shows as chosen only while the field holds its folder.
  $('create-path').addEventListener('input', () => {
    for (const b of document.querySelectorAll('#create-suggestions .suggestion')) {
      b.setAttribute('aria-pressed', String(b.dataset.path === $('create-path').value.trim()));
    }
  });
  $('create-browse').addEventListener('click', () => browseInto($('create-path'), 'Choose or create an empty folder for the vault'));
  $('open-browse').addEventListener('click', () => browseInto($('open-path'), 'Choose the vault folder'));
  $('recover-browse').addEventListener('click', () => browseInto($('recover-path'), 'Choose the vault folder'));
  // A message under a form is about what was typed: it goes as soon as
  // the person changes anything (no stale "at least 8 characters" beside
  // a strong passphrase).
  for (const id of ['create-form', 'confirm-form', 'open-form', 'unlock-form', 'recover-form']) {
    $(id).addEventListener('input', () => formError($(id), null));
  }
  $('create-form').addEventListener('submit', createSubmit);
  $('confirm-form').addEventListener('submit', confirmSubmit);
  $('open-form').addEventListener('submit', openSubmit);
  $('unlock-form').addEventListener('submit', unlockSubmit);
  $('recover-form').addEventListener('submit', recoverSubmit);
  $('phrase-print').addEventListener('click', () => window.print());
  $('phrase-next').addEventListener('click', showConfirm);
  $('confirm-back').addEventListener('click', () => show('phrase'));
  $('unlock-forgot').addEventListener('click', () => { $('recover-path').value = vaultPath || ''; go('recover'); });
  $('unlock-other').addEventListener('click', async () => { await api.forgetVault(); vaultPath = null; history = []; show('welcome'); });
  strengthMeter($('create-pass'), $('create-meter'), $('create-strength-hint'));
  strengthMeter($('recover-pass'), $('recover-meter'), $('recover-strength-hint'));
  for (const ev of ['keydown', 'pointerdown', 'pointermove', 'wheel']) {
    window.addEventListener(ev, activity, { passive: true, capture: true });
  }
  window.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'l' && document.body.dataset.screen === 'main') {
      e.preventDefault();
      api.lock();
    }
  });
  $('btn-lock').addEventListener('click', () => api.lock());
  browser.setup();
  updates.setup();
  await api.on('locked', onLocked);

  const st = await api.status();
  vaultPath = st.vault;
  if (st.state === 'unlocked') enterMain();
  else if (st.state === 'locked') showUnlock();
  else show('welcome');
  // Tests wait for this before delivering a synthetic drop.
  document.body.dataset.ready = 'true';
  updates.checkOnce();
}

start().catch((e) => dialogs.error(e, 'ChartSafe could not start'));
