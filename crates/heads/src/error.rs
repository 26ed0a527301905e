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
    #[error("linfa-logistic solver failed: {0}")]
    LinfaLogistic(#[from] linfa_logistic::error::Error),
    /// A solver produced something unusable (wrong shape, non-finite values).
    #[error("solver failed: {0}")]
    Solver(String),
    /// A hyper-parameter is invalid or does not apply.
    #[error(transparent)]
    Param(#[from] ParamError),
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
    /// A cache with no rows.
    #[error("{0}: the cache is empty (0 rows); embed some inputs first")]
    EmptyCache(PathBuf),
    /// Two caches made with different models or preprocessing.
    #[error(
        "{a} ({a_model}) and {b} ({b_model}) were made with different models or preprocessing"
    )]
    IncompatibleCaches {
        /// One cache.
        a: PathBuf,
        /// The other.
        b: PathBuf,
        /// What made the first.
        a_model: String,
        /// What made the second.
        b_model: String,
    },
    /// A labels file names ids the cache does not hold.
    #[error("{file}: {count} ids are not in the cache {cache} (e.g. {example})")]
    UnknownIds {
        /// The labels file.
        file: PathBuf,
        /// The cache.
        cache: PathBuf,
        /// How many ids are unknown.
        count: usize,
        /// One of them.
        example: String,
    },
    /// No row has a label.
    #[error("{cache}: no row has a label{}; embed with labels (class folders, --labels or --label-field) or pass --labels", task.as_ref().map(|t| format!(" for task `{t}`")).unwrap_or_default())]
    NoLabels {
        /// The cache.
        cache: PathBuf,
        /// The task asked for.
        task: Option<String>,
    },
    /// An evaluation label the head (or training set) does not know.
    #[error("{cache}: label {label:?} is not one of the classes the head was trained on")]
    UnseenClass {
        /// The evaluation cache.
        cache: PathBuf,
        /// The unknown label.
        label: String,
    },
    /// A cache lacks the raw inputs a from-scratch baseline needs.
    #[error("{cache}: no {what}")]
    NoBaselineInputs {
        /// The cache.
        cache: PathBuf,
        /// What is missing.
        what: &'static str,
    },
    /// Reading a feature cache failed.
    #[error(transparent)]
    Cache(#[from] graft_cache::CacheError),
    /// Rendering a plot failed.
    #[error("plotting failed: {0}")]
    Plot(String),
}

/// An invalid hyper-parameter, found by `check()` (linfa's `ParamGuard`) or at fit time when it
/// depends on the data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// `C` must be positive and finite.
    #[error("C must be positive and finite, got {0}")]
    NonPositiveC(f64),
    /// No `C` to search.
    #[error("the C grid is empty: give candidate values or fix C")]
    EmptyCGrid,
    /// Cross-validation needs at least two folds.
    #[error("need at least 2 cross-validation folds, got {0}")]
    TooFewFolds(usize),
    /// More folds than rows of the smallest class.
    #[error("{folds} folds need at least {folds} rows per class, but class {class:?} has {count}: lower --folds")]
    TooManyFolds {
        /// Folds asked for.
        folds: usize,
        /// The smallest class.
        class: String,
        /// Its rows.
        count: usize,
    },
    /// `k` of a k-NN head must be at least 1.
    #[error("k must be at least 1")]
    ZeroNeighbours,
    /// `k` of a k-NN head larger than the training rows.
    #[error("k = {k} neighbours but only {rows} training rows: lower --k")]
    TooManyNeighbours {
        /// Neighbours asked for.
        k: usize,
        /// Training rows.
        rows: usize,
    },
    /// An unknown class-weight scheme.
    #[error("unknown class weights {0:?}: expected `none` or `balanced`")]
    UnknownClassWeight(String),
    /// Solver limits out of range.
    #[error("solver tolerance must be positive and iterations at least 1 (tol {tol}, max_iter {max_iter})")]
    SolverLimits {
        /// Gradient tolerance.
        tol: f64,
        /// Iteration limit.
        max_iter: usize,
    },
    /// A value outside its range, named.
    #[error("{name} must be {expected}, got {got}")]
    OutOfRange {
        /// The parameter.
        name: &'static str,
        /// Its valid range, in words.
        expected: &'static str,
        /// The value given.
        got: String,
    },
    /// An option that does not apply to the chosen head or mode.
    #[error("{option} does not apply {context}: {why}")]
    NotApplicable {
        /// The option (as a flag, e.g. `--k`).
        option: &'static str,
        /// What it was combined with (e.g. `to a logistic head`).
        context: String,
        /// Why it has no effect.
        why: &'static str,
    },
    /// A combination the implementation cannot do.
    #[error("{0}")]
    Unsupported(String),
}

impl HeadError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HeadError::Io {
            path: path.into(),
            source,
        }
    }
}
