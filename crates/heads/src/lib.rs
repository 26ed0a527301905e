//! Task heads on cached backbone features, and what `graft train | curve | eval` do.
//!
//! Heads follow linfa's shape: unchecked params (e.g. [`LogisticParams`]) are `check()`ed
//! into valid params ([`linfa::ParamGuard`]) that implement [`linfa::traits::Fit`]; the
//! fitted models implement [`linfa::traits::PredictInplace`] and this crate's fallible
//! [`Classifier`]. [`HeadParams`] wraps any head kind and fits a [`FittedHead`] (a named
//! [`Head`] with its [`TrainingMetrics`]); [`learning_curve`] and
//! [`cross_val_accuracy`] take any `Fit` whose model is a `Classifier`, so a new head gets
//! them for free.
//!
//! * Logistic regression ([`LogisticParams`]): scikit-learn's objective, C chosen by
//!   stratified k-fold CV; nearest centroid ([`CentroidParams`]) and k-NN ([`KnnParams`])
//!   by cosine.
//! * [`HeadFile`]: the versioned JSON head with the [`Provenance`] of its features.
//! * [`Report`]: accuracy, macro F1, per-class metrics, confusion, log-loss.
//! * From-scratch baselines ([`baseline_features`]): pixels or TF-IDF ([`TfidfVectorizer`]).
//! * Jobs on feature caches ([`FeatureSet`]): [`train`], [`curve`], [`evaluate`],
//!   [`predict`] and [`write_predictions`].
//!
//! ```
//! use graft_heads::{Classifier, Dataset, HeadParams, LogisticParams};
//! use linfa::traits::Fit;
//! use ndarray::array;
//!
//! let x = array![[0.0f32, 1.0], [0.1, 0.9], [1.0, 0.0], [0.9, 0.1]];
//! let labels: Vec<String> = ["cat", "cat", "dog", "dog"].map(String::from).to_vec();
//! let train = Dataset::from_labels(x, &labels)?;
//! let fitted = HeadParams::from(LogisticParams::new()).fit(&train.to_linfa())?; // C by CV
//! assert_eq!(fitted.head.predict_labels(array![[0.05f32, 1.0]].view())?, ["cat"]);
//! assert_eq!(fitted.predict_proba(array![[1.0f32, 0.0]].view())?.dim(), (1, 2));
//! assert!(fitted.metrics.chosen_c.is_some());
//! # Ok::<(), graft_heads::HeadError>(())
//! ```

mod baseline;
mod centroid;
mod curve;
mod dataset;
mod error;
mod features;
mod head;
mod jobs;
mod knn;
mod logistic;
mod matrix;
mod metrics;
mod predictions;
mod rng;
mod scaler;
mod tfidf;
mod validation;

pub use baseline::{baseline_features, BaselineFeatures, TFIDF_TERMS};
pub use centroid::{CentroidModel, CentroidParams, CentroidValidParams};
pub use curve::{learning_curve, plot_svg, CurvePoint, Shots};
pub use dataset::{check_finite, ClassTargets, Dataset, Fold};
pub use error::{HeadError, ParamError, Result};
pub use features::{labels_file, FeatureSet, LabelSource, LabelledRows};
pub use head::{
    Classifier, FittedHead, Head, HeadFile, HeadKind, HeadParams, HeadValidParams, Model,
    Provenance, TrainingMetrics, HEAD_FORMAT_VERSION,
};
pub use jobs::{
    curve, evaluate, predict, train, BaselineResult, CurveConfig, CurveReport, EvalConfig,
    EvalReport, EvalSource, HeadChoice, Predictions, TaskResult, TrainConfig, TrainReport,
    DEFAULT_TEST_FRACTION,
};
pub use knn::{KnnModel, KnnParams, KnnValidParams, DEFAULT_K};
pub use logistic::{
    cross_validate, Backend, ClassWeight, CvPoint, CvResult, FitInfo, LogisticConfig,
    LogisticModel, LogisticParams, LogisticRegression, LogisticValidParams, Precision, Selection,
    TrainedLogistic, DEFAULT_C_GRID, FEW_SHOT_C,
};
pub use metrics::{compare_table, ClassMetrics, Report};
pub use predictions::{write_predictions, PredictionFormat};
pub use rng::SplitMix64;
pub use scaler::Standardizer;
pub use tfidf::{TfidfConfig, TfidfVectorizer};
pub use validation::{cross_val_accuracy, FoldScores};
