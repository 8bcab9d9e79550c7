#!/usr/bin/env python3
"""A custom sskai training command (python3 standard library only).

Trains a softmax regression on a CSV dataset (last column = class label) with plain SGD and
follows the sskai worker contract (docs/jobs.md):

  SSKAI_DATASET_FILE / SSKAI_DATA_DIR   the dataset
  SSKAI_CHECKPOINT_DIR                  where checkpoints go (announced on stdout)
  SSKAI_RESUME_CHECKPOINT               the checkpoint to resume from, when relaunched
  SSKAI_OUTPUT_DIR                      the model goes to $SSKAI_OUTPUT_DIR/model
  SSKAI_NOTICE_FILE / SIGTERM           preemption notice: checkpoint at the next step, exit 75
  SSKAI_HYPERPARAMETERS                 the job's "hyperparameters" object as JSON

stdout protocol:  sskai:metric step=N loss=X     sskai:checkpoint step=N path=FILE
"""
import csv
import json
import math
import os
import random
import signal
import sys

EXIT_PREEMPTED = 75
noticed = False


def on_sigterm(signum, frame):
    global noticed
    noticed = True


def notice_given():
    path = os.environ.get("SSKAI_NOTICE_FILE", "")
    return noticed or (path and os.path.exists(path))


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], [r for r in rows[1:] if r]
    labels = sorted({r[-1] for r in rows})
    x = [[float(v) for v in r[:-1]] for r in rows]
    # Standardize features so plain SGD behaves.
    cols = list(zip(*x))
    mean = [sum(c) / len(c) for c in cols]
    std = [max(1e-6, math.sqrt(sum((v - m) ** 2 for v in c) / len(c))) for c, m in zip(cols, mean)]
    x = [[(v - m) / s for v, m, s in zip(r, mean, std)] for r in x]
    y = [labels.index(r[-1]) for r in rows]
    return x, y, labels


def save_atomic(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    hp = json.loads(os.environ.get("SSKAI_HYPERPARAMETERS", "{}") or "{}")
    steps = int(hp.get("steps", 300))
    lr = float(hp.get("learning_rate", 0.1))
    every = int(hp.get("checkpoint_every", 50))
    step_delay = float(hp.get("step_delay", 0))  # slows the demo down to watch preemptions
    x, y, labels = load(os.environ["SSKAI_DATASET_FILE"])
    k, d = len(labels), len(x[0])
    state = {"step": 0, "w": [[0.0] * (d + 1) for _ in range(k)], "rng": None}
    rng = random.Random(int(hp.get("seed", 42)))
    resume = os.environ.get("SSKAI_RESUME_CHECKPOINT")
    if resume and os.path.exists(resume):
        with open(resume) as f:
            state = json.load(f)
        rng.setstate(tuple(tuple(v) if isinstance(v, list) else v for v in state["rng"]))
        print(f"resumed at step {state['step']}", flush=True)
    ckpt_dir = os.environ["SSKAI_CHECKPOINT_DIR"]

    def checkpoint():
        state["rng"] = rng.getstate()
        path = os.path.join(ckpt_dir, f"ckpt-{state['step']}.json")
        save_atomic(path, state)
        print(f"sskai:checkpoint step={state['step']} path={path}", flush=True)
        for old in sorted(os.listdir(ckpt_dir)):  # keep the last two
            if old.startswith("ckpt-") and old.endswith(".json"):
                n = int(old[5:-5])
                if n < state["step"] - every:
                    os.remove(os.path.join(ckpt_dir, old))

    w = state["w"]
    while state["step"] < steps:
        if notice_given():  # step boundary: checkpoint and leave
            checkpoint()
            sys.exit(EXIT_PREEMPTED)
        i = rng.randrange(len(x))
        xi = x[i] + [1.0]
        logits = [sum(wj * xj for wj, xj in zip(row, xi)) for row in w]
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        probs = [e / total for e in exps]
        loss = -math.log(max(probs[y[i]], 1e-12))
        for c in range(k):
            g = probs[c] - (1.0 if c == y[i] else 0.0)
            w[c] = [wj - lr * g * xj for wj, xj in zip(w[c], xi)]
        state["step"] += 1
        if state["step"] % 10 == 0:
            print(f"sskai:metric step={state['step']} loss={loss:.6f}", flush=True)
        if state["step"] % every == 0:
            checkpoint()
        if step_delay:
            import time
            time.sleep(step_delay)
    correct = sum(
        1 for xi, yi in zip(x, y)
        if max(range(k), key=lambda c: sum(wj * xj for wj, xj in zip(w[c], xi + [1.0]))) == yi)
    print(f"sskai:metric step={state['step']} train_accuracy={correct / len(x):.4f}", flush=True)
    save_atomic(os.path.join(os.environ["SSKAI_OUTPUT_DIR"], "model"),
                {"kind": "softmax-regression", "labels": labels, "weights": w})


if __name__ == "__main__":
    main()
