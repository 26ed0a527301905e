//! `fetched.json`: the record written beside a fetched model (every file's SHA-256, the
//! source and pins it came from, the checks it passed), and the check of a model folder
//! against it before every load.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::download::sha256_file;
use crate::error::{EmbedError, Result};
use crate::manifest::ModelManifest;

/// The record written beside a fetched model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchRecord {
    /// SHA-256 of every file, by name.
    pub files: BTreeMap<String, String>,
    /// Where the files came from.
    pub source: String,
    /// The manifest source they were fetched from, pins included ([`crate::manifest::Source::pin`]).
    #[serde(default)]
    pub pin: String,
    /// The checks they passed.
    pub checks: Vec<String>,
}

/// Checks a fetched model folder against its `fetched.json` and returns the
/// ONNX file's SHA-256. A folder given by a custom manifest (no sources) has no
/// record: its hash is computed and trusted as the user's own file.
pub fn verify_recorded(manifest: &ModelManifest, dir: &Path) -> Result<String> {
    let onnx = dir.join(&manifest.onnx.file);
    if manifest.local_dir.is_some() {
        let actual = sha256_file(&onnx)?;
        if let Some(expected) = &manifest.onnx.sha256 {
            if !expected.eq_ignore_ascii_case(&actual) {
                return Err(EmbedError::Integrity {
                    path: onnx,
                    model: manifest.fetch_arg(),
                    check: "sha256 recorded in its manifest".into(),
                    detail: format!("expected {expected}, found {actual}"),
                });
            }
        }
        return Ok(actual);
    }
    checked_record(manifest, dir).map(|(sha, _)| sha)
}

/// The `fetched.json` of a fetched model folder, checked against the manifest's
/// sources and the ONNX file on disk; returns the file's SHA-256 with the record.
pub(crate) fn checked_record(
    manifest: &ModelManifest,
    dir: &Path,
) -> Result<(String, FetchRecord)> {
    let onnx = dir.join(&manifest.onnx.file);
    let actual = sha256_file(&onnx)?;
    let record_path = dir.join("fetched.json");
    let record: FetchRecord = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| EmbedError::NotFetched {
            name: manifest.fetch_arg(),
            path: record_path.clone(),
        })?;
    if !manifest.sources.iter().any(|s| s.pin() == record.pin) {
        return Err(EmbedError::Stale {
            name: manifest.name.clone(),
            fetched: if record.pin.is_empty() {
                record.source.clone()
            } else {
                record.pin.clone()
            },
            wanted: manifest
                .sources
                .iter()
                .map(|s| s.pin())
                .collect::<Vec<_>>()
                .join(" or "),
            arg: manifest.fetch_arg(),
        });
    }
    match record.files.get(&manifest.onnx.file) {
        Some(expected) if *expected == actual => Ok((actual, record)),
        Some(expected) => Err(EmbedError::Integrity {
            path: onnx,
            model: manifest.fetch_arg(),
            check: "sha256 recorded at fetch".into(),
            detail: format!("expected {expected}, found {actual}"),
        }),
        None => Err(EmbedError::NotFetched {
            name: manifest.fetch_arg(),
            path: record_path,
        }),
    }
}
