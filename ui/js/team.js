// The Team screen: the people and computers of the vault's team log, their
// roles, invitations, approving a join request after checking its code with
// the person, and removing someone. Everything here is forgotten on lock.

import * as api from './api.js';
import * as dialogs from './dialogs.js';
import { el } from './dialogs.js';
import { localDateTime } from './logic.js';

const $ = (id) => document.getElementById(id);

const ROLE_LABELS = { admin: 'Administrator', staff: 'Staff', viewer: 'Viewer' };
const s = { generation: 0, team: null };

/** Whether the Team screen is showing. */
export function isOpen() {
  return !$('team-view').hidden;
}

/** Shows the Team screen, read afresh. */
export function open() {
  $('team-view').hidden = false;
  document.querySelector('#screen-main .body').classList.add('with-team');
  $('team-close').focus();
  return load();
}

/** Back to the files; `focusFiles` false when another view takes over. */
export function close(focusFiles = true) {
  if (!isOpen()) return;
  $('team-view').hidden = true;
  document.querySelector('#screen-main .body').classList.remove('with-team');
  if (focusFiles) $('viewport').focus();
}

/** Forgets every name shown (on lock). */
export function clear() {
  s.generation += 1;
  s.team = null;
  $('team-view').hidden = true;
  document.querySelector('#screen-main .body').classList.remove('with-team');
  for (const id of ['team-members', 'team-requests', 'team-problems', 'team-collections']) $(id).replaceChildren();
  $('team-new-collection').hidden = true;
  $('team-rotate').hidden = true;
  $('team-rekey').hidden = true;
  $('team-rekey-text').textContent = '';
  $('team-count').textContent = '';
  $('team-requests-box').hidden = true;
  $('team-problems').hidden = true;
  $('team-invite').hidden = true;
}

async function load() {
  const generation = s.generation;
  $('team-view').dataset.state = 'loading';
  let team;
  try {
    team = await api.teamView();
  } catch (e) {
    if (generation === s.generation) dialogs.error(e, 'The team could not be read');
    return;
  }
  if (generation !== s.generation) return;
  s.team = team;
  render();
  $('team-view').dataset.state = 'ready';
  await showRekey(generation);
}

/** Shows how far re-encryption to the current key is, and follows it
 * every second while it runs (FORMAT.md §13.3). */
async function showRekey(generation) {
  let r;
  try {
    r = await api.rekeyProgress();
  } catch {
    return;
  }
  if (generation !== s.generation || !isOpen()) return;
  const box = $('team-rekey');
  const bar = $('team-rekey-bar');
  box.dataset.running = String(r.running);
  if (r.running) {
    box.hidden = false;
    bar.hidden = false;
    bar.value = r.percent;
    $('team-rekey-text').textContent = `Re-encrypting files to the new key: ${r.percent}% (${r.files_done} of ${r.files_total} ${r.files_total === 1 ? 'file' : 'files'}). You can keep working.`;
    setTimeout(() => showRekey(generation), 1000);
    return;
  }
  bar.hidden = true;
  if (r.message) {
    box.hidden = false;
    $('team-rekey-text').textContent = r.message;
  } else if (r.due) {
    box.hidden = false;
    $('team-rekey-text').textContent = 'Some files may still be under the key before the last removal. An administrator\'s computer re-encrypts them when it opens the vault.';
  } else {
    box.hidden = true;
  }
}

