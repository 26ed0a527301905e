//! Multinomial logistic regression ("linear probe") with a cross-validated L2 strength.
//!
//! # Objective and the meaning of `C`
//!
//! For weights `W` (`d x K`), intercepts `b` (unpenalised) and per-sample weights `s_i` the
//! solver minimises exactly scikit-learn's `LogisticRegression(penalty="l2", C=C)` objective
//! (lbfgs solver, multinomial loss), in its mean form:
//!
//! ```text
//! (1 / S) * sum_i s_i * CE(softmax(x_i W + b), y_i)  +  ||W||^2 / (2 * C * S),   S = sum_i s_i
//! ```
//!
//! so a `C` found here means what it means in scikit-learn, and the gradient tolerance `tol`
//! is scikit-learn's (`max |gradient| <= tol` on this mean-scaled objective, default `1e-4`).
//! linfa-logistic minimises the *summed* loss `sum_i CE_i + alpha/2 ||W||^2`, which is
//! scikit-learn's objective divided by `C`; hence `alpha = 1 / C` for any number of samples
//! `n` (not `1 / (n C)`).
//!
//! # Solver
//!
//! Two backends implement linfa's [`Fit`] trait through [`LogisticRegression`]:
//!
//! * [`Backend::Native`] (default): L-BFGS (memory 10, Armijo backtracking with quadratic
//!   interpolation) on a fused loss-and-gradient that costs two GEMMs per evaluation, split
//!   over row blocks with rayon, with a per-row log-sum-exp and exact per-sample weights.
//! * [`Backend::LinfaLogistic`]: `linfa_logistic::MultiLogisticRegression` with
//!   `alpha = 1/C`. Kept for comparison. linfa-logistic 0.8.1 computes log-sum-exp with one
//!   max over the *whole* logit matrix and clamps row sums at `1e-15`, so as soon as some
//!   row's logits sit more than ~34.5 below the largest logit (weak penalties on separable
//!   features) its loss and gradient disagree and L-BFGS stalls far from the optimum; it also
//!   evaluates each gradient twice per iteration and cannot weight samples
//!   ([`ClassWeight::Balanced`] is refused with this backend).
//!
//! # Precision
//!
//! [`Precision::F32`] (default) runs the two GEMMs in `f32` and everything else (softmax,
//! loss, L-BFGS state) in `f64`; it is about twice as fast as [`Precision::F64`] and reaches
//! the same accuracy and log-loss to 3-4 digits on standardised features (see the
//! `logistic_speed` example).
//!
//! # Choosing `C`
//!
//! [`cross_validate`] runs stratified k-fold CV over a log grid (default
//! `10^-4 .. 10^2`, one point per decade) from the strongest to the weakest penalty. Every fold
//! is warm-started from its own solution at the previous `C`; folds run in parallel (rayon).
//! The search stops early once `patience` consecutive grid points score below the best, then
//! (optionally) refines with the two half-decade neighbours of the best `C`. The score is
//! accuracy, or balanced accuracy with [`ClassWeight::Balanced`], ties going to the lower
//! validation log-loss ([`Selection::Accuracy`], default), or the log-loss itself
//! ([`Selection::LogLoss`]). Each fold standardises with its own training rows. If a class has fewer
//! rows than `folds`, the number of folds drops to the smallest class count (recorded in
//! [`CvResult::folds`]); below 2 rows per class cross-validation is refused.

use std::collections::VecDeque;
use std::time::Instant;

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::{Fit, PredictInplace};
use ndarray::{s, Array1, Array2, ArrayBase, ArrayView2, Axis, Data, Ix2, NdFloat};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{HeadError, Result};
use crate::scaler::Standardizer;

/// Default grid of inverse regularisation strengths `C` (scikit-learn convention).
pub const DEFAULT_C_GRID: [f64; 7] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0];

/// How training rows are weighted in the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Every row counts once.
    #[default]
    None,
    /// Rows of class `c` get weight `n / (n_classes * count_c)` (scikit-learn's `"balanced"`).
    Balanced,
}

/// Floating-point type of the feature matrix inside the solver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// `f32` GEMMs, `f64` reductions and optimiser state.
    #[default]
    F32,
    /// `f64` throughout.
    F64,
}

/// What the `C` search maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Validation accuracy (balanced accuracy with [`ClassWeight::Balanced`]), ties broken by
    /// the lower log-loss. CLIP-style linear probes use this; it tends to favour strong
    /// penalties whose probabilities are poorly calibrated.
    #[default]
    Accuracy,
    /// Validation log-loss (lower is better): better-calibrated probabilities.
    LogLoss,
}

/// Which optimiser fits the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// This crate's L-BFGS (see the module docs).
    #[default]
    Native,
    /// `linfa_logistic::MultiLogisticRegression` (unweighted only; see the module docs).
    LinfaLogistic,
}

/// Hyper-parameters of a single fit at a fixed `C`; implements linfa's [`Fit`].
///
/// Targets are class indices `0..K`; every class must occur. Sample weights set on the linfa
/// dataset (`with_weights`) multiply the class weights.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression {
    /// Inverse L2 strength (scikit-learn's `C`), `> 0`.
    pub c: f64,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Maximum L-BFGS iterations.
    pub max_iter: usize,
    /// Stop when the largest gradient entry of the mean objective is below this.
    pub tol: f64,
    /// Floating-point type of the GEMMs.
    pub precision: Precision,
    /// Optimiser.
    pub backend: Backend,
    /// Optional starting point, `(d + 1) x K` (last row = intercepts).
    pub warm_start: Option<Array2<f64>>,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        LogisticRegression {
            c: 1.0,
            class_weight: ClassWeight::None,
            max_iter: 1000,
            tol: 1e-4,
            precision: Precision::F32,
            backend: Backend::Native,
            warm_start: None,
        }
    }
}

