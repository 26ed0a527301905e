//! Graft's feature cache: the on-disk contract between embedding and heads.
//!
//! A cache directory holds float32 feature shards that plain `numpy.load` reads
//! (`features-NNNNN.npy`, rows x dim), row-aligned item records (`items-NNNNN.jsonl`),
//! optional downscaled-pixel shards for the from-scratch image baseline
//! (`pixels-NNNNN.npy`, uint8), the inputs that failed (`errors.jsonl`) and a
//! `manifest.json` that lists every committed shard with its checksum.
//!
//! Writes are crash-safe: a shard is written to a temporary name and renamed into
//! place, and only then listed in a manifest that is itself replaced atomically.
//! A killed run therefore leaves at worst an unlisted orphan file, never a listed
//! shard that is half written. Partitioned runs ([`PartId`]) write the same layout
//! into `DIR/part-I-of-N/`; [`merge`] then writes a top-level manifest that lists
//! every part's shards, so the parts read as one cache without copying data.
//!
//! Also here, since both sides of the cache need them: Graft's home directory
//! ([`GraftHome`]), labels files ([`read_labels_file`]) and part specs ([`resolve_part`]).

mod home;
mod labels;
mod manifest;
mod parts;
mod reader;
mod writer;

pub use home::GraftHome;
pub use labels::{label_text, read_labels_file};
pub use manifest::{
    CacheManifest, ErrorRecord, ItemRecord, Modality, ModelStamp, PartId, ShardInfo, FORMAT_VERSION,
};
pub use parts::{
    hostname, merge, resolve_part, status, MergeReport, PartState, PartStatus, STALE_CLAIM_SECS,
};
pub use reader::Cache;
pub use writer::{CacheWriter, DoneIndex, ItemKey};

use std::path::PathBuf;

/// Everything that can go wrong reading or writing a feature cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A manifest or item record is not valid JSON of the expected shape.
    #[error("{path}: not a valid Graft cache file: {reason}")]
    Format {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A shard's checksum or size does not match its manifest entry.
    #[error("{path}: checksum mismatch (manifest says {expected}, file has {actual}); the shard is corrupt, rerun `graft embed` with the same arguments to recompute it")]
    Checksum {
        /// The shard file.
        path: PathBuf,
        /// Checksum recorded in the manifest.
        expected: String,
        /// Checksum of the file on disk.
        actual: String,
    },
    /// The cache was made with another model or preprocessing.
    #[error("{dir}: cache was made with {found}, not {wanted}; use another --out directory or pass --force to start it again")]
    ModelMismatch {
        /// The cache directory.
        dir: PathBuf,
        /// What the cache was made with.
        found: String,
        /// What this run uses.
        wanted: String,
    },
    /// A manifest written by a newer Graft.
    #[error("{path}: cache format {found} is newer than this Graft understands ({supported}); upgrade graft")]
    NewerFormat {
        /// The manifest file.
        path: PathBuf,
        /// Its format version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// Parts that cannot be merged or claimed, with the reason.
    #[error("{dir}: {reason}")]
    Parts {
        /// The cache directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A part spec (`--part I/N` or `auto`) that cannot be resolved.
    #[error("{0}")]
    PartSpec(String),
    /// No cache at that path.
    #[error("{0}: no feature cache here (no manifest.json); run `graft embed --out {0}` first, or `graft cache merge` for a partitioned run")]
    Missing(PathBuf),
}

/// Result alias for cache operations.
pub type Result<T, E = CacheError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.into();
    move |source| CacheError::Io { path, source }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory,
/// flushed to disk, then renamed over the target.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
    file.write_all(bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Hex BLAKE3 checksum of a byte slice.
pub fn checksum(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}
