#!/usr/bin/python3
"""Predicted vs measured training time on this machine (issue 4: "say how good the model is").

Starts a real `sskai server` on a scratch data dir, and for each configuration: uploads a synthetic
tabular dataset, trains the MLP with fixed epochs, profiles the trained model (`POST .../profile`),
then asks the planner for the same run on `this-machine` twice: calibrated from the profile
("model": {...}) and with the default CPU efficiency (explicit params/tokens). Measured = the sum
of the job's per-epoch training seconds (what the planner's work time models; data loading and
evaluation excluded). Usage: bench/perf_model_check.py BUILD_DIR
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

CONFIGS = [  # rows, features, hidden, epochs, batch (features 0: Fashion-MNIST images, the CNN)
    (2000, 20, [128, 64], 40, 64),
    (8000, 50, [128, 64], 10, 64),
    (8000, 200, [256, 128], 8, 128),
    (20000, 30, [64], 6, 256),
    (6000, 0, [], 2, 64),
]
FASHION = "/usr/share/datasets/fashion-mnist"  # Debian dataset-fashion-mnist


def fashion_tar(items):
    """The first `items` training images and labels as an IDX tar (what `sskai data upload` takes)."""
    import gzip
    import io
    import struct
    import tarfile
    images = gzip.open(f"{FASHION}/train-images-idx3-ubyte.gz").read()
    labels = gzip.open(f"{FASHION}/train-labels-idx1-ubyte.gz").read()
    images = images[:4] + struct.pack(">I", items) + images[8:16] + images[16:16 + items * 784]
    labels = labels[:4] + struct.pack(">I", items) + labels[8:8 + items]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def call(base, token, method, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    binary = os.path.join(build, "apps/sskai/sskai")
    work = tempfile.mkdtemp(prefix="sskai-perfcheck-")
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen([binary, "server", "--listen", f"127.0.0.1:{port}", "--data-dir", work,
                               "--warm-pool", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if os.path.exists(os.path.join(work, "admin.token")):
                break
            time.sleep(0.1)
        time.sleep(0.3)
        token = open(os.path.join(work, "admin.token")).read().strip()
        rows_out = []
        for idx, (rows, feats, hidden, epochs, batch) in enumerate(CONFIGS):
            name = f"perf{idx}"
            if feats == 0:
                call(base, token, "POST", f"/v1/datasets/{name}/versions?filename={name}.tar",
                     raw=fashion_tar(rows))
                hyper = {"epochs": epochs, "batch_size": batch}
            else:
                rng = random.Random(idx)
                lines = [",".join([f"f{i}" for i in range(feats)] + ["y"])]
                for _ in range(rows):
                    xs = [rng.gauss(0, 1) for _ in range(feats)]
                    lines.append(",".join(f"{x:.4f}" for x in xs) + "," + ("a" if sum(xs[:5]) > 0 else "b"))
                call(base, token, "POST", f"/v1/datasets/{name}/versions?filename={name}.csv",
                     raw=("\n".join(lines) + "\n").encode())
                hyper = {"epochs": epochs, "batch_size": batch, "hidden": hidden}
            job = call(base, token, "POST", "/v1/jobs", {"dataset": name, "model": name, "hyperparameters": hyper})
            while True:
                j = call(base, token, "GET", f"/v1/jobs/{job['id']}")
                if j["state"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.5)
            if j["state"] != "succeeded":
                print(f"{name}: job {j['state']}: {j.get('reason')}", file=sys.stderr)
                continue
            metrics = call(base, token, "GET", f"/v1/jobs/{job['id']}/metrics?limit=1000")["items"]
            measured = sum(m["values"].get("seconds", 0) for m in metrics)
            profile = call(base, token, "POST", f"/v1/models/{name}/versions/1/profile",
                           {"batch_sizes": [1, batch], "repeats": 20})
            train_rows = int(rows * 0.8)
            calibrated = call(base, token, "POST", "/v1/plans", {
                "kind": "train", "deadline_hours": 24, "instance_types": ["this-machine"],
                "model": {"name": name, "samples": train_rows, "epochs": epochs}})
            default = call(base, token, "POST", "/v1/plans", {
                "kind": "train", "deadline_hours": 24, "instance_types": ["this-machine"],
                "workload": {"params": profile["parameters"], "tokens": train_rows * epochs,
                             "seq_len": 1, "micro_batch": batch, "precision": "fp32"}})
            pc = calibrated["best"]["work_hours"] * 3600
            pd = default["best"]["work_hours"] * 3600
            label = (f"{rows} Fashion-MNIST images, cnn" if feats == 0 else f"{rows}x{feats} mlp{hidden}")
            rows_out.append((f"{label} e{epochs} b{batch}", int(profile["parameters"]),
                             measured, pc, pc / measured if measured else 0, pd, pd / measured if measured else 0,
                             calibrated["cpu_efficiency"]))
        print("| configuration | params | measured s | predicted s (profile-calibrated) | ratio |"
              " predicted s (default efficiency) | ratio | calibrated efficiency |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows_out:
            print(f"| {r[0]} | {r[1]:,} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.3f} | {r[6]:.3f} | {r[7]:.4f} |")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
