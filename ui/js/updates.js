// The update banner: after start, asks whether a newer ChartSafe exists
// (unless IT or the person turned that off) and offers to install it. The
// app checks the update's signature before installing (docs/UPDATES.md);
// a refused update is reported here and this version keeps working.

import * as api from './api.js';

const $ = (id) => document.getElementById(id);

function say(state, text) {
  const banner = $('update-banner');
  banner.dataset.state = state;
  $('update-text').textContent = text;
  banner.hidden = false;
}

async function install(offer) {
  const button = $('update-install');
  button.disabled = true;
  say('installing', `Installing ChartSafe ${offer.version}… ChartSafe locks and restarts by itself.`);
  try {
    await api.installUpdate();
  } catch (e) {
    say('refused', e.message || String(e));
    $('update-text').title = e.details || '';
    button.hidden = true;
    $('update-dismiss').textContent = 'Close';
  }
}

/** Checks once; quiet when there is nothing to offer or the check fails. */
export async function checkOnce() {
  let offer = null;
  try {
    offer = await api.checkUpdate();
  } catch (e) {
    $('update-banner').dataset.checkError = e.details || e.message || String(e);
    return;
  }
  if (!offer) return;
  say('offered', `ChartSafe ${offer.version} is available.`);
  const button = $('update-install');
  button.hidden = false;
  button.disabled = false;
  button.onclick = () => install(offer);
}

export function setup() {
  $('update-dismiss').addEventListener('click', () => { $('update-banner').hidden = true; });
}
