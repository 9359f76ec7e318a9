"""`safe` steering from counterfactual pairs: diagnosis and an experimental fine-tune (issue 7).
Owns: the minimal-pair data of the `safe` attribute, the pair test of a discriminator checkpoint,
and fine-tuning the discriminator on those pairs. NOT used for the shipped model (see below).

Why: the discriminator trained by gedi_train.py tells an unsafe function from a safe one by the
company unsafe calls keep (CPython test-suite style, comments, os/subprocess plumbing), not by the
call. `--check` measures it on the validation split: the same text with its unsafe call replaced
by a safe counterpart scores almost the same (ckpt_step476, 158 stratified pairs cropped around
the call: mean class logit −1.05 unsafe vs −0.66 safe twin, 54% of the 316 texts classified
right, i.e. chance), so steering with ω < 0 pushes that style (comments, `.path`) and no call.

Data: minimal pairs, relabelled by label_attrs.PythonLabeller (a pair is kept only if the labels
differ as intended). Every `unsafe` unit of the training split gets three safe twins: `late`
(same module, other function: pickle.loads → pickle.dumps, os.system → os.remove, shell=True →
shell=False), `early` (other module: json.loads, subprocess.run, literal_eval) and `decoy` (the
name on another object: self.system, self.eval); safe units calling a safe counterpart get one
unsafe twin per family (os.X → os.system, json.loads → pickle.loads, int(x) → eval(x), + shell=True
…). The texts of a pair differ only at the call, so the call is the only evidence the
discriminative loss can use. Natural safe units are mixed in. Pair families are drawn uniformly.

Training (`--tune all`, default): every weight moves on the pairs (same loss as gedi_train.py:
λ·generative + (1−λ)·windowed BCE on the safe rows); documented/typed rows are distilled from the
frozen base checkpoint (KL, weight --kd) and their α / b are frozen. `--tune codes` moves only the
`<|safe|>` / `<|unsafe|>` input embeddings and the safe α / b (documented/typed exactly unchanged),
but 2 minutes did not separate the pairs (logit gap 0.1).

Measured (2-core shared CPU; `eval-steering` official command, k = 10): 8 minutes of `--tune all
--kd 10 --lr 1e-3` reach 100% pair order and 78% pair accuracy (from 54%), yet the [api] rows still
have no unsafe completion at ω = −10: the base model's first FIM token is context-free with an
empty suffix, one generated token decides the class posterior (α/(n+1) with n = 0 saturates it),
and an unsafe call needs 3+ steered tokens in a row. documented/typed swings moved within noise
(documented +57 pp, typed +28 pp vs +57 / +41 with the shipped model, 24 prompts).

Rerun with the plain (left-to-right) prompt layout the engine now uses (10 minutes of `--tune all
--kd 10 --lr 1e-3 --threads 1`, 500 steps: pair order 100%, pair accuracy 84% full / 69% window;
`eval-steering … --attrs safe --gedi DIR`, official settings otherwise): safe swing 0 pp with the
manifest's 32-token window, 0 pp with 4 tokens, +4.3 pp with 8 (one unsafe completion in 23), grammar
mask on: 0 pp. The short window does what it should — the steered text fills with `system`, `exec`,
`eval` — but as names, strings and comments (`eval = Symbol(…)`, `'utfsystem'`), never as calls.
Where it stops (per-token numbers from the base model and this discriminator after `def
run_command(cmd):` + indent): the base model gives ` e` 8e-4 and `val` after it 0.018, ` ex` 5e-4,
` os` 5e-4 then `system` 7e-4; the discriminator's log-ratio favours unsafe by 5.8 nats at `val`,
2.1 at `ec`, 2.7 at `system`, but only 0.2–0.6 at the ambiguous first tokens (` e`, ` ex`, ` os`),
and ~0 at the `(` that makes a name a call. GeDi reweights one token at a time, so the weak first
token is where every unsafe call is lost: a base model that proposes these calls at all (a larger or
longer-trained one) is what `safe` needs, not a sharper discriminator.

Usage: python3 tools/train/gedi_safe_pairs.py --check [--ckpt C]   (pair test of the base and C)
       python3 tools/train/gedi_safe_pairs.py --max-minutes 8 --kd 10 --lr 1e-3 --ckpt C
       python3 tools/train/gedi_safe_pairs.py --export --ckpt C --out DIR   (never the default
       model folder unless that is meant: --out defaults to models/trellis-gedi-tiny)
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import gedi_data  # noqa: E402
from gedi_train import ATTRS, token_logprobs, window_logits  # noqa: E402
from label_attrs import ATTRIBUTES, PythonLabeller  # noqa: E402
from model import GPT, GPTConfig  # noqa: E402

WORK = os.path.join(HERE, "work", "gedi")
BASE_CKPT = os.path.join(WORK, "ckpt_step476.pt")  # the exported discriminator
CKPT = os.path.join(WORK, "ckpt_safe_pairs.pt")
PAIRS = os.path.join(WORK, "safe_pairs.json")
SAFE = ATTRS.index("safe")

# unsafe call → safe counterpart (the labeller decides; these only propose the twin text). Two
# variants: `late` keeps the module and changes the function (the texts part at the decisive
# token: pickle.loads / pickle.dumps, os.system / os.remove, shell=True / shell=False), `early`
# changes the module (pickle.loads / json.loads, os.system / subprocess.run, eval / literal_eval),
# `decoy` keeps the name on another object (os.system / self.system, eval / self.eval): the name
# alone is no evidence, the call is.
SAFE_OS = ["remove", "getcwd", "chdir", "listdir", "makedirs", "getenv", "unlink", "stat"]
# safe twins `late` and `early` share (these calls have one safe counterpart either way)
SAFE_SAME = [
    (r"shell\s*=\s*True", "shell=False"),
    (r"\byaml\.load\(", "yaml.safe_load("),
    (r"\byaml\.load_all\(", "yaml.safe_load_all("),
    (r"\btempfile\.mktemp\(", "tempfile.mkstemp("),
    (r"\bsubprocess\.getoutput\(", "subprocess.check_output("),
    (r"\bsubprocess\.getstatusoutput\(", "subprocess.check_output("),
]
TO_SAFE = {
    "late": [
        (r"\b((?:c[Pp]ickle|_pickle|pickle|dill|marshal))\.loads\(", r"\1.dumps("),
        (r"\b((?:c[Pp]ickle|_pickle|pickle|dill|marshal))\.load\(", r"\1.dump("),
        (r"\bos\.(?:system|popen[234]?|exec[lv]p?e?|spawn[lv]p?e?)\(", "os.{os}("),
        (r"(?<![\w.])eval\(", "repr("),
        (r"(?<![\w.])exec\(", "print("),
    ] + SAFE_SAME,
    # the name stays but the call is no longer the unsafe one (a method of another object)
    "decoy": [
        (r"\b(?:c[Pp]ickle|_pickle|pickle|dill|marshal)\.(loads?)\(", r"self.\1("),
        (r"\bos\.(system|popen[234]?|exec[lv]p?e?|spawn[lv]p?e?)\(", r"self.\1("),
        (r"(?<![\w.])(eval|exec)\(", r"self.\1("),
        (r"shell\s*=\s*True", "shell=False"),
        (r"\byaml\.(load(?:_all)?)\(", r"self.\1("),
        (r"\btempfile\.mktemp\(", "self.mktemp("),
        (r"\bsubprocess\.(getoutput|getstatusoutput)\(", r"self.\1("),
    ],
    "early": [
        (r"\b(?:c[Pp]ickle|_pickle|pickle|dill|marshal)\.loads\(", "json.loads("),
        (r"\b(?:c[Pp]ickle|_pickle|pickle|dill|marshal)\.load\(", "json.load("),
        (r"\bos\.system\(", "subprocess.run("),
        (r"\bos\.popen[234]?\(", "open("),
        (r"\bos\.(?:exec[lv]p?e?|spawn[lv]p?e?)\(", "subprocess.run("),
        (r"(?<![\w.])eval\(", "literal_eval("),
        (r"(?<![\w.])exec\(", "compile("),
    ] + SAFE_SAME,
}
# safe call → unsafe one, ONE occurrence per twin (family name first)
TO_UNSAFE = [
    ("os", r"\bos\.(?!path\b|environ\b|sep\b|name\b|linesep\b|devnull\b|curdir\b|pardir\b|getpid\b|error\b)(\w+)\(", "os.{unsafe_os}("),
    ("serial", r"\b(pickle|marshal)\.dumps?\(", r"\1.loads("),
    ("serial", r"\bjson\.loads?\(", "pickle.loads("),
    ("eval", r"\b(?:ast\.)?literal_eval\(", "eval("),
    ("eval", r"(?<![\w.])compile\(", "exec("),
    ("eval", r"(?<![\w.])(?:int|float|repr|len)\((?=\w)", "eval("),
    ("other", r"\byaml\.safe_load\(", "yaml.load("),
    ("other", r"\btempfile\.mkstemp\(", "tempfile.mktemp("),
    ("other", r"\bsubprocess\.check_output\(", "subprocess.getoutput("),
    ("shell", r"shell\s*=\s*False", "shell=True"),
    ("shell", r"\bsubprocess\.(?:call|check_call|check_output|run|Popen)\(", None),  # + shell=True
]
UNSAFE_OS = ["system", "popen", "system", "execv"]


def _pick(options, key: str) -> str:
    return options[sum(key.encode("utf-8")) % len(options)]


def rewrite_all(text: str, rules, key: str) -> str:
    for a, b in rules:
        text = re.sub(a, b.replace("{os}", _pick(SAFE_OS, key)), text)
    return text


def _close_paren(text: str, open_at: int):
    """Index of the `)` closing the `(` at open_at (strings and nesting skipped), or None."""
    depth, i, q = 0, open_at, None
    while i < len(text):
        ch = text[i]
        if q:
            if ch == "\\":
                i += 1
            elif text.startswith(q, i):
                i += len(q) - 1
                q = None
        elif ch in "\"'":
            q = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(q) - 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def unsafe_twins(text: str, key: str):
    """(family, twin) for each TO_UNSAFE rule that matches: its first occurrence made unsafe."""
    out, seen = [], set()
    for fam, pat, rep in TO_UNSAFE:
        m = re.search(pat, text)
        if not m or fam in seen:
            continue
        if rep is None:
            close = _close_paren(text, m.end() - 1)
            if close is None or "shell" in text[m.end():close]:
                continue
            sep = "" if text[m.end():close].strip() == "" else ", "
            tw = text[:close].rstrip() + sep + "shell=True" + text[close:]
        else:
            tw = text[:m.start()] + m.expand(rep.replace("{unsafe_os}", _pick(UNSAFE_OS, key))) + text[m.end():]
        seen.add(fam)
        out.append((fam, tw))
    return out


def unit_safe(lab: PythonLabeller, text: str):
    try:
        units = lab.units(textwrap.dedent(text))
    except (SyntaxError, ValueError, RecursionError):
        return None
    return lab.safe(units[0]) if units else None


def build_pairs(enc, split: str, lab: PythonLabeller):
    """[(ctx ids, unsafe fn ids, safe fn ids, family)] for one split, plus natural safe units."""
    pairs, natural = [], []
    for d in gedi_data.load_units(split):
        if not d["fn"]:
            continue
        fn = enc.decode(d["fn"])
        ctx = d["ctx"][-64:]
        key = d["path"] + d["qualname"]
        if d["labels"]["safe"]:
            natural.append((ctx, d["fn"]))
            for fam, tw in unsafe_twins(fn, key):
                if tw != fn and unit_safe(lab, tw) is False:
                    pairs.append((ctx, enc.encode_ordinary(tw), d["fn"], "rev-" + fam))
        else:
            for fam, rules in TO_SAFE.items():
                tw = rewrite_all(fn, rules, key)
                if tw != fn and unit_safe(lab, tw) is True:
                    pairs.append((ctx, d["fn"], enc.encode_ordinary(tw), "fwd-" + fam))
    return pairs, natural


def first_diff(a, b) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def crop(ctx, fn, start: int, length: int, ctx_tokens: int):
    """The row text: up to ctx_tokens tokens before fn[start] (unit context + function head), then fn[start:start+length]."""
    before = list(ctx) + list(fn[:start])
    c = before[len(before) - min(ctx_tokens, len(before)):] if ctx_tokens > 0 else []
    return c, list(fn[start:start + length])


def make_rows(items, codes, pad, max_len):
    """items: (ctx, fn, y). Rows [2B, L]: c+ rows then c− rows; valid mask and function starts."""
    seqs, starts = [], []
    for c, f, _ in items:
        s = (c + f)[: max_len - 1]
        seqs.append(s)
        starts.append(1 + len(c))
    L = 1 + max(len(s) for s in seqs)
    B = len(items)
    ids = np.full((2 * B, L), pad, dtype=np.int64)
    valid = np.zeros((B, L), dtype=np.float32)
    for r, s in enumerate(seqs):
        ids[r, 0], ids[B + r, 0] = codes
        ids[r, 1:1 + len(s)] = s
        ids[B + r, 1:1 + len(s)] = s
        valid[r, 1:1 + len(s)] = 1.0
    y = torch.tensor([1.0 if it[2] else 0.0 for it in items])
    return torch.from_numpy(ids), torch.from_numpy(valid), torch.tensor(starts), y


def sample_items(rng, pairs, natural, n_pairs, n_natural, a):
    """n_pairs pairs (family drawn uniformly, then a pair; both texts cropped at the same place) + natural safe units."""
    items = []
    fams = sorted(pairs)
    for _ in range(n_pairs):
        group = pairs[fams[rng.randrange(len(fams))]]
        ctx, fu, fs, _ = group[rng.randrange(len(group))]
        k = first_diff(fu, fs)
        start = max(0, k - rng.randint(4, a.before))
        ln = a.fn_tokens
        cu, tu = crop(ctx, fu, start, ln, rng.randint(a.ctx_tokens // 2, a.ctx_tokens))
        cs, ts = cu, list(fs[start:start + ln])
        items.append((cu, tu, False))
        items.append((cs, ts, True))
    for _ in range(n_natural):
        ctx, fn = natural[rng.randrange(len(natural))]
        start = rng.randrange(max(1, len(fn) - a.fn_tokens // 2))
        c, f = crop(ctx, fn, start, a.fn_tokens, rng.randint(a.ctx_tokens // 2, a.ctx_tokens))
        items.append((c, f, True))
    return items


def load_model(path):
    ck = torch.load(path)
    cfg = GPTConfig(**ck["cfg"])
    m = GPT(cfg)
    m.load_state_dict(ck["model"])
    return ck, cfg, m


@torch.no_grad()
def check(m, log_alpha, bias, pairs, codes, pad, a, n=200, seed=7):
    """Pair test: classifier logit of unsafe texts vs their safe twins, cropped as in training."""
    m.eval()
    rng = random.Random(seed)
    fams = {}
    for x in pairs:
        fams.setdefault(x[3], []).append(x)
    sel = [x for f in sorted(fams) for x in rng.sample(fams[f], min(n // len(fams), len(fams[f])))]
    res = {"pairs": len(sel)}
    lu, ls, win_acc, win_n = [], [], 0.0, 0.0
    for i in range(0, len(sel), 16):
        items = []
        for ctx, fu, fs, _ in sel[i:i + 16]:
            k = first_diff(fu, fs)
            start = max(0, k - a.before // 2)
            c, tu = crop(ctx, fu, start, a.fn_tokens, a.ctx_tokens)
            items += [(c, tu, False), (c, list(fs[start:start + a.fn_tokens]), True)]
        ids, valid, fs_, y = make_rows(items, codes, pad, a.max_len)
        lp = token_logprobs(m, ids)
        B = valid.shape[0]
        ai = torch.full((B,), SAFE)
        in_fn = (torch.arange(valid.shape[1]).unsqueeze(0) >= fs_.unsqueeze(1)).float() * valid
        full = log_alpha.exp()[SAFE] * ((lp[:B] - lp[B:]) * in_fn).sum(1) / in_fn.sum(1).clamp(min=1) + bias[SAFE]
        lu += full[0::2].tolist()
        ls += full[1::2].tolist()
        win, mask = window_logits(lp[:B], lp[B:], valid, fs_, a.window, log_alpha, bias, ai)
        win_acc += (((win > 0).float() == y.unsqueeze(1)).float() * mask).sum().item()
        win_n += mask.sum().item()
    res["mean_logit_unsafe_text"] = round(sum(lu) / len(lu), 3)
    res["mean_logit_safe_twin"] = round(sum(ls) / len(ls), 3)
    res["pair_order_acc"] = round(sum(1 for u, s in zip(lu, ls) if s > u) / len(lu), 3)
    res["acc_full"] = round((sum(u < 0 for u in lu) + sum(s > 0 for s in ls)) / (2 * len(lu)), 3)
    res["acc_window"] = round(win_acc / max(1, win_n), 3)
    m.train()
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fine-tune the safe codes of the GeDi model on counterfactual pairs")
    ap.add_argument("--base", default=BASE_CKPT)
    ap.add_argument("--ckpt", default=CKPT)
    ap.add_argument("--check", action="store_true", help="pair test of --base (and of --ckpt if present), then exit")
    ap.add_argument("--export", action="store_true", help="export --ckpt to --out")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "models", "trellis-gedi-tiny"))
    ap.add_argument("--max-minutes", type=float, default=10.0)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--pairs-per-batch", type=int, default=6)
    ap.add_argument("--natural-per-batch", type=int, default=4)
    ap.add_argument("--fn-tokens", type=int, default=64, help="function tokens per row (cropped around the call)")
    ap.add_argument("--before", type=int, default=40, help="most function tokens kept before the first differing token")
    ap.add_argument("--ctx-tokens", type=int, default=32)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--lam", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--log-every", type=float, default=30.0)
    ap.add_argument("--tune", choices=["codes", "all"], default="all",
                    help="codes: only the safe control codes (+ safe α, b) move; all: every weight, with "
                         "documented/typed rows distilled from the frozen base model so they keep their behaviour")
    ap.add_argument("--other-per-batch", type=int, default=8, help="documented/typed examples per step (--tune all)")
    ap.add_argument("--kd", type=float, default=1.0, help="weight of the documented/typed distillation term (--tune all)")
    a = ap.parse_args(argv)
    a.max_len = 1 + a.ctx_tokens + a.fn_tokens
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    from bpe import Encoder
    enc = Encoder.load(gedi_data.tokenizer_path())
    codes = (enc.special[ATTRIBUTES["safe"].positive_code], enc.special[ATTRIBUTES["safe"].negative_code])
    pad = enc.special["<fim_pad>"]

    if a.export:
        import gedi_export
        gedi_export.export(a.ckpt, a.out)
        return

    lab = PythonLabeller()
    t0 = time.time()
    if os.path.exists(PAIRS):
        data = json.load(open(PAIRS))
    else:
        data = {}
        for split in ("train", "val"):
            p, nat = build_pairs(enc, split, lab)
            data[split] = {"pairs": p, "natural": nat}
        with open(PAIRS, "w") as f:
            json.dump(data, f)
    for split in ("train", "val"):
        p = data[split]["pairs"]
        fams = {}
        for x in p:
            fams[x[3]] = fams.get(x[3], 0) + 1
        print(f"pairs: {split}: {len(p)} pairs {json.dumps(fams, sort_keys=True)}, {len(data[split]['natural'])} natural safe units "
              f"({time.time() - t0:.0f}s)", flush=True)
    pairs = {}
    for x in data["train"]["pairs"]:
        pairs.setdefault(x[3], []).append(x)
    natural = data["train"]["natural"]
    vpairs = data["val"]["pairs"]

    if a.check:
        ck, cfg, m = load_model(a.base)
        print("base", a.base, json.dumps(check(m, ck["log_alpha"], ck["bias"], vpairs, codes, pad, a)), flush=True)
        if os.path.exists(a.ckpt):
            ck, cfg, m = load_model(a.ckpt)
            print("tuned", a.ckpt, json.dumps(check(m, ck["log_alpha"], ck["bias"], vpairs, codes, pad, a)), flush=True)
        return

    resume = os.path.exists(a.ckpt)
    ck, cfg, m = load_model(a.ckpt if resume else a.base)
    log_alpha = torch.nn.Parameter(ck["log_alpha"].clone())
    bias = torch.nn.Parameter(ck["bias"].clone())
    state = ck["state"]
    tune = ck.get("safe_pairs", {"step": 0, "elapsed": 0.0, "examples": 0, "base": a.base})
    code_rows = torch.tensor(codes)
    if a.tune == "codes":
        for p in m.parameters():
            p.requires_grad_(False)
        m.wte.weight.requires_grad_(True)
        opt = torch.optim.Adam([{"params": [m.wte.weight], "lr": a.lr},
                                {"params": [log_alpha, bias], "lr": a.lr * 3}], betas=(0.9, 0.95))
    else:
        import gedi_train
        ounits, opools = gedi_train.load_pools("train", cfg.max_pos - 1, enc)
        ocodes = gedi_train.CodeIds(enc)
        others = [i for i, n in enumerate(ATTRS) if n != "safe"]
        _, _, teacher = load_model(a.base)
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        opt = torch.optim.AdamW([{"params": list(m.parameters()), "lr": a.lr, "weight_decay": 0.0},
                                 {"params": [log_alpha, bias], "lr": a.lr * 3, "weight_decay": 0.0}], betas=(0.9, 0.95))
    if resume and "opt_pairs" in ck:
        opt.load_state_dict(ck["opt_pairs"])
    before = check(m, log_alpha.detach(), bias.detach(), vpairs, codes, pad, a)
    print("val pair test before:", json.dumps(before), flush=True)
    rng = random.Random(a.seed + tune["step"])
    budget = a.max_minutes * 60
    start = time.time()
    last = start
    acc = {"gen": 0.0, "disc": 0.0, "n": 0}
    m.train()
    while True:
        if time.time() - start >= budget or (a.max_steps and tune["step"] >= a.max_steps):
            break
        items = sample_items(rng, pairs, natural, a.pairs_per_batch, a.natural_per_batch, a)
        ids, valid, fs, y = make_rows(items, codes, pad, a.max_len)
        B = valid.shape[0]
        lp = token_logprobs(m, ids)
        lp_pos, lp_neg = lp[:B], lp[B:]
        in_fn = (torch.arange(valid.shape[1]).unsqueeze(0) >= fs.unsqueeze(1)).float() * valid
        lp_true = torch.where(y.unsqueeze(1) > 0, lp_pos, lp_neg)
        gen = -(lp_true * in_fn).sum() / in_fn.sum().clamp(min=1)
        win, mask = window_logits(lp_pos, lp_neg, valid, fs, a.window, log_alpha, bias, torch.full((B,), SAFE))
        bce = F.binary_cross_entropy_with_logits(win, y.unsqueeze(1).expand_as(win), reduction="none")
        disc = ((bce * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
        loss = a.lam * gen + (1 - a.lam) * disc
        if a.tune == "all":
            # documented / typed as gedi_train.py samples them (balanced classes), same loss.
            oitems = []
            for _ in range(a.other_per_batch):
                ai_ = others[rng.randrange(len(others))]
                y_ = rng.random() < 0.5
                pool = opools[ATTRS[ai_]][y_]
                oitems.append((ai_, y_, pool[rng.randrange(len(pool))], rng.randint(0, a.ctx_tokens)))
            oids, ovalid, ofs, oai, oy = gedi_train.make_batch(ounits, opools, ocodes, rng, 0, cfg.max_pos, a.ctx_tokens, pad, fixed=oitems)
            # Distillation: the student's next-token distributions on documented/typed rows (both
            # codes) match the frozen base model's, so their class evidence stays what it was.
            with torch.no_grad():
                tlog = F.log_softmax(teacher(oids)[0][:, :-1], -1)
            slog = F.log_softmax(m(oids)[0][:, :-1], -1)
            ov = torch.cat([ovalid, ovalid])[:, 1:]
            kd = ((tlog.exp() * (tlog - slog)).sum(-1) * ov).sum() / ov.sum()
            loss = loss + a.kd * kd
            acc["kd"] = acc.get("kd", 0.0) + kd.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.tune == "codes":
            # Only the two safe codes and the safe α / b move.
            g = m.wte.weight.grad
            keep = torch.zeros_like(g)
            keep[code_rows] = g[code_rows]
            m.wte.weight.grad = keep
            for p in (log_alpha, bias):
                gg = torch.zeros_like(p.grad)
                gg[SAFE] = p.grad[SAFE]
                p.grad = gg
        else:
            for p in (log_alpha, bias):  # documented / typed keep their α and b
                gg = torch.zeros_like(p.grad)
                gg[SAFE] = p.grad[SAFE]
                p.grad = gg
            torch.nn.utils.clip_grad_norm_(list(m.parameters()) + [log_alpha, bias], 1.0)
        opt.step()
        tune["step"] += 1
        tune["examples"] += B
        acc["gen"] += gen.item()
        acc["disc"] += disc.item()
        acc["n"] += 1
        if time.time() - last >= a.log_every:
            n = max(1, acc["n"])
            print(f"pairs: step {tune['step']} {(tune['elapsed'] + time.time() - start) / 60:.1f} min gen {acc['gen'] / n:.3f} "
                  f"disc {acc['disc'] / n:.3f} kd {acc.get('kd', 0.0) / n:.4f} alpha {log_alpha.exp()[SAFE].item():.2f} b {bias[SAFE].item():.2f}", flush=True)
            acc = {"gen": 0.0, "disc": 0.0, "n": 0}
            last = time.time()
    tune["elapsed"] += time.time() - start
    after = check(m, log_alpha.detach(), bias.detach(), vpairs, codes, pad, a)
    print("val pair test after:", json.dumps(after), flush=True)
    tune["check_before"], tune["check_after"] = before, after
    tune["args"] = vars(a)
    tune["pairs"] = {s: len(data[s]["pairs"]) for s in ("train", "val")}
    out = dict(ck)
    out.update({"model": m.state_dict(), "log_alpha": log_alpha.data, "bias": bias.data, "state": state,
                "safe_pairs": tune, "opt_pairs": opt.state_dict()})
    torch.save(out, a.ckpt + ".tmp")
    os.replace(a.ckpt + ".tmp", a.ckpt)
    print(f"pairs: saved {a.ckpt} at step {tune['step']} ({tune['elapsed'] / 60:.1f} min)", flush=True)


if __name__ == "__main__":
    main()
