//! Trained heads behind one interface, their training, and the versioned JSON head file.
//!
//! A [`Head`] is an optional [`Standardizer`] followed by a [`Model`] (logistic, centroid or
//! k-NN); all implement [`Classifier`]. [`train_head`] builds one from a [`HeadSpec`].
//! [`HeadFile`] is what gets saved: the head plus the class names, seed, chosen `C`, training
//! metrics and the [`Provenance`] of the features it expects, which
//! [`HeadFile::check_compatible`] compares against the features offered at prediction time.

use std::path::Path;
use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::centroid::CentroidModel;
use crate::dataset::Dataset;
use crate::error::{HeadError, Result};
use crate::knn::KnnModel;
use crate::logistic::{self, argmax, CvResult, FitInfo, LogisticConfig, LogisticModel};
use crate::metrics::Report;
use crate::scaler::Standardizer;
use crate::tfidf::TfidfVectorizer;

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

    /// Evaluates on a labelled set whose class list must equal the head's.
    pub fn evaluate(&self, ds: &Dataset) -> Result<Report> {
        if ds.classes != self.classes {
            return Err(HeadError::InvalidParameter(format!(
                "evaluation classes {:?} differ from the head's {:?}",
                ds.classes, self.classes
            )));
        }
        let proba = self.predict_proba(ds.x.view())?;
        if self.kind() == HeadKind::Knn {
            // k-NN breaks vote ties by similarity, not by column order.
            let pred = self.predict(ds.x.view())?;
            Report::from_proba_and_predictions(&ds.y, proba.view(), &pred, &self.classes)
        } else {
            Report::from_proba(&ds.y, proba.view(), &self.classes)
        }
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

/// How to train a head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HeadSpec {
    /// Logistic regression; `c: None` chooses `C` by cross-validation.
    Logistic {
        /// Fixed `C`, or `None` to cross-validate over `config.c_grid`.
        c: Option<f64>,
        /// Search and solver settings.
        config: LogisticConfig,
    },
    /// Nearest centroid (cosine).
    Centroid {
        /// Subtract the training mean before normalising.
        center: bool,
    },
    /// k nearest neighbours (cosine).
    Knn {
        /// Neighbours.
        k: usize,
        /// Subtract the training mean before normalising.
        center: bool,
    },
}

impl Default for HeadSpec {
    fn default() -> Self {
        HeadSpec::Logistic {
            c: None,
            config: LogisticConfig::default(),
        }
    }
}

impl HeadSpec {
    /// The same spec with its random seed (fold assignment) replaced.
    pub fn with_seed(&self, seed: u64) -> Self {
        let mut s = self.clone();
        if let HeadSpec::Logistic { config, .. } = &mut s {
            config.seed = seed;
        }
        s
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
    /// The `C` search, when one ran.
    pub cv: Option<CvResult>,
    /// Solver diagnostics of the final fit (logistic heads).
    pub fit: Option<FitInfo>,
    /// Wall time of training in seconds.
    pub seconds: f64,
}

/// Trains a head on `train` (every class of `train.classes` must occur).
pub fn train_head(spec: &HeadSpec, train: &Dataset) -> Result<(Head, TrainingMetrics)> {
    let start = Instant::now();
    train.validate()?;
    let (scaler, model, cv, fit, chosen_c) = match spec {
        HeadSpec::Logistic { c, config } => {
            let t = match c {
                Some(c) => logistic::fit_fixed_c(train, *c, config)?,
                None => logistic::fit_cv(train, config)?,
            };
            let c = t.model.c;
            (
                t.scaler,
                Model::Logistic(t.model),
                t.cv,
                Some(t.info),
                Some(c),
            )
        }
        HeadSpec::Centroid { center } => (
            None,
            Model::Centroid(CentroidModel::fit(train, *center)?),
            None,
            None,
            None,
        ),
        HeadSpec::Knn { k, center } => (
            None,
            Model::Knn(KnnModel::fit(train, *k, *center)?),
            None,
            None,
            None,
        ),
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
        cv,
        fit,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((head, metrics))
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
    pub fn new(head: Head, training: TrainingMetrics, provenance: Provenance, seed: u64) -> Self {
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
        let path = path.as_ref();
        let json = self.to_json()?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, json).map_err(|e| HeadError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| HeadError::io(path, e))
    }

    /// Reads and validates a head file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| HeadError::io(path, e))?;
        Self::from_json(&text)
    }
}
