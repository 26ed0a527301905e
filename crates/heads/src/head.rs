//! Trained heads behind one interface, their training, and the versioned JSON head file.
//!
//! A [`Head`] is an optional [`Standardizer`] followed by a [`Model`] (logistic, centroid or
//! k-NN); all implement [`Classifier`]. [`train_head`] builds one from a [`HeadSpec`].
//! [`HeadFile`] is what gets saved: the head plus the class names, seed, chosen `C`, training
//! metrics and the [`Provenance`] of the features it expects, which
//! [`HeadFile::check_compatible`] compares against the features offered at prediction time.

use std::path::Path;
use std::time::Instant;

use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use linfa::ParamGuard;
use ndarray::{Array2, ArrayBase, ArrayView2, Data, Ix2};
use serde::{Deserialize, Serialize};

use crate::centroid::{CentroidModel, CentroidParams, CentroidValidParams};
use crate::dataset::{ClassTargets, Dataset};
use crate::error::{HeadError, ParamError, Result};
use crate::knn::{KnnModel, KnnParams, KnnValidParams};
use crate::logistic::{
    argmax, CvResult, FitInfo, LogisticModel, LogisticParams, LogisticValidParams,
};
use crate::metrics::Report;
use crate::scaler::Standardizer;
use crate::tfidf::TfidfVectorizer;

/// Implements linfa's `PredictInplace` for a [`Classifier`], panicking on errors as the trait
/// cannot return them (use [`Classifier::predict`] for a fallible call).
macro_rules! predict_inplace_via_classifier {
    ($t:ty) => {
        /// Predicts class indices through linfa's `PredictInplace`.
        ///
        /// # Panics
        /// If `x` has the wrong width or non-finite values (linfa's trait cannot return
        /// errors); use [`Classifier::predict`](crate::Classifier::predict) for a fallible call.
        impl<D: ndarray::Data<Elem = f32>>
            linfa::traits::PredictInplace<
                ndarray::ArrayBase<D, ndarray::Ix2>,
                ndarray::Array1<usize>,
            > for $t
        {
            fn predict_inplace(
                &self,
                x: &ndarray::ArrayBase<D, ndarray::Ix2>,
                y: &mut ndarray::Array1<usize>,
            ) {
                match $crate::head::Classifier::predict(self, x.view()) {
                    Ok(pred) => y.iter_mut().zip(pred).for_each(|(out, p)| *out = p),
                    Err(e) => panic!("cannot predict: {e}"),
                }
            }

            fn default_target(
                &self,
                x: &ndarray::ArrayBase<D, ndarray::Ix2>,
            ) -> ndarray::Array1<usize> {
                ndarray::Array1::zeros(x.nrows())
            }
        }
    };
}
pub(crate) use predict_inplace_via_classifier;

/// Newest head-file format this build reads and the one it writes.
pub const HEAD_FORMAT_VERSION: u32 = 1;

/// Anything that maps feature rows to class probabilities.
pub trait Classifier {
    /// Expected feature dimension.
    fn n_features(&self) -> usize;
    /// Number of classes (columns of `predict_proba`).
    fn n_classes(&self) -> usize;
    /// Class probabilities, one row per input row.
    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>>;
    /// Predicted class indices (default: most probable class, first on ties).
    fn predict(&self, x: ArrayView2<f32>) -> Result<Vec<usize>> {
        Ok(self
            .predict_proba(x)?
            .rows()
            .into_iter()
            .map(|r| argmax(r.iter().copied()))
            .collect())
    }
}

/// The kind of head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    /// Multinomial logistic regression.
    Logistic,
    /// Nearest class mean by cosine.
    Centroid,
    /// k nearest neighbours by cosine.
    Knn,
}

impl std::fmt::Display for HeadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeadKind::Logistic => "logistic",
            HeadKind::Centroid => "centroid",
            HeadKind::Knn => "knn",
        })
    }
}

/// Fitted parameters of a head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// See [`LogisticModel`].
    Logistic(LogisticModel),
    /// See [`CentroidModel`].
    Centroid(CentroidModel),
    /// See [`KnnModel`].
    Knn(KnnModel),
}

impl Model {
    /// Which kind of head this is.
    pub fn kind(&self) -> HeadKind {
        match self {
            Model::Logistic(_) => HeadKind::Logistic,
            Model::Centroid(_) => HeadKind::Centroid,
            Model::Knn(_) => HeadKind::Knn,
        }
    }

    fn validate(&self) -> Result<()> {
        match self {
            Model::Logistic(m) => m.validate(),
            Model::Centroid(m) => m.validate(),
            Model::Knn(m) => m.validate(),
        }
    }
}

