// Reference ids from the npm package gpt-3-encoder's own JavaScript encoder.
// usage: node gpt2_reference.js <package dir> <input.json: array of strings> [--bench]
//   prints one line per string: its ids, space-separated; with --bench, prints
//   "tokens=<n> seconds=<s>" for encoding all strings (after a warm-up pass) instead.
const fs = require('fs');
const path = require('path');
const { encode } = require(path.resolve(process.argv[2], 'Encoder.js'));
const texts = JSON.parse(fs.readFileSync(process.argv[3], 'utf-8'));
if (process.argv[4] === '--bench') {
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (const t of texts) n += encode(t).length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`tokens=${n} seconds=${s}`);
} else {
  const out = texts.map(t => encode(t).join(' ')).join('\n');
  fs.writeSync(1, out + '\n');
}
