//! Partitioned runs: claiming a part, reporting parts' status, merging them.
//!
//! Tasks of a Slurm array or a Kubernetes Indexed Job share one output directory
//! and coordinate through files alone. Each part lives in `part-I-of-N/` with its
//! own manifest; `claim.json` there names the task working on it and is refreshed
//! at every committed shard. A second task with another owner is refused while the
//! claim is fresh; the same owner (a requeued task) or a stale claim takes over.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::manifest::{CacheManifest, PartId, ShardInfo};
use crate::{io_err, write_atomic, CacheError, Result};

/// Seconds after which a claim that was not refreshed is considered abandoned.
pub const STALE_CLAIM_SECS: u64 = 300;

#[derive(Debug, Serialize, Deserialize)]
struct ClaimFile {
    owner: String,
    heartbeat: u64,
}

/// A held claim on one part directory.
#[derive(Debug)]
pub(crate) struct Claim {
    path: PathBuf,
    owner: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Claim {
    pub(crate) fn acquire(root: &Path, part: PartId, owner: &str) -> Result<Self> {
        if let Some((other, _)) = part_dirs(root)?
            .into_iter()
            .find(|(id, _)| id.count != part.count)
        {
            return Err(CacheError::Parts {
                dir: root.to_path_buf(),
                reason: format!(
                    "this directory holds a run split into {} parts ({}), not {}; every task must be given the same N",
                    other.count,
                    other.dir_name(),
                    part.count
                ),
            });
        }
        let path = root.join(part.dir_name()).join("claim.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(existing) = serde_json::from_str::<ClaimFile>(&text) {
                let age = now().saturating_sub(existing.heartbeat);
                if existing.owner != owner
                    && age < STALE_CLAIM_SECS
                    && !dead_local_owner(&existing.owner)
                {
                    return Err(CacheError::Parts {
                        dir: root.to_path_buf(),
                        reason: format!(
                            "part {part} is claimed by {} (last seen {age} s ago); two tasks were given the same part. If that task is dead, wait {} s or delete {}",
                            existing.owner,
                            STALE_CLAIM_SECS - age,
                            path.display()
                        ),
                    });
                }
            }
        }
        let claim = Claim {
            path,
            owner: owner.to_string(),
        };
        claim.write()?;
        Ok(claim)
    }

    fn write(&self) -> Result<()> {
        let file = ClaimFile {
            owner: self.owner.clone(),
            heartbeat: now(),
        };
        let bytes = serde_json::to_vec(&file).unwrap_or_default();
        write_atomic(&self.path, &bytes)
    }

    pub(crate) fn heartbeat(&self) {
        let _ = self.write();
    }

    pub(crate) fn release(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The host name, as used in claim owners (`HOST:PID` for runs outside an engine).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// A `HOST:PID` owner on this host whose process is gone: its claim is void.
fn dead_local_owner(owner: &str) -> bool {
    let Some((host, pid)) = owner.rsplit_once(':') else {
        return false;
    };
    host == hostname() && pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists()
}

/// An unpartitioned run into a directory that already holds parts is refused.
pub(crate) fn refuse_parts_at_root(root: &Path) -> Result<()> {
    if !part_dirs(root)?.is_empty() {
        return Err(CacheError::Parts {
            dir: root.to_path_buf(),
            reason: "this directory holds a partitioned run; pass --part, or use another --out"
                .into(),
        });
    }
    Ok(())
}

fn part_dirs(root: &Path) -> Result<Vec<(PartId, PathBuf)>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(_) => return Ok(Vec::new()),
    };
    let mut parts = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let parsed = name.strip_prefix("part-").and_then(|rest| {
            let (i, n) = rest.split_once("-of-")?;
            Some(PartId {
                index: i.parse().ok()?,
                count: n.parse().ok()?,
            })
        });
        if let Some(id) = parsed {
            if entry.path().is_dir() {
                parts.push((id, entry.path()));
            }
        }
    }
    parts.sort_by_key(|(id, _)| (id.count, id.index));
    Ok(parts)
}

/// Where one part stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartState {
    /// Finished: its manifest is complete.
    Done,
    /// Started, not finished (running, or killed and not yet resumed).
    InProgress,
    /// Not started.
    Missing,
}

/// One row of `graft cache status`.
#[derive(Debug, Clone, Serialize)]
pub struct PartStatus {
    /// The part.
    pub part: PartId,
    /// Its state.
    pub state: PartState,
    /// Rows committed.
    pub rows: usize,
    /// Inputs that failed.
    pub failed: usize,
    /// Who holds its claim, when running.
    pub owner: Option<String>,
}

