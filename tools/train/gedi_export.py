"""GeDi model export (owns: models/trellis-gedi-tiny — ONNX graph, config, tokenizer copy, manifest).

Same folder layout and ONNX I/O as the default model (optimum decoder-with-past: input_ids,
attention_mask, position_ids, past_key_values.{i}.key|value → logits, present.{i}.key|value), so
the engine loads it with the same runtime. `trellis-attributes.json` is the steering manifest:
attributes, descriptions, control codes, default / max weights, window W, α and class bias b.

Usage: python3 tools/train/gedi_export.py [--ckpt work/gedi/ckpt.pt] [--out models/trellis-gedi-tiny]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(os.path.dirname(HERE))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from label_attrs import ATTRIBUTES  # noqa: E402
from model import GPT, GPTConfig, OnnxWrapper  # noqa: E402
import gedi_data  # noqa: E402

CKPT = os.path.join(HERE, "work", "gedi", "ckpt.pt")
OUT = os.path.join(REPO, "models", "trellis-gedi-tiny")
# Slider defaults: off by default (ω = 0 is exactly unsteered decoding); range from the eval.
DEFAULT_WEIGHT = 0.0
MAX_WEIGHT = 8.0


def write_card(ckpt_path: str = CKPT, out: str = OUT, eval_report: str | None = None, note: str | None = None) -> None:
    """Rewrites README.md only (model card: data, accuracy, and optionally the eval-steering table)."""
    ck = torch.load(ckpt_path)
    cfg = GPTConfig(**ck["cfg"])
    with open(os.path.join(out, "trellis-attributes.json")) as f:
        manifest = json.load(f)
    report_path = os.path.join(HERE, "work", "gedi", "report.json")
    report = json.load(open(report_path)) if os.path.exists(report_path) else None
    card = model_card(cfg, ck, manifest, report)
    if eval_report:
        card += eval_section(json.load(open(eval_report)))
    if note:
        card += "\n" + open(note).read().strip() + "\n"
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(card)
    print(f"gedi_export: wrote {out}/README.md")


def eval_section(r: dict) -> str:
    o = r["options"]
    names = list(r["rows"][0]["rates"].keys())
    lines = ["", "## Steering effect (`node dist/cli.js eval-steering`)", "",
             f"Base model: {r['model']} (the export present when this was measured). Speeds were measured on a",
             "2-core machine shared with model training: ratios are from interleaved runs, absolute tok/s are low.", "",
             f"{r['prompts']} held-out prompts (a file up to a `def name(` line), k = {o['weight']}, "
             f"T = {o['temperature']}, top-p {o['topP']}, max {o['maxTokens']} tokens (no end before {o.get('minTokens', 0)}), "
             f"grammar {o['grammar']}, suffix {o.get('suffix', 'none')}, seed {o['seed']}; "
             "rates by the same labeller over the completions it finds a function in; base ll/tok = the base "
             "model's mean log-likelihood per completion token."
             + (f" Rows marked [api]: {r['apiPrompts']} held-out functions whose original body calls os/subprocess/"
                "pickle/yaml/marshal/shelve/tempfile/importlib/… or eval/exec (where an unsafe call is plausible)."
                if r.get("apiPrompts") else ""), "",
             "| setting | " + " | ".join(f"{n} %" for n in names) + " | base ll/tok | tok/s | × unsteered |",
             "|---|" + "---|" * (len(names) + 3)]
    lines[-2] = lines[-2].replace(" | base ll/tok", " | labelled | base ll/tok")
    lines[-1] = "|---|" + "---|" * (len(names) + 4)
    for row in r["rows"]:
        rates = " | ".join("—" if row["rates"][n] is None else f"{100 * row['rates'][n]:.0f}" for n in names)
        fx = lambda x, d: "—" if x is None else f"{x:.{d}f}"  # noqa: E731  (NaN is null in JSON)
        lines.append(f"| {row['setting']} | {rates} | {row['labelled']}/{row['completions']} | {fx(row['baseLogLikPerToken'], 2)} | {fx(row['decodeTokensPerSecond'], 1)} | {fx(row['speedVsUnsteered'], 2)} |")
    lines += ["", "Swing (+k − −k): " + ", ".join(f"{a} {v:+.0f} pp" for a, v in r["swingPp"].items())
              + f"; two attributes at +k run at {r['overheadRatio']:.2f} × the unsteered tokens/s.", ""]
    return "\n".join(lines)


def export(ckpt_path: str = CKPT, out: str = OUT, opset: int = 14) -> None:
    ck = torch.load(ckpt_path)
    cfg = GPTConfig(**ck["cfg"])
    model = GPT(cfg)
    model.load_state_dict(ck["model"])
    model.eval()
    args = ck["args"]
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    wrapper = OnnxWrapper(model)
    B, S, P = 2, 3, 4
    ids = torch.randint(0, cfg.vocab_size, (B, S))
    mask = torch.ones(B, P + S, dtype=torch.long)
    pos = torch.arange(P, P + S).unsqueeze(0).expand(B, S)
    past = []
    names_in = ["input_ids", "attention_mask", "position_ids"]
    names_out = ["logits"]
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"},
           "position_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    for i in range(cfg.n_layer):
        for kv in ("key", "value"):
            past.append(torch.randn(B, cfg.n_head, P, cfg.head_dim))
            n_in, n_out = f"past_key_values.{i}.{kv}", f"present.{i}.{kv}"
            names_in.append(n_in)
            names_out.append(n_out)
            dyn[n_in] = {0: "batch", 2: "past"}
            dyn[n_out] = {0: "batch", 2: "total"}
    onnx_path = os.path.join(out, "onnx", "model.onnx")
    with torch.no_grad():
        torch.onnx.export(wrapper, (ids, mask, pos, *past), onnx_path, input_names=names_in, output_names=names_out,
                          dynamic_axes=dyn, opset_version=opset, do_constant_folding=True)
        ref = wrapper(ids, mask, pos, *past)[0].numpy()
    _check_onnx(onnx_path, ids, mask, pos, past, ref)

    tok = gedi_data.tokenizer_path()
    shutil.copy(tok, os.path.join(out, "tokenizer.json"))
    tok_cfg = os.path.join(os.path.dirname(tok), "tokenizer_config.json")
    if os.path.exists(tok_cfg):
        shutil.copy(tok_cfg, os.path.join(out, "tokenizer_config.json"))
    from bpe import Encoder
    enc = Encoder.load(tok)
    config = {
        "name": "trellis-gedi-tiny",
        "model_type": "trellis-gpt",
        "architectures": ["TrellisGPT"],
        "vocab_size": cfg.vocab_size,
        "n_layer": cfg.n_layer,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "hidden_size": cfg.d_model,
        "head_dim": cfg.head_dim,
        "intermediate_size": cfg.d_ff,
        "max_position_embeddings": cfg.max_pos,
        "eos_token_id": enc.special["<|endoftext|>"],
        "torch_dtype": "float32",
        "trellis": {"role": "gedi-discriminator", "languages": ["python"]},
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    alpha = ck["log_alpha"].exp().tolist()
    bias = ck["bias"].tolist()
    attrs = []
    for i, (name, a) in enumerate(ATTRIBUTES.items()):
        attrs.append({
            "name": name, "description": a.description, "language": "python",
            "positiveCode": a.positive_code, "negativeCode": a.negative_code,
            "defaultWeight": DEFAULT_WEIGHT, "maxWeight": MAX_WEIGHT,
            "alpha": round(alpha[i], 5), "classBias": round(bias[i], 5),
        })
    manifest = {
        "format": "trellis-attributes/1",
        "method": "GeDi (Krause et al. 2020): class-conditional LM as a generative discriminator",
        "window": int(args["window"]),
        "contextTokens": int(args["ctx_tokens"]),
        "filter": {"rho": 0.2, "tau": 0.8},
        "attributes": attrs,
        "labeller": "tools/train/label_attrs.py (training) = src/engine/steering/labels.ts (evaluation)",
        "training": {"steps": ck["state"]["step"], "examples": ck["state"]["examples"],
                     "minutes": round(ck["state"]["elapsed"] / 60, 1), "lambda": args["lam"]},
    }
    with open(os.path.join(out, "trellis-attributes.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    report_path = os.path.join(HERE, "work", "gedi", "report.json")
    report = json.load(open(report_path)) if os.path.exists(report_path) else None
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(model_card(cfg, ck, manifest, report))
    print(f"gedi_export: wrote {out} (step {ck['state']['step']})")


def model_card(cfg, ck, manifest, report) -> str:
    st = ck["state"]
    args = ck["args"]
    n_params = sum(v.numel() for k, v in ck["model"].items())
    lines = [
        "# trellis-gedi-tiny",
        "",
        "A class-conditional code LM used as a generative discriminator (GeDi, Krause et al. 2020) to",
        "steer Trellis completions towards or away from attributes of Python functions. It shares the",
        "tokenizer of `models/trellis-code-tiny` (control codes are its special tokens) and the same",
        "ONNX decoder-with-past layout. Attributes, codes, default weights, the window W, α and the",
        "class bias b are in `trellis-attributes.json`.",
        "",
        "## Attributes (labelled automatically: `tools/train/label_attrs.py`, Python `ast`)",
        "",
        "| attribute | c+ / c− | rule |",
        "|---|---|---|",
        "| documented | `<|documented|>` / `<|undocumented|>` | docstring, or a `#` comment from the `def` line to the last statement |",
        "| typed | `<|typed|>` / `<|untyped|>` | every parameter except a leading self/cls annotated, and a return annotation |",
        "| safe | `<|safe|>` / `<|unsafe|>` | no eval/exec, os.system/popen/exec*/spawn*, pickle/marshal/dill loads, subprocess shell=True, yaml.load without SafeLoader, dynamic `__import__`, … |",
        "",
        "The engine labels generated code with the same rules (`src/engine/steering/labels.ts`, tree-sitter;",
        "`test/unit/steering/labels.test.ts` checks that both labellers agree on real files).",
        "",
        "## Model",
        "",
        f"Decoder (tools/train/model.py GPT): {cfg.n_layer} layers, d_model {cfg.d_model}, {cfg.n_head} heads, "
        f"context {cfg.max_pos}, vocabulary {cfg.vocab_size}; {n_params:,} parameters (tied embeddings).",
        "",
        "## Training (`python3 tools/train/gedi_train.py`, then `gedi_export.py`)",
        "",
        f"- Loss: λ·generative + (1−λ)·discriminative, λ = {args['lam']}; the discriminative term is the",
        f"  windowed posterior the engine uses (W = {args['window']} tokens), BCE at every function position;",
        "  α and b learned per attribute.",
        f"- Example: [control code] + up to {args['ctx_tokens']} tokens of the text before the function + the function,",
        f"  cut to {args['ctx']} positions (long unsafe functions are cut around their first unsafe call).",
        "  Attribute and class drawn uniformly per example (balanced; the rare unsafe class is oversampled).",
        f"- {st['step']} steps × batch {args['batch']} = {st['examples']:,} examples, {st['tokens']:,} row-tokens",
        f"  (both codes), {st['elapsed'] / 60:.0f} min on 1 CPU thread, AdamW lr {args['lr']}, cosine to 10%.",
        "",
    ]
    if report:
        d = report["data"]
        lines += [
            "## Data",
            "",
            "Function units (top-level functions and methods of top-level classes) of the Python files of",
            "the default model's TRAINING split (`tools/train/corpus.py`: /usr/lib/python3.11 and",
            "/usr/lib/python3/dist-packages, Debian bookworm), deduplicated by text, plus unsafe units mined",
            "from the CPython 3.11.7 test suite under /root/.pyenv (files named like a held-out file skipped).",
            "10% of the training files (by path hash) are kept out as the discriminator's validation split.",
            "",
            "| split | units | documented +/− | typed +/− | safe +/− |",
            "|---|---|---|---|---|",
        ]
        for split in ("train", "val", "heldout"):
            c = d.get(split, {})
            lines.append(f"| {split} | {c.get('units', 0):,} | {c.get('documented=+', 0):,} / {c.get('documented=-', 0):,} | "
                         f"{c.get('typed=+', 0):,} / {c.get('typed=-', 0):,} | {c.get('safe=+', 0):,} / {c.get('safe=-', 0):,} |")
        lines += [f"", f"({d.get('mined_unsafe', 0)} of the unsafe units are mined; {d.get('duplicate', 0)} duplicates dropped.)", ""]
        lines += [
            "## Held-out discriminator accuracy",
            "",
            f"Balanced samples (up to {report['args'].get('eval_per_class', 100)} per class), never trained on. `full`: the classic GeDi classifier",
            "(length-normalised log-likelihood ratio over the whole function, + b); `window`: the posterior the",
            "engine computes while decoding (last W tokens), averaged over every position of the function.",
            "",
            "| split | attribute | n (positives) | full | window |",
            "|---|---|---|---|---|",
        ]
        for split in ("val", "heldout"):
            for attr, r in report[split].items():
                lines.append(f"| {split} | {attr} | {r['n']} ({r['positives']}) | {100 * r['acc_full']:.1f}% | {100 * r['acc_window']:.1f}% |")
        lines += ["", "`heldout` is the default model's held-out split (only 3 unsafe functions there, hence `val`).", ""]
    lines += [
        "## Use",
        "",
        "`node dist/cli.js complete --attr documented=4 --attr safe=3 …`; sliders in the sidebar.",
        "ω = 0 disables an attribute (exactly unsteered decoding); ω < 0 steers to the negative code.",
        "Measured effect: `node dist/cli.js eval-steering` (see the project README for the numbers).",
        "",
    ]
    return "\n".join(lines)


def _check_onnx(path, ids, mask, pos, past, ref):
    try:
        import onnx
        onnx.checker.check_model(onnx.load(path))
    except ImportError:
        pass
    try:
        import onnxruntime as ort  # not on every machine; the TS tests check the graph too
    except ImportError:
        return
    sess = ort.InferenceSession(path)
    feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "position_ids": pos.numpy()}
    for i, p in enumerate(past):
        feeds[f"past_key_values.{i // 2}.{'key' if i % 2 == 0 else 'value'}"] = p.numpy()
    got = sess.run(["logits"], feeds)[0]
    err = float(np.abs(got - ref).max())
    assert err < 1e-3, f"ONNX logits differ from torch by {err}"


def main(argv=None):
    ap = argparse.ArgumentParser(description="Export the GeDi model folder")
    ap.add_argument("--ckpt", default=CKPT)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--card-only", action="store_true", help="rewrite README.md only")
    ap.add_argument("--eval-report", help="eval-steering --json output to include in the model card")
    ap.add_argument("--note", help="a markdown file appended to the model card (e.g. notes on other checkpoints)")
    a = ap.parse_args(argv)
    if a.card_only:
        write_card(a.ckpt, a.out, a.eval_report, a.note)
    else:
        export(a.ckpt, a.out)
        if a.eval_report or a.note:
            write_card(a.ckpt, a.out, a.eval_report, a.note)


if __name__ == "__main__":
    main()
