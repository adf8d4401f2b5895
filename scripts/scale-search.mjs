// The app's file search (ui/js/logic.js) over a vault's listing, as the
// window does it: index the entries, search, sort the results. Prints the
// milliseconds (best of 5). Usage: node scale-search.mjs LISTING.jsonl QUERY
import { readFileSync } from 'node:fs';
import { indexEntries, searchEntries, sortEntries } from '../ui/js/logic.js';

const [file, query] = process.argv.slice(2);
const entries = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
  const e = JSON.parse(l);
  return { ...e, folder: e.kind === 'dir' };
});
let best = Infinity;
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  indexEntries(entries);
  const found = sortEntries(searchEntries(entries, query), 'name', true);
  if (!found.length) throw new Error(`nothing found for ${query}`);
  best = Math.min(best, performance.now() - t);
}
console.log(best.toFixed(1));
