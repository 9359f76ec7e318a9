"""GeDi class-conditional LM training (owns: CC-LM examples, the λ·generative + (1−λ)·discriminative
loss, the learned α / class bias, held-out discriminator accuracy, and the GeDi export).

Model: H1's decoder (tools/train/model.py GPT, same tokenizer, same ONNX layout), smaller.
Example: [control code of the unit's true class] + last k context tokens (k ~ U[0, ctx_tokens])
+ the function's tokens, truncated to --ctx. One attribute per example; attribute and class are
drawn uniformly, so classes are balanced (the rare `unsafe` class is oversampled).
Loss (algorithms.md §5, Krause et al. 2020):
  generative    next-token cross-entropy of the row with the TRUE code;
  discriminative both codes' rows are scored; at every function position j the window of the last
                 W tokens gives  logit_j = α·(S_{c+} − S_{c−})/m_j + b  (m_j = tokens in the window,
                 S_c = Σ log P(x_i | c, x_<i) over the window)  and BCE against the label —
                 exactly the posterior the engine computes while decoding;
  loss = λ·gen + (1−λ)·disc, λ = 0.8.  α and b are learned per attribute.

Usage: python3 tools/train/gedi_train.py [--max-minutes 84] [--threads 1]   (resumable; builds the data first)
       python3 tools/train/gedi_train.py --stage export    (writes models/trellis-gedi-tiny)
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import random
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(HERE, "work", "gedi")
CKPT = os.path.join(WORK, "ckpt.pt")
OUT = os.path.join(REPO, "models", "trellis-gedi-tiny")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from label_attrs import ATTRIBUTES  # noqa: E402
from model import GPT, GPTConfig  # noqa: E402  (H1's architecture, reused unchanged)
import gedi_data  # noqa: E402

ATTRS = list(ATTRIBUTES)


# Where an unsafe call shows in the text (to keep it inside a cropped long function).
UNSAFE_TEXT = re.compile(r"\b(eval|exec|system|popen\d?|loads?|unsafe_load\w*|mktemp|spawn\w*|getoutput|"
                         r"getstatusoutput|__import__|import_module|execv\w*|execl\w*)\s*\(|shell\s*=\s*True")


def crop_unsafe(fn, max_fn: int, enc):
    """A long unsafe function, cut to max_fn tokens around its first unsafe-looking call."""
    pieces = [enc.decode([int(t)]) for t in fn]
    text = "".join(pieces)
    m = UNSAFE_TEXT.search(text)
    if not m:
        return fn[:max_fn]
    pos, idx = 0, 0
    for i, p in enumerate(pieces):
        if pos + len(p) > m.start():
            idx = i
            break
        pos += len(p)
    start = max(0, min(idx - max_fn // 2, len(fn) - max_fn))
    return fn[start:start + max_fn]


def load_pools(split: str, max_fn: int, enc=None):
    """units of one split → (list of (ctx, fn, labels)), and per attribute/class index lists."""
    units = []
    pools = {a: {True: [], False: []} for a in ATTRS}
    for d in gedi_data.load_units(split):
        if not d["fn"]:
            continue
        i = len(units)
        fn = d["fn"]
        if enc is not None and not d["labels"]["safe"] and len(fn) > max_fn:
            fn = crop_unsafe(fn, max_fn, enc)
        units.append((np.asarray(d["ctx"][-64:], dtype=np.int16), np.asarray(fn[:max_fn], dtype=np.int16),
                      d["labels"]))
        for a in ATTRS:
            pools[a][bool(d["labels"][a])].append(i)
    return units, pools


class CodeIds:
    def __init__(self, enc):
        self.pos = {a: enc.special[ATTRIBUTES[a].positive_code] for a in ATTRS}
        self.neg = {a: enc.special[ATTRIBUTES[a].negative_code] for a in ATTRS}


def make_batch(units, pools, codes: CodeIds, rng: random.Random, batch: int, ctx: int, ctx_tokens: int, pad: int,
               fixed=None):
    """Rows [2B, L]: first B rows carry c+, next B rows c−, same text. Returns tensors + metadata."""
    items = fixed if fixed is not None else []
    if fixed is None:
        for _ in range(batch):
            a = rng.randrange(len(ATTRS))
            y = rng.random() < 0.5
            pool = pools[ATTRS[a]][y]
            items.append((a, y, pool[rng.randrange(len(pool))], rng.randint(0, ctx_tokens)))
    seqs, fn_starts = [], []
    for a, y, ui, k in items:
        c, f, _ = units[ui]
        c = c[len(c) - min(k, len(c)):] if k > 0 else c[:0]
        body = np.concatenate([c, f])[: ctx - 1]
        seqs.append(body)
        fn_starts.append(1 + len(c))  # index (in the row) of the first function token
    L = 1 + max(len(s) for s in seqs)
    B = len(items)
    ids = np.full((2 * B, L), pad, dtype=np.int64)
    valid = np.zeros((B, L), dtype=np.float32)
    for r, ((a, y, _, _), s) in enumerate(zip(items, seqs)):
        attr = ATTRS[a]
        ids[r, 0] = codes.pos[attr]
        ids[B + r, 0] = codes.neg[attr]
        ids[r, 1:1 + len(s)] = s
        ids[B + r, 1:1 + len(s)] = s
        valid[r, 1:1 + len(s)] = 1.0
    attr_idx = torch.tensor([a for a, _, _, _ in items])
    labels = torch.tensor([1.0 if y else 0.0 for _, y, _, _ in items])
    return torch.from_numpy(ids), torch.from_numpy(valid), torch.tensor(fn_starts), attr_idx, labels


def token_logprobs(model, ids):
    """log P(x_t | x_<t) for t = 1..L-1 (position t of the row), shape [R, L] (column 0 = 0)."""
    logits, _ = model(ids)
    lp = F.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return torch.cat([torch.zeros_like(lp[:, :1]), lp], dim=1)


def window_logits(lp_pos, lp_neg, valid, fn_starts, W: int, log_alpha, bias, attr_idx):
    """Per-position discriminator logits over a window of the last W function tokens, and a mask."""
    B, L = valid.shape
    pos_idx = torch.arange(L).unsqueeze(0)
    in_fn = (pos_idx >= fn_starts.unsqueeze(1)).float() * valid
    d = (lp_pos - lp_neg) * in_fn
    cs = torch.cumsum(d, dim=1)
    shifted = torch.cat([torch.zeros(B, W), cs[:, :-W]], dim=1) if L > W else torch.zeros_like(cs)
    S = cs - shifted
    cnt = torch.cumsum(in_fn, dim=1)
    cnt_shift = torch.cat([torch.zeros(B, W), cnt[:, :-W]], dim=1) if L > W else torch.zeros_like(cnt)
    m = (cnt - cnt_shift).clamp(min=1.0)
    alpha = log_alpha.exp()[attr_idx].unsqueeze(1)
    b = bias[attr_idx].unsqueeze(1)
    return alpha * S / m + b, in_fn


def full_logits(lp_pos, lp_neg, valid, fn_starts, log_alpha, bias, attr_idx):
    """Whole-function length-normalised discriminator logit (the classic GeDi classifier)."""
    B, L = valid.shape
    in_fn = (torch.arange(L).unsqueeze(0) >= fn_starts.unsqueeze(1)).float() * valid
    S = ((lp_pos - lp_neg) * in_fn).sum(1)
    n = in_fn.sum(1).clamp(min=1.0)
    return log_alpha.exp()[attr_idx] * S / n + bias[attr_idx]


def lr_at(progress: float, step: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def evaluate(model, log_alpha, bias, units, pools, codes, a, per_class: int = 100, seed: int = 7):
    """Balanced held-out accuracy per attribute: whole-function and windowed (mean over positions)."""
    model.eval()
    rng = random.Random(seed)
    res = {}
    with torch.no_grad():
        for ai, attr in enumerate(ATTRS):
            items = []
            for y in (True, False):
                pool = pools[attr][y]
                for ui in rng.sample(pool, min(per_class, len(pool))):
                    items.append((ai, y, ui, a.ctx_tokens // 2))
            if not items or min(len(pools[attr][True]), len(pools[attr][False])) == 0:
                continue
            corr_full = corr_win = n_win = 0.0
            for s in range(0, len(items), 16):
                ids, valid, fs, ai_t, y = make_batch(units, pools, codes, rng, 0, a.ctx, a.ctx_tokens, 0, fixed=items[s:s + 16])
                lp = token_logprobs(model, ids)
                B = valid.shape[0]
                full = full_logits(lp[:B], lp[B:], valid, fs, log_alpha, bias, ai_t)
                corr_full += ((full > 0).float() == y).float().sum().item()
                win, mask = window_logits(lp[:B], lp[B:], valid, fs, a.window, log_alpha, bias, ai_t)
                corr_win += (((win > 0).float() == y.unsqueeze(1)).float() * mask).sum().item()
                n_win += mask.sum().item()
            res[attr] = {"n": len(items), "positives": sum(1 for it in items if it[1]),
                         "acc_full": round(corr_full / len(items), 4), "acc_window": round(corr_win / max(1, n_win), 4)}
    model.train()
    return res


def train(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    from bpe import Encoder
    enc = Encoder.load(gedi_data.tokenizer_path())
    codes = CodeIds(enc)
    pad = enc.special["<fim_pad>"]
    t_load = time.time()
    units, pools = load_pools("train", a.ctx - 1, enc)
    vunits, vpools = load_pools("val", a.ctx - 1, enc)
    print(f"gedi: {len(units)} train units, {len(vunits)} val units, loaded in {time.time() - t_load:.0f}s", flush=True)
    for attr in ATTRS:
        print(f"gedi:   {attr}: train +{len(pools[attr][True])} / -{len(pools[attr][False])}", flush=True)
    cfg = GPTConfig(vocab_size=enc.vocab_size, n_layer=a.n_layer, n_head=a.n_head, d_model=a.d_model, max_pos=a.ctx)
    model = GPT(cfg)
    # α starts at 4 (per-token code differences are small) and, with b, learns 10× faster than
    # the weights: they are two scalars per attribute.
    log_alpha = torch.nn.Parameter(torch.full((len(ATTRS),), math.log(4.0)))
    bias = torch.nn.Parameter(torch.zeros(len(ATTRS)))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay, "lr_mult": 1.0},
                             {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0},
                             {"params": [log_alpha, bias], "weight_decay": 0.0, "lr_mult": 10.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    state = {"step": 0, "elapsed": 0.0, "tokens": 0, "examples": 0, "budget_min": a.max_minutes, "finished": False}
    os.makedirs(WORK, exist_ok=True)
    if a.resume and os.path.exists(CKPT):
        ck = torch.load(CKPT)
        model.load_state_dict(ck["model"])
        log_alpha.data.copy_(ck["log_alpha"])
        bias.data.copy_(ck["bias"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        print(f"gedi: resumed at step {state['step']} ({state['elapsed'] / 60:.1f} min)", flush=True)
        if state.get("finished") and not a.force:
            print("gedi: checkpoint finished; use --force to continue", flush=True)
            return
        if a.new_budget:
            state["budget_min"] = a.max_minutes
    print(f"gedi: model {model.num_params()} params ({model.num_params(True)} non-embedding), {cfg}", flush=True)
    rng = random.Random(a.seed + state["step"])
    budget = state["budget_min"] * 60.0

    def save(finished=False):
        state["finished"] = finished
        torch.save({"model": model.state_dict(), "log_alpha": log_alpha.data, "bias": bias.data,
                    "opt": opt.state_dict(), "state": state, "cfg": cfg.to_dict(), "args": vars(a),
                    "tokenizer_sha1": _sha1(gedi_data.tokenizer_path())}, CKPT + ".tmp")
        os.replace(CKPT + ".tmp", CKPT)

    t0 = time.time() - state["elapsed"]
    last_log = last_save = time.time()
    acc = {"gen": 0.0, "disc": 0.0, "n": 0, "tok": 0}
    model.train()
    queue = []
    while True:
        elapsed = time.time() - t0
        if elapsed >= budget or (a.max_steps and state["step"] >= a.max_steps):
            break
        lr = lr_at(elapsed / budget, state["step"], a.lr, a.warmup)
        for g in opt.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1.0)
        if not queue:
            # Draw 4 batches at once and group them by length: less padding, same distribution.
            items = []
            for _ in range(4 * a.batch):
                ai_ = rng.randrange(len(ATTRS))
                y_ = rng.random() < 0.5
                pool = pools[ATTRS[ai_]][y_]
                items.append((ai_, y_, pool[rng.randrange(len(pool))], rng.randint(0, a.ctx_tokens)))
            items.sort(key=lambda it: len(units[it[2]][1]) + it[3])
            queue = [items[i:i + a.batch] for i in range(0, len(items), a.batch)]
            rng.shuffle(queue)
        ids, valid, fs, ai, y = make_batch(units, pools, codes, rng, 0, a.ctx, a.ctx_tokens, pad, fixed=queue.pop())
        B = valid.shape[0]
        lp = token_logprobs(model, ids)
        lp_pos, lp_neg = lp[:B], lp[B:]
        lp_true = torch.where(y.unsqueeze(1) > 0, lp_pos, lp_neg)
        gen = -(lp_true * valid).sum() / valid.sum()
        win, mask = window_logits(lp_pos, lp_neg, valid, fs, a.window, log_alpha, bias, ai)
        bce = F.binary_cross_entropy_with_logits(win, y.unsqueeze(1).expand_as(win), reduction="none")
        disc = ((bce * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
        loss = a.lam * gen + (1 - a.lam) * disc
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()) + [log_alpha, bias], 1.0)
        opt.step()
        state["step"] += 1
        state["tokens"] += int(valid.sum().item()) * 2
        state["examples"] += B
        acc["gen"] += gen.item()
        acc["disc"] += disc.item()
        acc["n"] += 1
        now = time.time()
        state["elapsed"] = now - t0
        if now - last_log >= a.log_every:
            n = max(1, acc["n"])
            print(f"gedi: step {state['step']} {state['elapsed'] / 60:.1f}/{state['budget_min']:.0f} min "
                  f"gen {acc['gen'] / n:.3f} disc {acc['disc'] / n:.3f} lr {lr:.2e} "
                  f"alpha {[round(v, 2) for v in log_alpha.exp().tolist()]} b {[round(v, 2) for v in bias.tolist()]} "
                  f"{state['tokens'] / state['elapsed']:.0f} tok/s", flush=True)
            acc = {"gen": 0.0, "disc": 0.0, "n": 0, "tok": 0}
            last_log = now
        if now - last_save >= a.save_every * 60:
            save()
            last_save = now
    save(finished=True)
    print(f"gedi: training done: {state['step']} steps, {state['examples']} examples, {state['tokens']} row-tokens, "
          f"{state['elapsed'] / 60:.1f} min", flush=True)
    val = evaluate(model, log_alpha, bias, vunits, vpools, codes, a, per_class=a.eval_per_class)
    hunits, hpools = load_pools("heldout", a.ctx - 1, enc)
    held = evaluate(model, log_alpha, bias, hunits, hpools, codes, a, per_class=a.eval_per_class)
    report = {"val": val, "heldout": held, "state": state, "cfg": cfg.to_dict(), "args": vars(a),
              "alpha": log_alpha.exp().tolist(), "bias": bias.tolist(), "attributes": ATTRS,
              "data": json.load(open(os.path.join(WORK, "units_counts.json")))}
    with open(os.path.join(WORK, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print("gedi: held-out accuracy " + json.dumps({"val": val, "heldout": held}), flush=True)


def _sha1(p):
    with open(p, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def parse(argv=None):
    ap = argparse.ArgumentParser(description="Train the GeDi class-conditional LM")
    ap.add_argument("--stage", choices=["train", "export", "all"], default="all")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-minutes", type=float, default=84.0)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-layer", type=int, default=3)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=160, help="positions (the exported model's context)")
    ap.add_argument("--ctx-tokens", type=int, default=32, help="max prompt-context tokens before the function")
    ap.add_argument("--window", type=int, default=32, help="W: tokens in the posterior window")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--lam", type=float, default=0.8, help="λ: weight of the generative loss")
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("--eval-per-class", type=int, default=100)
    ap.add_argument("--log-every", type=float, default=30.0)
    ap.add_argument("--save-every", type=float, default=5.0)
    ap.add_argument("--resume", action="store_true", default=True)
    ap.add_argument("--no-resume", dest="resume", action="store_false")
    ap.add_argument("--new-budget", action="store_true")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--out", default=OUT)
    return ap.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    if a.stage in ("train", "all"):
        if not os.path.exists(gedi_data.UNITS):
            gedi_data.build()
        train(a)
    if a.stage in ("export", "all"):
        import gedi_export
        gedi_export.export(CKPT, a.out)


if __name__ == "__main__":
    main()
