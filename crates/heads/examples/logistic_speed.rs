//! Timing of the logistic head on a synthetic problem shaped like cached CNN features.
//!
//! 2,000 training and 2,000 test rows, 1,280 features, 10 classes: class means in a 32-d latent
//! space, mapped through a random linear layer, ReLU and per-feature scales (non-negative,
//! correlated, heavy-ish tailed, like pooled EfficientNet features).
//!
//! ```text
//! cargo run --release -p graft-heads --example logistic_speed
//! GRAFT_DUMP=/tmp/synth cargo run --release -p graft-heads --example logistic_speed
//! ```
//!
//! With `GRAFT_DUMP=PREFIX` the raw data is written to `PREFIX.x` (little-endian f32, 4,000 x
//! 1,280, train rows first) and `PREFIX.y` (one byte per row) for
//! `examples/logistic_speed_sklearn.py`, which times scikit-learn on the same data.

use std::time::Instant;

use graft_heads::{
    Backend, Dataset, HeadError, LogisticConfig, LogisticModel, LogisticParams, Precision,
    SplitMix64, Standardizer, TrainedLogistic,
};
use linfa::traits::Fit;
use ndarray::Array2;

/// Fits at a fixed `C` on all of `train`.
fn fit_fixed_c(
    train: &Dataset,
    c: f64,
    cfg: &LogisticConfig,
) -> Result<TrainedLogistic, HeadError> {
    LogisticParams::new()
        .config(cfg.clone())
        .c(c)
        .fit(&train.to_linfa())
}

/// Chooses `C` by cross-validation, then fits on all of `train`.
fn fit_cv(train: &Dataset, cfg: &LogisticConfig) -> Result<TrainedLogistic, HeadError> {
    LogisticParams::new()
        .config(cfg.clone())
        .fit(&train.to_linfa())
}

fn synthetic(n: usize, d: usize, k: usize, seed: u64) -> (Array2<f32>, Vec<usize>) {
    let r = 32;
    let mut g = SplitMix64::new(seed);
    let means: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..r).map(|_| g.normal() * 0.6).collect())
        .collect();
    let a: Vec<f64> = (0..d * r).map(|_| g.normal() / (r as f64).sqrt()).collect();
    let bias: Vec<f64> = (0..d).map(|_| g.normal() * 0.5).collect();
    let scale: Vec<f64> = (0..d).map(|_| (g.normal() * 0.5).exp()).collect();
    let mut x = Array2::zeros((n, d));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k;
        y.push(c);
        let z: Vec<f64> = means[c].iter().map(|m| m + g.normal()).collect();
        for j in 0..d {
            let pre: f64 = bias[j]
                + 0.5 * g.normal()
                + a[j * r..(j + 1) * r]
                    .iter()
                    .zip(&z)
                    .map(|(w, v)| w * v)
                    .sum::<f64>();
            x[[i, j]] = (pre.max(0.0) * scale[j]) as f32;
        }
    }
    (x, y)
}

