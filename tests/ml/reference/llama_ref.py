#!/usr/bin/python3
"""Independent reference for sskai's LM engine (tests only).

Follows the equations of Hugging Face transformers' modeling_llama / modeling_qwen2 /
modeling_qwen3 and modeling_rope_utils, in float64, with torch (Debian python3-torch) but without
transformers or the safetensors package: the safetensors reader/writer here is written from the
format description (u64 LE header length, JSON header, data buffer).

  llama_ref.py make OUTDIR VARIANT...   tiny random models (OUTDIR/VARIANT: config.json, safetensors,
                                        expected.json with ids and reference logits)
  llama_ref.py logits MODELDIR IDS_JSON OUT_JSON   reference logits of a model dir
  llama_ref.py dump FILE.safetensors   JSON summary {name: {dtype, shape, sum, values[:4]}}
"""
import json
import math
import os
import struct
import sys

import torch

DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
      "I64": torch.int64, "I32": torch.int32}
DT_NAME = {v: k for k, v in DT.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    assert (8 + n) % 8 == 0, "header not padded to 8 bytes"
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        raw = bytearray(data[b:end])
        t = torch.frombuffer(raw, dtype=DT[e["dtype"]]) if raw else torch.empty(0, dtype=DT[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    header, chunks, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype in (torch.bfloat16, torch.float16) else t.numpy().tobytes()
        header[name] = {"dtype": DT_NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def load_dir(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    weights = {}
    if os.path.exists(idx):
        with open(idx) as f:
            for shard in sorted(set(json.load(f)["weight_map"].values())):
                weights.update(read_safetensors(os.path.join(d, shard))[0])
    else:
        weights = read_safetensors(os.path.join(d, "model.safetensors"))[0]
    with open(os.path.join(d, "config.json")) as f:
        return json.load(f), {k: v.to(torch.float64) for k, v in weights.items()}


def inv_freq(cfg, seq_len):
    dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    base = cfg.get("rope_theta", 10000.0)
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "dynamic" and seq_len > cfg["max_position_embeddings"]:
        f = rs["factor"]
        base = base * ((f * seq_len / cfg["max_position_embeddings"]) - (f - 1)) ** (dim / (dim - 2))
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float64) / dim))
    if kind == "linear":
        inv = inv / rs["factor"]
    if kind == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > lo_wl, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wavelen < hi_wl) * ~(wavelen > lo_wl)
        inv = torch.where(medium, smoothed, inv_l)
    return inv


def rms(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, W, ids):
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    hd = cfg.get("head_dim") or H // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    mt = cfg.get("model_type", "llama")
    qkv_bias = mt == "qwen2" or cfg.get("attention_bias", False)
    o_bias = mt in ("llama", "mistral") and cfg.get("attention_bias", False)
    T = len(ids)
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq(cfg, T))
    emb = torch.cat((freqs, freqs), -1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)

    def lin(v, p, bias):
        y = v @ W[p + ".weight"].T
        return y + W[p + ".bias"] if bias else y

    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = rms(x, W[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj", qkv_bias).view(T, nh, hd)
        k = lin(h, p + "self_attn.k_proj", qkv_bias).view(T, nkv, hd)
        v = lin(h, p + "self_attn.v_proj", qkv_bias).view(T, nkv, hd)
        if mt == "qwen3":
            q = rms(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rms(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = nh // nkv
        k = k[:, None].expand(nkv, rep, T, hd).reshape(nh, T, hd)
        v = v[:, None].expand(nkv, rep, T, hd).reshape(nh, T, hd)
        a = torch.softmax(q @ k.transpose(1, 2) * hd ** -0.5 + causal, dim=-1) @ v
        x = x + lin(a.transpose(0, 1).reshape(T, nh * hd), p + "self_attn.o_proj", o_bias)
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        g = lin(h, p + "mlp.gate_proj", False)
        x = x + lin(torch.nn.functional.silu(g) * lin(h, p + "mlp.up_proj", False), p + "mlp.down_proj", False)
    x = rms(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else W["lm_head.weight"]
    return x @ head.T


VARIANTS = {
    # GQA (4 q heads, 2 kv heads) + llama3 rope scaling, untied, sharded, f32.
    "llama3_gqa": dict(model_type="llama", num_attention_heads=4, num_key_value_heads=2,
                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
                       shards=2),
    # Linear scaling, bf16 weights on disk, llama attention_bias (q/k/v/o biases).
    "llama_linear_bf16": dict(model_type="llama", num_attention_heads=4, num_key_value_heads=4, attention_bias=True,
                              rope_scaling={"type": "linear", "factor": 2.0}, dtype="BF16"),
    # Dynamic NTK, input longer than max_position_embeddings so the base changes.
    "llama_dynamic": dict(model_type="llama", num_attention_heads=4, num_key_value_heads=1,
                          rope_scaling={"type": "dynamic", "factor": 2.0}, max_position_embeddings=24, ids=40),
    # Qwen2: q/k/v bias, tied embeddings, f16 on disk.
    "qwen2_tied": dict(model_type="qwen2", num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                       dtype="F16"),
    # Qwen3: per-head q/k RMSNorm, explicit head_dim != hidden/heads.
    "qwen3_qknorm": dict(model_type="qwen3", num_attention_heads=4, num_key_value_heads=2, head_dim=12),
}


def make(variant, out):
    v = dict(VARIANTS[variant])
    torch.manual_seed(sum(map(ord, variant)))
    cfg = {"model_type": v.pop("model_type"), "vocab_size": 97, "hidden_size": 32, "intermediate_size": 48,
           "num_hidden_layers": 2, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "max_position_embeddings": v.pop("max_position_embeddings", 64),
           "tie_word_embeddings": v.pop("tie_word_embeddings", False)}
    shards, dtype, n_ids = v.pop("shards", 1), v.pop("dtype", "F32"), v.pop("ids", 20)
    cfg.update(v)
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv, hd = cfg["num_key_value_heads"], cfg.get("head_dim") or H // nh
    bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    shapes = {"model.embed_tokens.weight": (97, H), "model.norm.weight": (H,)}
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (97, H)
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        shapes.update({p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
                       p + "self_attn.q_proj.weight": (nh * hd, H), p + "self_attn.k_proj.weight": (nkv * hd, H),
                       p + "self_attn.v_proj.weight": (nkv * hd, H), p + "self_attn.o_proj.weight": (H, nh * hd),
                       p + "mlp.gate_proj.weight": (48, H), p + "mlp.up_proj.weight": (48, H),
                       p + "mlp.down_proj.weight": (H, 48)})
        if bias:
            shapes.update({p + "self_attn.q_proj.bias": (nh * hd,), p + "self_attn.k_proj.bias": (nkv * hd,),
                           p + "self_attn.v_proj.bias": (nkv * hd,)})
            if cfg["model_type"] == "llama":
                shapes[p + "self_attn.o_proj.bias"] = (H,)
        if cfg["model_type"] == "qwen3":
            shapes.update({p + "self_attn.q_norm.weight": (hd,), p + "self_attn.k_norm.weight": (hd,)})
    W = {}
    for name, shape in sorted(shapes.items()):
        if name.endswith("norm.weight"):
            t = 1.0 + 0.1 * torch.randn(shape)
        else:
            t = 0.15 * torch.randn(shape)
        W[name] = t.to(DT[dtype])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    names = sorted(W)
    if shards == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), W, {"format": "pt"})
    else:
        wmap = {}
        per = (len(names) + shards - 1) // shards
        for s in range(shards):
            fname = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
            part = {n: W[n] for n in names[s * per:(s + 1) * per]}
            write_safetensors(os.path.join(out, fname), part, {"format": "pt"})
            wmap.update({n: fname for n in part})
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": wmap}, f)
    ids = torch.randint(0, 97, (n_ids,), generator=torch.Generator().manual_seed(7)).tolist()
    logits = forward(cfg, {k: t.to(torch.float64) for k, t in W.items()}, ids)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"ids": ids, "logits": logits.flatten().tolist()}, f)


def main():
    cmd = sys.argv[1]
    if cmd == "make":
        for variant in sys.argv[3:]:
            make(variant, os.path.join(sys.argv[2], variant))
    elif cmd == "logits":
        cfg, W = load_dir(sys.argv[2])
        with open(sys.argv[3]) as f:
            ids = json.load(f)
        with open(sys.argv[4], "w") as f:
            json.dump({"logits": forward(cfg, W, ids).flatten().tolist()}, f)
    elif cmd == "dump":
        tensors, meta = read_safetensors(sys.argv[2])
        out = {"__metadata__": meta}
        for name, t in tensors.items():
            tf = t.to(torch.float64).flatten()
            out[name] = {"dtype": DT_NAME[t.dtype], "shape": list(t.shape), "sum": float(tf.sum()),
                         "values": tf[:4].tolist()}
        print(json.dumps(out))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
