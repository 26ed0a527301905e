"""scikit-learn reference timings for the data written by the logistic_speed example.

    GRAFT_DUMP=/tmp/synth cargo run --release -p graft-heads --example logistic_speed
    python3 crates/heads/examples/logistic_speed_sklearn.py /tmp/synth

Needs numpy and scikit-learn. Fits LogisticRegression(C, lbfgs, tol=1e-4, max_iter=1000) on
standardised features, best of 3 wall times, and a 5-fold LogisticRegressionCV over the same
C grid as graft's default (accuracy scoring).
"""
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

prefix = sys.argv[1] if len(sys.argv) > 1 else "/tmp/synth"
x = np.fromfile(prefix + ".x", dtype="<f4").reshape(-1, 1280)
y = np.fromfile(prefix + ".y", dtype=np.uint8).astype(np.int64)
n = len(y) // 2
scaler = StandardScaler().fit(x[:n])
xtr, xte = scaler.transform(x[:n]).astype(np.float32), scaler.transform(x[n:]).astype(np.float32)
ytr, yte = y[:n], y[n:]

for c in [0.01, 0.1, 1.0]:
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        m = LogisticRegression(C=c, tol=1e-4, max_iter=1000).fit(xtr, ytr)
        best = min(best, time.perf_counter() - t)
    p = m.predict_proba(xte)
    ll = -np.mean(np.log(np.clip(p[np.arange(len(yte)), yte], 1e-15, 1)))
    print(f"C={c:<5} sklearn lbfgs {best:6.3f}s  iters {m.n_iter_[0]:4d}  "
          f"acc {(m.predict(xte) == yte).mean():.4f}  log-loss {ll:.4f}")

t = time.perf_counter()
cv = LogisticRegressionCV(Cs=list(10.0 ** np.arange(-4, 3)), cv=StratifiedKFold(5, shuffle=True, random_state=0),
                          tol=1e-4, max_iter=1000, n_jobs=2).fit(xtr, ytr)
print(f"LogisticRegressionCV (7 Cs x 5 folds, n_jobs=2): {time.perf_counter() - t:.2f}s, "
      f"chosen C={cv.C_[0]:.1e}, test acc {(cv.predict(xte) == yte).mean():.4f}")
