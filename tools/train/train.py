"""Training pipeline for the Trellis default model (owns: FIM data stream, training loop, pipeline).

One command (`npm run train` = `python3 tools/train/train.py`) runs every stage, each idempotent:
  corpus (tools/train/corpus.py) -> BPE tokenizer (bpe.py) -> training (this file, resumable)
  -> ONNX export to models/trellis-code-tiny (export.py) -> held-out evaluation (eval_bpb.py).
Stages can be run alone with --stage corpus|bpe|train|export|eval (eval also writes the model card).
On a GPU machine: `python3 tools/train/train.py --device cuda --d-model 512 --n-layer 8 ...`.

Importable without side effects: `fim_example`, `token_stream`, `batches` are reused by eval and
GeDi code.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
WORK = os.path.join(HERE, "work")
if __name__ == "__main__":
    # On a shared 2-core machine, idle OpenMP workers spinning while OpenBLAS's own threads run a
    # GEMM steal the core those threads need (measured: most of the main thread's time went to
    # sched_yield). Passive waiting gives the core back. Set before torch is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
CKPT_DIR = os.path.join(WORK, "ckpt")

import corpus as corpus_mod  # noqa: E402
import bpe as bpe_mod  # noqa: E402

EOT = bpe_mod.special_id("<|endoftext|>")
FIM_PREFIX = bpe_mod.special_id("<fim_prefix>")
FIM_MIDDLE = bpe_mod.special_id("<fim_middle>")
FIM_SUFFIX = bpe_mod.special_id("<fim_suffix>")


def split_points(n: int, rng: random.Random) -> tuple[int, int]:
    """Character-level [start, end) of the middle: a uniform start and a log-uniform length, so
    both one-token and many-line middles occur, and boundaries fall inside tokens."""
    if n < 2:
        return 0, n
    start = rng.randrange(0, n)
    length = int(math.exp(rng.uniform(0.0, math.log(max(2, n - start) + 1)))) - 1
    return start, min(n, start + max(0, length))


def fim_example(text: str, enc, rng: random.Random, spm_rate: float = 1 / 3):
    """Encode one FIM example. PSM: <fim_prefix>P<fim_suffix>S<fim_middle>M<eot>;
    SPM: <fim_suffix>S<fim_prefix>P<fim_middle>M<eot>. Returns (ids, middle_start_index)."""
    a, b = split_points(len(text), rng)
    pre, mid, suf = text[:a], text[a:b], text[b:]
    p, m, s = enc.encode_ordinary(pre), enc.encode_ordinary(mid), enc.encode_ordinary(suf)
    if rng.random() < spm_rate:
        ids = [FIM_SUFFIX] + s + [FIM_PREFIX] + p + [FIM_MIDDLE]
    else:
        ids = [FIM_PREFIX] + p + [FIM_SUFFIX] + s + [FIM_MIDDLE]
    ms = len(ids)
    return ids + m + [EOT], ms


def segments(text: str, rng: random.Random, lo: int = 300, hi: int = 1500):
    """Cut a document into line-aligned pieces of lo..hi characters (one FIM example each fits
    a 512-token context at ~3 bytes/token)."""
    i, n = 0, len(text)
    while i < n:
        j = min(n, i + rng.randint(lo, hi))
        if j < n:
            nl = text.rfind("\n", i + lo // 2, j)
            if nl > i:
                j = nl + 1
        yield text[i:j]
        i = j


def token_stream(docs, enc, rng: random.Random, fim_rate: float = 0.5, start_doc: int = 0):
    """Yield (doc_index, ids) forever-ish over docs (a list of texts) from start_doc: each document is
    cut into segments; each segment is FIM-transformed with probability fim_rate, else kept as
    plain text; every document ends with <|endoftext|>."""
    for di in range(start_doc, len(docs)):
        text = docs[di]
        out: list[int] = []
        for seg in segments(text, rng):
            if rng.random() < fim_rate:
                ids, _ = fim_example(seg, enc, rng)
                out.extend(ids)
            else:
                out.extend(enc.encode_ordinary(seg))
        out.append(EOT)
        yield di, out


class Batcher:
    """Packs the token stream into ctx+1 rows and serves batches of rows drawn at random from a pool
    of `pool` rows (~100+ documents), so one step never sees only one or two files (contiguous
    packing made each 4k-token batch a single file, and training stalled at unigram loss).
    Tracks the resumable data position (epoch, document index)."""

    def __init__(self, docs, enc, seed: int, batch: int, ctx: int, fim_rate: float, epoch: int = 0, doc: int = 0,
                 pool: int = 2048):
        self.docs, self.enc, self.seed, self.batch, self.ctx, self.fim_rate = docs, enc, seed, batch, ctx, fim_rate
        self.epoch, self.doc = epoch, doc
        self.buf: list[int] = []
        self.pool: list[list[int]] = []
        self.pool_size = pool
        self.pool_ctx = ctx
        self.rng = random.Random(seed * 13 + epoch * 101 + doc)
        self._start()

    def _start(self):
        order = list(range(len(self.docs)))
        random.Random(self.seed * 1000 + self.epoch).shuffle(order)
        self.order_docs = [self.docs[i] for i in order]
        rng = random.Random(self.seed * 7919 + self.epoch * 31 + self.doc)
        self.it = token_stream(self.order_docs, self.enc, rng, self.fim_rate, self.doc)

    def next(self, batch: int | None = None, ctx: int | None = None):
        import torch
        batch = batch or self.batch
        ctx = ctx or self.ctx
        if ctx != self.pool_ctx:
            self.pool, self.pool_ctx = [], ctx
        while len(self.pool) < max(self.pool_size, 2 * batch):
            while len(self.buf) < ctx + 1:
                try:
                    di, ids = next(self.it)
                    self.doc = di + 1
                    self.buf.extend(ids)
                except StopIteration:
                    self.epoch += 1
                    self.doc = 0
                    self._start()
            self.pool.append(self.buf[:ctx + 1])
            del self.buf[:ctx + 1]
        picked = []
        for _ in range(batch):
            i = self.rng.randrange(len(self.pool))
            self.pool[i], self.pool[-1] = self.pool[-1], self.pool[i]
            picked.append(self.pool.pop())
        rows = torch.tensor(picked, dtype=torch.long)
        return rows[:, :-1], rows[:, 1:]


def lr_at(progress: float, step: int, base: float, warmup: int, min_ratio: float = 0.1) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, max(0.0, progress))
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def train(a) -> str:
    import torch
    from model import GPT, GPTConfig
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    enc = bpe_mod.Encoder.load(os.path.join(a.tokenizer_dir, "tokenizer.json"))
    os.makedirs(a.ckpt_dir, exist_ok=True)
    ckpt_path = os.path.join(a.ckpt_dir, "last.pt")
    state = None
    if a.resume and os.path.exists(ckpt_path):
        state = torch.load(ckpt_path, map_location="cpu")
        cfg = GPTConfig(**state["cfg"])
        if state.get("finished") and not a.force:
            print(f"train: {ckpt_path} is finished (use --force to train on)", flush=True)
            return ckpt_path
    else:
        cfg = GPTConfig(vocab_size=enc.vocab_size, n_layer=a.n_layer, n_head=a.n_head,
                        d_model=a.d_model, max_pos=a.ctx)
    model = GPT(cfg).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    step, tokens, elapsed, epoch, doc = 0, 0, 0.0, 0, 0
    budget_s = a.max_minutes * 60
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, tokens, elapsed = state["step"], state["tokens"], state["elapsed"]
        epoch, doc = state["data"]["epoch"], state["data"]["doc"]
        budget_s = state.get("budget_s", budget_s) if not a.new_budget else budget_s
        print(f"train: resumed step {step}, {tokens} tokens, {elapsed / 60:.1f} min", flush=True)
    ctx = cfg.max_pos
    docs = [d["text"] for d in corpus_mod.load_docs("train")]
    batcher = Batcher(docs, enc, a.seed, a.batch, ctx, a.fim_rate, epoch, doc)
    print(f"train: {model.num_params()} params ({model.num_params(True)} non-embedding), cfg {cfg.to_dict()}, "
          f"batch {a.batch}x{ctx}, device {device}, threads {a.threads}, budget {budget_s / 60:.1f} min, "
          f"{len(docs)} docs", flush=True)

    def save(finished=False):
        tmp = ckpt_path + ".tmp"
        torch.save({"cfg": cfg.to_dict(), "model": model.state_dict(), "opt": opt.state_dict(),
                    "step": step, "tokens": tokens, "elapsed": elapsed, "budget_s": budget_s,
                    "data": {"epoch": batcher.epoch, "doc": batcher.doc}, "finished": finished,
                    "args": vars(a), "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, tmp)
        os.replace(tmp, ckpt_path)
        print(f"train: checkpoint step {step} -> {ckpt_path}{' (finished)' if finished else ''}", flush=True)

    model.train()
    t_start = time.time() - elapsed
    last_save = time.time()
    last_log, log_tokens, loss_acc, loss_n = time.time(), 0, 0.0, 0
    while True:
        elapsed = time.time() - t_start
        if elapsed >= budget_s or (a.max_steps and step >= a.max_steps):
            break
        lr = lr_at(elapsed / budget_s, step, a.lr, a.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        # Sequence-length warmup: the first short_frac of the budget trains on short rows (much
        # cheaper attention on CPU) at random position offsets so all learned positions train.
        short = a.short_ctx and a.short_ctx < ctx and elapsed / budget_s < a.short_frac
        cur_ctx = a.short_ctx if short else ctx
        cur_batch = max(1, a.batch * ctx // cur_ctx)
        x, y = batcher.next(cur_batch, cur_ctx)
        pos = None
        if short:
            off = torch.randint(0, ctx - cur_ctx + 1, (cur_batch, 1))
            pos = (torch.arange(cur_ctx).unsqueeze(0) + off).to(device)
        x, y = x.to(device), y.to(device)
        logits, _ = model(x, position_ids=pos)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += x.numel()
        log_tokens += x.numel()
        loss_acc += loss.item()
        loss_n += 1
        now = time.time()
        if now - last_log >= a.log_every:
            print(f"step {step} ctx {cur_ctx} loss {loss_acc / loss_n:.4f} lr {lr:.2e} tok/s {log_tokens / (now - last_log):.0f} "
                  f"tokens {tokens} elapsed {(now - t_start) / 60:.1f}m epoch {batcher.epoch} doc {batcher.doc}", flush=True)
            last_log, log_tokens, loss_acc, loss_n = now, 0, 0.0, 0
        if now - last_save >= a.save_every * 60:
            elapsed = now - t_start
            save()
            last_save = time.time()
    elapsed = time.time() - t_start
    save(finished=True)
    return ckpt_path


def parse(argv=None):
    ap = argparse.ArgumentParser(description="Train the Trellis FIM code model (full pipeline by default)")
    ap.add_argument("--stage", choices=["all", "corpus", "bpe", "train", "export", "eval"], default="all")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-minutes", type=float, default=100.0, help="wall-clock training budget")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8, help="rows per step at --ctx (scaled up for --short-ctx)")
    ap.add_argument("--short-ctx", type=int, default=256, help="sequence-length warmup context (0 = off)")
    ap.add_argument("--short-frac", type=float, default=0.7, help="fraction of the budget spent at --short-ctx")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--fim-rate", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--log-every", type=float, default=30.0, help="seconds between log lines")
    ap.add_argument("--save-every", type=float, default=10.0, help="minutes between checkpoints")
    ap.add_argument("--resume", action="store_true", default=True)
    ap.add_argument("--no-resume", dest="resume", action="store_false")
    ap.add_argument("--new-budget", action="store_true", help="on resume, use --max-minutes instead of the saved budget")
    ap.add_argument("--force", action="store_true", help="train on even if the checkpoint is finished")
    ap.add_argument("--ckpt-dir", default=CKPT_DIR)
    ap.add_argument("--tokenizer-dir", default=bpe_mod.TOK_DIR)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "models", "trellis-code-tiny"))
    return ap.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    if a.stage in ("all", "corpus"):
        corpus_mod.main([])
    if a.stage in ("all", "bpe"):
        bpe_mod.main([])
    if a.stage in ("all", "train"):
        train(a)
    ckpt = os.path.join(a.ckpt_dir, "last.pt")
    onnx_path = os.path.join(a.out, "onnx", "model.onnx")
    eval_path = os.path.join(WORK, "eval.json")
    if a.stage == "export" or (a.stage == "all" and _newer(ckpt, onnx_path)):
        import export
        export.main(["--ckpt", ckpt, "--out", a.out])
    elif a.stage == "all":
        print(f"export: {onnx_path} is newer than {ckpt}, skipping")
    if a.stage == "eval" or (a.stage == "all" and _newer(onnx_path, eval_path)):
        import eval_bpb
        eval_bpb.main(["--model", a.out, "--threads", str(a.threads), "--out", eval_path])
    elif a.stage == "all":
        print(f"eval: {eval_path} is newer than {onnx_path}, skipping")
    if a.stage in ("all", "eval"):
        import model_card
        model_card.main(["--out", a.out])


def _newer(src: str, dst: str) -> bool:
    """True when dst is missing or older than src (make-style staleness)."""
    return not os.path.exists(dst) or (os.path.exists(src) and os.path.getmtime(src) > os.path.getmtime(dst))


if __name__ == "__main__":
    main()
