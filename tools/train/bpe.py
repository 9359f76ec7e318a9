"""Byte-level BPE for the Trellis default model (owns: tokenizer training, tokenizer.json, encoder).

Trains merges on a sample of the training corpus (pure Python, incremental pair-count index),
writes a Hugging Face `tokenizer.json` (BPE, GPT-2 byte alphabet, Split+ByteLevel pre-tokenizer)
and `tokenizer_config.json`, and provides `Encoder`, a Python encoder that must produce exactly the
ids the engine's tokenizer produces at run time (checked against @huggingface/tokenizers by
`verify_with_node`).

Importable without side effects: `Encoder.load(path)`, `SPECIAL_TOKENS`, `special_id(name)`.
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
WORK = os.path.join(HERE, "work")
TOK_DIR = os.path.join(WORK, "tokenizer")

VOCAB_SIZE = 4096
SPECIAL_TOKENS = (
    ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<|file_sep|>",
     "<|documented|>", "<|undocumented|>", "<|typed|>", "<|untyped|>", "<|safe|>", "<|unsafe|>"]
    + [f"<|reserved_{i}|>" for i in range(10)]
)
# The pre-tokenizer regex exactly as the shared spec (common.md) writes it; this string goes into
# tokenizer.json.
SPLIT_REGEX = (r"'(?:[sdmt]|ll|ve|re)| ?[A-Za-z_\u00C0-\uFFFF]+| ?[0-9]{1,3}"
               r"| ?[^\sA-Za-z0-9_\u00C0-\uFFFF]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# Oniguruma's (and @huggingface/tokenizers') `\s` is Unicode White_Space; Python's `\s` adds
# \x1c-\x1f. Spell the class out so the Python split is identical to the run-time one.
_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
PY_SPLIT_REGEX = SPLIT_REGEX.replace(r"\S", f"[^{_WS}]").replace(r"[^\s", f"[^{_WS}").replace(r"\s", f"[{_WS}]")


def special_id(name: str) -> int:
    return SPECIAL_TOKENS.index(name)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {v: k for k, v in BYTE_TO_CHAR.items()}
_split_re = re.compile(PY_SPLIT_REGEX)
_special_re = re.compile("(" + "|".join(re.escape(s) for s in SPECIAL_TOKENS) + ")")


def pretokenize(text: str) -> list[str]:
    """Split (Isolated) then byte-level map: the strings BPE runs on."""
    return ["".join(BYTE_TO_CHAR[b] for b in m.encode("utf-8")) for m in _split_re.findall(text)]


# ----------------------------------------------------------------------------------------------
# Training


def train_merges(chunk_counts: Counter, n_merges: int, log_every: int = 500) -> list[tuple[str, str]]:
    sym_id: dict[str, int] = {}
    syms: list[str] = []

    def sid(s: str) -> int:
        i = sym_id.get(s)
        if i is None:
            i = sym_id[s] = len(syms)
            syms.append(s)
        return i

    for b in range(256):
        sid(BYTE_TO_CHAR[b])
    words: list[list[int]] = []
    freqs: list[int] = []
    for w, c in chunk_counts.items():
        if len(w) < 2:
            continue
        words.append([sid(ch) for ch in w])
        freqs.append(c)
    pair_count: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], set[int]] = {}
    for wi, w in enumerate(words):
        f = freqs[wi]
        for a, b in zip(w, w[1:]):
            p = (a, b)
            pair_count[p] = pair_count.get(p, 0) + f
            s = where.get(p)
            if s is None:
                where[p] = {wi}
            else:
                s.add(wi)
    # Max-heap with lazy invalidation; ties broken by the pair's strings (deterministic).
    heap = [(-c, syms[p[0]], syms[p[1]], p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    t0 = time.time()
    while len(merges) < n_merges and heap:
        negc, _, _, p = heapq.heappop(heap)
        c = pair_count.get(p, 0)
        if c <= 0:
            continue
        if -negc != c:
            heapq.heappush(heap, (-c, syms[p[0]], syms[p[1]], p))
            continue
        a, b = p
        new = sid(syms[a] + syms[b])
        merges.append((syms[a], syms[b]))
        changed: dict[tuple[int, int], int] = {}
        for wi in list(where.get(p, ())):
            w = words[wi]
            f = freqs[wi]
            # Remove old pairs of this word.
            for q in zip(w, w[1:]):
                pair_count[q] -= f
                changed[q] = 1
            out = []
            i = 0
            n = len(w)
            while i < n:
                if i < n - 1 and w[i] == a and w[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            old_pairs = set(zip(w, w[1:]))
            words[wi] = out
            new_pairs = set(zip(out, out[1:]))
            for q in zip(out, out[1:]):
                pair_count[q] = pair_count.get(q, 0) + f
                changed[q] = 1
            for q in old_pairs - new_pairs:
                s = where.get(q)
                if s is not None:
                    s.discard(wi)
            for q in new_pairs - old_pairs:
                s = where.get(q)
                if s is None:
                    where[q] = {wi}
                else:
                    s.add(wi)
        pair_count.pop(p, None)
        where.pop(p, None)
        for q in changed:
            c2 = pair_count.get(q, 0)
            if c2 > 0:
                heapq.heappush(heap, (-c2, syms[q[0]], syms[q[1]], q))
            else:
                pair_count.pop(q, None)
        if log_every and len(merges) % log_every == 0:
            print(f"bpe: {len(merges)}/{n_merges} merges, {time.time() - t0:.0f}s, last {merges[-1]!r} count {c}", flush=True)
    return merges


def sample_text(max_bytes: int, seed: int = 0) -> list[str]:
    from corpus import load_docs
    docs = list(load_docs("train"))
    rng = random.Random(seed)
    rng.shuffle(docs)
    out, total = [], 0
    for d in docs:
        if total >= max_bytes:
            break
        out.append(d["text"])
        total += len(d["text"])
    return out


def build_tokenizer_json(merges: list[tuple[str, str]]) -> dict:
    vocab: dict[str, int] = {}
    for s in SPECIAL_TOKENS:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[BYTE_TO_CHAR[b]] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    assert len(vocab) == len(SPECIAL_TOKENS) + 256 + len(merges), "duplicate merge result"
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for i, s in enumerate(SPECIAL_TOKENS)
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": SPLIT_REGEX}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        },
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }


def build_tokenizer_config(model_max_length: int = 512) -> dict:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": model_max_length,
        "add_bos_token": False,
        "add_eos_token": False,
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": None,
        "pad_token": "<fim_pad>",
        "clean_up_tokenization_spaces": False,
        "additional_special_tokens": SPECIAL_TOKENS[1:],
        "added_tokens_decoder": {
            str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True}
            for i, s in enumerate(SPECIAL_TOKENS)
        },
    }


# ----------------------------------------------------------------------------------------------
# Encoding


class Encoder:
    """Python encoder equivalent to the tokenizer.json it was built from (merges applied by rank)."""

    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]]):
        self.vocab = vocab
        self.id_to_token = {i: t for t, i in vocab.items()}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.cache: dict[str, tuple[int, ...]] = {}
        self.special = {s: vocab[s] for s in SPECIAL_TOKENS}
        self.vocab_size = len(vocab)

    @classmethod
    def load(cls, path: str = os.path.join(TOK_DIR, "tokenizer.json")) -> "Encoder":
        with open(path) as f:
            j = json.load(f)
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in j["model"]["merges"]]
        return cls(j["model"]["vocab"], merges)

    def _bpe(self, chunk: str) -> tuple[int, ...]:
        r = self.cache.get(chunk)
        if r is not None:
            return r
        word = list(chunk)
        ranks = self.ranks
        while len(word) > 1:
            best, bi = None, -1
            for i in range(len(word) - 1):
                rk = ranks.get((word[i], word[i + 1]))
                if rk is not None and (best is None or rk < best):
                    best, bi = rk, i
            if best is None:
                break
            a, b = word[bi], word[bi + 1]
            out = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        r = tuple(self.vocab[t] for t in word)
        if len(self.cache) < 500_000:
            self.cache[chunk] = r
        return r

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode text with no special-token recognition."""
        out: list[int] = []
        for c in pretokenize(text):
            out.extend(self._bpe(c))
        return out

    def encode(self, text: str) -> list[int]:
        """Encode like the run-time tokenizer: special-token strings in the text become their ids."""
        out: list[int] = []
        for i, part in enumerate(_special_re.split(text)):
            if i % 2 == 1:
                out.append(self.special[part])
            elif part:
                out.extend(self.encode_ordinary(part))
        return out

    def decode(self, ids) -> str:
        parts = []
        buf = bytearray()
        for i in ids:
            t = self.id_to_token[int(i)]
            if t in self.special:
                parts.append(buf.decode("utf-8", "replace"))
                buf = bytearray()
                parts.append(t)
            else:
                buf.extend(CHAR_TO_BYTE[ch] for ch in t)
        parts.append(buf.decode("utf-8", "replace"))
        return "".join(parts)


