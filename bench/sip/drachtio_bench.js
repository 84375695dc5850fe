// drachtio-srf's JavaScript SIP parser (lib/sip-parser, used by every
// drachtio app) on the same corpus, measured like the C++ benchmarks:
// messages per second for parse, parse + typical header access, and
// parse + serialize. Usage: node drachtio_bench.js <corpus dir> [seconds]
'use strict';
const fs = require('fs');
const path = require('path');
const SipMessage = require('drachtio-srf/lib/sip-parser/message');

const dir = process.argv[2];
const seconds = Number(process.argv[3] || 2);
const corpus = fs.readdirSync(dir).filter((f) => f.endsWith('.sip')).sort()
  .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));

const modes = {
  parse(text) {
    return new SipMessage(text);
  },
  parse_access(text) {
    const m = new SipMessage(text);
    const via = m.getParsedHeader('via');
    const from = m.getParsedHeader('from');
    const to = m.getParsedHeader('to');
    const cseq = m.getParsedHeader('cseq');
    let x = via[0].params.branch.length + (from.params.tag || '').length + (to.params.tag || '').length + cseq.seq;
    x += m.get('call-id').length;
    if (m.method) x += Number(m.get('max-forwards'));
    if (m.has('contact')) x += m.getParsedHeader('contact')[0].uri.length;
    return x;
  },
  parse_serialize(text) {
    return new SipMessage(text).toString();
  },
};

function run(fn) {
  let sink = 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let n = 0;
  const start = process.hrtime.bigint();
  let now = start;
  while (now < deadline) {
    for (let r = 0; r < 50; r++) {
      for (const text of corpus) {
        const v = fn(text);
        sink += v ? 1 : 0;
      }
    }
    n += 50 * corpus.length;
    now = process.hrtime.bigint();
  }
  if (sink === 0) throw new Error('nothing parsed');
  return n / (Number(now - start) / 1e9);
}

const out = {};
for (const [name, fn] of Object.entries(modes)) {
  run(fn);  // warm-up: let the JIT settle
  out[name] = run(fn);
}
console.log(JSON.stringify(out));
