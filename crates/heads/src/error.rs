//! The crate's error type.

use std::path::PathBuf;

/// Result alias used throughout `graft-heads`.
pub type Result<T, E = HeadError> = std::result::Result<T, E>;

/// Everything that can go wrong while building datasets, training, evaluating or loading heads.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// A dataset (or a feature matrix handed to a head) has no rows.
    #[error("dataset is empty")]
    EmptyDataset,
    /// The number of labels differs from the number of feature rows.
    #[error("feature matrix has {rows} rows but {labels} labels were given")]
    LabelCountMismatch {
        /// Rows in the feature matrix.
        rows: usize,
        /// Labels given.
        labels: usize,
    },
    /// A feature value is NaN or infinite.
    #[error("feature row {row}, column {col} is not finite ({value})")]
    NonFiniteFeature {
        /// Row of the offending value.
        row: usize,
        /// Column of the offending value.
        col: usize,
        /// The value itself.
        value: f32,
    },
    /// Fewer than two distinct classes: nothing to classify.
    #[error("need at least two classes, found {found}: {classes:?}")]
    TooFewClasses {
        /// Distinct classes found.
        found: usize,
        /// Their names.
        classes: Vec<String>,
    },
    /// A label is not in the class list it must be encoded against.
    #[error("label {label:?} at row {row} is not one of the known classes")]
    UnknownLabel {
        /// Row of the label.
        row: usize,
        /// The label.
        label: String,
    },
    /// A class index is outside the class list.
    #[error("class index {index} at row {row} is out of range for {n_classes} classes")]
    ClassIndexOutOfRange {
        /// Row of the index.
        row: usize,
        /// The index.
        index: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// The class list contains the same name twice.
    #[error("duplicate class name {0:?}")]
    DuplicateClass(String),
    /// Features have a different width than expected.
    #[error("feature dimension mismatch: expected {expected}, got {got}")]
    DimensionMismatch {
        /// Width the model or scaler was built for.
        expected: usize,
        /// Width of the data given.
        got: usize,
    },
    /// A parameter is out of its valid range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A class has too few examples for the requested operation.
    #[error("class {class:?} has {count} examples but {needed} are needed ({purpose})")]
    NotEnoughExamples {
        /// The class.
        class: String,
        /// Its number of examples.
        count: usize,
        /// The number needed.
        needed: usize,
        /// What they are needed for.
        purpose: String,
    },
    /// The linfa-logistic backend failed.
    #[error("logistic regression solver failed: {0}")]
    Solver(#[from] linfa_logistic::error::Error),
    /// linfa rejected the data or parameters.
    #[error("linfa: {0}")]
    Linfa(#[from] linfa::Error),
    /// A head file was written by a newer version of the format.
    #[error(
        "head file has format_version {found}, but this build supports at most {supported}; \
         upgrade graft to load it"
    )]
    UnsupportedFormatVersion {
        /// Version in the file.
        found: u32,
        /// Newest version this build understands.
        supported: u32,
    },
    /// Features were produced differently from those the head was trained on.
    #[error(
        "incompatible features: the head was trained on {field} {expected}, \
         but these features have {field} {got}"
    )]
    IncompatibleFeatures {
        /// Which provenance field differs (`backbone`, `model_sha256`, `feature_dim`, `preprocessing`).
        field: &'static str,
        /// Value recorded in the head.
        expected: String,
        /// Value of the features offered.
        got: String,
    },
    /// A head file is structurally invalid (inconsistent shapes, kind mismatch, ...).
    #[error("invalid head file: {0}")]
    InvalidHeadFile(String),
    /// JSON (de)serialisation failed.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Rendering a plot failed.
    #[error("plotting failed: {0}")]
    Plot(String),
}

impl HeadError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HeadError::Io {
            path: path.into(),
            source,
        }
    }
}
