// Checks an exported decoder-with-past ONNX model with onnxruntime-node (owns: export verification).
// Usage: node tools/train/verify_onnx.cjs <model.onnx> <reference.json from export.py>
// 1. full forward logits == torch logits; 2. incremental decoding (past length 0 first, then one
// token at a time) == full forward; 3. a left-padded batch of 2 == each sequence alone. Tolerance 1e-4.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

const TOL = 1e-4;
const [modelPath, refPath] = process.argv.slice(2);
const ref = JSON.parse(fs.readFileSync(refPath, 'utf8'));
const { n_layer: L, n_head: H, head_dim: D, vocab_size: V } = ref;

function i64(arr, dims) {
  return new ort.Tensor('int64', BigInt64Array.from(arr.map((x) => BigInt(x))), dims);
}
function emptyPast(b) {
  const feeds = {};
  for (let i = 0; i < L; i++) {
    feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', new Float32Array(0), [b, H, 0, D]);
    feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', new Float32Array(0), [b, H, 0, D]);
  }
  return feeds;
}
async function run(sess, ids2d, mask2d, pos2d, past) {
  const b = ids2d.length, s = ids2d[0].length, m = mask2d[0].length;
  const feeds = {
    input_ids: i64(ids2d.flat(), [b, s]),
    attention_mask: i64(mask2d.flat(), [b, m]),
    position_ids: i64(pos2d.flat(), [b, s]),
    ...past,
  };
  const out = await sess.run(feeds);
  const next = {};
  for (let i = 0; i < L; i++) {
    next[`past_key_values.${i}.key`] = out[`present.${i}.key`];
    next[`past_key_values.${i}.value`] = out[`present.${i}.value`];
  }
  return { logits: out.logits, past: next };
}
function row(t, bi, si) {
  const [, S, Vv] = t.dims;
  return t.data.subarray((bi * S + si) * Vv, (bi * S + si + 1) * Vv);
}
function maxDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function check(name, d) {
  const ok = d <= TOL;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: max |diff| ${d.toExponential(2)}`);
  if (!ok) process.exitCode = 1;
}

(async () => {
  const sess = await ort.InferenceSession.create(modelPath);
  for (const key of ['a', 'b']) {
    const { ids, logits } = ref[key];
    const n = ids.length;
    const full = await run(sess, [ids], [ids.map(() => 1)], [ids.map((_, i) => i)], emptyPast(1));
    if (full.logits.dims[2] !== V) throw new Error(`vocab ${full.logits.dims[2]} != ${V}`);
    let d = 0;
    for (let i = 0; i < n; i++) d = Math.max(d, maxDiff(row(full.logits, 0, i), logits[i]));
    check(`${key}: onnx full forward vs torch (${n} tokens)`, d);
    // Incremental: a prompt of half the tokens with empty past, then one token at a time.
    const k = Math.floor(n / 2);
    let st = await run(sess, [ids.slice(0, k)], [ids.slice(0, k).map(() => 1)], [ids.slice(0, k).map((_, i) => i)], emptyPast(1));
    d = 0;
    for (let i = 0; i < k; i++) d = Math.max(d, maxDiff(row(st.logits, 0, i), row(full.logits, 0, i)));
    for (let t = k; t < n; t++) {
      st = await run(sess, [[ids[t]]], [Array(t + 1).fill(1)], [[t]], st.past);
      d = Math.max(d, maxDiff(row(st.logits, 0, 0), row(full.logits, 0, t)));
    }
    check(`${key}: incremental decode with past vs full forward`, d);
  }
  // Left-padded batch of two sequences of different lengths, then two decode steps with past.
  const A = ref.a.ids, B = ref.b.ids;
  const a0 = A.slice(0, A.length - 2), b0 = B.slice(0, B.length - 2);
  const n0 = Math.max(a0.length, b0.length);
  const padTo = (x, m, v) => Array(m - x.length).fill(v).concat(x);
  let st = await run(sess, [padTo(a0, n0, 4), padTo(b0, n0, 4)],
    [padTo(a0.map(() => 1), n0, 0), padTo(b0.map(() => 1), n0, 0)],
    [padTo(a0.map((_, i) => i), n0, 0), padTo(b0.map((_, i) => i), n0, 0)], emptyPast(2));
  let d = 0;
  const fullA = ref.a.logits, fullB = ref.b.logits;
  for (let i = 0; i < a0.length; i++) d = Math.max(d, maxDiff(row(st.logits, 0, n0 - a0.length + i), fullA[i]));
  for (let i = 0; i < b0.length; i++) d = Math.max(d, maxDiff(row(st.logits, 1, n0 - b0.length + i), fullB[i]));
  const maskA = padTo(a0.map(() => 1), n0, 0), maskB = padTo(b0.map(() => 1), n0, 0);
  for (let t = 0; t < 2; t++) {
    maskA.push(1); maskB.push(1);
    const ta = A[a0.length + t], tb = B[b0.length + t];
    st = await run(sess, [[ta], [tb]], [maskA, maskB], [[a0.length + t], [b0.length + t]], st.past);
    d = Math.max(d, maxDiff(row(st.logits, 0, 0), fullA[a0.length + t]));
    d = Math.max(d, maxDiff(row(st.logits, 1, 0), fullB[b0.length + t]));
  }
  check('left-padded batch of 2 (+2 decode steps with past) vs torch', d);
  if (process.exitCode) console.log('verify_onnx: FAILED'); else console.log('verify_onnx: all checks passed');
})().catch((e) => { console.error(e); process.exit(2); });
