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

/// Resolves a part spec, `I/N` or `auto`, into the part and the owner string of its claim.
/// `auto` reads the scheduler's environment through `env`: Slurm array tasks
/// (`SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT` or `_MIN`/`_MAX`/`_STEP`) or
/// Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`, with `parts` giving N).
pub fn resolve_part(
    spec: &str,
    parts: Option<u32>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(PartId, String)> {
    let num = |name: &str| -> Result<Option<u32>> {
        env(name)
            .map(|v| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| spec_err(format!("{name}={v} is not a number")))
            })
            .transpose()
    };
    let host = hostname();
    let (part, owner) = if spec == "auto" {
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let (index, count) = slurm_index(
                id,
                num("SLURM_ARRAY_TASK_COUNT")?,
                num("SLURM_ARRAY_TASK_MIN")?,
                num("SLURM_ARRAY_TASK_MAX")?,
                num("SLURM_ARRAY_TASK_STEP")?,
            )?;
            let job = env("SLURM_ARRAY_JOB_ID").unwrap_or_default();
            (PartId { index, count }, format!("slurm:{job}_{id}"))
        } else if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = parts.ok_or_else(|| spec_err("--part auto under Kubernetes: pass --parts N or set GRAFT_PARTS to the Job's completions".into()))?;
            let job = env("JOB_NAME").unwrap_or_default();
            (PartId { index, count }, format!("k8s:{job}:{index}"))
        } else {
            return Err(spec_err("--part auto: no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX in the environment; pass --part I/N".into()));
        }
    } else {
        let (i, n) = spec
            .split_once('/')
            .ok_or_else(|| spec_err(format!("--part {spec}: expected I/N (e.g. 0/4) or auto")))?;
        let number = |v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| spec_err(format!("--part {spec}: `{v}` is not a number")))
        };
        let (index, count) = (number(i)?, number(n)?);
        (
            PartId { index, count },
            format!("{host}:{}", std::process::id()),
        )
    };
    if part.count == 0 || part.index >= part.count {
        return Err(spec_err(format!(
            "--part: index {} is not in 0..{}",
            part.index, part.count
        )));
    }
    Ok((part, owner))
}

/// Part index and count of a Slurm array task. Arrays must be a plain range
/// (`--array=A-B` or `A-B:STEP`): the tasks, in order, are parts 0..COUNT. A listed
/// array (`--array=1,4,9`) cannot be mapped to parts without gaps and is refused.
fn slurm_index(
    id: u32,
    count: Option<u32>,
    min: Option<u32>,
    max: Option<u32>,
    step: Option<u32>,
) -> Result<(u32, u32)> {
    let step = step.unwrap_or(1).max(1);
    // Without COUNT (old Slurm), a plain range is assumed and checked below.
    let count = count.or(match (min, max) {
        (Some(min), Some(max)) if max >= min => Some((max - min) / step + 1),
        _ => None,
    });
    match (count, min, max) {
        (Some(count), Some(min), Some(max)) if max >= min && id >= min => {
            let span = max - min;
            if !span.is_multiple_of(step) || span / step + 1 != count || !(id - min).is_multiple_of(step) {
                return Err(spec_err(format!(
                    "--part auto: the Slurm array ({min}-{max}, step {step}, {count} tasks) is not a plain range; submit --array=0-{} or pass --part I/N",
                    count.saturating_sub(1)
                )));
            }
            Ok(((id - min) / step, count))
        }
        (Some(count), None, None) => Ok((id, count)),
        _ => Err(spec_err("--part auto: SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT with SLURM_ARRAY_TASK_MIN/MAX".into())),
    }
}

fn spec_err(reason: String) -> CacheError {
    CacheError::PartSpec(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const STEPPED: &[(&str, &str)] = &[
        ("SLURM_ARRAY_TASK_ID", "4"),
        ("SLURM_ARRAY_TASK_COUNT", "4"),
        ("SLURM_ARRAY_TASK_MIN", "0"),
        ("SLURM_ARRAY_TASK_MAX", "6"),
        ("SLURM_ARRAY_TASK_STEP", "2"),
    ];
    const LISTED: &[(&str, &str)] = &[
        ("SLURM_ARRAY_TASK_ID", "4"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_MAX", "9"),
        ("SLURM_ARRAY_TASK_STEP", "1"),
    ];

    #[test]
    fn part_specs() {
        let (p, _) = resolve_part("1/4", None, &env(&[])).unwrap();
        assert_eq!((p.index, p.count), (1, 4));
        assert!(resolve_part("4/4", None, &env(&[])).is_err());
        assert!(resolve_part("x", None, &env(&[])).is_err());
        let (p, owner) = resolve_part(
            "auto",
            None,
            &env(&[
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_JOB_ID", "77"),
            ]),
        )
        .unwrap();
        assert_eq!((p.index, p.count, owner.as_str()), (2, 4, "slurm:77_2"));
        let (p, _) = resolve_part(
            "auto",
            None,
            &env(&[
                ("SLURM_ARRAY_TASK_ID", "11"),
                ("SLURM_ARRAY_TASK_MIN", "10"),
                ("SLURM_ARRAY_TASK_MAX", "13"),
            ]),
        )
        .unwrap();
        assert_eq!((p.index, p.count), (1, 4));
        // --array=0-6:2 runs 4 tasks: they are parts 0..4, not 0, 2, 4, 6 of 7.
        let (p, _) = resolve_part("auto", None, &env(STEPPED)).unwrap();
        assert_eq!((p.index, p.count), (2, 4));
        // --array=1,4,9 cannot be mapped to parts without gaps.
        let err = resolve_part("auto", None, &env(LISTED))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a plain range"), "{err}");
        let (p, _) = resolve_part("auto", Some(3), &env(&[("JOB_COMPLETION_INDEX", "2")])).unwrap();
        assert_eq!((p.index, p.count), (2, 3));
        let err = resolve_part("auto", None, &env(&[("JOB_COMPLETION_INDEX", "2")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--parts"), "{err}");
        let err = resolve_part("auto", None, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("SLURM_ARRAY_TASK_ID"), "{err}");
    }
}