impl Classifier for Model {
    fn n_features(&self) -> usize {
        match self {
            Model::Logistic(m) => m.n_features(),
            Model::Centroid(m) => m.n_features(),
            Model::Knn(m) => m.n_features(),
        }
    }

    fn n_classes(&self) -> usize {
        match self {
            Model::Logistic(m) => m.n_classes(),
            Model::Centroid(m) => m.n_classes(),
            Model::Knn(m) => m.n_classes,
        }
    }

    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        match self {
            Model::Logistic(m) => m.predict_proba(x),
            Model::Centroid(m) => m.predict_proba(x),
            Model::Knn(m) => m.predict_proba(x),
        }
    }

    fn predict(&self, x: ArrayView2<f32>) -> Result<Vec<usize>> {
        match self {
            Model::Knn(m) => m.predict(x),
            _ => Ok(self
                .predict_proba(x)?
                .rows()
                .into_iter()
                .map(|r| argmax(r.iter().copied()))
                .collect()),
        }
    }
}

/// A usable head: class names, optional standardiser, model.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// Class names; column `i` of `predict_proba` is `classes[i]`.
    pub classes: Vec<String>,
    /// Applied to features before the model.
    pub scaler: Option<Standardizer>,
    /// The fitted model.
    pub model: Model,
}

impl Head {
    /// Which kind of head this is.
    pub fn kind(&self) -> HeadKind {
        self.model.kind()
    }

    /// Runs `f` on the (finite-checked, standardised if configured) features.
    fn with_scaled<T>(
        &self,
        x: ArrayView2<f32>,
        f: impl FnOnce(ArrayView2<f32>) -> Result<T>,
    ) -> Result<T> {
        crate::dataset::check_finite(x)?;
        match &self.scaler {
            Some(s) => f(s.transform(x)?.view()),
            None => f(x),
        }
    }

    /// Predicted class names.
    pub fn predict_labels(&self, x: ArrayView2<f32>) -> Result<Vec<String>> {
        Ok(self
            .predict(x)?
            .into_iter()
            .map(|c| self.classes.get(c).cloned().unwrap_or_default())
            .collect())
    }

    /// Evaluates on a labelled set whose class list must equal the head's. Predicted
    /// classes come from [`Classifier::predict`] (k-NN breaks vote ties by similarity, not
    /// by column order), probabilities from [`Classifier::predict_proba`].
    pub fn evaluate(&self, ds: &Dataset) -> Result<Report> {
        if ds.classes != self.classes {
            return Err(HeadError::InvalidParameter(format!(
                "evaluation classes {:?} differ from the head's {:?}",
                ds.classes, self.classes
            )));
        }
        let proba = self.predict_proba(ds.x.view())?;
        let pred = self.predict(ds.x.view())?;
        Report::from_proba_and_predictions(&ds.y, proba.view(), &pred, &self.classes)
    }

    fn validate(&self) -> Result<()> {
        self.model.validate()?;
        if self.classes.len() != self.model.n_classes() {
            return Err(HeadError::InvalidHeadFile(format!(
                "{} class names but the model has {} outputs",
                self.classes.len(),
                self.model.n_classes()
            )));
        }
        if let Some(s) = &self.scaler {
            if s.dim() != self.model.n_features() || s.std.len() != s.dim() {
                return Err(HeadError::InvalidHeadFile(format!(
                    "scaler has dimension {} but the model expects {}",
                    s.dim(),
                    self.model.n_features()
                )));
            }
        }
        Ok(())
    }
}

impl Classifier for Head {
    fn n_features(&self) -> usize {
        self.model.n_features()
    }

    fn n_classes(&self) -> usize {
        self.classes.len()
    }

    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.with_scaled(x, |xs| self.model.predict_proba(xs))
    }

    fn predict(&self, x: ArrayView2<f32>) -> Result<Vec<usize>> {
        self.with_scaled(x, |xs| self.model.predict(xs))
    }
}

/// Hyper-parameters of any head, unchecked (linfa's [`ParamGuard`]): build them from a
/// head's own params (`LogisticParams::new().into()`), then `check()`, or let
/// [`Fit::fit`] check them. The fitted object is a [`FittedHead`].
#[derive(Debug, Clone, PartialEq)]
pub struct HeadParams(HeadValidParams);

/// Checked hyper-parameters of any head; implements linfa's [`Fit`].
#[derive(Debug, Clone, PartialEq)]
pub enum HeadValidParams {
    /// Logistic regression.
    Logistic(LogisticValidParams),
    /// Nearest centroid (cosine).
    Centroid(CentroidValidParams),
    /// k nearest neighbours (cosine).
    Knn(KnnValidParams),
}

impl Default for HeadParams {
    fn default() -> Self {
        LogisticParams::default().into()
    }
}

impl From<LogisticParams> for HeadParams {
    fn from(p: LogisticParams) -> Self {
        HeadParams(HeadValidParams::Logistic(p.into_unchecked()))
    }
}

