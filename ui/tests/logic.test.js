// Run with: node --test ui/tests
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  formatBytes, timeLeft, percent, formatTime, passphraseStrength, parentOf, baseName, joinPath,
  breadcrumbs, indexEntries, sortEntries, searchEntries, visibleRange, clashingNames, syncLabel,
  previewKind, ordinal, plantedWarning, survivingFolder, actionLabel, outcomeLabel, localDateTime, localDayStart, localDayEnd,
  localIsoDate, memberName, deviceName, importSummaryText, indexActivity,
  filterActivity, activityChoices, entryForPath, activityCount, ACCESS_ACTIONS, visible, shownName,
  scanRoundText, scanStateText,
} from '../js/logic.js';

const e = (path, extra = {}) => ({ path, folder: false, size: 0, modified: 0, modified_by: 'desk', sync: 'available', conflict: false, ...extra });

test('sizes read like a person would say them', () => {
  assert.equal(formatBytes(0), '0 bytes');
  assert.equal(formatBytes(1), '1 byte');
  assert.equal(formatBytes(999), '999 bytes');
  assert.equal(formatBytes(1500), '1.5 KB');
  assert.equal(formatBytes(1_073_741_824), '1.1 GB');
  assert.equal(formatBytes(250_000_000), '250 MB');
});

test('time left is rounded and says nothing too early', () => {
  assert.equal(timeLeft(0, 100, 1000), '');
  assert.equal(timeLeft(50, 100, 100), '');
  assert.equal(timeLeft(50, 100, 1000), 'a few seconds left');
  assert.equal(timeLeft(10, 100, 10_000), 'about 2 minutes left');
  assert.equal(timeLeft(1, 100, 60_000), 'about 1.7 hours left');
  assert.equal(percent(0, 0), 100);
  assert.equal(percent(1, 3), 33);
  assert.equal(percent(5, 3), 100);
});

test('times are local, in the order and clock of the locale, and relative to today', () => {
  const now = new Date(2026, 10, 30, 15, 0).getTime();
  assert.equal(formatTime(new Date(2026, 10, 30, 9, 5).getTime(), now, 'en-GB'), 'Today 09:05');
  assert.equal(formatTime(new Date(2026, 10, 29, 23, 59).getTime(), now, 'en-GB'), 'Yesterday 23:59');
  assert.equal(formatTime(new Date(2026, 2, 3, 14, 5).getTime(), now, 'en-GB'), '3 Mar 2026, 14:05');
  // ICU versions differ in the space before AM (narrow or not).
  const sp = (x) => x.replace(/\s/g, ' ');
  assert.equal(sp(formatTime(new Date(2026, 10, 30, 9, 5).getTime(), now, 'en-US')), 'Today 9:05 AM');
  assert.equal(sp(formatTime(new Date(2026, 2, 3, 14, 5).getTime(), now, 'en-US')), 'Mar 3, 2026, 2:05 PM');
  assert.equal(formatTime(new Date(2026, 2, 3, 14, 5).getTime(), now, 'de-DE'), '03.03.2026, 14:05');
  assert.equal(formatTime(0, now), '');
  // "Today" is the day in the zone shown: 23:30 UTC is tomorrow in Berlin.
  const late = Date.UTC(2026, 10, 30, 23, 30);
  assert.equal(formatTime(late, Date.UTC(2026, 10, 30, 12), 'en-GB', 'Europe/Berlin'), '1 Dec 2026, 00:30');
  assert.equal(formatTime(late, Date.UTC(2026, 11, 1, 8), 'en-GB', 'Europe/Berlin'), 'Today 00:30');
});

test('passphrase strength favours length and words', () => {
  assert.equal(passphraseStrength('').score, 0);
  assert.equal(passphraseStrength('abc').label, 'Too short');
  assert.match(passphraseStrength('abc').hint, /5 more characters/);
  assert.equal(passphraseStrength('aaaaaaaaaaaa').label, 'Weak');
  assert.equal(passphraseStrength('password1').label, 'Weak');
  assert.ok(passphraseStrength('Tr0ub4dor&3').score >= 2);
  assert.equal(passphraseStrength('correct horse battery staple').label, 'Strong');
});

