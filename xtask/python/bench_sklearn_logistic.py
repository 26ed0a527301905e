#!/usr/bin/env python3
"""Reference logistic-regression head: scikit-learn fit time and accuracy.

Usage:
    python3 xtask/python/bench_sklearn_logistic.py --features X.npy --labels y.npy \
        [--test-features Xt.npy --test-labels yt.npy] [--C 1.0] [--cv] [--threads 1]
    python3 xtask/python/bench_sklearn_logistic.py --synthetic 4000x1280x10 [--cv]

Data: X.npy is a 2-D float array [n, d], y.npy a 1-D array of n labels (ints or
strings). Without --test-features/--test-labels, a fixed stratified split is made
(--test-fraction 0.2, --seed 0). --synthetic NxDxK makes a data set with
sklearn.datasets.make_classification instead (seeded; for smoke tests).

Default mode: StandardScaler fitted on the training part, then
LogisticRegression(solver="lbfgs", C, max_iter=1000). lbfgs fits the multinomial
(softmax) model for more than two classes; scikit-learn >= 1.8 has no `multi_class`
parameter any more, multinomial is what it always does. Reports the wall time of the
scaler fit and of the LR fit (best and median over --repeats), iterations used, and
train/test accuracy.

--cv mode: 5-fold StratifiedKFold (shuffled, --seed) grid search over
C in logspace(-4, 2, 7) of the pipeline StandardScaler -> LogisticRegression (the
scaler is refitted inside each fold), scored by accuracy, refitted on the whole
training part with the best C. Reports the wall time of the whole search (35 fits +
the refit), the mean CV accuracy per C, the best C and its test accuracy.

BLAS/OpenMP threads are limited to --threads (threadpoolctl); --jobs sets the grid
search's process parallelism (default 1, i.e. sequential).

Prints ONE JSON line with the results.
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import numpy as np
import sklearn
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

C_GRID = np.logspace(-4, 2, 7)  # 1e-4 ... 1e2
CV_FOLDS = 5


def die(msg):
    print(f"bench_sklearn_logistic.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def load_pair(x_path, y_path):
    for p in (x_path, y_path):
        if not p.is_file():
            die(f"{p}: no such file")
    x = np.load(x_path, allow_pickle=False)
    y = np.load(y_path, allow_pickle=False)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        die(f"want X [n,d] and y [n]; got {x.shape} and {y.shape}")
    return x, y


def synthetic(spec, seed):
    try:
        n, d, k = (int(v) for v in spec.lower().split("x"))
    except ValueError:
        die(f"--synthetic wants NxDxK, e.g. 4000x1280x10; got {spec!r}")
    # 32 informative dims, class_sep 2: 2500x1280x10 gives ~0.73 test accuracy, a task
    # neither trivial nor hopeless, so accuracy differences between heads show up.
    x, y = make_classification(n_samples=n, n_features=d, n_informative=min(d, 32),
                               n_redundant=0, n_classes=k, n_clusters_per_class=1,
                               class_sep=2.0, random_state=seed)
    return x.astype(np.float32), y


def make_lr(c, max_iter, tol):
    return LogisticRegression(solver="lbfgs", C=c, max_iter=max_iter, tol=tol)


def run_single(xtr, ytr, xte, yte, args):
    fit_scaler, fit_lr = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        scaler = StandardScaler().fit(xtr)
        t1 = time.perf_counter()
        ztr = scaler.transform(xtr)
        t2 = time.perf_counter()
        lr = make_lr(args.C, args.max_iter, args.tol).fit(ztr, ytr)
        t3 = time.perf_counter()
        fit_scaler.append(t1 - t0)
        fit_lr.append(t3 - t2)
    zte = scaler.transform(xte)
    return {
        "mode": "single",
        "C": args.C,
        "scaler_fit_seconds": round(min(fit_scaler), 4),
        "fit_seconds": round(min(fit_lr), 4),
        "fit_seconds_median": round(statistics.median(fit_lr), 4),
        "repeats": args.repeats,
        "n_iter": int(np.max(lr.n_iter_)),
        "converged": bool(np.max(lr.n_iter_) < args.max_iter),
        "train_accuracy": round(float(lr.score(ztr, ytr)), 5),
        "test_accuracy": round(float(lr.score(zte, yte)), 5),
    }


def run_cv(xtr, ytr, xte, yte, args):
    pipe = Pipeline([("scale", StandardScaler()),
                     ("lr", make_lr(1.0, args.max_iter, args.tol))])
    search = GridSearchCV(pipe, {"lr__C": C_GRID},
                          cv=StratifiedKFold(CV_FOLDS, shuffle=True, random_state=args.seed),
                          scoring="accuracy", n_jobs=args.jobs, refit=True)
    t0 = time.perf_counter()
    search.fit(xtr, ytr)
    dt = time.perf_counter() - t0
    means = search.cv_results_["mean_test_score"]
    return {
        "mode": "cv",
        "folds": CV_FOLDS,
        "C_grid": [float(c) for c in C_GRID],
        "cv_mean_accuracy": [round(float(m), 5) for m in means],
        "best_C": float(search.best_params_["lr__C"]),
        "best_cv_accuracy": round(float(search.best_score_), 5),
        "search_seconds": round(dt, 4),
        "fits": CV_FOLDS * len(C_GRID) + 1,
        "test_accuracy": round(float(search.score(xte, yte)), 5),
    }


def main():
    ap = argparse.ArgumentParser(description="scikit-learn logistic regression reference")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--features", type=pathlib.Path, help="X.npy [n, d]")
    src.add_argument("--synthetic", metavar="NxDxK", help="make_classification data instead")
    ap.add_argument("--labels", type=pathlib.Path, help="y.npy [n] (with --features)")
    ap.add_argument("--test-features", type=pathlib.Path)
    ap.add_argument("--test-labels", type=pathlib.Path)
    ap.add_argument("--test-fraction", type=float, default=0.2,
                    help="held-out share when no test files are given")
    ap.add_argument("--seed", type=int, default=0, help="split, CV shuffling, synthetic data")
    ap.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--cv", action="store_true", help="5-fold CV grid search over C")
    ap.add_argument("--repeats", type=int, default=1, help="fit repetitions (single mode)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads")
    ap.add_argument("--jobs", type=int, default=1, help="grid-search processes")
    args = ap.parse_args()

    if args.features is not None and args.labels is None:
        die("--features needs --labels")
    if (args.test_features is None) != (args.test_labels is None):
        die("give both --test-features and --test-labels, or neither")
    if args.repeats < 1:
        die("--repeats must be >= 1")

    if args.synthetic:
        x, y = synthetic(args.synthetic, args.seed)
        source = f"synthetic {args.synthetic}"
    else:
        x, y = load_pair(args.features, args.labels)
        source = str(args.features)
    if args.test_features is not None:
        xtr, ytr = x, y
        xte, yte = load_pair(args.test_features, args.test_labels)
        if xte.shape[1] != xtr.shape[1]:
            die(f"train has {xtr.shape[1]} features, test {xte.shape[1]}")
        split = "given"
    else:
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=args.test_fraction,
                                              stratify=y, random_state=args.seed)
        split = f"stratified test_fraction={args.test_fraction} seed={args.seed}"

    with threadpool_limits(limits=args.threads):
        res = (run_cv if args.cv else run_single)(xtr, ytr, xte, yte, args)

    out = {
        "bench": "sklearn_logistic",
        "data": source,
        "split": split,
        "n_train": int(len(xtr)),
        "n_test": int(len(xte)),
        "n_features": int(xtr.shape[1]),
        "n_classes": int(len(np.unique(ytr))),
        "dtype": str(xtr.dtype),
        "threads": args.threads,
        "max_iter": args.max_iter,
        "tol": args.tol,
        **res,
        "versions": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__},
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