impl From<CentroidParams> for HeadParams {
    fn from(p: CentroidParams) -> Self {
        HeadParams(HeadValidParams::Centroid(p.into_unchecked()))
    }
}

impl From<KnnParams> for HeadParams {
    fn from(p: KnnParams) -> Self {
        HeadParams(HeadValidParams::Knn(p.into_unchecked()))
    }
}

impl ParamGuard for HeadParams {
    type Checked = HeadValidParams;
    type Error = ParamError;

    fn check_ref(&self) -> std::result::Result<&HeadValidParams, ParamError> {
        match &self.0 {
            HeadValidParams::Logistic(p) => p.validate()?,
            HeadValidParams::Centroid(_) => {}
            HeadValidParams::Knn(p) => p.validate()?,
        }
        Ok(&self.0)
    }

    fn check(self) -> std::result::Result<HeadValidParams, ParamError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl HeadValidParams {
    /// The kind of head these params train.
    pub fn kind(&self) -> HeadKind {
        match self {
            HeadValidParams::Logistic(_) => HeadKind::Logistic,
            HeadValidParams::Centroid(_) => HeadKind::Centroid,
            HeadValidParams::Knn(_) => HeadKind::Knn,
        }
    }

    /// Trains on a [`Dataset`] (every class of `train.classes` must occur).
    pub fn fit_dataset(&self, train: &Dataset) -> Result<FittedHead> {
        self.fit(&train.to_linfa())
    }
}

/// A trained head with what its training measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedHead {
    /// The head.
    pub head: Head,
    /// How it was trained.
    pub metrics: TrainingMetrics,
}

impl Classifier for FittedHead {
    fn n_features(&self) -> usize {
        self.head.n_features()
    }

    fn n_classes(&self) -> usize {
        self.head.n_classes()
    }

    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.head.predict_proba(x)
    }

    fn predict(&self, x: ArrayView2<f32>) -> Result<Vec<usize>> {
        self.head.predict(x)
    }
}

predict_inplace_via_classifier!(Head);
predict_inplace_via_classifier!(FittedHead);

impl<D: Data<Elem = f32>> Fit<ArrayBase<D, Ix2>, ClassTargets, HeadError> for HeadValidParams {
    type Object = FittedHead;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, ClassTargets>) -> Result<FittedHead> {
        let start = Instant::now();
        let train = Dataset::from_linfa(dataset, Some(&dataset.targets().classes))?;
        let (scaler, model, cv, fit, chosen_c, few_shot_fallback) = match self {
            HeadValidParams::Logistic(p) => {
                let t = p.fit(dataset)?;
                let c = t.model.c;
                (
                    t.scaler,
                    Model::Logistic(t.model),
                    t.cv,
                    Some(t.info),
                    Some(c),
                    t.few_shot_fallback,
                )
            }
            HeadValidParams::Centroid(p) => (
                None,
                Model::Centroid(p.fit(dataset)?),
                None,
                None,
                None,
                false,
            ),
            HeadValidParams::Knn(p) => (None, Model::Knn(p.fit(dataset)?), None, None, None, false),
        };
        let head = Head {
            classes: train.classes.clone(),
            scaler,
            model,
        };
        let pred = head.predict(train.x.view())?;
        let correct = pred.iter().zip(&train.y).filter(|(p, t)| p == t).count();
        let metrics = TrainingMetrics {
            n_train: train.n_samples(),
            class_counts: train.class_counts(),
            train_accuracy: correct as f64 / train.n_samples() as f64,
            chosen_c,
            few_shot_fallback,
            cv,
            fit,
            seconds: start.elapsed().as_secs_f64(),
        };
        Ok(FittedHead { head, metrics })
    }
}

/// How a head was trained and how well it fit its training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetrics {
    /// Training rows.
    pub n_train: usize,
    /// Training rows per class.
    pub class_counts: Vec<usize>,
    /// Accuracy on the training rows.
    pub train_accuracy: f64,
    /// Chosen or fixed `C` (logistic heads).
    pub chosen_c: Option<f64>,
    /// `C` was fixed because a class had a single example (logistic heads).
    #[serde(default)]
    pub few_shot_fallback: bool,
    /// The `C` search, when one ran.
    pub cv: Option<CvResult>,
    /// Solver diagnostics of the final fit (logistic heads).
    pub fit: Option<FitInfo>,
    /// Wall time of training in seconds.
    pub seconds: f64,
}

/// Where the features a head was trained on came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Backbone name (e.g. `"efficientnet-lite0"`, or `"tfidf"` for the text baseline).
    pub backbone: String,
    /// SHA-256 of the backbone model file.
    pub model_sha256: String,
    /// Preprocessing settings that change the features (resize, normalisation, pooling, ...).
    pub preprocessing: serde_json::Value,
    /// Feature dimension.
    pub feature_dim: usize,
}