test('paths, names and breadcrumbs', () => {
  assert.equal(parentOf('a/b/c.pdf'), 'a/b');
  assert.equal(parentOf('c.pdf'), '');
  assert.equal(baseName('/home/x/scan 1.pdf'), 'scan 1.pdf');
  assert.equal(baseName('C:\\Users\\x\\scan.pdf'), 'scan.pdf');
  assert.equal(joinPath('', 'a'), 'a');
  assert.equal(joinPath('a', 'b'), 'a/b');
  assert.deepEqual(breadcrumbs('Labs/2026'), [
    { name: 'All files', path: '' }, { name: 'Labs', path: 'Labs' }, { name: '2026', path: 'Labs/2026' },
  ]);
});

test('an index gives each folder its children, even empty folders', () => {
  const idx = indexEntries([e('Labs', { folder: true }), e('Labs/a.pdf'), e('Empty', { folder: true }), e('top.txt')]);
  assert.deepEqual(idx.get('').map((x) => x.path), ['Labs', 'Empty', 'top.txt']);
  assert.deepEqual(idx.get('Labs').map((x) => x.path), ['Labs/a.pdf']);
  assert.deepEqual(idx.get('Empty'), []);
  assert.equal(survivingFolder('Labs/gone/deeper', idx), 'Labs');
  assert.equal(survivingFolder('Empty', idx), 'Empty');
});

test('sorting puts folders first and numbers in natural order', () => {
  const list = [e('scan 10.pdf', { size: 5 }), e('scan 2.pdf', { size: 9 }), e('Zed', { folder: true }), e('alpha.txt', { size: 1 })];
  assert.deepEqual(sortEntries(list).map((x) => x.path), ['Zed', 'alpha.txt', 'scan 2.pdf', 'scan 10.pdf']);
  assert.deepEqual(sortEntries(list, 'size', false).map((x) => x.path), ['Zed', 'scan 2.pdf', 'scan 10.pdf', 'alpha.txt']);
});

test('search matches every word, ignoring case and accents', () => {
  const list = [e('Labs/José Álvarez/cbc.pdf'), e('Labs/Jose Smith/xray.png'), e('Notes/alvarez-visit.txt')];
  assert.deepEqual(searchEntries(list, 'jose alvarez').map((x) => x.path), ['Labs/José Álvarez/cbc.pdf']);
  assert.deepEqual(searchEntries(list, 'ALVAREZ').length, 2);
  assert.deepEqual(searchEntries(list, '  '), []);
});

test('the virtual list draws only what is visible, plus overscan', () => {
  assert.deepEqual(visibleRange(0, 400, 40, 10000), { first: 0, last: 18 });
  assert.deepEqual(visibleRange(40000, 400, 40, 10000), { first: 992, last: 1018 });
  assert.deepEqual(visibleRange(0, 400, 40, 0), { first: 0, last: -1 });
  assert.deepEqual(visibleRange(399000, 800, 40, 10000), { first: 9967, last: 9999 });
});

test('duplicate names are found before an import', () => {
  assert.deepEqual(clashingNames(['/tmp/a.pdf', '/tmp/b.pdf', '/tmp/Cafe\u0301.txt'], [e('x/a.pdf'), e('x/Café.txt')]), ['a.pdf', 'Café.txt']);
});

test('labels and preview kinds', () => {
  assert.equal(syncLabel(e('a', { sync: 'waiting' })), 'Waiting for sync');
  assert.equal(syncLabel(e('a', { conflict: true })), 'Conflict copy');
  assert.equal(previewKind('x.JPG'), 'image');
  assert.equal(previewKind('notes.txt'), 'text');
  assert.equal(previewKind('scan.pdf'), null);
  assert.equal(ordinal(0), '1st');
  assert.equal(ordinal(10), '11th');
  assert.equal(ordinal(21), '22nd');
});

const DAY = 86_400_000;
const act = (extra = {}) => ({
  time: Date.UTC(2026, 10, 30, 21, 5, 16), member: 'M'.repeat(26), device: 'dev-front', device_name: 'front desk',
  action: 'opened', entry: 'E1', path: 'Labs/Lab results.pdf', outcome: 'ok', reason: null, detail: null, app: 'app 1.0', ...extra,
});

