//! The JSON records of a cache: its manifest, shard entries, item and error rows.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{io_err, CacheError, Result};

/// The newest manifest format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What a backbone embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// Images.
    Image,
    /// Texts.
    Text,
    /// Sound files.
    Audio,
}

impl std::fmt::Display for Modality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Modality::Image => "image",
            Modality::Text => "text",
            Modality::Audio => "audio",
        })
    }
}

/// Which backbone and preprocessing made a cache; two caches are compatible
/// only when their stamps are equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStamp {
    /// Model name from its manifest, e.g. `efficientnet-lite0`.
    pub name: String,
    /// What the backbone embeds.
    pub modality: Modality,
    /// SHA-256 of the ONNX file that produced the features.
    pub model_sha256: String,
    /// The preprocessing section of the model manifest, as applied.
    pub preprocessing: serde_json::Value,
    /// Feature dimension.
    pub dim: usize,
}

impl ModelStamp {
    /// A short human description, for error messages.
    pub fn describe(&self) -> String {
        let hash = self.model_sha256.get(..12).unwrap_or(&self.model_sha256);
        format!("model {} ({hash}, {}-d)", self.name, self.dim)
    }
}

/// Part `index` of `count` in a partitioned run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartId {
    /// 0-based part index.
    pub index: u32,
    /// Number of parts.
    pub count: u32,
}

impl PartId {
    /// The directory name of this part inside a cache: `part-I-of-N`.
    pub fn dir_name(&self) -> String {
        format!("part-{}-of-{}", self.index, self.count)
    }

    /// The part an item id belongs to: a stable hash of the id alone, so that
    /// a grown corpus keeps every earlier item in its part.
    pub fn of_id(id: &str, count: u32) -> u32 {
        let hash = blake3::hash(id.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        (u64::from_le_bytes(first) % u64::from(count.max(1))) as u32
    }

    /// Whether an item id falls in this part.
    pub fn contains(&self, id: &str) -> bool {
        Self::of_id(id, self.count) == self.index
    }
}

impl std::fmt::Display for PartId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One committed shard: its files (relative to the manifest's directory), row
/// count and checksums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// `features-NNNNN.npy`: float32, rows x dim.
    pub features: String,
    /// `items-NNNNN.jsonl`: one [`ItemRecord`] per row.
    pub items: String,
    /// `pixels-NNNNN.npy`: uint8 downscaled pixels, for the image baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixels: Option<String>,
    /// Number of rows.
    pub rows: usize,
    /// BLAKE3 of the features file.
    pub features_blake3: String,
    /// BLAKE3 of the items file.
    pub items_blake3: String,
    /// BLAKE3 of the pixels file, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixels_blake3: Option<String>,
    /// Size in bytes of the features file (a cheap check on resume).
    pub features_bytes: u64,
}

/// `manifest.json`: everything needed to read a cache (or one part of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheManifest {
    /// Manifest format version, [`FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// Always `graft-feature-cache`.
    pub kind: String,
    /// The model and preprocessing that made every row.
    pub model: ModelStamp,
    /// Always `float32`.
    pub dtype: String,
    /// Total rows over all shards.
    pub rows: usize,
    /// Inputs that failed (listed in `errors.jsonl`).
    pub failed: usize,
    /// Whether the run that wrote this manifest finished.
    pub complete: bool,
    /// The part this manifest describes, for a partitioned run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<PartId>,
    /// For a merged manifest: the part directories it was merged from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_parts: Vec<String>,
    /// Names of the label fields (tasks) recorded in the items, first is the default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<String>,
    /// Committed shards, in row order.
    pub shards: Vec<ShardInfo>,
    /// Error files (relative paths), one per part when merged.
    #[serde(default)]
    pub errors: Vec<String>,
}

impl CacheManifest {
    /// A new, empty manifest for a run.
    pub fn new(model: ModelStamp, part: Option<PartId>) -> Self {
        CacheManifest {
            format_version: FORMAT_VERSION,
            kind: "graft-feature-cache".into(),
            model,
            dtype: "float32".into(),
            rows: 0,
            failed: 0,
            complete: false,
            part,
            merged_parts: Vec::new(),
            tasks: Vec::new(),
            shards: Vec::new(),
            errors: vec!["errors.jsonl".into()],
        }
    }

    /// Reads `DIR/manifest.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("manifest.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CacheError::Missing(dir.to_path_buf()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CacheError::Format {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let version = value
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32;
        if version > FORMAT_VERSION {
            return Err(CacheError::NewerFormat {
                path,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        serde_json::from_value(value).map_err(|e| CacheError::Format {
            path,
            reason: e.to_string(),
        })
    }

    /// Writes `DIR/manifest.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| CacheError::Format {
            path: dir.join("manifest.json"),
            reason: e.to_string(),
        })?;
        crate::write_atomic(&dir.join("manifest.json"), &bytes)
    }
}

/// One row's record in `items-NNNNN.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The path as given (images) or the given / generated id (texts).
    pub id: String,
    /// The default task's label, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Labels for every named task, when the input has several label fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// BLAKE3 of the item's content (file bytes or text).
    pub hash: String,
    /// File size in bytes (images), used to skip unchanged files cheaply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// File modification time, seconds since the epoch (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<i64>,
    /// The text itself (texts), kept for the TF-IDF baseline and predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl ItemRecord {
    /// The label of `task`, or of the default task when `task` is `None`.
    pub fn label_for(&self, task: Option<&str>) -> Option<&str> {
        match task {
            None => self.label.as_deref(),
            Some(t) => self
                .labels
                .get(t)
                .map(String::as_str)
                .or(self.label.as_deref().filter(|_| self.labels.is_empty())),
        }
    }
}

/// One failed input in `errors.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// The input's id (path or given id).
    pub id: String,
    /// Why it failed, for humans.
    pub reason: String,
}