fn evaluate(model: &LogisticModel, scaler: &Option<Standardizer>, test: &Dataset) -> (f64, f64) {
    let x = match scaler {
        Some(s) => s
            .transform(test.x.view())
            .unwrap_or_else(|_| test.x.clone()),
        None => test.x.clone(),
    };
    let Ok(p) = model.predict_proba(x.view()) else {
        return (f64::NAN, f64::NAN);
    };
    let mut correct = 0;
    let mut ll = 0.0;
    for (row, &t) in p.rows().into_iter().zip(&test.y) {
        let best = (0..row.len())
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0);
        correct += usize::from(best == t);
        ll -= (row[t] as f64).max(1e-15).ln();
    }
    let n = test.y.len() as f64;
    (correct as f64 / n, ll / n)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n, d, k) = (2000, 1280, 10);
    let t = Instant::now();
    let (x, y) = synthetic(2 * n, d, k, 42);
    println!(
        "data: {n} train + {n} test rows, {d} features, {k} classes (generated in {:.2}s, {} rayon threads)",
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    if let Ok(prefix) = std::env::var("GRAFT_DUMP") {
        let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(format!("{prefix}.x"), bytes)?;
        std::fs::write(
            format!("{prefix}.y"),
            y.iter().map(|&c| c as u8).collect::<Vec<u8>>(),
        )?;
        println!("wrote {prefix}.x and {prefix}.y");
    }
    let classes: Vec<String> = (0..k).map(|c| format!("class{c}")).collect();
    let all = Dataset::new(x, y, classes)?;
    let train = all.subset(&(0..n).collect::<Vec<_>>());
    let test = all.subset(&(n..2 * n).collect::<Vec<_>>());

    println!("\nsingle fits (best of 3 wall times; accuracy / log-loss on the test rows):");
    for c in [0.01, 0.1, 1.0] {
        for (name, precision, backend) in [
            ("native f32", Precision::F32, Backend::Native),
            ("native f64", Precision::F64, Backend::Native),
            ("linfa-logistic f32", Precision::F32, Backend::LinfaLogistic),
        ] {
            let cfg = LogisticConfig {
                precision,
                backend,
                ..Default::default()
            };
            let mut best = f64::INFINITY;
            let mut last = None;
            for _ in 0..3 {
                let t = Instant::now();
                let trained = fit_fixed_c(&train, c, &cfg)?;
                best = best.min(t.elapsed().as_secs_f64());
                last = Some(trained);
            }
            if let Some(tr) = last {
                let (acc, ll) = evaluate(&tr.model, &tr.scaler, &test);
                println!(
                    "  C={c:<5} {name:<19} {best:>6.3}s  iters {:>4}  max|grad| {:.1e}  objective {:.6}  acc {acc:.4}  log-loss {ll:.4}",
                    tr.info.iterations, tr.info.grad_max, tr.info.objective
                );
            }
        }
    }

    println!("\nC search (default config: 5-fold CV over C = 1e-4..1e2, warm starts, refine):");
    let cfg = LogisticConfig::default();
    let t = Instant::now();
    let trained = fit_cv(&train, &cfg)?;
    let total = t.elapsed().as_secs_f64();
    if let Some(cv) = &trained.cv {
        for p in &cv.points {
            println!(
                "  C={:<9.3e} cv accuracy {:.4} +- {:.4}  cv log-loss {:.4}  mean iters {:>5.1}{}",
                p.c,
                p.mean_score,
                p.std_score,
                p.mean_log_loss,
                p.mean_iterations,
                if p.all_converged {
                    ""
                } else {
                    "  (not all converged)"
                }
            );
        }
        println!(
            "  chosen C={:.3e} ({} folds); CV {:.2}s, final fit {:.2}s ({} iters), total {total:.2}s",
            cv.best_c, cv.folds, cv.seconds, trained.info.seconds, trained.info.iterations
        );
    }
    let (acc, ll) = evaluate(&trained.model, &trained.scaler, &test);
    println!("  test accuracy {acc:.4}, test log-loss {ll:.4}");

    let full = LogisticConfig {
        patience: None,
        ..Default::default()
    };
    let t = Instant::now();
    let trained = fit_cv(&train, &full)?;
    let total = t.elapsed().as_secs_f64();
    if let Some(cv) = &trained.cv {
        let iters: Vec<String> = cv
            .points
            .iter()
            .map(|p| format!("{:.0e}:{:.0}", p.c, p.mean_iterations))
            .collect();
        println!(
            "\nC search without early stopping ({} candidates x {} folds; mean iters per C {}):\n  chosen C={:.3e}; CV {:.2}s, total {total:.2}s",
            cv.points.len(),
            cv.folds,
            iters.join(" "),
            cv.best_c,
            cv.seconds
        );
    }
    Ok(())
}
