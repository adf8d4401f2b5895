// The scanner folder (Settings → "Watch a folder"): the settings section,
// and the notices in the main window when scanned files are taken or left
// (src-tauri/src/scanner.rs, docs/FORMAT.md §16).

import * as api from './api.js';
import * as dialogs from './dialogs.js';
import { el } from './dialogs.js';
import { scanRoundText, scanStateText } from './logic.js';

const $ = (id) => document.getElementById(id);

/**
 * The Settings section. Resolves with {nodes, save}: `save()` applies the
 * fields (after the dialog's Save) and resolves false if it failed.
 */
export async function section() {
  const st = await api.scanStatus().catch(() => null);
  if (!st) return { nodes: [], save: async () => true };
  const dir = el('input', {
    type: 'text', id: 'scan-dir', value: st.dir || '', placeholder: 'The folder your scanner saves to', spellcheck: false, autocomplete: 'off',
  });
  dir.setAttribute('aria-describedby', 'scan-help scan-state');
  const choose = el('button', { type: 'button', className: 'secondary', id: 'scan-choose', textContent: 'Choose…' });
  const stop = el('button', { type: 'button', className: 'secondary', id: 'scan-stop', textContent: 'Stop watching', hidden: !st.dir });
  const to = el('input', { type: 'text', id: 'scan-to', value: st.to, spellcheck: false, autocomplete: 'off' });
  choose.addEventListener('click', async () => {
    const picked = await api.chooseFolder('The folder your scanner or fax program saves to').catch(() => null);
    if (picked) { dir.value = picked; stop.hidden = false; }
  });
  stop.addEventListener('click', () => { dir.value = ''; stop.hidden = true; dir.focus(); });
  const nodes = [
    el('fieldset', { className: 'scan' },
      el('legend', { textContent: 'Watch a folder' }),
      el('p', {
        className: 'help', id: 'scan-help',
        textContent: 'While this vault is unlocked, files your scanner or fax program saves in this folder are encrypted into the vault, checked, and then removed from the folder.',
      }),
      el('label', { htmlFor: 'scan-dir', textContent: 'Folder to watch' }),
      el('div', { className: 'inline' }, dir, choose, stop),
      el('label', { htmlFor: 'scan-to', textContent: 'Put the files into this vault folder' }),
      to,
      el('p', { className: 'help', id: 'scan-state', textContent: scanStateText(st) })),
  ];
  const save = async () => {
    if (dir.value.trim() === (st.dir || '') && to.value.trim() === st.to) return true;
    try {
      await api.setScanFolder(dir.value.trim(), to.value.trim());
      dialogs.toast(dir.value.trim() ? `Watching ${dir.value.trim()} for scanned files.` : 'The scanner folder is no longer watched.', 5000);
      return true;
    } catch (e) {
      dialogs.error(e, 'The scanner folder was not changed');
      return false;
    }
  };
  return { nodes, save };
}

/** Listens for what the watch does. `refresh` reloads the file list. */
export function setup() {
  api.on('scan-taken', (round) => {
    if (document.body.dataset.screen !== 'main') return;
    const { stored, left } = scanRoundText(round);
    if (stored) dialogs.toast(stored, 6000);
    if (left) showLeft(left, round.left);
  });
  api.on('scan-changed', async () => {
    const st = await api.scanStatus().catch(() => null);
    const box = $('scan-notice');
    if (st && st.problem) {
      box.dataset.kind = 'problem';
      box.replaceChildren(
        el('span', { textContent: `Scanner folder: ${st.problem}. ChartSafe keeps trying. ` }),
        dismissButton(),
      );
      box.hidden = false;
    } else if (box.dataset.kind === 'problem') {
      box.hidden = true;
    }
  });
  $('scan-notice').addEventListener('click', (ev) => {
    if (ev.target.closest('.scan-dismiss')) { $('scan-notice').hidden = true; $('viewport').focus(); }
  });
}

function dismissButton() {
  return el('button', { type: 'button', className: 'secondary small scan-dismiss', textContent: 'Dismiss' });
}

function showLeft(text, left) {
  const box = $('scan-notice');
  box.dataset.kind = 'left';
  const list = el('ul', {}, ...left.map((n) => el('li', {}, el('strong', { textContent: n.name }), `: ${n.why}`)));
  box.replaceChildren(el('span', { textContent: text }), list, dismissButton());
  box.hidden = false;
}

/** Forgets the notices (on lock). */
export function clear() {
  const box = $('scan-notice');
  box.hidden = true;
  box.replaceChildren();
  delete box.dataset.kind;
}