VERIFY_STRINGS = [
    "def hello(name: str) -> None:\n    print(f'Hello, {name}!')\n",
    "import numpy as np\n\nclass Foo(Bar):\n    \"\"\"Docs.\"\"\"\n    x = [1, 2, 3456, 78]\n\n\n",
    "const x = async (a, b) => { return a ?? b; };\n// it's we'll they've\r\n\tif (x !== 0) {}\n",
    "naïve café — 日本語 😀 emoji\u00a0nbsp\u3000ideo \x1c sep\x85nel \ufeffbom  \n   \n",
    "<fim_prefix>def f(x):\n    <fim_suffix>\n    return y<fim_middle>y = x * 2<|endoftext|>",
    "    \n\n\n        x   =  1\n  ",
    "1234567 0x1F 3.14e-10 __init__ self._x ÀÉ\u00bf\u00d7",
]


def verify_with_node(tok_dir: str, texts: list[str]) -> None:
    """Encode texts with @huggingface/tokenizers and the Python Encoder; raise on any difference."""
    enc = Encoder.load(os.path.join(tok_dir, "tokenizer.json"))
    repo = os.path.dirname(os.path.dirname(HERE))
    script = r"""
const { Tokenizer } = require('@huggingface/tokenizers');
const fs = require('fs');
const dir = process.argv[1];
const tj = JSON.parse(fs.readFileSync(dir + '/tokenizer.json', 'utf8'));
const tc = JSON.parse(fs.readFileSync(dir + '/tokenizer_config.json', 'utf8'));
const tok = new Tokenizer(tj, tc);
const texts = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = texts.map(t => { const ids = tok.encode(t, { add_special_tokens: false }).ids; return { ids, dec: tok.decode(ids) }; });
process.stdout.write(JSON.stringify(out));
"""
    r = subprocess.run(["node", "-e", script, tok_dir], input=json.dumps(texts), capture_output=True,
                       text=True, cwd=repo)
    if r.returncode != 0:
        raise RuntimeError("node tokenizer failed: " + r.stderr[-2000:])
    js = json.loads(r.stdout)
    bad = 0
    for t, o in zip(texts, js):
        py = enc.encode(t)
        if py != o["ids"]:
            bad += 1
            print(f"MISMATCH on {t[:60]!r}\n py={py[:40]}\n js={o['ids'][:40]}")
        if enc.decode(py) != t:
            print(f"python decode roundtrip differs on {t[:60]!r}")
            bad += 1
    if bad:
        raise RuntimeError(f"{bad} tokenizer mismatches between Python and @huggingface/tokenizers")
    print(f"bpe: verified {len(texts)} texts: Python ids == @huggingface/tokenizers ids")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train the byte-level BPE tokenizer")
    ap.add_argument("--out", default=TOK_DIR)
    ap.add_argument("--sample-mb", type=float, default=16)
    ap.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--verify-only", action="store_true")
    ap.add_argument("--encode-stdin", metavar="TOKENIZER_JSON",
                    help="read a JSON list of strings on stdin, print their ids (special tokens recognized) as JSON")
    a = ap.parse_args(argv)
    if a.encode_stdin:
        enc = Encoder.load(a.encode_stdin)
        json.dump([enc.encode(t) for t in json.load(sys.stdin)], sys.stdout)
        return
    tj_path = os.path.join(a.out, "tokenizer.json")
    if a.verify_only or (not a.force and os.path.exists(tj_path)):
        if not a.verify_only:
            print(f"bpe: {tj_path} exists, skipping training (use --force)")
        texts = list(VERIFY_STRINGS)
        from corpus import load_docs
        for i, d in enumerate(load_docs("heldout")):
            if i % 10 == 0:
                texts.append(d["text"])
        verify_with_node(a.out, texts)
        return
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    texts = sample_text(int(a.sample_mb * 1e6))
    counts: Counter = Counter()
    for t in texts:
        counts.update(pretokenize(t))
    print(f"bpe: {sum(len(t) for t in texts) / 1e6:.1f} MB sample, {len(counts)} distinct chunks, {time.time() - t0:.0f}s", flush=True)
    n_merges = a.vocab_size - len(SPECIAL_TOKENS) - 256
    merges = train_merges(counts, n_merges)
    tj = build_tokenizer_json(merges)
    with open(tj_path, "w") as f:
        json.dump(tj, f, ensure_ascii=False)
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump(build_tokenizer_config(), f, indent=2)
    print(f"bpe: wrote {tj_path} ({len(tj['model']['vocab'])} tokens) in {time.time() - t0:.0f}s", flush=True)
    texts2 = list(VERIFY_STRINGS) + texts[:20]
    verify_with_node(a.out, texts2)


if __name__ == "__main__":
    main()