/// Convergence diagnostics of one fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitInfo {
    /// L-BFGS iterations (0 when the backend does not report them).
    pub iterations: usize,
    /// Loss-and-gradient evaluations (0 when the backend does not report them).
    pub evaluations: usize,
    /// Whether a convergence criterion (gradient or relative decrease) was met.
    pub converged: bool,
    /// Largest gradient entry of the mean objective at the solution.
    pub grad_max: f64,
    /// Mean objective at the solution.
    pub objective: f64,
    /// Wall time of the fit in seconds.
    pub seconds: f64,
}

/// A fitted multinomial logistic model: `softmax(x W + b)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// Weights, `n_features x n_classes`.
    #[serde(with = "crate::matrix")]
    pub weights: Array2<f32>,
    /// Intercepts, one per class.
    pub intercept: Vec<f32>,
    /// The `C` it was fitted with.
    pub c: f64,
}

/// Result of [`LogisticRegression::fit`]: the model and its diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticFit {
    /// The model.
    pub model: LogisticModel,
    /// Solver diagnostics.
    pub info: FitInfo,
}

impl LogisticModel {
    /// Input feature dimension.
    pub fn n_features(&self) -> usize {
        self.weights.nrows()
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.weights.ncols()
    }

    /// Checks internal shape consistency (used after deserialisation).
    pub fn validate(&self) -> Result<()> {
        if self.intercept.len() != self.weights.ncols() || self.weights.ncols() < 2 {
            return Err(HeadError::InvalidHeadFile(format!(
                "logistic weights are {}x{} but there are {} intercepts",
                self.weights.nrows(),
                self.weights.ncols(),
                self.intercept.len()
            )));
        }
        Ok(())
    }

    /// Logits `x W + b`.
    pub fn decision_function(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.validate()?;
        if x.ncols() != self.n_features() {
            return Err(HeadError::DimensionMismatch {
                expected: self.n_features(),
                got: x.ncols(),
            });
        }
        let mut h = x.dot(&self.weights);
        for mut row in h.rows_mut() {
            row.iter_mut()
                .zip(&self.intercept)
                .for_each(|(v, b)| *v += b);
        }
        Ok(h)
    }

    /// Class probabilities, one row per input row.
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        let mut h = self.decision_function(x)?;
        h.rows_mut().into_iter().for_each(softmax_inplace);
        Ok(h)
    }

    /// Parameters as a `(d + 1) x K` `f64` matrix (last row intercepts), for warm starts.
    pub fn theta(&self) -> Array2<f64> {
        let (d, k) = self.weights.dim();
        let mut t = Array2::zeros((d + 1, k));
        t.slice_mut(s![..d, ..])
            .assign(&self.weights.mapv(|v| v as f64));
        for (c, &b) in self.intercept.iter().enumerate() {
            t[[d, c]] = b as f64;
        }
        t
    }

    fn from_theta(theta: &Array2<f64>, c: f64) -> Self {
        let d = theta.nrows() - 1;
        LogisticModel {
            weights: theta.slice(s![..d, ..]).mapv(|v| v as f32),
            intercept: theta.row(d).iter().map(|&v| v as f32).collect(),
            c,
        }
    }
}

/// Numerically stable in-place softmax of one row (per-row max).
pub(crate) fn softmax_inplace(mut row: ndarray::ArrayViewMut1<f32>) {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for v in row.iter_mut() {
        *v = (*v - m).exp();
        sum += *v;
    }
    if sum > 0.0 {
        row.iter_mut().for_each(|v| *v /= sum);
    }
}