test('actions read as plain words, unknown ones as they are', () => {
  assert.equal(actionLabel('created'), 'Vault created');
  assert.equal(actionLabel('unlock_failed'), 'Unlock refused');
  assert.equal(actionLabel('deleted'), 'Moved to trash');
  assert.equal(actionLabel('purged'), 'Deleted for good');
  assert.equal(actionLabel('audit_exported'), 'Activity exported');
  assert.equal(actionLabel('recovery_failed'), 'Recovery phrase refused');
  assert.equal(actionLabel('teleported'), 'teleported');
  assert.equal(actionLabel('toString'), 'toString');
  assert.equal(outcomeLabel('ok'), '');
  assert.equal(outcomeLabel('denied'), 'Refused');
  assert.equal(outcomeLabel('failed'), 'Failed');
});

test('activity times are local, and date inputs are local days', () => {
  const t = Date.UTC(2026, 10, 30, 21, 5, 16, 999);
  assert.equal(localDateTime(t, 'en-GB', 'Europe/Berlin'), '30 Nov 2026, 22:05:16');
  assert.equal(localDateTime(t, 'en-US', 'America/New_York').replace(/\s/g, ' '), 'Nov 30, 2026, 4:05:16 PM');
  assert.equal(localDateTime(t, 'de-DE', 'UTC'), '30.11.2026, 21:05:16');
  assert.equal(localDateTime(0, 'en-GB', 'UTC'), '1 Jan 1970, 00:00:00');
  assert.equal(localDateTime(Number.NaN), '');
  assert.equal(localDateTime(null), '');
  assert.equal(localDayStart('2026-11-30'), new Date(2026, 10, 30).getTime());
  assert.equal(localDayEnd('2026-11-30'), new Date(2026, 11, 1).getTime());
  assert.equal(localDayEnd('2026-12-31'), new Date(2027, 0, 1).getTime());
  assert.equal(localDayStart(''), null);
  assert.equal(localDayStart('2026-02-30'), null);
  assert.equal(localIsoDate(new Date(2026, 0, 5, 23, 59).getTime()), '2026-01-05');
});

test('people and computers have names, ids stand in for the unknown', () => {
  const people = { members: { ['M'.repeat(26)]: 'Dr Ada Rossi' }, devices: { 'dev-front': 'Front desk' } };
  assert.equal(memberName(people, 'M'.repeat(26)), 'Dr Ada Rossi');
  assert.equal(memberName(people, 'Q'.repeat(26)), 'QQQQQQQQ');
  assert.equal(memberName(null, 'Q'.repeat(26)), 'QQQQQQQQ');
  assert.equal(deviceName(people, 'dev-front', 'old name'), 'Front desk');
  assert.equal(deviceName(people, 'dev-back', 'Back office'), 'Back office');
  const rows = [act({}), act({ member: 'Q'.repeat(26), device: 'dev-back', device_name: 'Back office' })];
  const idx = indexActivity(rows, people);
  assert.deepEqual(filterActivity(idx, { text: 'ada rossi' }), [0]);
  assert.deepEqual(filterActivity(idx, { text: 'front desk' }), [0]);
  const c = activityChoices(rows, people);
  assert.deepEqual(c.members.map((m) => m.label), ['Dr Ada Rossi', 'QQQQQQQQ']);
});

