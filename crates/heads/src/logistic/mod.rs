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

mod lbfgs;
mod linfa_backend;
mod objective;
mod search;

use std::time::Instant;

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::{Fit, PredictInplace};
use ndarray::{s, Array1, Array2, ArrayBase, ArrayView2, Data, Ix2};
use serde::{Deserialize, Serialize};

#[cfg(test)]
use crate::error::ParamError;
use crate::error::{HeadError, Result};
use objective::{Gemm, Objective};

pub use search::{
    cross_validate, CvPoint, CvResult, LogisticConfig, LogisticParams, LogisticValidParams,
    TrainedLogistic, FEW_SHOT_C,
};

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
            Precision::F32 => native_fit(x, y, n_classes, weights.as_deref(), p)?,
            Precision::F64 => {
                let x64 = x.mapv(|v| v as f64);
                native_fit(x64.view(), y, n_classes, weights.as_deref(), p)?
            }
        },
        Backend::LinfaLogistic => {
            if weights.is_some() {
                return Err(HeadError::InvalidParameter(
                    "the linfa-logistic backend cannot weight samples; use Backend::Native".into(),
                ));
            }
            linfa_backend::linfa_fit(x, y, n_classes, p)?
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

fn native_fit<F: Gemm>(
    x: ArrayView2<F>,
    y: &[usize],
    k: usize,
    weights: Option<&[f64]>,
    p: &LogisticRegression,
) -> Result<(Array2<f64>, FitInfo)> {
    let obj = Objective::new(x, y, k, weights, p.c);
    let x0 = match &p.warm_start {
        Some(w) => w.iter().copied().collect(),
        None => vec![0.0; obj.dim()],
    };
    let (theta, info) = lbfgs::lbfgs(|t, g| obj.eval(t, g), x0, p.max_iter, p.tol);
    let theta = Array2::from_shape_vec((x.ncols() + 1, k), theta).map_err(|e| {
        HeadError::Solver(format!(
            "L-BFGS returned {} parameters for a {}x{k} model: {e}",
            obj.dim(),
            x.ncols() + 1
        ))
    })?;
    Ok((theta, info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Dataset;
    use crate::rng::SplitMix64;
    use crate::scaler::Standardizer;
    use linfa::traits::Predict;
    use linfa::ParamGuard;

    /// Fits on all of `train` at a fixed `C` through the head-level params.
    fn fit_fixed_c(train: &Dataset, c: f64, cfg: &LogisticConfig) -> Result<TrainedLogistic> {
        LogisticParams::new()
            .config(cfg.clone())
            .c(c)
            .fit(&train.to_linfa())
    }

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
            Err(HeadError::Param(ParamError::Unsupported(_)))
        ));
    }

    #[test]
    fn invalid_settings_are_typed_errors() {
        let check = |p: LogisticParams| p.check().unwrap_err();
        assert_eq!(
            check(LogisticParams::new().c(0.0)),
            ParamError::NonPositiveC(0.0)
        );
        assert_eq!(
            check(LogisticParams::new().c(-1.0)),
            ParamError::NonPositiveC(-1.0)
        );
        assert_eq!(
            check(LogisticParams::new().folds(1)),
            ParamError::TooFewFolds(1)
        );
        let ds = blobs(3, 4, 2, 2.0, 8);
        let err = LogisticParams::new()
            .folds(5)
            .fit(&ds.to_linfa())
            .unwrap_err();
        assert!(
            matches!(
                err,
                HeadError::Param(ParamError::TooManyFolds {
                    folds: 5,
                    count: 3,
                    ..
                })
            ),
            "{err}"
        );
        // Without an explicit fold count, folds shrink to the smallest class.
        let t = LogisticParams::new().fit(&ds.to_linfa()).unwrap();
        assert_eq!(t.cv.unwrap().folds, 3);
        // A single example per class cannot be cross-validated: C falls back, recorded.
        let tiny = blobs(1, 4, 2, 2.0, 8);
        let t = LogisticParams::new().fit(&tiny.to_linfa()).unwrap();
        assert!(t.few_shot_fallback && t.cv.is_none());
        assert_eq!(t.model.c, FEW_SHOT_C);
    }

    #[test]
    fn shape_mismatch_is_an_error_not_a_zero_model() {
        let ds = blobs(10, 3, 2, 2.0, 9);
        let bad = LogisticRegression {
            warm_start: Some(Array2::zeros((2, 2))),
            ..Default::default()
        };
        let data = DatasetBase::new(ds.x.view(), Array1::from(ds.y.clone()));
        assert!(matches!(
            bad.fit(&data),
            Err(HeadError::InvalidParameter(_))
        ));
        let short = DatasetBase::new(ds.x.view(), Array1::from(ds.y[..5].to_vec()));
        assert!(matches!(
            LogisticRegression::default().fit(&short),
            Err(HeadError::LabelCountMismatch { .. })
        ));
    }
}
