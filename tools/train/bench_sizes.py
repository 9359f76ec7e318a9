"""Throughput of candidate model sizes on this machine (owns: the size measurement in the model card).

Usage: python3 tools/train/bench_sizes.py [--threads 2] [--steps 4]
Prints params and training tokens/s (forward+backward+AdamW) per config, random tokens, and
writes tools/train/work/bench_sizes.json (read by model_card.py).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train.py: spinning OpenMP workers starve OpenBLAS

CONFIGS = [  # (d_model, n_layer, n_head, ctx, batch)
    (192, 4, 4, 512, 8),
    (256, 4, 4, 512, 8),
    (256, 6, 4, 512, 8),
    (256, 4, 4, 256, 16),
    (320, 4, 5, 512, 8),
    (384, 4, 6, 512, 8),
]


def main():
    import torch
    from model import GPT, GPTConfig
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    results = []
    for d, L, H, ctx, B in CONFIGS:
        m = GPT(GPTConfig(vocab_size=4096, n_layer=L, n_head=H, d_model=d, max_pos=ctx))
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        x = torch.randint(0, 4096, (B, ctx))
        times = []
        for i in range(a.steps + 1):
            t = time.time()
            logits, _ = m(x)
            loss = torch.nn.functional.cross_entropy(logits.view(-1, 4096), x.view(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i:
                times.append(time.time() - t)
        tps = B * ctx / (sum(times) / len(times))
        print(f"d_model {d} n_layer {L} n_head {H} ctx {ctx} batch {B}: params {m.num_params()/1e6:.2f}M "
              f"(non-emb {m.num_params(True)/1e6:.2f}M) train {tps:.0f} tok/s", flush=True)
        results.append({"d_model": d, "n_layer": L, "n_head": H, "ctx": ctx, "batch": B, "params": m.num_params(),
                        "non_embedding": m.num_params(True), "tokens_per_s": tps})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "work", "bench_sizes.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"threads": a.threads, "steps": a.steps, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