/// Predicts class indices through linfa's `Predict`.
///
/// # Panics
/// If `x` has the wrong width or the model is malformed (linfa's trait cannot return errors);
/// use [`LogisticModel::predict_proba`] for a fallible call.
impl<D: Data<Elem = f32>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for LogisticModel {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        assert_eq!(x.ncols(), self.n_features(), "feature dimension mismatch");
        assert_eq!(x.nrows(), y.len(), "target length mismatch");
        match self.decision_function(x.view()) {
            Ok(h) => {
                for (out, row) in y.iter_mut().zip(h.rows()) {
                    *out = argmax(row.iter().copied());
                }
            }
            Err(e) => panic!("cannot predict with this logistic model: {e}"),
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}

/// Index of the largest value (first one on ties; NaN never wins).
pub(crate) fn argmax(values: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

impl<D, T> Fit<ArrayBase<D, Ix2>, T, HeadError> for LogisticRegression
where
    D: Data<Elem = f32>,
    T: AsSingleTargets<Elem = usize>,
{
    type Object = LogisticFit;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<LogisticFit> {
        let x = dataset.records().view();
        let y: Vec<usize> = dataset.as_single_targets().to_vec();
        let n_classes = y.iter().max().map_or(0, |m| m + 1);
        let sample_weights = dataset.weights().map(|w| w.to_vec());
        fit_arrays(self, x, &y, n_classes, sample_weights.as_deref())
    }
}

/// Validates inputs and runs the chosen backend.
fn fit_arrays(
    p: &LogisticRegression,
    x: ArrayView2<f32>,
    y: &[usize],
    n_classes: usize,
    sample_weights: Option<&[f32]>,
) -> Result<LogisticFit> {
    if !(p.c.is_finite() && p.c > 0.0) {
        return Err(HeadError::InvalidParameter(format!(
            "C must be positive and finite, got {}",
            p.c
        )));
    }
    if !(p.tol.is_finite() && p.tol > 0.0) {
        return Err(HeadError::InvalidParameter(format!(
            "tol must be positive and finite, got {}",
            p.tol
        )));
    }
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(HeadError::EmptyDataset);
    }
    if x.nrows() != y.len() {
        return Err(HeadError::LabelCountMismatch {
            rows: x.nrows(),
            labels: y.len(),
        });
    }
    crate::dataset::check_finite(x)?;
    let mut counts = vec![0usize; n_classes];
    for (row, &c) in y.iter().enumerate() {
        match counts.get_mut(c) {
            Some(m) => *m += 1,
            None => {
                return Err(HeadError::ClassIndexOutOfRange {
                    row,
                    index: c,
                    n_classes,
                })
            }
        }
    }
    if n_classes < 2 {
        return Err(HeadError::TooFewClasses {
            found: n_classes,
            classes: (0..n_classes).map(|c| c.to_string()).collect(),
        });
    }
    if let Some(c) = counts.iter().position(|&m| m == 0) {
        return Err(HeadError::NotEnoughExamples {
            class: c.to_string(),
            count: 0,
            needed: 1,
            purpose: "fitting a logistic head (every class must occur)".into(),
        });
    }
    if let Some(w) = &p.warm_start {
        if w.dim() != (x.ncols() + 1, n_classes) || w.iter().any(|v| !v.is_finite()) {
            return Err(HeadError::InvalidParameter(format!(
                "warm start must be a finite {}x{} matrix, got {:?}",
                x.ncols() + 1,
                n_classes,
                w.dim()
            )));
        }
    }
    let weights = sample_weight_vector(y, &counts, p.class_weight, sample_weights)?;
    let start = Instant::now();
    let (theta, mut info) = match p.backend {
        Backend::Native => match p.precision {
            Precision::F32 => native_fit(x, y, n_classes, weights.as_deref(), p),
            Precision::F64 => {
                let x64 = x.mapv(|v| v as f64);
                native_fit(x64.view(), y, n_classes, weights.as_deref(), p)
            }
        },
        Backend::LinfaLogistic => {
            if weights.is_some() {
                return Err(HeadError::InvalidParameter(
                    "the linfa-logistic backend cannot weight samples; use Backend::Native".into(),
                ));
            }
            linfa_fit(x, y, n_classes, p)?
        }
    };
    info.seconds = start.elapsed().as_secs_f64();
    Ok(LogisticFit {
        model: LogisticModel::from_theta(&theta, p.c),
        info,
    })
}

/// Combined per-sample weights, or `None` when all are 1.
fn sample_weight_vector(
    y: &[usize],
    counts: &[usize],
    class_weight: ClassWeight,
    sample_weights: Option<&[f32]>,
) -> Result<Option<Vec<f64>>> {
    let n = y.len() as f64;
    let k = counts.len() as f64;
    let mut w: Option<Vec<f64>> = match class_weight {
        ClassWeight::None => None,
        ClassWeight::Balanced => Some(y.iter().map(|&c| n / (k * counts[c] as f64)).collect()),
    };
    if let Some(sw) = sample_weights {
        if sw.len() != y.len() || sw.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(HeadError::InvalidParameter(
                "sample weights must be finite, non-negative and one per row".into(),
            ));
        }
        let base = w.unwrap_or_else(|| vec![1.0; y.len()]);
        w = Some(base.iter().zip(sw).map(|(a, &b)| a * b as f64).collect());
    }
    if let Some(v) = &w {
        if v.iter().sum::<f64>() <= 0.0 {
            return Err(HeadError::InvalidParameter(
                "sample weights sum to zero".into(),
            ));
        }
    }
    Ok(w)
}

// ---------------------------------------------------------------------------------------------
// Native solver
// ---------------------------------------------------------------------------------------------

/// Element types the native objective can run its GEMMs in.
trait Gemm: NdFloat + Send + Sync {
    fn from64(v: f64) -> Self;
    fn to64(self) -> f64;
}

impl Gemm for f32 {
    fn from64(v: f64) -> Self {
        v as f32
    }
    fn to64(self) -> f64 {
        self as f64
    }
}

impl Gemm for f64 {
    fn from64(v: f64) -> Self {
        v
    }
    fn to64(self) -> f64 {
        self
    }
}

/// Mean-form weighted multinomial cross-entropy plus L2, evaluated with its gradient.
struct Objective<'a, 'b, F: Gemm> {
    x: ArrayView2<'a, F>,
    y: &'b [usize],
    /// Per-sample weights normalised to sum to 1 (`None`: uniform `1/n`).
    sw: Option<Vec<f64>>,
    k: usize,
    /// `1 / (C * S)`.
    l2: f64,
    /// Row blocks evaluated in parallel.
    blocks: Vec<std::ops::Range<usize>>,
}

impl<'a, 'b, F: Gemm> Objective<'a, 'b, F> {
    fn new(
        x: ArrayView2<'a, F>,
        y: &'b [usize],
        k: usize,
        weights: Option<&[f64]>,
        c: f64,
    ) -> Self {
        let n = x.nrows();
        let total: f64 = weights.map_or(n as f64, |w| w.iter().sum());
        let sw = weights.map(|w| w.iter().map(|v| v / total).collect());
        // Parallel row blocks only pay off for large matrices.
        let threads = rayon::current_num_threads().max(1);
        let n_blocks = if n * x.ncols() >= 1 << 18 {
            threads.min(n / 128).max(1)
        } else {
            1
        };
        let step = n.div_ceil(n_blocks);
        let blocks = (0..n_blocks)
            .map(|b| b * step..((b + 1) * step).min(n))
            .filter(|r| !r.is_empty())
            .collect();
        Objective {
            x,
            y,
            sw,
            k,
            l2: 1.0 / (c * total),
            blocks,
        }
    }

    fn dim(&self) -> usize {
        (self.x.ncols() + 1) * self.k
    }