function render() {
  const t = s.team;
  const active = t.members.filter((m) => !m.removed);
  $('team-count').textContent = `${active.length} ${active.length === 1 ? 'member' : 'members'}`;
  $('team-invite').hidden = !t.admin;
  const problems = $('team-problems');
  problems.hidden = t.problems.length === 0;
  problems.replaceChildren(...t.problems.map((p) => el('p', { textContent: p })));

  $('team-requests-box').hidden = t.requests.length === 0;
  $('team-requests').replaceChildren(...t.requests.map((r) => {
    const li = el('li', { className: 'request' });
    li.dataset.id = r.id;
    li.append(
      el('span', { className: 'who' },
        el('strong', { textContent: r.name }),
        el('span', { className: 'devices', textContent: `${r.new_member ? 'New member' : 'New computer'} · computer "${r.device_name}" · asked ${localDateTime(r.time)}` })),
      el('button', { type: 'button', className: 'primary approve', textContent: 'Check code and approve…', onclick: () => approve(r) }),
    );
    return li;
  }));

  $('team-new-collection').hidden = !t.admin;
  $('team-rotate').hidden = !t.admin;
  $('team-collections-help').textContent = t.collections.length
    ? 'Folders with their own key: only administrators and the members listed can see them or open their files.'
    : (t.admin ? 'No collections yet. A collection is a folder with its own key, for example “Billing” for billing staff only.' : 'You are in no collection.');
  $('team-collections').replaceChildren(...t.collections.map((c) => {
    const li = el('li', { className: 'collection' });
    li.dataset.id = c.id;
    const who = ['Administrators', ...c.readers.map((r) => `${r.name} (${r.write ? 'reads and changes' : 'reads'})`)];
    li.append(el('span', { className: 'who' },
      el('strong', { textContent: c.name ?? '(its folder has not synced yet)' }),
      el('span', { className: 'devices', textContent: who.join(', ') })));
    if (t.admin) {
      li.append(el('button', { type: 'button', className: 'secondary grant', textContent: 'Give access…', onclick: () => grant(c) }));
      if (c.readers.length) {
        li.append(el('button', { type: 'button', className: 'secondary revoke', textContent: 'Take access away…', onclick: () => revoke(c) }));
      }
    }
    return li;
  }));

  $('team-members').replaceChildren(...t.members.map((m) => {
    const li = el('li', { className: 'member' });
    li.dataset.id = m.id;
    li.dataset.removed = String(m.removed);
    const devices = m.devices.map((d) => `${d.name}${d.this_device ? ' (this computer)' : ''}${d.removed ? ' (removed)' : ''}`);
    const mine = m.devices.some((d) => d.this_device);
    const role = el('span', { className: 'role', textContent: m.removed ? 'Removed' : ROLE_LABELS[m.role] || m.role });
    role.dataset.role = m.removed ? 'removed' : m.role;
    li.append(
      el('span', { className: 'who' },
        el('strong', { textContent: m.name }),
        el('span', { className: 'devices', textContent: devices.length ? devices.join(', ') : 'no computer' })),
      role,
    );
    if (t.admin && !m.removed && !mine) {
      li.append(el('button', { type: 'button', className: 'secondary remove', textContent: 'Remove…', onclick: () => remove(m) }));
    }
    return li;
  }));
}

async function invite() {
  let inv;
  try {
    inv = await api.makeInvite();
  } catch (e) {
    dialogs.error(e, 'No invitation was made');
    return;
  }
  await dialogs.panel('Invitation', [
    el('p', { textContent: 'Give this invitation to the person in the room or read it to them on the phone. Do not send it by email. It works until ' + localDateTime(inv.expires) + '.' }),
    el('code', { className: 'invite-text', id: 'team-invite-text', textContent: inv.text }),
    el('p', { textContent: 'On their computer they run: chartsafe --vault FOLDER --name "Their Name" join (joining from this app is still to come). It shows them a code; you type that code here to approve them.' }),
  ]);
  // The invitation is not kept on screen.
}

async function approve(r) {
  const code = el('input', { type: 'text', id: 'team-code', inputMode: 'numeric', autocomplete: 'off', spellcheck: false, placeholder: '0000 0000' });
  const role = el('select', { id: 'team-role' },
    el('option', { value: 'staff', textContent: 'Staff: reads and changes files' }),
    el('option', { value: 'viewer', textContent: 'Viewer: reads files only' }),
    el('option', { value: 'admin', textContent: 'Administrator: manages the team' }));
  const whose = el('select', { id: 'team-whose' },
    el('option', { value: '', textContent: `A new member: ${r.name}` }),
    ...s.team.members.filter((m) => !m.removed).map((m) => el('option', { value: m.id, textContent: `Another computer of ${m.name}` })));
  const roleLabel = el('label', { htmlFor: 'team-role', textContent: 'Role' });
  whose.addEventListener('change', () => {
    role.hidden = roleLabel.hidden = whose.value !== '';
  });
  const chosen = await dialogs.ask(`Approve ${r.name}?`, [
    el('p', { textContent: `Ask ${r.name} to read you the 8-digit code on their screen, and type it here. ChartSafe checks it: a different code means the request is not theirs.` }),
    el('label', { htmlFor: 'team-code', textContent: 'Code' }), code,
    el('label', { htmlFor: 'team-whose', textContent: 'Whose computer is it?' }), whose,
    roleLabel, role,
  ], [{ label: 'Cancel', value: 'cancel' }, { label: 'Approve', value: 'approve', kind: 'primary' }]);
  if (chosen !== 'approve') return;
  try {
    if (whose.value) await api.approveComputer(r.id, code.value.trim(), whose.value);
    else await api.approveRequest(r.id, code.value.trim(), role.value);
  } catch (e) {
    await dialogs.error(e, `${r.name} was not approved`);
    return load();
  }
  dialogs.toast(`${r.name} is approved. Their computer can open the vault once the folder has synced.`);
  return load();
}

