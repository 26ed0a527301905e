//! Choosing `C` by stratified k-fold cross-validation, the final fit on all rows, and the
//! head-level parameters ([`LogisticParams`]) in linfa's checked-parameter shape.

use std::time::Instant;

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::Fit;
use linfa::ParamGuard;
use ndarray::{Array2, ArrayBase, ArrayView2, Data, Ix2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    argmax, fit_arrays, Backend, ClassWeight, FitInfo, LogisticModel, LogisticRegression,
    Precision, Selection, DEFAULT_C_GRID,
};
use crate::dataset::Dataset;
use crate::error::{HeadError, ParamError, Result};
use crate::head::Classifier;
use crate::scaler::Standardizer;

/// Settings of a logistic head: the `C` search and the solver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogisticConfig {
    /// Candidate `C` values (any order; searched from small to large).
    pub c_grid: Vec<f64>,
    /// Requested number of stratified folds: reduced to the smallest class count if needed,
    /// unless `exact_folds` is set, in which case too small a class is an error.
    pub folds: usize,
    /// Refuse (rather than reduce) a fold count larger than the smallest class.
    pub exact_folds: bool,
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
            exact_folds: false,
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
    if cfg.exact_folds && min_count < cfg.folds {
        let c = counts.iter().position(|&m| m == min_count).unwrap_or(0);
        return Err(ParamError::TooManyFolds {
            folds: cfg.folds,
            class: train.classes[c].clone(),
            count: min_count,
        }
        .into());
    }
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedLogistic {
    /// Standardiser fitted on all training rows (if enabled).
    pub scaler: Option<Standardizer>,
    /// The model, fitted on all training rows at the chosen `C`.
    pub model: LogisticModel,
    /// Diagnostics of the final fit.
    pub info: FitInfo,
    /// The `C` search (`None` when `C` was fixed).
    pub cv: Option<CvResult>,
    /// `C` was fixed at [`FEW_SHOT_C`] because a class had a single example (too few to
    /// cross-validate).
    pub few_shot_fallback: bool,
}

impl Classifier for TrainedLogistic {
    fn n_features(&self) -> usize {
        self.model.n_features()
    }

    fn n_classes(&self) -> usize {
        self.model.n_classes()
    }

    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        crate::dataset::check_finite(x)?;
        match &self.scaler {
            Some(s) => self.model.predict_proba(s.transform(x)?.view()),
            None => self.model.predict_proba(x),
        }
    }
}

crate::head::predict_inplace_via_classifier!(TrainedLogistic);

/// `C` used when a class has a single training example, so that no cross-validation is
/// possible (the few-shot points of a learning curve): scikit-learn's default.
pub const FEW_SHOT_C: f64 = 1.0;

/// Hyper-parameters of a logistic head, unchecked (linfa's [`ParamGuard`]): build them, then
/// `check()` (or let [`Fit::fit`] check them).
///
/// `C` is fixed with [`LogisticParams::c`] or chosen by stratified k-fold cross-validation over
/// the config's grid; with a single example in some class, cross-validation is impossible and
/// `C` falls back to [`FEW_SHOT_C`] (recorded in [`TrainedLogistic::few_shot_fallback`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogisticParams(LogisticValidParams);

/// Checked hyper-parameters of a logistic head; implements linfa's [`Fit`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogisticValidParams {
    c: Option<f64>,
    config: LogisticConfig,
}

impl LogisticValidParams {
    /// The fixed `C`, if any.
    pub fn c(&self) -> Option<f64> {
        self.c
    }

    /// Search and solver settings.
    pub fn config(&self) -> &LogisticConfig {
        &self.config
    }
}

impl LogisticParams {
    /// Default settings: `C` by 5-fold CV over [`DEFAULT_C_GRID`], standardised features.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fixes `C` instead of searching for it.
    pub fn c(mut self, c: f64) -> Self {
        self.0.c = Some(c);
        self
    }

    /// Exactly `k` cross-validation folds (a class with fewer rows is an error).
    pub fn folds(mut self, k: usize) -> Self {
        self.0.config.folds = k;
        self.0.config.exact_folds = true;
        self
    }

    /// Class weighting.
    pub fn class_weight(mut self, w: ClassWeight) -> Self {
        self.0.config.class_weight = w;
        self
    }

    /// Seed of the fold assignment.
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.config.seed = seed;
        self
    }

    /// Replaces the whole search and solver configuration.
    pub fn config(mut self, config: LogisticConfig) -> Self {
        self.0.config = config;
        self
    }

    pub(crate) fn into_unchecked(self) -> LogisticValidParams {
        self.0
    }
}

impl ParamGuard for LogisticParams {
    type Checked = LogisticValidParams;
    type Error = ParamError;

    fn check_ref(&self) -> std::result::Result<&LogisticValidParams, ParamError> {
        self.0.validate()?;
        Ok(&self.0)
    }

    fn check(self) -> std::result::Result<LogisticValidParams, ParamError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl LogisticValidParams {
    pub(crate) fn validate(&self) -> std::result::Result<(), ParamError> {
        let p = self;
        if let Some(c) = p.c {
            if !(c.is_finite() && c > 0.0) {
                return Err(ParamError::NonPositiveC(c));
            }
        }
        let cfg = &p.config;
        if let Some(&c) = cfg.c_grid.iter().find(|c| !(c.is_finite() && **c > 0.0)) {
            return Err(ParamError::NonPositiveC(c));
        }
        if cfg.c_grid.is_empty() && p.c.is_none() {
            return Err(ParamError::EmptyCGrid);
        }
        if cfg.folds < 2 {
            return Err(ParamError::TooFewFolds(cfg.folds));
        }
        if !(cfg.tol.is_finite() && cfg.tol > 0.0) || cfg.max_iter == 0 {
            return Err(ParamError::SolverLimits {
                tol: cfg.tol,
                max_iter: cfg.max_iter,
            });
        }
        if cfg.backend == Backend::LinfaLogistic && cfg.class_weight == ClassWeight::Balanced {
            return Err(ParamError::Unsupported(
                "the linfa-logistic backend cannot weight samples: use the native backend with balanced class weights".into(),
            ));
        }
        Ok(())
    }
}

impl<D, T> Fit<ArrayBase<D, Ix2>, T, HeadError> for LogisticValidParams
where
    D: Data<Elem = f32>,
    T: AsSingleTargets<Elem = usize>,
{
    type Object = TrainedLogistic;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<TrainedLogistic> {
        let train = Dataset::from_linfa(dataset, None)?;
        match self.c {
            Some(c) => fit_final(&train, c, &self.config, None, None),
            None if train.min_class_count() < 2 => {
                let mut t = fit_final(&train, FEW_SHOT_C, &self.config, None, None)?;
                t.few_shot_fallback = true;
                Ok(t)
            }
            None => {
                let (cv, warm) = cross_validate_inner(&train, &self.config)?;
                fit_final(&train, cv.best_c, &self.config, warm, Some(cv))
            }
        }
    }
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
        few_shot_fallback: false,
    })
}