    /// Returns the objective and writes its gradient (same layout as `theta`).
    fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (d, k) = (self.x.ncols(), self.k);
        let w = Array2::from_shape_fn((d, k), |(j, c)| F::from64(theta[j * k + c]));
        let b = &theta[d * k..];
        let inv_n = 1.0 / self.x.nrows() as f64;
        let block_eval = |r: &std::ops::Range<usize>| {
            let xb = self.x.slice(s![r.clone(), ..]);
            let mut h = xb.dot(&w);
            let mut loss = 0.0f64;
            let mut gb = vec![0.0f64; k];
            let mut z = vec![0.0f64; k];
            for (i, mut row) in h.axis_iter_mut(Axis(0)).enumerate() {
                let gi = r.start + i;
                let yi = self.y[gi];
                let si = self.sw.as_ref().map_or(inv_n, |s| s[gi]);
                let mut m = f64::NEG_INFINITY;
                for c in 0..k {
                    z[c] = row[c].to64() + b[c];
                    m = m.max(z[c]);
                }
                let sum: f64 = z.iter().map(|v| (v - m).exp()).sum();
                let lse = m + sum.ln();
                loss += si * (lse - z[yi]);
                for c in 0..k {
                    let p = (z[c] - lse).exp();
                    let dv = si * (p - if c == yi { 1.0 } else { 0.0 });
                    row[c] = F::from64(dv);
                    gb[c] += dv;
                }
            }
            let gw = xb.t().dot(&h);
            (loss, gw, gb)
        };
        let parts: Vec<_> = if self.blocks.len() > 1 {
            self.blocks.par_iter().map(block_eval).collect()
        } else {
            self.blocks.iter().map(block_eval).collect()
        };
        let mut loss = 0.0;
        grad.iter_mut().for_each(|g| *g = 0.0);
        for (l, gw, gb) in parts {
            loss += l;
            for (g, v) in grad[..d * k].iter_mut().zip(gw.iter()) {
                *g += v.to64();
            }
            for (g, v) in grad[d * k..].iter_mut().zip(&gb) {
                *g += v;
            }
        }
        let mut sq = 0.0;
        for (g, t) in grad[..d * k].iter_mut().zip(&theta[..d * k]) {
            *g += self.l2 * t;
            sq += t * t;
        }
        loss + 0.5 * self.l2 * sq
    }
}

