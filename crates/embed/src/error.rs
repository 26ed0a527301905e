//! The embedding side's typed errors: each names the file or model concerned and the fix.

use std::path::PathBuf;

/// Everything that can go wrong getting, loading or running a backbone.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No ONNX Runtime library was found.
    #[error("ONNX Runtime library not found (looked at {looked}); run `graft setup` to install it into the Graft cache, or pass --ort-lib / set ORT_DYLIB_PATH")]
    RuntimeMissing {
        /// The places that were looked at.
        looked: String,
    },
    /// The ONNX Runtime library exists but could not be loaded.
    #[error("{path}: cannot load ONNX Runtime: {reason}")]
    RuntimeLoad {
        /// The library file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A model manifest is malformed.
    #[error("{path}: invalid model manifest: {reason}")]
    Manifest {
        /// The manifest file (or built-in name).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A preparation worker failed outside any one input.
    #[error("a preparation worker stopped ({0}); the inputs committed so far are kept, the rest were not embedded: rerun the same command to resume")]
    Worker(String),
    /// No model of that name.
    #[error("unknown model `{name}`; known models: {known}. A custom model is a manifest file: --model path/to/model.toml")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// A model's files are not in the cache yet.
    #[error("model `{name}` is not fetched ({path} missing); run `graft models fetch {name}`")]
    NotFetched {
        /// The model name.
        name: String,
        /// The missing file.
        path: PathBuf,
    },
    /// A model was fetched from other sources than its manifest now names.
    #[error("model `{name}` was fetched from {fetched}, but its manifest now names {wanted}; run `graft models fetch {arg}` to fetch it again")]
    Stale {
        /// The model name.
        name: String,
        /// What the fetch record says.
        fetched: String,
        /// What the manifest says.
        wanted: String,
        /// The argument for `graft models fetch`.
        arg: String,
    },
    /// A file failed its integrity check.
    #[error("{path}: {check} failed: {detail}; the file is corrupt or was tampered with. Delete it and run `graft models fetch {model}` again")]
    Integrity {
        /// The file.
        path: PathBuf,
        /// The model it belongs to.
        model: String,
        /// Which check (sha256, reference output, ...).
        check: String,
        /// Expected vs found.
        detail: String,
    },
    /// The ONNX file does not match what its manifest says.
    #[error("{path}: model does not match its manifest: {reason}")]
    ModelMismatch {
        /// The ONNX file.
        path: PathBuf,
        /// What differs, with the actual names/shapes.
        reason: String,
    },
    /// ONNX Runtime refused the model or a run.
    #[error("{context}: ONNX Runtime error: {message}")]
    Ort {
        /// What was being done, with the file concerned.
        context: String,
        /// ONNX Runtime's message.
        message: String,
    },
    /// An external tool (pip, python, apt-get) failed or is missing.
    #[error("{tool}: {reason}")]
    Tool {
        /// The command.
        tool: String,
        /// What happened and how to fix it.
        reason: String,
    },
    /// A network fetch failed.
    #[error("fetching {what}: {reason}")]
    Download {
        /// What was being fetched.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// An execution provider that was asked for explicitly cannot be used.
    #[error("{device} was requested but cannot be used: {reason}")]
    DeviceUnavailable {
        /// The device spec as given.
        device: String,
        /// Which library is missing or what failed.
        reason: String,
    },
    /// Bad input or arguments.
    #[error("{0}")]
    Invalid(String),
    /// The feature cache refused the run.
    #[error(transparent)]
    Cache(#[from] graft_cache::CacheError),
}

/// Result alias for the embedding side.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;

/// Maps an `io::Error` to [`EmbedError::Io`] for `path`.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EmbedError {
    let path = path.into();
    move |source| EmbedError::Io { path, source }
}

/// Maps an `ort::Error` to [`EmbedError::Ort`] with context.
pub(crate) fn ort_err<E: std::fmt::Display>(
    context: impl Into<String>,
) -> impl FnOnce(E) -> EmbedError {
    let context = context.into();
    move |e| EmbedError::Ort {
        context,
        message: e.to_string(),
    }
}
