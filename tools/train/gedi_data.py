"""GeDi training data (owns: function units → labelled, tokenised class-conditional examples).

Sources (recorded in the model card):
  * every top-level function / method of the Python TRAINING split of H1's corpus
    (tools/train/corpus.py `load_docs("train")`), labelled by label_attrs.PythonLabeller;
  * extra `unsafe` units mined from one CPython test suite on the machine (PYENV_TEST_DIR), where
    eval/exec/pickle are common; files whose name matches a held-out corpus file are skipped.
A further 10% of the training-split files (by a hash of the path, VAL_PERMILLE) is kept out of
GeDi training and used for the discriminator's held-out accuracy (H1's held-out split has only
3 unsafe functions, too few to measure).

Each unit keeps the text before its `def` line (context) and the function text (from the start
of the `def` line, original indentation, to its last statement). Tokenised with H1's Encoder.

Writes work/gedi/units.jsonl.gz: {"split","path","qualname","labels","ctx":[ids],"fn":[ids]}.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from label_attrs import ATTRIBUTES, PythonLabeller  # noqa: E402

WORK = os.path.join(HERE, "work", "gedi")
UNITS = os.path.join(WORK, "units.jsonl.gz")
PYENV_TEST_DIR = "/root/.pyenv/versions/3.11.7/lib/python3.11/test"
VAL_PERMILLE = 100
CTX_CHARS = 600  # text kept before a def (the model sees at most ctx_tokens of it)
MAX_FN_CHARS = 4000  # longer functions are cut (the model sees at most ~256 tokens anyway)


def tokenizer_path() -> str:
    """H1's tokenizer: the exported model's copy if present, else the training work folder."""
    repo = os.path.dirname(os.path.dirname(HERE))
    for p in (os.path.join(repo, "models", "trellis-code-tiny", "tokenizer.json"),
              os.path.join(HERE, "work", "tokenizer", "tokenizer.json")):
        if os.path.exists(p):
            return p
    raise FileNotFoundError("no tokenizer.json: run tools/train/bpe.py first (H1's pipeline)")


def is_val(path: str) -> bool:
    h = int(hashlib.sha1(("gedi-val:" + path).encode("utf-8")).hexdigest()[:8], 16)
    return h % 1000 < VAL_PERMILLE


def units_of(text: str, lab: PythonLabeller):
    try:
        units = lab.units(text)
    except (SyntaxError, ValueError, RecursionError):
        return
    lines = text.splitlines(keepends=True)
    for u in units:
        labels = {k: bool(p(u)) for k, p in lab.predicates.items()}
        start = u.start_line - 1
        ctx = "".join(lines[max(0, start - 40):start])[-CTX_CHARS:]
        fn = "".join(lines[start:u.end_line])[:MAX_FN_CHARS]
        yield u.qualname, labels, ctx, fn


def build(out: str = UNITS) -> dict:
    from corpus import load_docs
    from bpe import Encoder
    enc = Encoder.load(tokenizer_path())
    lab = PythonLabeller()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    counts: dict = {}
    seen = set()
    t0 = time.time()
    heldout_names = set()
    for d in load_docs("heldout", "python"):
        heldout_names.add(os.path.basename(d["path"]))

    def emit(f, split, path, qual, labels, ctx, fn):
        h = hashlib.sha1(fn.encode("utf-8")).digest()
        if h in seen:
            counts["duplicate"] = counts.get("duplicate", 0) + 1
            return
        seen.add(h)
        rec = {"split": split, "path": path, "qualname": qual, "labels": labels,
               "ctx": enc.encode_ordinary(ctx), "fn": enc.encode_ordinary(fn)}
        f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        c = counts.setdefault(split, {})
        c["units"] = c.get("units", 0) + 1
        for k, v in labels.items():
            key = f"{k}={'+' if v else '-'}"
            c[key] = c.get(key, 0) + 1

    with gzip.open(out, "wt") as f:
        n = 0
        for d in load_docs("train", "python"):
            split = "val" if is_val(d["path"]) else "train"
            for qual, labels, ctx, fn in units_of(d["text"], lab):
                emit(f, split, d["path"], qual, labels, ctx, fn)
            n += 1
            if n % 500 == 0:
                print(f"gedi_data: {n} files, {time.time() - t0:.0f}s", flush=True)
        for d in load_docs("heldout", "python"):
            for qual, labels, ctx, fn in units_of(d["text"], lab):
                emit(f, "heldout", d["path"], qual, labels, ctx, fn)
        # Mined unsafe units (training only when the file is not a validation file).
        if os.path.isdir(PYENV_TEST_DIR):
            for dirpath, dirnames, filenames in os.walk(PYENV_TEST_DIR):
                dirnames.sort()
                for fn_name in sorted(filenames):
                    if not fn_name.endswith(".py") or fn_name in heldout_names:
                        continue
                    p = os.path.join(dirpath, fn_name)
                    try:
                        with open(p, encoding="utf-8") as fh:
                            text = fh.read()
                    except (UnicodeDecodeError, OSError):
                        continue
                    split = "val" if is_val(p) else "train"
                    for qual, labels, ctx, fn in units_of(text, lab):
                        if not labels["safe"]:
                            emit(f, split, p, qual, labels, ctx, fn)
                            counts["mined_unsafe"] = counts.get("mined_unsafe", 0) + 1
    counts["seconds"] = round(time.time() - t0)
    with open(os.path.join(os.path.dirname(out), "units_counts.json"), "w") as fh:
        json.dump(counts, fh, indent=1)
    return counts


def load_units(split: str, path: str = UNITS):
    with gzip.open(path, "rt") as f:
        for line in f:
            d = json.loads(line)
            if d["split"] == split:
                yield d


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build GeDi training units")
    ap.add_argument("--out", default=UNITS)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args(argv)
    if os.path.exists(a.out) and not a.force:
        print(f"gedi_data: {a.out} exists (use --force)")
        return
    print(json.dumps(build(a.out), indent=1))


if __name__ == "__main__":
    main()
