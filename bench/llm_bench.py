#!/usr/bin/python3
"""Baseline for bench/llm_bench.cc: the same model (saved by `llm_bench --save DIR`) in PyTorch
eager (Debian python3-torch), fp32, with a KV cache; same prompt, decode and training shapes, same
optimizer (AdamW, weight decay 0 as LmTrainSpec's default, clipping at 1.0, zero_grad with
set_to_none) and the same timing (median step after one warm-up step). `--precision bf16` trains
the way a PyTorch user mixes precision: fp32 weights and optimizer, forward and loss under
torch.autocast(bfloat16) (the C++ side's `--precision bf16`: fp32 masters, matmuls in bf16).

  /usr/bin/python3 bench/llm_bench.py DIR [--prompt 128 --decode 64 --train-batch 4 --train-seq 128
                                           --train-steps 5 --threads 1 --clock wall|cpu
                                           --precision fp32|bf16]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "ml", "reference"))
import llama_ref  # noqa: E402  (safetensors reader, rope)


class Llama(torch.nn.Module):
    def __init__(self, cfg, W):
        super().__init__()
        self.cfg = cfg
        self.W = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(v.float()) for k, v in W.items()})
        self.nh, self.nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.hd = cfg.get("head_dim") or cfg["hidden_size"] // self.nh
        self.inv = llama_ref.inv_freq(cfg, 1).float()

    def w(self, name):
        return self.W[name.replace(".", "__")]

    def rms(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg["rms_norm_eps"]))

    def forward(self, ids, cache=None, past=0):
        B, T = ids.shape
        x = F.embedding(ids, self.w("model.embed_tokens.weight"))
        pos = torch.arange(past, past + T, dtype=torch.float32)
        f = torch.outer(pos, self.inv)
        emb = torch.cat((f, f), -1)
        cos, sin = emb.cos(), emb.sin()
        S = past + T
        mask = torch.full((T, S), float("-inf")).triu(past + 1)
        rh = llama_ref.rotate_half
        for l in range(self.cfg["num_hidden_layers"]):
            p = "model.layers.%d." % l
            h = self.rms(x, self.w(p + "input_layernorm.weight"))
            q = F.linear(h, self.w(p + "self_attn.q_proj.weight")).view(B, T, self.nh, self.hd).transpose(1, 2)
            k = F.linear(h, self.w(p + "self_attn.k_proj.weight")).view(B, T, self.nkv, self.hd).transpose(1, 2)
            v = F.linear(h, self.w(p + "self_attn.v_proj.weight")).view(B, T, self.nkv, self.hd).transpose(1, 2)
            q, k = q * cos + rh(q) * sin, k * cos + rh(k) * sin
            if cache is not None:
                if l in cache:
                    k = torch.cat((cache[l][0], k), 2)
                    v = torch.cat((cache[l][1], v), 2)
                cache[l] = (k, v)
            rep = self.nh // self.nkv
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            a = torch.softmax(q @ k.transpose(-1, -2) * self.hd ** -0.5 + mask, -1) @ v
            x = x + F.linear(a.transpose(1, 2).reshape(B, T, -1), self.w(p + "self_attn.o_proj.weight"))
            h = self.rms(x, self.w(p + "post_attention_layernorm.weight"))
            g = F.silu(F.linear(h, self.w(p + "mlp.gate_proj.weight"))) * F.linear(h, self.w(p + "mlp.up_proj.weight"))
            x = x + F.linear(g, self.w(p + "mlp.down_proj.weight"))
        x = self.rms(x, self.w("model.norm.weight"))
        head = self.w("model.embed_tokens.weight") if self.cfg.get("tie_word_embeddings") else self.w("lm_head.weight")
        return F.linear(x, head)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--train-batch", type=int, default=4)
    ap.add_argument("--train-seq", type=int, default=128)
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    a = ap.parse_args()
    now = time.process_time if a.clock == "cpu" else time.time
    torch.set_num_threads(a.threads)
    cfg, W = llama_ref.load_dir(a.dir)
    m = Llama(cfg, W)
    V = cfg["vocab_size"]
    ids = torch.tensor([[(i * 7919) % V for i in range(a.prompt)]])

    def generate(n):
        with torch.no_grad():
            cache = {}
            logits = m(ids, cache, 0)
            past = a.prompt
            for _ in range(n):
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                logits = m(nxt, cache, past)
                past += 1

    generate(0)
    t0 = now(); generate(0); prefill = now() - t0
    t0 = now(); generate(a.decode); dec = now() - t0 - prefill
    data = torch.tensor([[(b * 131 + i * 31) % V for i in range(a.train_seq)] for b in range(a.train_batch)])
    opt = torch.optim.AdamW(m.parameters(), lr=2e-4, weight_decay=0.0)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits = m(data[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, V), data[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        return loss.item()

    first_loss = step()  # the loss of the untouched model (before any update)
    times = []
    for _ in range(a.train_steps):
        t0 = now()
        last_loss = step()
        times.append(now() - t0)
    n = sum(p.numel() for p in m.parameters())
    print(json.dumps({"params": n, "threads": a.threads, "prefill_tok_s": round(a.prompt / prefill, 1),
                      "decode_tok_s": round(a.decode / dec, 1),
                      "train_tok_s": round(a.train_batch * a.train_seq / statistics.median(times), 1),
                      "first_loss": round(first_loss, 6), "last_loss": round(last_loss, 6)}))


if __name__ == "__main__":
    main()