fn native_fit<F: Gemm>(
    x: ArrayView2<F>,
    y: &[usize],
    k: usize,
    weights: Option<&[f64]>,
    p: &LogisticRegression,
) -> (Array2<f64>, FitInfo) {
    let obj = Objective::new(x, y, k, weights, p.c);
    let x0 = match &p.warm_start {
        Some(w) => w.iter().copied().collect(),
        None => vec![0.0; obj.dim()],
    };
    let (theta, info) = lbfgs(|t, g| obj.eval(t, g), x0, p.max_iter, p.tol);
    let theta = Array2::from_shape_vec((x.ncols() + 1, k), theta)
        .unwrap_or_else(|_| Array2::zeros((x.ncols() + 1, k)));
    (theta, info)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Limited-memory BFGS with an Armijo backtracking line search (quadratic interpolation).
///
/// Stops when `max |g| <= tol`, when the relative decrease of `f` drops below `64 * eps`
/// (scikit-learn's `ftol`), when the line search cannot decrease `f` even along the steepest
/// descent direction (precision limit), or after `max_iter` iterations.
fn lbfgs(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    mut x: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> (Vec<f64>, FitInfo) {
    const M: usize = 10;
    const C1: f64 = 1e-4;
    const MAX_LS: usize = 30;
    let ftol = 64.0 * f64::EPSILON;
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut evaluations = 1;
    let mut mem: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(M);
    let mut iterations = 0;
    let mut converged = max_abs(&g) <= tol;
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = [0.0; M];
    while !converged && iterations < max_iter {
        // Two-loop recursion: d = -H g.
        d.copy_from_slice(&g);
        for (i, (s, y, rho)) in mem.iter().enumerate().rev() {
            alpha[i] = rho * dot(s, &d);
            d.iter_mut().zip(y).for_each(|(q, yv)| *q -= alpha[i] * yv);
        }
        if let Some((s, y, _)) = mem.back() {
            let gamma = dot(s, y) / dot(y, y);
            d.iter_mut().for_each(|q| *q *= gamma);
        }
        for (i, (s, y, rho)) in mem.iter().enumerate() {
            let beta = rho * dot(y, &d);
            d.iter_mut()
                .zip(s)
                .for_each(|(r, sv)| *r += (alpha[i] - beta) * sv);
        }
        d.iter_mut().for_each(|v| *v = -*v);
        let mut gd = dot(&g, &d);
        if gd >= 0.0 || !gd.is_finite() {
            mem.clear();
            d.iter_mut().zip(&g).for_each(|(dv, gv)| *dv = -gv);
            gd = -dot(&g, &g);
        }
        let mut t = if mem.is_empty() {
            (1.0 / dot(&g, &g).sqrt()).min(1.0)
        } else {
            1.0
        };
        let mut accepted = false;
        for _ in 0..MAX_LS {
            x_new
                .iter_mut()
                .zip(&x)
                .zip(&d)
                .for_each(|((xn, xv), dv)| *xn = xv + t * dv);
            let f_new = f(&x_new, &mut g_new);
            evaluations += 1;
            if f_new.is_finite() && f_new <= fx + C1 * t * gd {
                accepted = true;
                iterations += 1;
                let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
                let yv: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
                let sy = dot(&s, &yv);
                if sy > 1e-12 * dot(&yv, &yv) && sy > 0.0 {
                    if mem.len() == M {
                        mem.pop_front();
                    }
                    mem.push_back((s, yv, 1.0 / sy));
                }
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                let f_prev = fx;
                fx = f_new;
                if max_abs(&g) <= tol || (f_prev - fx) <= ftol * f_prev.abs().max(fx.abs()).max(1.0)
                {
                    converged = true;
                }
                break;
            }
            // Minimiser of the quadratic through f(0), f'(0) and f(t), kept in [0.1t, 0.5t].
            let denom = 2.0 * (f_new - fx - gd * t);
            let t_q = -gd * t * t / denom;
            t = if t_q.is_finite() && denom > 0.0 {
                t_q.clamp(0.1 * t, 0.5 * t)
            } else {
                0.5 * t
            };
        }
        if !accepted {
            if mem.is_empty() {
                break; // no decrease even along -g: precision limit
            }
            mem.clear();
        }
    }
    let grad_max = max_abs(&g);
    (
        x,
        FitInfo {
            iterations,
            evaluations,
            converged: converged || grad_max <= tol,
            grad_max,
            objective: fx,
            seconds: 0.0,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// linfa-logistic backend
// ---------------------------------------------------------------------------------------------

fn linfa_fit(
    x: ArrayView2<f32>,
    y: &[usize],
    k: usize,
    p: &LogisticRegression,
) -> Result<(Array2<f64>, FitInfo)> {
    use linfa_logistic::MultiLogisticRegression;
    let n = x.nrows() as f64;
    let mut params = MultiLogisticRegression::<f32>::default()
        .alpha((1.0 / p.c) as f32)
        .max_iterations(p.max_iter as u64)
        // linfa checks the L2 norm of the summed gradient: n * tol is the closest analogue.
        .gradient_tolerance((n * p.tol) as f32);
    if let Some(w) = &p.warm_start {
        params = params.initial_params(w.mapv(|v| v as f32));
    }
    let targets = Array1::from(y.to_vec());
    let fitted = params.fit(&DatasetBase::new(x, targets))?;
    let d = x.ncols();
    let mut theta = Array2::zeros((d + 1, k));
    theta
        .slice_mut(s![..d, ..])
        .assign(&fitted.params().mapv(|v| v as f64));
    theta
        .row_mut(d)
        .assign(&fitted.intercept().mapv(|v| v as f64));
    // Report the true objective and gradient of the solution (linfa does not expose them).
    let obj = Objective::new(x, y, k, None, p.c);
    let flat: Vec<f64> = theta.iter().copied().collect();
    let mut g = vec![0.0; flat.len()];
    let objective = obj.eval(&flat, &mut g);
    let grad_max = max_abs(&g);
    Ok((
        theta,
        FitInfo {
            iterations: 0,
            evaluations: 0,
            converged: grad_max <= p.tol,
            grad_max,
            objective,
            seconds: 0.0,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Cross-validation over C
// ---------------------------------------------------------------------------------------------

/// Settings of a logistic head: the `C` search and the solver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogisticConfig {
    /// Candidate `C` values (any order; searched from small to large).
    pub c_grid: Vec<f64>,
    /// Requested number of stratified folds (reduced to the smallest class count if needed).
    pub folds: usize,
    /// Stop the path after this many consecutive grid points below the best (`None`: never).
    pub patience: Option<usize>,
    /// Also try the half-decade neighbours (`C * 10^(+-1/2)`) of the best grid point.
    pub refine: bool,
    /// What the search optimises.
    pub selection: Selection,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Standardise features (statistics from the training rows only).
    pub standardize: bool,
    /// Maximum L-BFGS iterations per fit.
    pub max_iter: usize,
    /// Gradient tolerance (scikit-learn's `tol`).
    pub tol: f64,
    /// GEMM precision.
    pub precision: Precision,
    /// Optimiser.
    pub backend: Backend,
    /// Seed of the fold assignment.
    pub seed: u64,
}

impl Default for LogisticConfig {
    fn default() -> Self {
        LogisticConfig {
            c_grid: DEFAULT_C_GRID.to_vec(),
            folds: 5,
            patience: Some(2),
            refine: true,
            selection: Selection::Accuracy,
            class_weight: ClassWeight::None,
            standardize: true,
            max_iter: 1000,
            tol: 1e-4,
            precision: Precision::F32,
            backend: Backend::Native,
            seed: 0,
        }
    }
}

impl LogisticConfig {
    fn fit_params(&self, c: f64, warm_start: Option<Array2<f64>>) -> LogisticRegression {
        LogisticRegression {
            c,
            class_weight: self.class_weight,
            max_iter: self.max_iter,
            tol: self.tol,
            precision: self.precision,
            backend: self.backend,
            warm_start,
        }
    }
}

/// Cross-validation score of one `C`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvPoint {
    /// The candidate.
    pub c: f64,
    /// Mean validation score over folds (accuracy or balanced accuracy).
    pub mean_score: f64,
    /// Standard deviation of the fold scores.
    pub std_score: f64,
    /// Mean validation log-loss over folds.
    pub mean_log_loss: f64,
    /// Mean L-BFGS iterations per fold.
    pub mean_iterations: f64,
    /// Whether every fold's fit converged.
    pub all_converged: bool,
}

/// Outcome of the `C` search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvResult {
    /// Folds actually used.
    pub folds: usize,
    /// Folds requested.
    pub requested_folds: usize,
    /// Score used: `"accuracy"`, `"balanced_accuracy"` or `"log_loss"`.
    pub metric: String,
    /// Every evaluated candidate, sorted by `C`.
    pub points: Vec<CvPoint>,
    /// The chosen `C`.
    pub best_c: f64,
    /// Mean validation score of the chosen `C`.
    pub best_score: f64,
    /// Wall time of the search in seconds.
    pub seconds: f64,
}

struct FoldData {
    x_train: Array2<f32>,
    y_train: Vec<usize>,
    x_val: Array2<f32>,
    y_val: Vec<usize>,
}

fn prepare(ds: &Dataset, standardize: bool) -> Result<(Option<Standardizer>, Array2<f32>)> {
    if standardize {
        let s = Standardizer::fit(ds.x.view())?;
        let x = s.transform(ds.x.view())?;
        Ok((Some(s), x))
    } else {
        Ok((None, ds.x.clone()))
    }
}

/// Validation score, log-loss: (accuracy or balanced accuracy, mean log-loss).
fn score(proba: &Array2<f32>, y: &[usize], k: usize, balanced: bool) -> (f64, f64) {
    let mut correct = vec![0usize; k];
    let mut support = vec![0usize; k];
    let mut ll = 0.0;
    for (row, &t) in proba.rows().into_iter().zip(y) {
        let pred = argmax(row.iter().copied());
        support[t] += 1;
        if pred == t {
            correct[t] += 1;
        }
        ll -= (row[t] as f64).clamp(1e-15, 1.0).ln();
    }
    let n = y.len().max(1) as f64;
    let s = if balanced {
        let present: Vec<f64> = correct
            .iter()
            .zip(&support)
            .filter(|(_, &s)| s > 0)
            .map(|(&c, &s)| c as f64 / s as f64)
            .collect();
        present.iter().sum::<f64>() / present.len().max(1) as f64
    } else {
        correct.iter().sum::<usize>() as f64 / n
    };
    (s, ll / n)
}

/// Per-fold fit results at one `C`: (theta, score, log-loss, iterations, converged).
type FoldOutcome = (Array2<f64>, f64, f64, usize, bool);

/// Chooses `C` by stratified k-fold cross-validation (see the module docs).
pub fn cross_validate(train: &Dataset, cfg: &LogisticConfig) -> Result<CvResult> {
    cross_validate_inner(train, cfg).map(|(r, _)| r)
}

fn cross_validate_inner(
    train: &Dataset,
    cfg: &LogisticConfig,
) -> Result<(CvResult, Option<Array2<f64>>)> {
    let start = Instant::now();
    train.validate()?;
    let mut grid: Vec<f64> = cfg.c_grid.clone();
    if grid.is_empty() || grid.iter().any(|c| !(c.is_finite() && *c > 0.0)) {
        return Err(HeadError::InvalidParameter(
            "c_grid must be non-empty with positive finite values".into(),
        ));
    }
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let counts = train.class_counts();
    if let Some(c) = counts.iter().position(|&m| m == 0) {
        return Err(HeadError::NotEnoughExamples {
            class: train.classes[c].clone(),
            count: 0,
            needed: 2,
            purpose: "cross-validating a logistic head".into(),
        });
    }
    let min_count = train.min_class_count();
    let k_folds = cfg.folds.min(min_count);
    if k_folds < 2 {
        let c = counts.iter().position(|&m| m == min_count).unwrap_or(0);
        return Err(HeadError::NotEnoughExamples {
            class: train.classes[c].clone(),
            count: min_count,
            needed: 2,
            purpose: "cross-validation (fix C instead, or add examples)".into(),
        });
    }
    let folds = train.stratified_folds(k_folds, cfg.seed)?;
    let data: Vec<FoldData> = folds
        .par_iter()
        .map(|f| {
            let tr = train.subset(&f.train);
            let va = train.subset(&f.test);
            let (scaler, x_train) = prepare(&tr, cfg.standardize)?;
            let x_val = match &scaler {
                Some(s) => s.transform(va.x.view())?,
                None => va.x,
            };
            Ok(FoldData {
                x_train,
                y_train: tr.y,
                x_val,
                y_val: va.y,
            })
        })
        .collect::<Result<_>>()?;
    let k = train.n_classes();
    let balanced = cfg.class_weight == ClassWeight::Balanced;

    let run_c = |c: f64, warm: &[Option<Array2<f64>>]| -> Result<Vec<FoldOutcome>> {
        data.par_iter()
            .zip(warm.par_iter())
            .map(|(fd, w)| {
                let params = cfg.fit_params(c, w.clone());
                let fit = fit_arrays(&params, fd.x_train.view(), &fd.y_train, k, None)?;
                let proba = fit.model.predict_proba(fd.x_val.view())?;
                let (sc, ll) = score(&proba, &fd.y_val, k, balanced);
                Ok((
                    fit.model.theta(),
                    sc,
                    ll,
                    fit.info.iterations,
                    fit.info.converged,
                ))
            })
            .collect()
    };
    let summarize = |c: f64, out: &[FoldOutcome]| {
        let m = out.len() as f64;
        let mean = out.iter().map(|o| o.1).sum::<f64>() / m;
        let var = out.iter().map(|o| (o.1 - mean).powi(2)).sum::<f64>() / m;
        CvPoint {
            c,
            mean_score: mean,
            std_score: var.sqrt(),
            mean_log_loss: out.iter().map(|o| o.2).sum::<f64>() / m,
            mean_iterations: out.iter().map(|o| o.3 as f64).sum::<f64>() / m,
            all_converged: out.iter().all(|o| o.4),
        }
    };
    let better = |a: &CvPoint, b: &CvPoint| match cfg.selection {
        Selection::Accuracy => {
            a.mean_score > b.mean_score + 1e-12
                || ((a.mean_score - b.mean_score).abs() <= 1e-12
                    && a.mean_log_loss < b.mean_log_loss)
        }
        Selection::LogLoss => a.mean_log_loss < b.mean_log_loss,
    };

    let mut warm: Vec<Option<Array2<f64>>> = vec![None; data.len()];
    // (point, per-fold thetas)
    let mut evaluated: Vec<(CvPoint, Vec<Array2<f64>>)> = Vec::new();
    let mut best: Option<usize> = None;
    let mut since_best = 0;
    for &c in &grid {
        let out = run_c(c, &warm)?;
        let point = summarize(c, &out);
        let thetas: Vec<Array2<f64>> = out.into_iter().map(|o| o.0).collect();
        warm = thetas.iter().cloned().map(Some).collect();
        let is_best = best.is_none_or(|b| better(&point, &evaluated[b].0));
        evaluated.push((point, thetas));
        if is_best {
            best = Some(evaluated.len() - 1);
            since_best = 0;
        } else {
            since_best += 1;
            if cfg.patience.is_some_and(|p| since_best >= p) {
                break;
            }
        }
    }
    if cfg.refine {
        if let Some(b) = best {
            let c_best = evaluated[b].0.c;
            let from: Vec<Option<Array2<f64>>> = evaluated[b].1.iter().cloned().map(Some).collect();
            for c in [c_best / 10f64.sqrt(), c_best * 10f64.sqrt()] {
                if evaluated.iter().any(|(p, _)| (p.c / c).ln().abs() < 1e-6) {
                    continue;
                }
                let out = run_c(c, &from)?;
                let point = summarize(c, &out);
                let thetas = out.into_iter().map(|o| o.0).collect();
                evaluated.push((point, thetas));
            }
        }
    }
    let best_idx = (0..evaluated.len())
        .reduce(|a, b| {
            if better(&evaluated[b].0, &evaluated[a].0) {
                b
            } else {
                a
            }
        })
        .unwrap_or(0);
    let warm_best = evaluated.get(best_idx).map(|(_, thetas)| {
        let mut mean = thetas[0].clone();
        for t in &thetas[1..] {
            mean += t;
        }
        mean / thetas.len() as f64
    });
    let (best_c, best_score) = evaluated
        .get(best_idx)
        .map_or((f64::NAN, f64::NAN), |(p, _)| (p.c, p.mean_score));
    let mut points: Vec<CvPoint> = evaluated.into_iter().map(|(p, _)| p).collect();
    points.sort_by(|a, b| a.c.total_cmp(&b.c));
    Ok((
        CvResult {
            folds: k_folds,
            requested_folds: cfg.folds,
            metric: match (cfg.selection, balanced) {
                (Selection::LogLoss, _) => "log_loss".into(),
                (Selection::Accuracy, true) => "balanced_accuracy".into(),
                (Selection::Accuracy, false) => "accuracy".into(),
            },
            points,
            best_c,
            best_score,
            seconds: start.elapsed().as_secs_f64(),
        },
        warm_best,
    ))
}

/// A trained logistic head: optional scaler, model, and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedLogistic {
    /// Standardiser fitted on all training rows (if enabled).
    pub scaler: Option<Standardizer>,
    /// The model, fitted on all training rows at the chosen `C`.
    pub model: LogisticModel,
    /// Diagnostics of the final fit.
    pub info: FitInfo,
    /// The `C` search (`None` when `C` was fixed).
    pub cv: Option<CvResult>,
}

/// Fits on all of `train` at a fixed `C` (standardising first if configured).
pub fn fit_fixed_c(train: &Dataset, c: f64, cfg: &LogisticConfig) -> Result<TrainedLogistic> {
    fit_final(train, c, cfg, None, None)
}

/// Chooses `C` by cross-validation, then fits on all of `train`, warm-started from the mean of
/// the fold solutions at the chosen `C`.
pub fn fit_cv(train: &Dataset, cfg: &LogisticConfig) -> Result<TrainedLogistic> {
    let (cv, warm) = cross_validate_inner(train, cfg)?;
    let c = cv.best_c;
    fit_final(train, c, cfg, warm, Some(cv))
}

fn fit_final(
    train: &Dataset,
    c: f64,
    cfg: &LogisticConfig,
    warm: Option<Array2<f64>>,
    cv: Option<CvResult>,
) -> Result<TrainedLogistic> {
    train.validate()?;
    let (scaler, x) = prepare(train, cfg.standardize)?;
    let fit = fit_arrays(
        &cfg.fit_params(c, warm),
        x.view(),
        &train.y,
        train.n_classes(),
        None,
    )?;
    Ok(TrainedLogistic {
        scaler,
        model: fit.model,
        info: fit.info,
        cv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use linfa::traits::Predict;

    /// Gaussian blobs: `k` classes in `d` dims, means `sep * N(0, I)`, unit noise.
    pub(crate) fn blobs(n_per: usize, d: usize, k: usize, sep: f64, seed: u64) -> Dataset {
        let mut g = SplitMix64::new(seed);
        let means: Vec<Vec<f64>> = (0..k)
            .map(|_| (0..d).map(|_| g.normal() * sep).collect())
            .collect();
        let n = n_per * k;
        let mut x = Array2::zeros((n, d));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % k;
            y.push(c);
            for j in 0..d {
                x[[i, j]] = (means[c][j] + g.normal()) as f32;
            }
        }
        let classes = (0..k).map(|c| format!("class{c}")).collect();
        Dataset::new(x, y, classes).unwrap()
    }

    fn accuracy(model: &LogisticModel, scaler: &Option<Standardizer>, ds: &Dataset) -> f64 {
        let x = match scaler {
            Some(s) => s.transform(ds.x.view()).unwrap(),
            None => ds.x.clone(),
        };
        let pred: Array1<usize> = model.predict(&x);
        pred.iter().zip(&ds.y).filter(|(a, b)| a == b).count() as f64 / ds.y.len() as f64
    }

    #[test]
    fn separable_problem_is_learned() {
        // Same seed: same class means; rows 120.. of the larger draw are unseen.
        let all = blobs(80, 20, 3, 1.5, 1);
        let train = all.subset(&(0..120).collect::<Vec<_>>());
        let held_out = all.subset(&(120..240).collect::<Vec<_>>());
        let t = fit_fixed_c(&train, 1.0, &LogisticConfig::default()).unwrap();
        assert!(t.info.converged, "{:?}", t.info);
        assert!(accuracy(&t.model, &t.scaler, &train) > 0.95);
        assert!(accuracy(&t.model, &t.scaler, &held_out) > 0.95);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let ds = blobs(5, 3, 3, 1.0, 2);
        let w: Vec<f64> = vec![
            1.0, 2.0, 3.0, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
        ];
        let x64 = ds.x.mapv(|v| v as f64);
        let obj = Objective::new(x64.view(), &ds.y, 3, Some(&w), 0.7);
        let theta: Vec<f64> = (0..12).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut g = vec![0.0; 12];
        obj.eval(&theta, &mut g);
        for i in 0..12 {
            let mut tp = theta.clone();
            let mut tm = theta.clone();
            tp[i] += 1e-6;
            tm[i] -= 1e-6;
            let mut dummy = vec![0.0; 12];
            let fd = (obj.eval(&tp, &mut dummy) - obj.eval(&tm, &mut dummy)) / 2e-6;
            assert!((fd - g[i]).abs() < 1e-6, "coord {i}: fd {fd} vs {}", g[i]);
        }
    }

    #[test]
    fn matches_linfa_logistic_where_it_is_reliable() {
        // Strong penalty keeps logits small, where linfa-logistic's log-sum-exp is exact.
        let ds = blobs(30, 10, 3, 1.0, 3);
        let base = LogisticRegression {
            c: 0.05,
            tol: 1e-7,
            ..Default::default()
        };
        let lin = LogisticRegression {
            backend: Backend::LinfaLogistic,
            ..base.clone()
        };
        let data = DatasetBase::new(ds.x.view(), Array1::from(ds.y.clone()));
        let a = base.fit(&data).unwrap();
        let b = lin.fit(&data).unwrap();
        let diff = (&a.model.weights - &b.model.weights)
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()));
        assert!(diff < 1e-3, "max weight difference {diff}");
    }

    #[test]
    fn balanced_weights_shift_decisions_toward_minority() {
        // Overlapping classes, 9:1 imbalance: balanced weighting must raise minority recall.
        let mut g = SplitMix64::new(5);
        let n = 300;
        let mut x = Array2::zeros((n, 2));
        let mut y = Vec::new();
        for i in 0..n {
            let c = usize::from(i % 10 == 0);
            y.push(c);
            x[[i, 0]] = (g.normal() + c as f64 * 1.0) as f32;
            x[[i, 1]] = g.normal() as f32;
        }
        let ds = Dataset::new(x, y, vec!["major".into(), "minor".into()]).unwrap();
        let recall = |cw| {
            let cfg = LogisticConfig {
                class_weight: cw,
                ..Default::default()
            };
            let t = fit_fixed_c(&ds, 1.0, &cfg).unwrap();
            let xs = t.scaler.as_ref().unwrap().transform(ds.x.view()).unwrap();
            let pred: Array1<usize> = t.model.predict(&xs);
            let hits = pred.iter().zip(&ds.y).filter(|(p, t)| **t == 1 && **p == 1);
            hits.count() as f64 / 30.0
        };
        let plain = recall(ClassWeight::None);
        let bal = recall(ClassWeight::Balanced);
        assert!(bal > plain + 0.2, "balanced {bal} vs plain {plain}");
    }

    #[test]
    fn cv_prefers_stronger_penalty_on_noisy_high_dim_data() {
        // Clean: well separated in a few dims. Noisy: weak signal, many nuisance dims, few rows.
        let clean = blobs(20, 10, 3, 3.0, 7);
        let noisy = blobs(20, 200, 3, 0.12, 7);
        let cfg = LogisticConfig {
            patience: None,
            ..Default::default()
        };
        let c_clean = cross_validate(&clean, &cfg).unwrap().best_c;
        let c_noisy = cross_validate(&noisy, &cfg).unwrap().best_c;
        assert!(
            c_noisy < c_clean,
            "noisy C {c_noisy} should be below clean C {c_clean}"
        );
    }

    #[test]
    fn log_loss_selection_picks_the_lowest_log_loss() {
        let ds = blobs(30, 10, 3, 3.0, 11);
        let acc = cross_validate(&ds, &LogisticConfig::default()).unwrap();
        let ll = cross_validate(
            &ds,
            &LogisticConfig {
                selection: Selection::LogLoss,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (acc.metric.as_str(), ll.metric.as_str()),
            ("accuracy", "log_loss")
        );
        let best_ll = ll
            .points
            .iter()
            .map(|p| p.mean_log_loss)
            .fold(f64::INFINITY, f64::min);
        let chosen = ll.points.iter().find(|p| p.c == ll.best_c).unwrap();
        assert_eq!(chosen.mean_log_loss, best_ll);
    }

    #[test]
    fn folds_fall_back_to_smallest_class() {
        let ds = blobs(3, 4, 2, 2.0, 8);
        let r = cross_validate(&ds, &LogisticConfig::default()).unwrap();
        assert_eq!((r.folds, r.requested_folds), (3, 5));
        let tiny = blobs(1, 4, 2, 2.0, 8);
        assert!(matches!(
            cross_validate(&tiny, &LogisticConfig::default()),
            Err(HeadError::NotEnoughExamples { needed: 2, .. })
        ));
    }

    #[test]
    fn linfa_backend_refuses_weights() {
        let ds = blobs(10, 3, 2, 2.0, 9);
        let cfg = LogisticConfig {
            backend: Backend::LinfaLogistic,
            class_weight: ClassWeight::Balanced,
            ..Default::default()
        };
        assert!(matches!(
            fit_fixed_c(&ds, 1.0, &cfg),
            Err(HeadError::InvalidParameter(_))
        ));
    }
}
