"""Held-out evaluation of the Trellis default model (owns: the numbers in the model card).

  python3 tools/train/eval_bpb.py [--model models/trellis-code-tiny | --ckpt tools/train/work/ckpt/last.pt]

Reports, on the held-out split of tools/train/corpus.py (files never trained on):
  - bits per byte of the model on Python and on JavaScript/TypeScript (each file scored from a
    leading <|endoftext|> to its closing <|endoftext|>, sliding windows of the model context),
  - `xz -9e` and `bzip2 -9` on the same files, compressed one file at a time,
  - FIM loss on middle tokens only (PSM prompts, character-level split points, seeded).
With --model the weights are read from the shipped onnx/model.onnx (the exact bytes the engine
runs), so the card's numbers describe the committed model.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(os.path.dirname(HERE))
if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train.py: spinning OpenMP workers starve OpenBLAS

import bpe as bpe_mod  # noqa: E402
import corpus as corpus_mod  # noqa: E402

LANG_GROUPS = {"python": ("python",), "javascript/typescript": ("javascript", "typescript")}


def load_model_from_onnx(model_dir: str):
    """Rebuild the torch GPT from the ONNX initializers (names are the torch parameter names)."""
    import onnx
    import torch
    from onnx import numpy_helper
    from model import GPT, GPTConfig
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    cfg = GPTConfig(vocab_size=c["vocab_size"], n_layer=c["n_layer"], n_head=c["n_head"], d_model=c["n_embd"],
                    max_pos=c["n_positions"], d_ff=c["n_inner"])
    model = GPT(cfg)
    g = onnx.load(os.path.join(model_dir, "onnx", "model.onnx")).graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    sd = model.state_dict()
    missing = []
    for k in sd:
        v = inits.get("model." + k)
        if v is None:
            missing.append(k)
            continue
        sd[k] = torch.from_numpy(v.copy()).reshape(sd[k].shape)
    if missing:
        raise RuntimeError(f"{model_dir}/onnx/model.onnx lacks initializers for {missing[:5]}...; "
                           "evaluate the checkpoint with --ckpt instead")
    model.load_state_dict(sd)
    return model.eval()


def load_model(a):
    if a.ckpt:
        from export import load_checkpoint
        return load_checkpoint(a.ckpt)[0]
    return load_model_from_onnx(a.model)


def windows(n: int, ctx: int, stride: int) -> list[tuple[int, int, int]]:
    """(start, end, first_scored) windows covering targets 1..n-1: the first window scores all
    its targets, each later one the last `stride` (so every token sees >= ctx - stride context)."""
    out = []
    start, scored = 0, 1
    while scored < n:
        end = min(n, start + ctx)
        out.append((start, end, scored))
        scored = end
        start = end - (ctx - stride)
    return out


def nll_sequence(model, ids: list[int], ctx: int, stride: int, batch: int = 8) -> float:
    """Sum of -ln p(ids[t] | ids[:t]) for t >= 1 (sliding windows, several per forward call)."""
    import torch
    total = 0.0
    ws = windows(len(ids), ctx, stride)
    for i in range(0, len(ws), batch):
        group = ws[i:i + batch]
        L = max(e - s for s, e, _ in group)
        x = torch.zeros((len(group), L), dtype=torch.long)
        for r, (s, e, _) in enumerate(group):
            x[r, :e - s] = torch.tensor(ids[s:e])  # right padding: causal, so it cannot leak
        with torch.no_grad():
            logits, _ = model(x)
        logp = torch.log_softmax(logits.float(), dim=-1)
        for r, (s, e, first) in enumerate(group):
            tgt = torch.tensor(ids[first:e])
            pos = torch.arange(first - 1 - s, e - 1 - s)
            total -= logp[r, pos, tgt].sum().item()
    return total


def compressed_bits(path_text: str, tool: list[str]) -> int:
    r = subprocess.run(tool, input=path_text.encode("utf-8"), capture_output=True, check=True)
    return 8 * len(r.stdout)


def fim_eval(model, enc, docs, ctx: int, n_max: int, seed: int):
    import torch
    from train import fim_example, segments
    rng = random.Random(seed)
    tot_nll, tot_tok, tot_bytes, n = 0.0, 0, 0, 0
    for d in docs:
        for seg in segments(d["text"], rng):
            ids, ms = fim_example(seg, enc, rng, spm_rate=0.0)
            if len(ids) > ctx or n >= n_max:
                continue
            x = torch.tensor([ids[:-1]])
            with torch.no_grad():
                logits, _ = model(x)
            logp = torch.log_softmax(logits[0], dim=-1)
            tgt = torch.tensor(ids[1:])
            lp = logp.gather(1, tgt.unsqueeze(1)).squeeze(1)
            mid = lp[ms - 1:]  # predictions of middle tokens and the closing <|endoftext|>
            tot_nll -= mid.sum().item()
            tot_tok += mid.numel()
            tot_bytes += len(enc.decode(ids[ms:-1]).encode("utf-8"))
            n += 1
        if n >= n_max:
            break
    return {"examples": n, "middle_tokens": tot_tok, "fim_middle_loss_nats_per_token": tot_nll / max(1, tot_tok),
            "fim_middle_bits_per_byte": tot_nll / math.log(2) / max(1, tot_bytes)}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Held-out bits/byte vs xz/bzip2 and FIM middle loss")
    ap.add_argument("--model", default=os.path.join(REPO, "models", "trellis-code-tiny"))
    ap.add_argument("--ckpt", default="")
    ap.add_argument("--stride", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fim-examples", type=int, default=300)
    ap.add_argument("--max-files", type=int, default=0, help="0 = all held-out files")
    ap.add_argument("--out", default=os.path.join(HERE, "work", "eval.json"))
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    t0 = time.time()
    model = load_model(a)
    enc = bpe_mod.Encoder.load(os.path.join(a.model, "tokenizer.json") if not a.ckpt else
                               os.path.join(bpe_mod.TOK_DIR, "tokenizer.json"))
    eot = bpe_mod.special_id("<|endoftext|>")
    ctx = model.cfg.max_pos
    docs = list(corpus_mod.load_docs("heldout"))
    results = {"model": a.ckpt or os.path.relpath(a.model, REPO), "params": model.num_params(), "ctx": ctx,
               "stride": a.stride, "languages": {}}
    for group, langs in LANG_GROUPS.items():
        gd = [d for d in docs if d["lang"] in langs]
        if a.max_files:
            gd = gd[:a.max_files]
        nll = 0.0
        nbytes = ntok = xz = bz = 0
        for d in gd:
            ids = [eot] + enc.encode_ordinary(d["text"]) + [eot]
            nll += nll_sequence(model, ids, ctx, a.stride)
            ntok += len(ids) - 1
            nbytes += len(d["text"].encode("utf-8"))
            xz += compressed_bits(d["text"], ["xz", "-9e", "-c"])
            bz += compressed_bits(d["text"], ["bzip2", "-9", "-c"])
        results["languages"][group] = {
            "files": len(gd), "bytes": nbytes, "tokens": ntok,
            "model_bits_per_byte": nll / math.log(2) / nbytes,
            "model_nats_per_token": nll / ntok,
            "xz_9e_bits_per_byte": xz / nbytes,
            "bzip2_9_bits_per_byte": bz / nbytes,
        }
        print(f"{group}: {json.dumps(results['languages'][group])}", flush=True)
    py = [d for d in docs if d["lang"] == "python"]
    results["fim_python"] = fim_eval(model, enc, py, ctx, a.fim_examples, seed=7)
    print(f"fim (python, PSM): {json.dumps(results['fim_python'])}", flush=True)
    results["seconds"] = round(time.time() - t0, 1)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=2)
    print("\n| held-out | files | bytes | model bpb | xz -9e bpb | bzip2 -9 bpb |\n|---|---|---|---|---|---|")
    for g, r in results["languages"].items():
        print(f"| {g} | {r['files']} | {r['bytes']} | {r['model_bits_per_byte']:.3f} | "
              f"{r['xz_9e_bits_per_byte']:.3f} | {r['bzip2_9_bits_per_byte']:.3f} |")
    f = results["fim_python"]
    print(f"\nFIM middle-token loss (Python, PSM, {f['examples']} examples, {f['middle_tokens']} tokens): "
          f"{f['fim_middle_loss_nats_per_token']:.3f} nats/token, {f['fim_middle_bits_per_byte']:.3f} bits/byte")
    print(f"eval: {results['seconds']}s -> {a.out}")


if __name__ == "__main__":
    main()