/// The saved form of a head (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadFile {
    /// Format version; files newer than [`HEAD_FORMAT_VERSION`] are refused.
    pub format_version: u32,
    /// Head kind (must match `params`).
    pub kind: HeadKind,
    /// Class names.
    pub classes: Vec<String>,
    /// Standardiser applied before the model.
    pub scaler: Option<Standardizer>,
    /// Model parameters.
    pub params: Model,
    /// Seed used for folds / sampling during training.
    pub seed: u64,
    /// Chosen `C` (logistic heads).
    pub chosen_c: Option<f64>,
    /// Training summary.
    pub training_metrics: TrainingMetrics,
    /// Features the head expects.
    pub provenance: Provenance,
    /// For text baselines: the vectoriser that turns raw text into this head's features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vectorizer: Option<TfidfVectorizer>,
    /// The task (label field) the head was trained for; `None` is the default task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
}

impl HeadFile {
    /// Packs a trained head with its metadata.
    pub fn new(fitted: FittedHead, provenance: Provenance, seed: u64) -> Self {
        let FittedHead {
            head,
            metrics: training,
        } = fitted;
        HeadFile {
            format_version: HEAD_FORMAT_VERSION,
            kind: head.kind(),
            classes: head.classes,
            scaler: head.scaler,
            params: head.model,
            seed,
            chosen_c: training.chosen_c,
            training_metrics: training,
            provenance,
            vectorizer: None,
            task: None,
        }
    }

    /// The usable head (validated).
    pub fn head(&self) -> Result<Head> {
        let head = Head {
            classes: self.classes.clone(),
            scaler: self.scaler.clone(),
            model: self.params.clone(),
        };
        head.validate()?;
        Ok(head)
    }

    /// Checks internal consistency: kind, class names, shapes, feature dimension.
    pub fn validate(&self) -> Result<()> {
        if self.kind != self.params.kind() {
            return Err(HeadError::InvalidHeadFile(format!(
                "kind is {:?} but params are {:?}",
                self.kind,
                self.params.kind()
            )));
        }
        let mut names = self.classes.clone();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(HeadError::DuplicateClass(w[0].clone()));
        }
        self.head()?;
        if self.provenance.feature_dim != self.params.n_features() {
            return Err(HeadError::InvalidHeadFile(format!(
                "provenance says {} features but the model expects {}",
                self.provenance.feature_dim,
                self.params.n_features()
            )));
        }
        if let Some(v) = &self.vectorizer {
            v.validate()?;
            if v.n_features() != self.params.n_features() {
                return Err(HeadError::InvalidHeadFile(
                    "vectoriser vocabulary size differs from the model's feature dimension".into(),
                ));
            }
        }
        Ok(())
    }

    /// Refuses features from a different backbone, model file, preprocessing or dimension.
    pub fn check_compatible(&self, features: &Provenance) -> Result<()> {
        let mine = &self.provenance;
        let mismatch = |field, expected: String, got: String| {
            Err(HeadError::IncompatibleFeatures {
                field,
                expected,
                got,
            })
        };
        if mine.backbone != features.backbone {
            return mismatch("backbone", mine.backbone.clone(), features.backbone.clone());
        }
        if !mine
            .model_sha256
            .eq_ignore_ascii_case(&features.model_sha256)
        {
            return mismatch(
                "model_sha256",
                mine.model_sha256.clone(),
                features.model_sha256.clone(),
            );
        }
        if mine.feature_dim != features.feature_dim {
            return mismatch(
                "feature_dim",
                mine.feature_dim.to_string(),
                features.feature_dim.to_string(),
            );
        }
        if mine.preprocessing != features.preprocessing {
            return mismatch(
                "preprocessing",
                mine.preprocessing.to_string(),
                features.preprocessing.to_string(),
            );
        }
        Ok(())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Parses and validates; a `format_version` newer than this build's is refused before
    /// anything else is interpreted.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let version = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| HeadError::InvalidHeadFile("missing format_version".into()))?;
        if version > HEAD_FORMAT_VERSION as u64 {
            return Err(HeadError::UnsupportedFormatVersion {
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: HEAD_FORMAT_VERSION,
            });
        }
        let file: HeadFile = serde_json::from_value(value)?;
        file.validate()?;
        Ok(file)
    }

    /// Writes JSON to `path` (via a temporary file and rename, so readers never see half a file).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(graft_cache::write_atomic(
            path.as_ref(),
            self.to_json()?.as_bytes(),
        )?)
    }

    /// Reads and validates a head file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| HeadError::io(path, e))?;
        Self::from_json(&text)
    }
}
