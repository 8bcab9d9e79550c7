#!/usr/bin/python3
"""Baseline for the built-in models' accuracy: scikit-learn (Debian python3-sklearn) on the same
files, a standardized MLP with the same hidden sizes (128, 64) and the same 20 % held-out share
(scikit-learn's own seeded split, so the held-out rows differ from sskai's).
Usage: /usr/bin/python3 bench/accuracy_baseline.py"""
import time

from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

for name, loader in [("iris", load_iris), ("wine", load_wine),
                     ("breast_cancer", load_breast_cancer), ("digits", load_digits)]:
    x, y = loader(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42,
                                                        stratify=y)
    model = make_pipeline(StandardScaler(),
                          MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=500, random_state=42))
    start = time.perf_counter()
    model.fit(x_train, y_train)
    seconds = time.perf_counter() - start
    print(f"{name:14s} held-out accuracy {model.score(x_test, y_test):.4f}  fit {seconds:.2f} s")
