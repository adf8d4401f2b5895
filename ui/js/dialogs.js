// Modal dialogs on the one <dialog> element: messages, errors with a
// details section for IT, questions, and text prompts.

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) e.append(c);
  return e;
}
export { el };

/**
 * Shows the dialog. `buttons` is [{label, value, kind}]; resolves with the
 * chosen value (or null when closed with Escape).
 */
let pending = null;

function show({ title, body, details, buttons, focus }) {
  const dialog = $('dialog');
  // A dialog already open is answered "no choice" before this one replaces it.
  // (The dialog stays open and only its content changes: closing it would
  // queue a "close" event that the new dialog would take as its answer.)
  if (pending) {
    const earlier = pending;
    pending = null;
    earlier(null);
  }
  $('dialog-title').textContent = title;
  const bodyEl = $('dialog-body');
  bodyEl.replaceChildren(...(Array.isArray(body) ? body : [body]).map((b) => (typeof b === 'string' ? el('p', { textContent: b }) : b)));
  const det = $('dialog-details');
  det.hidden = !details;
  det.open = false;
  det.querySelector('pre').textContent = details || '';
  const actions = $('dialog-actions');
  actions.replaceChildren(...buttons.map((b) => el('button', {
    type: 'submit', value: b.value, className: b.kind || 'secondary', textContent: b.label,
  })));
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener('close', done);
      if (pending !== finish) return;
      pending = null;
      resolve(dialog.returnValue === '' ? null : dialog.returnValue);
    };
    const finish = (value) => {
      dialog.removeEventListener('close', done);
      resolve(value);
    };
    pending = finish;
    dialog.returnValue = '';
    dialog.addEventListener('close', done);
    if (!dialog.open) dialog.showModal();
    const f = focus ? bodyEl.querySelector(focus) : actions.querySelector('.primary') || actions.lastChild;
    if (f) f.focus();
  });
}

/** A message with one OK button. */
export function message(title, text) {
  return show({ title, body: text, buttons: [{ label: 'OK', value: 'ok', kind: 'primary' }] });
}

/** An error from the backend ({kind, message, details}). */
export function error(e, title = 'That did not work') {
  return show({
    title,
    body: e.message || String(e),
    details: e.details,
    buttons: [{ label: 'OK', value: 'ok', kind: 'primary' }],
  });
}

/** A question; resolves with the chosen button's value. */
export function ask(title, body, buttons) {
  return show({ title, body, buttons });
}

/** Asks for a name; resolves with the text, or null. */
export async function prompt(title, label, value = '', okLabel = 'OK') {
  const input = el('input', { type: 'text', value, id: 'dialog-input', autocomplete: 'off', spellcheck: false });
  const lab = el('label', { htmlFor: 'dialog-input', textContent: label });
  const chosen = await show({
    title,
    body: [lab, input],
    buttons: [{ label: 'Cancel', value: 'cancel' }, { label: okLabel, value: 'ok', kind: 'primary' }],
    focus: '#dialog-input',
  });
  return chosen === 'ok' ? input.value.trim() : null;
}

/** Shows arbitrary content with a Close button (version history, trash). */
export function panel(title, content) {
  return show({ title, body: content, buttons: [{ label: 'Close', value: 'close', kind: 'primary' }] });
}

/** Closes the dialog if it is open, and forgets what it showed (locking). */
export function closeAll() {
  const d = $('dialog');
  if (d.open) d.close();
  $('dialog-title').textContent = '';
  $('dialog-body').replaceChildren();
  $('dialog-details').querySelector('pre').textContent = '';
  $('dialog-actions').replaceChildren();
  $('toast').hidden = true;
  $('toast').textContent = '';
}

let toastTimer = null;
/** A short message at the bottom of the window. */
export function toast(text, ms = 3500) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, ms);
}