async function remove(m) {
  const chosen = await dialogs.ask(`Remove ${m.name}?`, [
    `${m.name} will no longer be able to change anything in the vault, on any of their computers. What they did before stays.`,
    'The vault gets a new key at once: nothing written from now on opens with the keys they had. Files already in the vault are re-encrypted in the background. Anything they opened or copied before, they may have kept.',
  ], [{ label: 'Cancel', value: 'cancel' }, { label: 'Remove', value: 'remove', kind: 'danger' }]);
  if (chosen !== 'remove') return;
  try {
    await api.removeMember(m.id);
  } catch (e) {
    await dialogs.error(e, `${m.name} was not removed`);
  }
  return load();
}

async function newCollection() {
  const name = el('input', { type: 'text', id: 'team-collection-name', autocomplete: 'off', placeholder: 'Billing' });
  const chosen = await dialogs.ask('New collection', [
    el('p', { textContent: 'A collection is a new folder at the top of the vault with its own key. Only administrators and the members you give access can see it or open its files. An existing folder cannot become a collection.' }),
    el('label', { htmlFor: 'team-collection-name', textContent: 'Folder name' }), name,
  ], [{ label: 'Cancel', value: 'cancel' }, { label: 'Make collection', value: 'make', kind: 'primary' }]);
  if (chosen !== 'make' || !name.value.trim()) return;
  try {
    await api.makeCollection(name.value.trim());
  } catch (e) {
    await dialogs.error(e, 'No collection was made');
    return load();
  }
  dialogs.toast(`“${name.value.trim()}” is a collection. Give people access from the Team screen.`);
  return load();
}

async function grant(c) {
  const t = s.team;
  const candidates = t.members.filter((m) => !m.removed && m.role !== 'admin' && !c.readers.some((r) => r.id === m.id));
  if (!candidates.length) {
    await dialogs.message('Give access', 'Every member who is not an administrator already has access (administrators always do).');
    return;
  }
  const who = el('select', { id: 'team-grant-member' }, ...candidates.map((m) => el('option', { value: m.id, textContent: m.name })));
  const access = el('select', { id: 'team-grant-access' },
    el('option', { value: 'read', textContent: 'Reads the files' }),
    el('option', { value: 'write', textContent: 'Reads and changes the files' }));
  const chosen = await dialogs.ask(`Give access to ${c.name ?? 'this collection'}`, [
    el('label', { htmlFor: 'team-grant-member', textContent: 'Member' }), who,
    el('label', { htmlFor: 'team-grant-access', textContent: 'Access' }), access,
  ], [{ label: 'Cancel', value: 'cancel' }, { label: 'Give access', value: 'grant', kind: 'primary' }]);
  if (chosen !== 'grant') return;
  try {
    await api.grantCollection(c.id, who.value, access.value === 'write');
  } catch (e) {
    await dialogs.error(e, 'No access was given');
  }
  return load();
}

async function revoke(c) {
  const who = el('select', { id: 'team-revoke-member' }, ...c.readers.map((r) => el('option', { value: r.id, textContent: r.name })));
  const chosen = await dialogs.ask(`Take access to ${c.name ?? 'this collection'} away`, [
    el('label', { htmlFor: 'team-revoke-member', textContent: 'Member' }), who,
    el('p', { textContent: 'The collection gets a new key at once and its files are re-encrypted in the background. What they opened or copied before, they may have kept.' }),
  ], [{ label: 'Cancel', value: 'cancel' }, { label: 'Take access away', value: 'revoke', kind: 'danger' }]);
  if (chosen !== 'revoke') return;
  try {
    await api.revokeCollection(c.id, who.value);
  } catch (e) {
    await dialogs.error(e, 'Access was not taken away');
  }
  return load();
}

async function rotate() {
  const chosen = await dialogs.ask('Replace the keys now?', [
    'Every collection you can read gets a new key at once, and its files are re-encrypted in the background. Do this if a computer may have been copied or a key leaked. Removing someone does it by itself.',
  ], [{ label: 'Cancel', value: 'cancel' }, { label: 'Replace keys', value: 'rotate', kind: 'primary' }]);
  if (chosen !== 'rotate') return;
  try {
    await api.rotateKeys();
  } catch (e) {
    await dialogs.error(e, 'The keys were not replaced');
  }
  return load();
}

/** Wires the buttons (once). */
export function setup() {
  $('team-close').addEventListener('click', () => close());
  $('team-invite').addEventListener('click', invite);
  $('team-new-collection').addEventListener('click', newCollection);
  $('team-rotate').addEventListener('click', rotate);
  $('team-view').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !$('dialog').open) close();
  });
}
