// Pure UI logic: no DOM, no Tauri. Tested with `node --test ui/tests`.

/** "1.4 MB", "12 KB", "512 bytes". */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1000) return n === 1 ? '1 byte' : `${n} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "about 3 minutes left", "a few seconds left", or '' when unknown. */
export function timeLeft(bytesDone, bytesTotal, elapsedMs) {
  if (bytesDone <= 0 || elapsedMs < 500 || bytesTotal <= bytesDone) return '';
  const rate = bytesDone / elapsedMs; // bytes per ms
  const secs = Math.ceil((bytesTotal - bytesDone) / rate / 1000);
  if (secs < 10) return 'a few seconds left';
  if (secs < 60) return `about ${Math.ceil(secs / 5) * 5} seconds left`;
  const mins = Math.round(secs / 60);
  if (mins < 60) return mins === 1 ? 'about a minute left' : `about ${mins} minutes left`;
  const hours = Math.round(mins / 6) / 10;
  return `about ${hours} hours left`;
}

/** Percentage 0..100 (integer), 100 when there is nothing to do. */
export function percent(done, total) {
  if (!total) return 100;
  return Math.max(0, Math.min(100, Math.floor((done * 100) / total)));
}

const pad = (n) => String(n).padStart(2, '0');

// Formatters are costly to make: one per locale, zone and style.
const formatters = new Map();
function formatter(locale, timeZone, options) {
  const key = JSON.stringify([locale ?? '', timeZone ?? '', options]);
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { ...options, timeZone });
    formatters.set(key, f);
  }
  return f;
}

/**
 * "Today 2:05 PM", "Yesterday 09:12", "3 Mar 2026, 14:05": this computer's
 * time zone and the person's locale (`locale` and `timeZone` for tests).
 */
export function formatTime(ms, now = Date.now(), locale = undefined, timeZone = undefined) {
  if (!ms) return '';
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '';
  const time = formatter(locale, timeZone, { timeStyle: 'short' }).format(d);
  const day = (t) => formatter(locale, timeZone, { year: 'numeric', month: '2-digit', day: '2-digit' }).format(t);
  if (day(d) === day(new Date(now))) return `Today ${time}`;
  if (day(d) === day(new Date(now - 86400000))) return `Yesterday ${time}`;
  return formatter(locale, timeZone, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

const COMMON = ['password', 'passwort', 'qwerty', '123456', 'letmein', 'welcome', 'admin', 'clinic',
  'doctor', 'patient', 'health', 'iloveyou', 'monkey', 'dragon', 'sunshine', 'chartsafe'];

/**
 * A passphrase strength hint: {score 0..4, label, hint}. Length matters most;
 * a few unrelated words beat short symbol soup.
 */
export function passphraseStrength(p) {
  if (!p) return { score: 0, label: 'Empty', hint: 'Use at least 8 characters; four unrelated words are best.' };
  const lower = p.toLowerCase();
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((r) => r.test(p)).length;
  const words = p.trim().split(/[\s\-_.]+/).filter((w) => w.length >= 3).length;
  const repeated = /^(.)\1*$/.test(p) || /^(..?.?)\1+$/.test(p);
  const common = COMMON.some((w) => lower.includes(w)) && p.length < 20;
  if (p.length < 8) {
    return { score: 0, label: 'Too short', hint: `Add ${8 - p.length} more character${8 - p.length === 1 ? '' : 's'}.` };
  }
  if (repeated) return { score: 1, label: 'Weak', hint: 'Avoid repeating the same characters.' };
  let score = 1;
  if (p.length >= 12) score += 1;
  if (p.length >= 16 || words >= 4) score += 1;
  if (classes >= 3 || words >= 3) score += 1;
  if (common) score = Math.min(score, 1);
  score = Math.min(score, 4);
  const labels = ['Too short', 'Weak', 'Fair', 'Good', 'Strong'];
  const hints = [
    '',
    common ? 'Avoid common words like "password" or the clinic\'s name.' : 'Longer is better: try four unrelated words.',
    'Longer is better: add another word.',
    'A fourth unrelated word makes it strong.',
    'Hard to guess.',
  ];
  return { score, label: labels[score], hint: hints[score] };
}

/** The folder part of a vault path ('' at the top). */
export function parentOf(path) {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** The last part of a path (vault or local, / or \ separated). */
export function baseName(path) {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : '';
}

// Characters that change how the text around them reads without being seen:
// bidirectional controls (U+202E makes "report\u202Efdp.exe" read as
// "reportexe.pdf"), zero-width and other invisible format characters, tags.
// The same list as chartsafe-core's names::is_deceptive (THREAT_MODEL §8).
const DECEPTIVE = /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\u{1d173}-\u{1d17a}\u{e0000}-\u{e0fff}]/gu;

/** Text safe to show: invisible and direction-changing characters become visible escapes (\u{202e}). */
export function visible(text) {
  return String(text ?? '').replace(DECEPTIVE, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
}

/** The last part of a vault path, as shown to people. */
export function shownName(path) {
  return visible(baseName(path));
}

/** Joins a folder and a name. */
export function joinPath(folder, name) {
  return folder ? `${folder}/${name}` : name;
}

/** Breadcrumbs for a folder: [{name, path}], starting at the top. */
export function breadcrumbs(folder, top = 'All files') {
  const out = [{ name: top, path: '' }];
  if (!folder) return out;
  let acc = '';
  for (const part of folder.split('/')) {
    acc = acc ? `${acc}/${part}` : part;
    out.push({ name: part, path: acc });
  }
  return out;
}

/**
 * Indexes a listing: a Map from folder path to its children, for instant
 * folder switches with tens of thousands of entries.
 */
export function indexEntries(entries) {
  const children = new Map([['', []]]);
  for (const e of entries) {
    const p = parentOf(e.path);
    if (!children.has(p)) children.set(p, []);
    children.get(p).push(e);
    if (e.folder && !children.has(e.path)) children.set(e.path, []);
  }
  return children;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Sorts entries: folders first, then by key ('name', 'size', 'modified', 'modified_by'). */
export function sortEntries(entries, key = 'name', ascending = true) {
  const dir = ascending ? 1 : -1;
  const name = (e) => baseName(e.path);
  const cmp = {
    name: (a, b) => collator.compare(name(a), name(b)),
    size: (a, b) => a.size - b.size || collator.compare(name(a), name(b)),
    modified: (a, b) => a.modified - b.modified || collator.compare(name(a), name(b)),
    modified_by: (a, b) => collator.compare(a.modified_by, b.modified_by) || collator.compare(name(a), name(b)),
  }[key] || ((a, b) => collator.compare(name(a), name(b)));
  return [...entries].sort((a, b) => {
    if (a.folder !== b.folder) return a.folder ? -1 : 1;
    return dir * cmp(a, b);
  });
}

/**
 * Search as you type: every word of the query must appear in the path
 * (case- and accent-insensitive). An empty query matches nothing here: the
 * caller shows the folder instead.
 */
export function searchEntries(entries, query, limit = 5000) {
  const fold = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const out = [];
  for (const e of entries) {
    const p = fold(e.path);
    if (words.every((w) => p.includes(w))) {
      out.push(e);
      if (out.length >= limit) break;
    }
  }
  return out;
}

/**
 * Which rows a virtual list draws: {first, last} (inclusive), with some
 * rows above and below the visible area.
 */
export function visibleRange(scrollTop, viewHeight, rowHeight, count, overscan = 8) {
  if (count <= 0) return { first: 0, last: -1 };
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count - 1, Math.ceil((scrollTop + viewHeight) / rowHeight) + overscan);
  return { first, last };
}

/** Names among `localPaths` already used in `folderEntries` (for the duplicate question). */
export function clashingNames(localPaths, folderEntries) {
  const taken = new Set(folderEntries.map((e) => baseName(e.path).normalize('NFC')));
  return localPaths.map((p) => baseName(p).normalize('NFC')).filter((n) => taken.has(n));
}

/** The sentence for a sync state. */
export function syncLabel(entry) {
  if (entry.conflict) return 'Conflict copy';
  if (entry.sync === 'waiting') return 'Waiting for sync';
  if (entry.sync === 'missing') return 'Missing';
  return entry.folder ? '' : 'Synced';
}

/** What a preview can show: 'image', 'text' or null. */
export function previewKind(name) {
  const ext = (name.split('.').pop() || '').toLowerCase();
  if (['png', 'jpg', 'jpeg', 'gif', 'webp', 'bmp'].includes(ext)) return 'image';
  if (['txt', 'md', 'csv', 'log', 'json', 'xml', 'hl7', 'rtf'].includes(ext)) return 'text';
  return null;
}

/** The MIME type for an image preview. */
export function imageType(name) {
  const ext = (name.split('.').pop() || '').toLowerCase();
  return { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp' }[ext] || 'application/octet-stream';
}

/** Ordinal word position for people: 0 -> "1st". */
export function ordinal(i) {
  const n = i + 1;
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th');
  return `${n}${s}`;
}

/**
 * What to tell the person when a recovery found `n` keyslots that open with
 * the phrase but that the team log does not name (FORMAT.md §4.2), or null.
 */
export function plantedWarning(n) {
  if (!n) return null;
  const what = n === 1 ? 'One key file opens' : `${n} key files open`;
  const it = n === 1 ? 'it' : 'them';
  return `${what} with the recovery phrase but ${n === 1 ? 'is' : 'are'} not on the team list: `
    + `someone who can write to the cloud folder put ${it} there. ChartSafe ignored ${it}, and your files `
    + 'are safe. Tell IT: the sharing of the cloud folder should be checked.';
}

/** The folder a vault path should open in after a refresh: the same, or its nearest surviving parent. */
export function survivingFolder(folder, index) {
  let f = folder;
  while (f && !index.has(f)) f = parentOf(f);
  return f;
}

// ---- Activity (the audit log) --------------------------------------------------

const ACTION_LABELS = {
  created: 'Vault created',
  unlocked: 'Unlocked',
  unlock_failed: 'Unlock refused',
  locked: 'Locked',
  added: 'Added',
  folder_created: 'Folder created',
  opened: 'Opened',
  previewed: 'Previewed',
  saved_back: 'Saved back',
  exported: 'Exported',
  renamed: 'Renamed',
  moved: 'Moved',
  deleted: 'Moved to trash',
  restored: 'Restored',
  purged: 'Deleted for good',
  version_restored: 'Version restored',
  recovery_used: 'Recovery phrase used',
  recovery_failed: 'Recovery phrase refused',
  device_enrolled: 'Device enrolled',
  invite_created: 'Invitation made',
  member_approved: 'Member approved',
  join_refused: 'Join refused (code)',
  removed: 'Removed from the team',
  key_rotated: 'Keys replaced',
  rekeyed: 'Files re-encrypted',
  collection_created: 'Collection made',
  granted: 'Collection access given',
  revoked: 'Collection access taken away',
  change_refused: 'Change refused (no right to make it)',
  audit_exported: 'Activity exported',
  checked: 'Vault checked',
  repaired: 'Vault repaired',
};

/** The actions that read a file's content ("Who opened this?"). */
export const ACCESS_ACTIONS = ['opened', 'previewed', 'exported', 'saved_back'];

/** "Moved to trash" for "deleted"; a name from a newer version stays as it is. */
export function actionLabel(name) {
  return Object.hasOwn(ACTION_LABELS, name) ? ACTION_LABELS[name] : String(name ?? '');
}

/** "Refused", "Failed", or '' for an action that went through. */
export function outcomeLabel(outcome) {
  return { denied: 'Refused', failed: 'Failed' }[outcome] || '';
}

/**
 * "30 Nov 2026, 21:05:16" in this computer's time zone and the person's
 * locale, or '' for a time that is not one.
 */
export function localDateTime(ms, locale = undefined, timeZone = undefined) {
  const d = new Date(ms);
  if (ms === null || ms === undefined || Number.isNaN(d.getTime())) return '';
  return formatter(locale, timeZone, { dateStyle: 'medium', timeStyle: 'medium' }).format(d);
}

/** "2026-11-30": the local date, for file names. */
export function localIsoDate(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The start of a local day (ms) from a date input's "YYYY-MM-DD", or null. */
export function localDayStart(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || '');
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return localIsoDate(d.getTime()) === value ? d.getTime() : null;
}

/** The start of the local day after `value` (ms), or null: "To" counts the whole day. */
export function localDayEnd(value) {
  const start = localDayStart(value);
  if (start === null) return null;
  const d = new Date(start);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
}

/** A member's name from the team (`people` as the app reads it), else the start of the id. */
export function memberName(people, id) {
  const name = people && people.members && people.members[id];
  return name || String(id ?? '').slice(0, 8);
}

/** A computer's name: the team's, else the name it gave itself, else the start of its id. */
export function deviceName(people, id, ownName = '') {
  const name = people && people.devices && people.devices[id];
  return name || ownName || String(id ?? '').slice(0, 8);
}

const fold = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();

/**
 * Precomputes what the activity search looks in, once per load: each row's
 * path, device name, action (name and label), member, detail, reason and
 * outcome, folded to lower case without accents. Fields are separated by a
 * line break, so a search word never spans two of them.
 */
export function indexActivity(rows, people = null) {
  const hay = new Array(rows.length);
  for (let i = 0; i < rows.length; i += 1) {
    const r = rows[i];
    hay[i] = fold([
      r.path || '', deviceName(people, r.device, r.device_name), r.device_name || '', r.action || '',
      actionLabel(r.action), memberName(people, r.member), r.member || '',
      r.detail || '', r.reason || '', r.outcome || '', outcomeLabel(r.outcome),
    ].join('\n'));
  }
  return { rows, hay };
}

/**
 * The indices (oldest first) of the rows that pass `filter`: {text, action
 * or actions (names), device, member, entry (ids, '' for any), since and
 * until (ms or null; until is exclusive)}. Every word of `text` must appear.
 */
export function filterActivity(index, filter = {}) {
  const { rows, hay } = index;
  const words = fold(filter.text || '').split(/\s+/).filter(Boolean);
  const action = filter.action || '';
  const actions = filter.actions && filter.actions.length ? new Set(filter.actions) : null;
  const device = filter.device || '';
  const member = filter.member || '';
  const entry = filter.entry || '';
  const since = Number.isFinite(filter.since) ? filter.since : null;
  const until = Number.isFinite(filter.until) ? filter.until : null;
  const out = [];
  for (let i = 0; i < rows.length; i += 1) {
    const r = rows[i];
    if (action && r.action !== action) continue;
    if (actions && !actions.has(r.action)) continue;
    if (device && r.device !== device) continue;
    if (member && r.member !== member) continue;
    if (entry && r.entry !== entry) continue;
    if (since !== null && !(r.time >= since)) continue;
    if (until !== null && !(r.time < until)) continue;
    if (words.length) {
      const h = hay[i];
      let all = true;
      for (const w of words) if (!h.includes(w)) { all = false; break; }
      if (!all) continue;
    }
    out.push(i);
  }
  return out;
}

/**
 * The choices for the activity filters, from what the log holds:
 * {actions, devices, members}, each [{value, label}] sorted by label. A
 * device shows its latest name, with its id's start when two share a name.
 */
export function activityChoices(rows, people = null) {
  const actions = new Map();
  const devices = new Map();
  const members = new Map();
  for (const r of rows) {
    actions.set(r.action, actionLabel(r.action));
    devices.set(r.device, deviceName(people, r.device, r.device_name));
    members.set(r.member, memberName(people, r.member));
  }
  const byLabel = (a, b) => collator.compare(a.label, b.label) || collator.compare(a.value, b.value);
  // Two with one name show the start of their ids.
  const labelled = (map) => {
    const names = [...map.values()];
    return [...map].map(([value, name]) => ({
      value,
      label: names.indexOf(name) !== names.lastIndexOf(name) ? `${name} (${String(value).slice(0, 8)})` : name,
    })).sort(byLabel);
  };
  return {
    actions: [...actions].map(([value, label]) => ({ value, label })).sort(byLabel),
    devices: labelled(devices),
    members: labelled(members),
  };
}

/** The entry id a path had most recently in the log (newest first), or null. */
export function entryForPath(rows, path) {
  for (let i = rows.length - 1; i >= 0; i -= 1) {
    if (rows[i].path === path && rows[i].entry) return rows[i].entry;
  }
  return null;
}

/** "12 of 10,000 entries". */
export function activityCount(shown, total) {
  const n = (x) => x.toLocaleString('en-US');
  return `${n(shown)} of ${n(total)} ${total === 1 ? 'entry' : 'entries'}`;
}

/**
 * The words of an import's summary, whose counts agree with each other:
 * {title, line, status, failedIntro}. A file that could not even be read
 * never reached the progress count, so the total is what was dropped:
 * stored + unchanged + failed.
 */
export function importSummaryText(sum) {
  const stored = sum.added + sum.replaced;
  const failed = sum.failed.length;
  const total = stored + sum.unchanged + failed;
  const files = (k) => `${k} ${k === 1 ? 'file' : 'files'}`;
  const title = sum.cancelled ? 'Import cancelled'
    : failed === 1 ? 'One file was not added'
      : failed ? 'Some files were not added' : 'Files added';
  const encrypted = failed || sum.cancelled ? `${stored} of ${files(total)}` : files(stored);
  const versions = sum.replaced ? ` (${sum.replaced} as new ${sum.replaced === 1 ? 'version' : 'versions'})` : '';
  const already = sum.unchanged ? `, ${sum.unchanged} already there` : '';
  return {
    title,
    line: `${encrypted} encrypted into the vault${versions}${already}.`,
    failedIntro: failed === 1 ? 'This file could not be added:' : `These ${failed} files could not be added:`,
  };
}

/**
 * What the window says after the scanner folder took or left files
 * (the "scan-taken" event): {stored, left}, each a sentence or ''.
 */
export function scanRoundText(round) {
  const files = (k) => `${k} scanned ${k === 1 ? 'file' : 'files'}`;
  const place = round.to ? `“${round.to}”` : 'the top of the vault';
  const n = round.stored.length;
  const stored = !n ? ''
    : n === 1 ? `Encrypted ${round.stored[0].name} into ${place}, checked it, and removed it from the scanner folder.`
      : `Encrypted ${files(n)} into ${place}, checked them, and removed them from the scanner folder.`;
  const k = round.left.length;
  const left = !k ? ''
    : k === 1 ? 'A file in the scanner folder was left where it is:'
      : `${k} files in the scanner folder were left where they are:`;
  return { stored, left };
}

/** The line under the scanner folder settings: what the watch is doing. */
export function scanStateText(st) {
  if (!st.dir) return 'No folder is watched.';
  if (st.problem) return `Not working: ${st.problem}. ChartSafe keeps trying.`;
  if (!st.running) return 'Not watching now.';
  const taken = `${st.taken} ${st.taken === 1 ? 'file' : 'files'}`;
  const left = st.left ? `; ${st.left} left in the folder (see the notice in the window)` : '';
  return `Watching. ${taken} taken since the vault was unlocked${left}.`;
}
