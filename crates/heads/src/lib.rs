//! Lightweight task heads trained on cached backbone features.
//!
//! * [`dataset`]: labelled feature matrices, validation, stratified splits, folds and few-shot
//!   samples (deterministic from a seed).
//! * [`scaler`]: per-feature standardisation fitted on training rows only.
//! * [`logistic`]: multinomial logistic regression with `C` chosen by stratified k-fold CV.
//! * [`centroid`], [`knn`]: cosine nearest-centroid and k-nearest-neighbour heads.
//! * [`head`]: the [`Classifier`] trait, [`Head`], training from a [`HeadSpec`], and the
//!   versioned JSON [`HeadFile`] with feature [`Provenance`] checks.
//! * [`metrics`]: reports (accuracy, macro F1, per-class metrics, confusion, log-loss) and
//!   text tables, including a transfer-vs-baseline comparison.
//! * [`tfidf`]: TF-IDF vectoriser for the from-scratch text baseline.
//! * [`curve`]: learning curves over labelled examples per class and their SVG plot.
//!
//! Everything takes plain `ndarray` data; nothing here reads the feature cache.
//!
//! ```
//! use graft_heads::{train_head, Classifier, Dataset, HeadSpec};
//! use ndarray::array;
//!
//! let x = array![[0.0f32, 1.0], [0.1, 0.9], [1.0, 0.0], [0.9, 0.1]];
//! let labels: Vec<String> = ["cat", "cat", "dog", "dog"].map(String::from).to_vec();
//! let train = Dataset::from_labels(x, &labels)?;
//! let (head, metrics) = train_head(&HeadSpec::default(), &train)?; // logistic, C by CV
//! assert_eq!(head.predict_labels(array![[0.05f32, 1.0]].view())?, ["cat"]);
//! assert_eq!(head.predict_proba(array![[1.0f32, 0.0]].view())?.dim(), (1, 2));
//! assert!(metrics.chosen_c.is_some());
//! # Ok::<(), graft_heads::HeadError>(())
//! ```

#![warn(missing_docs)]

pub mod centroid;
pub mod curve;
pub mod dataset;
pub mod error;
pub mod head;
pub mod knn;
pub mod logistic;
pub mod matrix;
pub mod metrics;
pub mod rng;
pub mod scaler;
pub mod tfidf;

pub use dataset::Dataset;
pub use error::{HeadError, Result};
pub use head::{
    train_head, Classifier, Head, HeadFile, HeadKind, HeadSpec, Model, Provenance, TrainingMetrics,
    HEAD_FORMAT_VERSION,
};
pub use metrics::{compare_table, ClassMetrics, Report};
