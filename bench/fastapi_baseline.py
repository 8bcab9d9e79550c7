#!/usr/bin/env python3
"""FastAPI + uvicorn + PyTorch baseline for bench/serving_bench.sh: serves the SAME model file as
an sskai endpoint (the sskai container: metadata JSON + libtorch archive of the weights), with the
same request/answer JSON as the replica's /predict, so both sides do identical work per request.

  python3 bench/fastapi_baseline.py MODEL_FILE PORT [--workers N] [--check]

Threads: one engine thread per process, as the sskai replica uses on 2 cores with 2 HTTP threads
(torch.set_num_threads(1), and OMP_NUM_THREADS=1 before torch loads, which also sizes
OpenBLAS's own pool; without it, OpenBLAS worker threads spin in sched_yield). Set
OMP_NUM_THREADS in the environment to try other values.

--check prints the answer for one row read from stdin and exits (the bench compares it with the
gateway's answer). Debian packages: python3-fastapi python3-uvicorn python3-torch.
"""
import io
import json
import os
import struct
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch (and OpenBLAS) load

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_container(path):
    data = open(path, "rb").read()
    if data[:8] != b"SSKAIMDL":
        raise SystemExit(path + ": not an sskai model container")
    pos = 12
    (meta_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    meta = json.loads(data[pos:pos + meta_len])
    pos += meta_len
    (payload_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    return meta, data[pos:pos + payload_len]


class Mlp(nn.Module):  # mirrors src/ml/nets.h MlpNet
    def __init__(self, c):
        super().__init__()
        sizes = [c["features"]] + list(c.get("hidden", []))
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.out = nn.Linear(sizes[-1], c["outputs"])

    def forward(self, x):
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.out(x)


class Cnn(nn.Module):  # mirrors src/ml/nets.h CnnNet
    def __init__(self, c, conv_bias=False):
        super().__init__()
        ch = c.get("channels", 1)
        self.ph, self.pw = min(c["height"] // 4, 7), min(c["width"] // 4, 7)
        self.register_buffer("pixel_mean", torch.zeros(1, ch, 1, 1))
        self.register_buffer("pixel_std", torch.ones(1, ch, 1, 1))
        # Models saved since the bias-free convolutions (conv → BatchNorm) have no conv bias.
        self.conv1 = nn.Conv2d(ch, 16, 3, padding=1, bias=conv_bias)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=conv_bias)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * self.ph * self.pw, 128)
        self.fc2 = nn.Linear(128, c["outputs"])

    def forward(self, x):
        x = (x / 255.0 - self.pixel_mean) / self.pixel_std
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        if x.shape[2] != self.ph or x.shape[3] != self.pw:
            x = F.adaptive_avg_pool2d(x, (self.ph, self.pw))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def load_model(path):
    meta, payload = read_container(path)
    c = meta["net"]
    archive = torch.jit.load(io.BytesIO(payload), map_location="cpu")
    saved = {k: v for k, v in archive.state_dict().items()}
    if c["kind"] == "cnn":
        net = Cnn(c, conv_bias="conv1.bias" in saved)
        state = saved
    else:
        net = Mlp(c)
        # libtorch names: fc0.., out.. -> hidden.0.., out..
        state = {}
        for k, v in saved.items():
            if k.startswith("fc"):
                idx, rest = k[2:].split(".", 1)
                state["hidden." + idx + "." + rest] = v
            else:
                state[k] = v
    net.load_state_dict(state, strict=True)
    net.eval()
    encoder = json.loads(meta["encoder_json"]) if meta.get("encoder_json") else None
    return meta, c, net, encoder


def make_predict(path):
    meta, c, net, encoder = load_model(path)
    classes = meta.get("classes", [])
    regression = meta.get("task") == "regression"

    def encode(body):
        rows = body
        if isinstance(body, dict):
            for key in ("instances", "inputs", "rows"):
                if key in body:
                    rows = body[key]
                    break
            else:
                rows = [body]
        if not isinstance(rows, list) or not rows:
            raise ValueError("expected a JSON array of rows or an object with \"instances\"")
        if c["kind"] == "mlp" and encoder:
            feats = []
            for r in rows:
                f = []
                for i, col in enumerate(encoder["columns"]):
                    v = r[col["name"]] if isinstance(r, dict) else r[i]
                    if col["type"] == "string":
                        f += [1.0 if v == cat else 0.0 for cat in col["categories"]]
                    else:
                        std = col["std"] or 1.0
                        f.append((float(v) - col["mean"]) / std)
                feats.append(f)
            return torch.tensor(feats, dtype=torch.float32)
        x = torch.tensor(rows, dtype=torch.float32)
        if c["kind"] == "cnn":
            return x.reshape(len(rows), c.get("channels", 1), c["height"], c["width"])
        return x.reshape(len(rows), c["features"])

    def predict(body):
        x = encode(body)
        with torch.no_grad():
            out = net(x)
        if regression:
            t = meta.get("target", {})
            return {"predictions": (out.squeeze(1).double() * t.get("std", 1.0) + t.get("mean", 0.0)).tolist()}
        probs = torch.softmax(out, 1).double()
        best = probs.argmax(1).tolist()
        return {"predictions": [classes[b] if b < len(classes) else str(b) for b in best],
                "probabilities": probs.tolist(), "classes": classes}

    return predict


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    if "--check" in sys.argv:
        print(json.dumps(make_predict(path)(json.loads(sys.stdin.read()))))
        return
    workers = int(sys.argv[sys.argv.index("--workers") + 1]) if "--workers" in sys.argv else 1
    import uvicorn
    os.environ["SSKAI_BASELINE_MODEL"] = path
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    uvicorn.run("fastapi_baseline:app", host="127.0.0.1", port=port, workers=workers,
                log_level="warning", access_log=False)


def create_app():
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    torch.set_num_threads(1)
    predict = make_predict(os.environ["SSKAI_BASELINE_MODEL"])
    app = FastAPI()

    @app.post("/predict")
    async def predict_route(request: Request):
        try:
            body = json.loads(await request.body())
            return JSONResponse(predict(body))
        except (ValueError, KeyError, RuntimeError, TypeError) as e:
            return JSONResponse({"error": {"code": "invalid_argument", "message": str(e)}}, status_code=400)

    return app


if __name__ == "__main__":
    main()
else:
    app = create_app()