/// Lists every part of the partitioned run in `root`: done, in progress, missing.
pub fn status(root: &Path) -> Result<Vec<PartStatus>> {
    let dirs = part_dirs(root)?;
    let counts: std::collections::BTreeSet<u32> = dirs.iter().map(|(id, _)| id.count).collect();
    if counts.len() > 1 {
        return Err(CacheError::Parts {
            dir: root.to_path_buf(),
            reason: format!(
                "parts made with different part counts {counts:?}; they cannot be merged"
            ),
        });
    }
    let Some(&count) = counts.iter().next() else {
        return Err(CacheError::Parts {
            dir: root.to_path_buf(),
            reason: "no part-I-of-N directories: this is not a partitioned run".into(),
        });
    };
    let mut out = Vec::new();
    for index in 0..count {
        let part = PartId { index, count };
        let dir = root.join(part.dir_name());
        let owner = std::fs::read_to_string(dir.join("claim.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<ClaimFile>(&t).ok())
            .map(|c| c.owner);
        let row = match CacheManifest::load(&dir) {
            Ok(m) => PartStatus {
                part,
                state: if m.complete {
                    PartState::Done
                } else {
                    PartState::InProgress
                },
                rows: m.rows,
                failed: m.failed,
                owner,
            },
            Err(CacheError::Missing(_)) => PartStatus {
                part,
                state: PartState::Missing,
                rows: 0,
                failed: 0,
                owner,
            },
            Err(e) => return Err(e),
        };
        out.push(row);
    }
    Ok(out)
}

/// What `merge` did.
#[derive(Debug, Clone, Serialize)]
pub struct MergeReport {
    /// Number of parts merged.
    pub parts: usize,
    /// Total rows.
    pub rows: usize,
    /// Total failures.
    pub failed: usize,
    /// Total shards referenced.
    pub shards: usize,
}

/// Checks every part and writes `root/manifest.json` listing all their shards.
///
/// Every part must be done, made with the same model, preprocessing and part
/// count, and each shard file must exist with the size its part recorded. A part
/// only ever embeds the ids that hash into it, so no id can be in two parts. No
/// feature data is copied or read, so the cost grows with the number of parts and
/// shards, not rows. [`crate::Cache::verify`] (`graft cache verify`) re-reads
/// everything: checksums, shapes, and that no id appears twice.
pub fn merge(root: &Path) -> Result<MergeReport> {
    let fail = |reason: String| CacheError::Parts {
        dir: root.to_path_buf(),
        reason,
    };
    let states = status(root)?;
    let not_done: Vec<String> = states
        .iter()
        .filter(|s| s.state != PartState::Done)
        .map(|s| format!("{} ({:?})", s.part, s.state))
        .collect();
    if !not_done.is_empty() {
        return Err(fail(format!("parts not finished: {}", not_done.join(", "))));
    }
    let mut merged: Option<CacheManifest> = None;
    for st in &states {
        let rel = st.part.dir_name();
        let dir = root.join(&rel);
        let m = CacheManifest::load(&dir)?;
        if m.part != Some(st.part) {
            return Err(fail(format!(
                "{rel}/manifest.json describes part {:?}",
                m.part
            )));
        }
        for shard in &m.shards {
            let path = dir.join(&shard.features);
            let len = std::fs::metadata(&path).map_err(io_err(&path))?.len();
            if len != shard.features_bytes {
                return Err(CacheError::Checksum {
                    path,
                    expected: format!("{} bytes", shard.features_bytes),
                    actual: format!("{len} bytes"),
                });
            }
        }
        let target = merged.get_or_insert_with(|| {
            let mut t = CacheManifest::new(m.model.clone(), None);
            t.errors.clear();
            t.tasks = m.tasks.clone();
            t
        });
        if target.model != m.model {
            return Err(fail(format!(
                "{rel} was made with {}, part 0 with {}",
                m.model.describe(),
                target.model.describe()
            )));
        }
        target
            .shards
            .extend(m.shards.iter().map(|s| prefixed(s, &rel)));
        target.rows += m.rows;
        target.failed += m.failed;
        target.errors.push(format!("{rel}/errors.jsonl"));
        target.merged_parts.push(rel);
    }
    let mut manifest = merged.ok_or_else(|| fail("no parts to merge".into()))?;
    manifest.complete = true;
    manifest.save(root)?;
    Ok(MergeReport {
        parts: manifest.merged_parts.len(),
        rows: manifest.rows,
        failed: manifest.failed,
        shards: manifest.shards.len(),
    })
}

fn prefixed(shard: &ShardInfo, rel: &str) -> ShardInfo {
    let join = |f: &str| format!("{rel}/{f}");
    ShardInfo {
        features: join(&shard.features),
        items: join(&shard.items),
        pixels: shard.pixels.as_deref().map(join),
        ..shard.clone()
    }
}
