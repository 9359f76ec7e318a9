"""ONNX export of a training checkpoint (owns: the shipped model folder models/trellis-code-tiny).

Writes, in the transformers.js / optimum decoder-with-past layout:
  onnx/model.onnx          inputs input_ids[b,s] attention_mask[b,past+s] position_ids[b,s]
                           past_key_values.{i}.key|value[b,heads,past,head_dim];
                           outputs logits[b,s,vocab], present.{i}.key|value
  config.json, generation_config.json, tokenizer.json, tokenizer_config.json
and then checks the ONNX graph with onnxruntime-node against torch (tools/train/verify_onnx.cjs):
full forward logits, incremental decoding with past == full forward, left-padded batch == unpadded.

Usage: python3 tools/train/export.py [--ckpt tools/train/work/ckpt/last.pt] [--out models/trellis-code-tiny]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(REPO, "models", "trellis-code-tiny")
DEFAULT_CKPT = os.path.join(HERE, "work", "ckpt", "last.pt")

import bpe as bpe_mod  # noqa: E402

OPSET = 14


def export_onnx(model, path: str) -> None:
    import torch
    from model import OnnxWrapper
    cfg = model.cfg
    wrapper = OnnxWrapper(model).eval()
    B, S, P = 2, 3, 2
    ids = torch.randint(0, cfg.vocab_size, (B, S))
    mask = torch.ones(B, P + S, dtype=torch.long)
    pos = torch.arange(P, P + S).unsqueeze(0).expand(B, S).contiguous()
    past = []
    for _ in range(cfg.n_layer):
        past += [torch.randn(B, cfg.n_head, P, cfg.head_dim), torch.randn(B, cfg.n_head, P, cfg.head_dim)]
    in_names = ["input_ids", "attention_mask", "position_ids"]
    out_names = ["logits"]
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(cfg.n_layer):
        for kv in ("key", "value"):
            n_in, n_out = f"past_key_values.{i}.{kv}", f"present.{i}.{kv}"
            in_names.append(n_in)
            out_names.append(n_out)
            dyn[n_in] = {0: "batch_size", 2: "past_sequence_length"}
            dyn[n_out] = {0: "batch_size", 2: "past_sequence_length + sequence_length"}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(wrapper, (ids, mask, pos, *past), path, input_names=in_names, output_names=out_names,
                          dynamic_axes=dyn, opset_version=OPSET,
                          # No folding: initializers keep the torch names (eval_bpb.py reads the
                          # weights back from the ONNX file); onnxruntime folds the transposes itself.
                          do_constant_folding=False)
    import onnx
    onnx.checker.check_model(onnx.load(path))


def write_configs(cfg, out: str, meta: dict) -> None:
    sid = bpe_mod.special_id
    eot = sid("<|endoftext|>")
    config = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": cfg.vocab_size,
        "n_layer": cfg.n_layer, "num_hidden_layers": cfg.n_layer,
        "n_head": cfg.n_head, "num_attention_heads": cfg.n_head, "num_key_value_heads": cfg.n_head,
        "n_embd": cfg.d_model, "hidden_size": cfg.d_model, "head_dim": cfg.head_dim,
        "n_inner": cfg.d_ff, "intermediate_size": cfg.d_ff,
        "n_positions": cfg.max_pos, "max_position_embeddings": cfg.max_pos, "n_ctx": cfg.max_pos,
        "activation_function": "gelu", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
        "bos_token_id": eot, "eos_token_id": eot, "pad_token_id": sid("<fim_pad>"),
        "torch_dtype": "float32", "use_cache": True,
        "trellis": {
            "name": "trellis-code-tiny",
            "languages": ["python", "javascript", "typescript"],
            "position_ids": "absolute learned positions; pass cumsum(attention_mask)-1 for left padding",
            "fim": {
                "prefix": "<fim_prefix>", "suffix": "<fim_suffix>", "middle": "<fim_middle>",
                "pad": "<fim_pad>", "eot": "<|endoftext|>", "file_sep": "<|file_sep|>",
                "ids": {"prefix": sid("<fim_prefix>"), "suffix": sid("<fim_suffix>"), "middle": sid("<fim_middle>"),
                        "pad": sid("<fim_pad>"), "eot": eot, "file_sep": sid("<|file_sep|>")},
                "modes": {"psm": "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
                          "spm": "<fim_suffix>{suffix}<fim_prefix>{prefix}<fim_middle>"},
                "default_mode": "psm",
            },
            # The first middle token after <fim_middle> barely depends on the context at this size
            # (end-of-text ~0.15, then single letters ~0.02 each, after `fd = os.` as after
            # `return self.`), while a left-to-right prompt predicts `path` 0.29: Trellis prompts
            # left to right and lets the grammar make the completion fit the code after the cursor.
            "prompt_layout": "plain",
            "control_codes": ["<|documented|>", "<|undocumented|>", "<|typed|>", "<|untyped|>", "<|safe|>", "<|unsafe|>"],
            "training": meta,
        },
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    gen = {"bos_token_id": eot, "eos_token_id": eot, "pad_token_id": sid("<fim_pad>"),
           "max_new_tokens": 64, "do_sample": False}
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)


def dump_reference(model, path: str, seed: int = 0) -> None:
    """Torch logits for a fixed token sequence, for verify_onnx.cjs."""
    import torch
    enc = bpe_mod.Encoder.load(os.path.join(bpe_mod.TOK_DIR, "tokenizer.json"))
    text_a = "def add(a, b):\n    \"\"\"Return the sum.\"\"\"\n    return a + b\n\nclass Point:\n    def __init__(self, x, y):\n"
    text_b = "const total = items.reduce((acc, x) => acc + x, 0);\n"
    a, b = enc.encode(text_a), enc.encode(text_b)
    with torch.no_grad():
        la, _ = model(torch.tensor([a]))
        lb, _ = model(torch.tensor([b]))
    with open(path, "w") as f:
        json.dump({"a": {"ids": a, "logits": la[0].tolist()}, "b": {"ids": b, "logits": lb[0].tolist()},
                   "n_layer": model.cfg.n_layer, "n_head": model.cfg.n_head, "head_dim": model.cfg.head_dim,
                   "vocab_size": model.cfg.vocab_size}, f)


def load_checkpoint(path: str):
    import torch
    from model import GPT, GPTConfig
    st = torch.load(path, map_location="cpu")
    cfg = GPTConfig(**st["cfg"])
    model = GPT(cfg)
    model.load_state_dict(st["model"])
    model.eval()
    return model, st


def main(argv=None):
    ap = argparse.ArgumentParser(description="Export a checkpoint to the model folder")
    ap.add_argument("--ckpt", default=DEFAULT_CKPT)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--tokenizer-dir", default=bpe_mod.TOK_DIR)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-verify", action="store_true")
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    model, st = load_checkpoint(a.ckpt)
    meta = {"checkpoint_step": st["step"], "training_tokens": st["tokens"],
            "training_minutes": round(st["elapsed"] / 60, 1), "finished": bool(st.get("finished")),
            "parameters": model.num_params(), "non_embedding_parameters": model.num_params(True),
            "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    os.makedirs(a.out, exist_ok=True)
    onnx_path = os.path.join(a.out, "onnx", "model.onnx")
    tmp_path = onnx_path + ".tmp.onnx"
    export_onnx(model, tmp_path)
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(a.tokenizer_dir, fn), os.path.join(a.out, fn))
    write_configs(model.cfg, a.out, meta)
    if not a.no_verify:
        ref = os.path.join(HERE, "work", "onnx_reference.json")
        dump_reference(model, ref)
        r = subprocess.run(["node", os.path.join(HERE, "verify_onnx.cjs"), tmp_path, ref],
                           cwd=REPO, capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        if r.returncode != 0:
            raise RuntimeError("ONNX verification failed; model folder left unchanged:\n" + r.stderr[-3000:] + r.stdout[-2000:])
    os.replace(tmp_path, onnx_path)
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(a.out) for f in fs)
    print(f"export: {a.out} ({size / 1e6:.1f} MB), step {st['step']}, {st['tokens']} tokens", flush=True)


if __name__ == "__main__":
    main()