test('activity filters combine, and every search word must appear', () => {
  const rows = [
    act({ time: Date.UTC(2026, 10, 28, 8), action: 'added' }),
    act({ time: Date.UTC(2026, 10, 29, 23, 59, 59), device: 'dev-back', device_name: 'Back office', member: 'N'.repeat(26) }),
    act({ time: Date.UTC(2026, 10, 30, 0), action: 'previewed', entry: 'E2', path: 'Notes/José visit.txt' }),
    act({ time: Date.UTC(2026, 10, 30, 9), action: 'unlock_failed', entry: null, path: null, outcome: 'denied', reason: 'wrong passphrase' }),
    act({ time: Date.UTC(2026, 11, 1, 0), action: 'exported', detail: 'to USB stick' }),
  ];
  const idx = indexActivity(rows);
  const f = (filter) => filterActivity(idx, filter);
  assert.deepEqual(f({}), [0, 1, 2, 3, 4]);
  assert.deepEqual(f({ text: 'lab RESULTS' }), [0, 1, 4]);
  assert.deepEqual(f({ text: 'jose' }), [2]);
  assert.deepEqual(f({ text: 'refused' }), [3]);
  assert.deepEqual(f({ text: 'wrong pass' }), [3]);
  assert.deepEqual(f({ text: 'usb' }), [4]);
  assert.deepEqual(f({ text: 'back office' }), [1]);
  assert.deepEqual(f({ text: 'pdffront' }), [], 'a word never spans two fields');
  assert.deepEqual(f({ text: 'moved to trash' }), []);
  assert.deepEqual(f({ action: 'opened' }), [1]);
  assert.deepEqual(f({ actions: ACCESS_ACTIONS, entry: 'E1' }), [1, 4]);
  assert.deepEqual(f({ device: 'dev-back' }), [1]);
  assert.deepEqual(f({ member: 'M'.repeat(26) }), [0, 2, 3, 4]);
  const day = Date.UTC(2026, 10, 29);
  assert.deepEqual(f({ since: day, until: day + DAY }), [1]);
  assert.deepEqual(f({ since: Date.UTC(2026, 10, 30), until: null }), [2, 3, 4]);
  assert.deepEqual(f({ since: null, until: Date.UTC(2026, 11, 1) }), [0, 1, 2, 3]);
  assert.deepEqual(f({ text: 'lab', action: '', device: '', member: '', entry: '', since: null, until: null }), [0, 1, 4]);
});

test('filtering 10,000 activity rows finds exactly the right ones', () => {
  const actions = ['opened', 'previewed', 'added', 'renamed', 'exported', 'saved_back', 'locked'];
  const rows = [];
  for (let i = 0; i < 10_000; i += 1) {
    rows.push(act({
      time: Date.UTC(2026, 0, 1) + i * 3_600_000,
      action: actions[i % actions.length],
      device: `dev-${i % 3}`,
      device_name: ['front desk', 'back office', 'laptop'][i % 3],
      member: String(i % 5).repeat(26),
      entry: `E${i % 50}`,
      path: `Patients/Patient ${i % 50}/scan ${i}.pdf`,
      outcome: i % 97 === 0 ? 'denied' : 'ok',
      reason: i % 97 === 0 ? 'not a member' : null,
    }));
  }
  const idx = indexActivity(rows);
  const expect = (pred) => rows.map((r, i) => (pred(r, i) ? i : -1)).filter((i) => i >= 0);
  assert.equal(filterActivity(idx, {}).length, 10_000);
  assert.deepEqual(filterActivity(idx, { text: '  PATIENT 42/ ' }), expect((r) => r.entry === 'E42'));
  assert.deepEqual(filterActivity(idx, { text: 'refused laptop' }), expect((r, i) => i % 97 === 0 && i % 3 === 2));
  assert.deepEqual(filterActivity(idx, { entry: 'E7', actions: ACCESS_ACTIONS }),
    expect((r) => r.entry === 'E7' && ACCESS_ACTIONS.includes(r.action)));
  const since = Date.UTC(2026, 2, 1);
  const until = Date.UTC(2026, 3, 1);
  assert.deepEqual(filterActivity(idx, { device: 'dev-1', member: '2'.repeat(26), since, until }),
    expect((r) => r.device === 'dev-1' && r.member === '2'.repeat(26) && r.time >= since && r.time < until));
});

test('filter choices come from the log', () => {
  const rows = [
    act({ action: 'opened' }), act({ action: 'deleted' }), act({ action: 'zapped' }),
    act({ device: 'abcdef0123456789', device_name: 'laptop' }), act({ device: '9876543210fedcba', device_name: 'laptop' }),
    act({ member: 'ZZZZZZZZ0000000000000000000' }),
  ];
  const c = activityChoices(rows);
  assert.deepEqual(c.actions, [
    { value: 'deleted', label: 'Moved to trash' }, { value: 'opened', label: 'Opened' }, { value: 'zapped', label: 'zapped' },
  ]);
  assert.deepEqual(c.devices.map((d) => d.label), ['front desk', 'laptop (98765432)', 'laptop (abcdef01)']);
  assert.deepEqual(c.members.map((m) => m.label), ['MMMMMMMM', 'ZZZZZZZZ']);
  assert.equal(entryForPath([act({ entry: 'OLD' }), act({ entry: 'NEW' }), act({ entry: null })], 'Labs/Lab results.pdf'), 'NEW');
  assert.equal(entryForPath([act()], 'elsewhere.pdf'), null);
  assert.equal(activityCount(12, 10_000), '12 of 10,000 entries');
  assert.equal(activityCount(1, 1), '1 of 1 entry');
});

