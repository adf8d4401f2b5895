// Run with: node --test ui/tests
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  formatBytes, timeLeft, percent, formatTime, passphraseStrength, parentOf, baseName, joinPath,
  breadcrumbs, indexEntries, sortEntries, searchEntries, visibleRange, clashingNames, syncLabel,
  previewKind, ordinal, survivingFolder,
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

test('times are local and relative to today', () => {
  const now = new Date(2026, 10, 30, 15, 0).getTime();
  assert.equal(formatTime(new Date(2026, 10, 30, 9, 5).getTime(), now), 'Today 09:05');
  assert.equal(formatTime(new Date(2026, 10, 29, 23, 59).getTime(), now), 'Yesterday 23:59');
  assert.equal(formatTime(new Date(2026, 2, 3, 14, 5).getTime(), now), '3 Mar 2026 14:05');
  assert.equal(formatTime(0, now), '');
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
