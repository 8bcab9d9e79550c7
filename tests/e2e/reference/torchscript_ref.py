#!/usr/bin/python3
"""Reference models for tests/e2e/torchscript_test.cc (Debian python3-torch).

Usage: torchscript_ref.py OUT_DIR
Writes scripted and traced TorchScript models (an MLP and a small CNN), fixed inputs with
PyTorch's outputs for them (refs.json), a pickled eager model and a legacy pickle (which sskai
must refuse), and a small 3-class CSV for fine-tuning (train.csv).
`torchscript_ref.py --check MODEL.pt CSV` prints the loaded module's mean loss on the CSV (the
trained model must load in Python).
"""
import json
import os
import sys

import torch
import torch.nn as nn


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(torch.flatten(x, 1))


def rows(t):
    return [[float(v) for v in r] for r in t.reshape(t.shape[0], -1).tolist()]


def main(out):
    torch.manual_seed(7)
    os.makedirs(out, exist_ok=True)
    refs = {}
    mlp = Mlp().eval()
    cnn = Cnn().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        cnn.bn.running_mean.uniform_(-0.5, 0.5)
        cnn.bn.running_var.uniform_(0.5, 2.0)
    x_mlp = torch.randn(5, 4)
    x_cnn = torch.rand(3, 1, 8, 8)
    for name, model, x in (("mlp", mlp, x_mlp), ("cnn", cnn, x_cnn)):
        scripted = torch.jit.script(model)
        traced = torch.jit.trace(model, x)
        scripted.save(os.path.join(out, name + "_scripted.pt"))
        traced.save(os.path.join(out, name + "_traced.pt"))
        with torch.no_grad():
            y = model(x)
        refs[name] = {"input": x.tolist(), "output": y.tolist(),
                      "probabilities": torch.softmax(y.double(), 1).tolist()}
    torch.save(mlp, os.path.join(out, "eager_pickle.pt"))
    torch.save(mlp.state_dict(), os.path.join(out, "legacy_pickle.pt"), _use_new_zipfile_serialization=False)
    with open(os.path.join(out, "refs.json"), "w") as f:
        json.dump(refs, f)
    # Three separable classes in 4 features.
    g = torch.Generator().manual_seed(3)
    centers = torch.tensor([[2.0, 0, 0, 1], [-2.0, 1, 0, -1], [0.0, -2, 2, 0]])
    names = ["setosa", "versicolor", "virginica"]
    with open(os.path.join(out, "train.csv"), "w") as f:
        f.write("f0,f1,f2,f3,species\n")
        for i in range(240):
            c = i % 3
            v = centers[c] + 0.7 * torch.randn(4, generator=g)
            f.write(",".join("%.5f" % float(a) for a in v) + "," + names[c] + "\n")


def check(model_path, csv_path):
    m = torch.jit.load(model_path)
    m.eval()
    names = ["setosa", "versicolor", "virginica"]
    xs, ys = [], []
    with open(csv_path) as f:
        next(f)
        for line in f:
            p = line.strip().split(",")
            xs.append([float(a) for a in p[:4]])
            ys.append(names.index(p[4]))
    with torch.no_grad():
        loss = nn.functional.cross_entropy(m(torch.tensor(xs)), torch.tensor(ys))
    print("%.6f" % float(loss))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1])
