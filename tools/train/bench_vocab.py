"""Vocabulary-size measurement for the model card (owns: bench_vocab.json).

Trains BPE merges on the same kind of sample at several vocabulary sizes and reports held-out
bytes per token for Python and JavaScript/TypeScript, next to the embedding parameters each size
costs at d_model 256. Usage: python3 tools/train/bench_vocab.py [--sample-mb 10]
"""
import argparse
import json
import os
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main():
    import bpe
    from corpus import load_docs
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample-mb", type=float, default=10)
    ap.add_argument("--sizes", default="1024,2048,4096,8192")
    ap.add_argument("--d-model", type=int, default=256)
    a = ap.parse_args()
    texts = bpe.sample_text(int(a.sample_mb * 1e6))
    counts = Counter()
    for t in texts:
        counts.update(bpe.pretokenize(t))
    held = list(load_docs("heldout"))
    sizes = [int(s) for s in a.sizes.split(",")]
    merges_all = bpe.train_merges(counts, max(sizes) - len(bpe.SPECIAL_TOKENS) - 256, log_every=0)
    results = []
    for v in sizes:
        tj = bpe.build_tokenizer_json(merges_all[: v - len(bpe.SPECIAL_TOKENS) - 256])
        enc = bpe.Encoder(tj["model"]["vocab"], [tuple(m.split(" ")) for m in tj["model"]["merges"]])
        row = {"vocab_size": v, "embedding_params": v * a.d_model}
        for g, langs in (("python", ("python",)), ("javascript/typescript", ("javascript", "typescript"))):
            docs = [d["text"] for d in held if d["lang"] in langs]
            n = sum(len(enc.encode_ordinary(t)) for t in docs)
            b = sum(len(t.encode("utf-8")) for t in docs)
            row[g] = b / n
        results.append(row)
        print(json.dumps(row), flush=True)
    out = os.path.join(HERE, "work", "bench_vocab.json")
    with open(out, "w") as f:
        json.dump({"sample_mb": a.sample_mb, "results": results}, f, indent=2)
    print(f"bench_vocab: -> {out}")


if __name__ == "__main__":
    main()