test('names that masquerade are shown with their invisible characters escaped', () => {
  // A right-to-left override makes "invoice\u202Efdp.exe" read as "invoiceexe.pdf".
  assert.equal(visible('invoice\u202efdp.exe'), 'invoice\\u{202e}fdp.exe');
  assert.equal(visible('Dr\u200bWho'), 'Dr\\u{200b}Who');
  assert.equal(visible('a\u2067b\u2069'), 'a\\u{2067}b\\u{2069}');
  assert.equal(visible('tag\u{e0041}'), 'tag\\u{e0041}');
  assert.equal(shownName('Patients/Doe/x\u202egnp.exe'), 'x\\u{202e}gnp.exe');
  for (const ok of ['José.pdf', 'שלום.txt', '中文', 'Zoë Müller', '']) assert.equal(visible(ok), ok);
});

test('a recovery that ignored planted keyslots says so, in the right number', () => {
  assert.equal(plantedWarning(0), null);
  assert.equal(plantedWarning(undefined), null);
  assert.match(plantedWarning(1), /^One key file opens .* is not on the team list: .* put it there\. ChartSafe ignored it,/);
  assert.match(plantedWarning(3), /^3 key files open .* are not on the team list: .* put them there\./);
});

test('an import summary never contradicts itself', () => {
  const sum = (extra) => ({ added: 0, replaced: 0, unchanged: 0, failed: [], cancelled: false, ...extra });
  // 22 dropped, one unreadable: not "22 encrypted" beside "1 could not be added".
  const partial = importSummaryText(sum({ added: 21, failed: [{ file: 'x' }] }));
  assert.equal(partial.title, 'One file was not added');
  assert.equal(partial.line, '21 of 22 files encrypted into the vault.');
  assert.equal(partial.failedIntro, 'This file could not be added:');
  const ok = importSummaryText(sum({ added: 1 }));
  assert.equal(ok.title, 'Files added');
  assert.equal(ok.line, '1 file encrypted into the vault.');
  const mixed = importSummaryText(sum({ added: 2, replaced: 1, unchanged: 3, failed: [{}, {}] }));
  assert.equal(mixed.line, '3 of 8 files encrypted into the vault (1 as new version), 3 already there.');
  assert.equal(mixed.failedIntro, 'These 2 files could not be added:');
  assert.equal(importSummaryText(sum({ added: 4, cancelled: true })).line, '4 of 4 files encrypted into the vault.');
});

test('the scanner folder says what it took and what it left, with plurals', () => {
  const n = (name, why) => ({ name, why, path: why ? null : `Scans/${name}` });
  const one = scanRoundText({ to: 'Scans', stored: [n('scan 1.pdf')], left: [] });
  assert.equal(one.stored, 'Encrypted scan 1.pdf into “Scans”, checked it, and removed it from the scanner folder.');
  assert.equal(one.left, '');
  const many = scanRoundText({ to: '', stored: [n('a.pdf'), n('b.pdf')], left: [n('c.pdf', 'locked'), n('d.pdf', 'x')] });
  assert.equal(many.stored, 'Encrypted 2 scanned files into the top of the vault, checked them, and removed them from the scanner folder.');
  assert.equal(many.left, '2 files in the scanner folder were left where they are:');
  assert.equal(scanRoundText({ to: 'S', stored: [], left: [n('c.pdf', 'x')] }).left, 'A file in the scanner folder was left where it is:');
  assert.equal(scanStateText({ dir: null }), 'No folder is watched.');
  assert.equal(scanStateText({ dir: '/s', running: true, taken: 1, left: 0 }), 'Watching. 1 file taken since the vault was unlocked.');
  assert.equal(scanStateText({ dir: '/s', running: true, taken: 2, left: 1 }),
    'Watching. 2 files taken since the vault was unlocked; 1 left in the folder (see the notice in the window).');
  assert.equal(scanStateText({ dir: '/s', running: true, taken: 0, left: 0, problem: 'gone' }), 'Not working: gone. ChartSafe keeps trying.');
});
