//! Appending rows to a cache, shard by shard, so that a killed run resumes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ndarray::{ArrayView2, Axis};
use ndarray_npy::WriteNpyExt;

use crate::manifest::{CacheManifest, ErrorRecord, ItemRecord, ModelStamp, PartId, ShardInfo};
use crate::reader::{read_items, read_npy_f32, read_npy_u8};
use crate::{checksum, io_err, write_atomic, CacheError, Result};

/// What a cache already holds for one id: enough to tell whether the input changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemKey {
    /// Content hash of the embedded input.
    pub hash: String,
    /// File size when embedded (images).
    pub size: Option<u64>,
    /// File modification time when embedded (images).
    pub mtime: Option<i64>,
}

/// The ids a cache already holds, to skip unchanged inputs on a rerun.
#[derive(Debug, Default)]
pub struct DoneIndex {
    items: HashMap<String, ItemKey>,
}

impl DoneIndex {
    /// Number of ids already embedded.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is embedded yet.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What is stored for `id`, if anything.
    pub fn get(&self, id: &str) -> Option<&ItemKey> {
        self.items.get(id)
    }
}

/// Streams rows into a cache directory (or one part of it), committing a shard
/// every `shard_rows` rows.
pub struct CacheWriter {
    dir: PathBuf,
    manifest: CacheManifest,
    shard_rows: usize,
    next_shard: usize,
    features: Vec<f32>,
    items: Vec<ItemRecord>,
    pixels: Vec<u8>,
    pixels_dim: Option<usize>,
    errors: Vec<ErrorRecord>,
    claim: Option<crate::parts::Claim>,
}

const OWN_FILE_PREFIXES: [&str; 3] = ["features-", "items-", "pixels-"];

impl CacheWriter {
    /// Opens (or creates) the cache at `root` for a run of `model`.
    ///
    /// With `part`, rows go to `root/part-I-of-N/` and the part is claimed for
    /// `owner` (see [`crate::PartState`]). An existing cache made with another
    /// model or preprocessing is refused unless `force`, which deletes Graft's
    /// own files there first. Returns the writer and the ids already embedded.
    pub fn open(
        root: &Path,
        model: ModelStamp,
        part: Option<PartId>,
        owner: &str,
        force: bool,
        shard_rows: usize,
    ) -> Result<(Self, DoneIndex)> {
        let dir = match part {
            Some(p) => root.join(p.dir_name()),
            None => root.to_path_buf(),
        };
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let claim = match part {
            Some(p) => Some(crate::parts::Claim::acquire(root, p, owner)?),
            None => {
                crate::parts::refuse_parts_at_root(root)?;
                None
            }
        };
        if force {
            remove_own_files(&dir)?;
        }
        let mut manifest = match CacheManifest::load(&dir) {
            Ok(existing) => {
                if !existing.merged_parts.is_empty() {
                    return Err(CacheError::Parts {
                        dir: dir.clone(),
                        reason: "this is a merged cache of parts; embed into it with --part, or use another --out".into(),
                    });
                }
                if existing.model != model {
                    return Err(CacheError::ModelMismatch {
                        dir: dir.clone(),
                        found: existing.model.describe(),
                        wanted: model.describe(),
                    });
                }
                if existing.part != part {
                    return Err(CacheError::Parts {
                        dir: dir.clone(),
                        reason: "this directory holds another part of a partitioned run".into(),
                    });
                }
                existing
            }
            Err(CacheError::Missing(_)) => CacheManifest::new(model, part),
            Err(e) => return Err(e),
        };
        let mut done = DoneIndex::default();
        for shard in &manifest.shards {
            let features = dir.join(&shard.features);
            let len = std::fs::metadata(&features)
                .map_err(io_err(&features))?
                .len();
            if len != shard.features_bytes {
                return Err(CacheError::Checksum {
                    path: features,
                    expected: format!("{} bytes", shard.features_bytes),
                    actual: format!("{len} bytes"),
                });
            }
            for item in read_items(&dir, shard)? {
                done.items.insert(
                    item.id,
                    ItemKey {
                        hash: item.hash,
                        size: item.size,
                        mtime: item.mtime,
                    },
                );
            }
        }
        let next_shard = manifest
            .shards
            .iter()
            .filter_map(|s| shard_number(&s.features))
            .max()
            .map_or(0, |n| n + 1);
        manifest.complete = false;
        manifest.save(&dir)?;
        let writer = CacheWriter {
            dir,
            manifest,
            shard_rows: shard_rows.max(1),
            next_shard,
            features: Vec::new(),
            items: Vec::new(),
            pixels: Vec::new(),
            pixels_dim: None,
            errors: Vec::new(),
            claim,
        };
        Ok((writer, done))
    }

    /// The directory rows are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest as committed so far.
    pub fn manifest(&self) -> &CacheManifest {
        &self.manifest
    }

    /// Records the label fields (tasks) the items carry.
    pub fn set_tasks(&mut self, tasks: Vec<String>) {
        self.manifest.tasks = tasks;
    }

    /// Rows buffered but not yet committed.
    pub fn pending(&self) -> usize {
        self.items.len()
    }

    /// Appends one row: its features, its record, and optionally its baseline pixels.
    pub fn push(
        &mut self,
        features: &[f32],
        item: ItemRecord,
        pixels: Option<&[u8]>,
    ) -> Result<()> {
        let dim = self.manifest.model.dim;
        if features.len() != dim {
            return Err(CacheError::Format {
                path: self.dir.clone(),
                reason: format!(
                    "{}: feature row has {} values, the cache holds {dim}",
                    item.id,
                    features.len()
                ),
            });
        }
        self.features.extend_from_slice(features);
        if let Some(px) = pixels {
            self.pixels_dim = Some(px.len());
            self.pixels.extend_from_slice(px);
        }
        self.items.push(item);
        if self.items.len() >= self.shard_rows {
            self.commit_shard()?;
        }
        Ok(())
    }

    /// Records an input that failed.
    pub fn push_error(&mut self, error: ErrorRecord) {
        self.errors.push(error);
    }

    /// Number of failures recorded by this run.
    pub fn failed(&self) -> usize {
        self.errors.len()
    }

    /// Removes the rows of `ids` from committed shards (their inputs changed and
    /// will be embedded again). Affected shards are rewritten under new names
    /// before the manifest drops the old ones, so a kill at any point is safe.
    pub fn supersede(&mut self, ids: &HashSet<String>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut kept_shards = Vec::new();
        let mut stale_files = Vec::new();
        for shard in std::mem::take(&mut self.manifest.shards) {
            let items = read_items(&self.dir, &shard)?;
            if !items.iter().any(|i| ids.contains(&i.id)) {
                kept_shards.push(shard);
                continue;
            }
            let features = read_npy_f32(&self.dir, &shard.features, &shard.features_blake3)?;
            let pixels = match (&shard.pixels, &shard.pixels_blake3) {
                (Some(p), Some(sum)) => Some(read_npy_u8(&self.dir, p, sum)?),
                _ => None,
            };
            let keep: Vec<usize> = (0..items.len())
                .filter(|&r| !ids.contains(&items[r].id))
                .collect();
            if !keep.is_empty() {
                let f = features.select(Axis(0), &keep);
                let p = pixels.as_ref().map(|p| p.select(Axis(0), &keep));
                let it: Vec<ItemRecord> = keep.iter().map(|&r| items[r].clone()).collect();
                let info = self.write_shard(f.view(), &it, p.as_ref().map(|p| p.view()))?;
                kept_shards.push(info);
            }
            stale_files.extend(
                [Some(shard.features), Some(shard.items), shard.pixels]
                    .into_iter()
                    .flatten(),
            );
        }
        self.manifest.shards = kept_shards;
        self.manifest.rows = self.manifest.shards.iter().map(|s| s.rows).sum();
        self.save()?;
        for file in stale_files {
            let _ = std::fs::remove_file(self.dir.join(file));
        }
        Ok(())
    }

    /// Commits what is buffered, marks the run complete and returns the manifest.
    pub fn finish(mut self) -> Result<CacheManifest> {
        if !self.items.is_empty() {
            self.commit_shard()?;
        }
        self.manifest.complete = true;
        self.save()?;
        if let Some(claim) = self.claim.take() {
            claim.release();
        }
        Ok(self.manifest)
    }

    fn commit_shard(&mut self) -> Result<()> {
        let rows = self.items.len();
        let dim = self.manifest.model.dim;
        let features = std::mem::take(&mut self.features);
        let features =
            ArrayView2::from_shape((rows, dim), &features).map_err(|e| CacheError::Format {
                path: self.dir.clone(),
                reason: e.to_string(),
            })?;
        let pixels = std::mem::take(&mut self.pixels);
        let pixel_view = match self.pixels_dim {
            Some(pd) if pixels.len() == rows * pd => {
                ArrayView2::from_shape((rows, pd), &pixels).ok()
            }
            _ => None,
        };
        let items = std::mem::take(&mut self.items);
        let info = self.write_shard(features, &items, pixel_view)?;
        self.manifest.shards.push(info);
        self.manifest.rows += rows;
        self.save()?;
        if let Some(claim) = &self.claim {
            claim.heartbeat();
        }
        Ok(())
    }

    fn write_shard(
        &mut self,
        features: ArrayView2<f32>,
        items: &[ItemRecord],
        pixels: Option<ArrayView2<u8>>,
    ) -> Result<ShardInfo> {
        let n = self.next_shard;
        self.next_shard += 1;
        let fname = format!("features-{n:05}.npy");
        let iname = format!("items-{n:05}.jsonl");
        let fbytes = npy_bytes(&features, &self.dir.join(&fname))?;
        let mut ibytes = Vec::with_capacity(items.len() * 96);
        for item in items {
            serde_json::to_writer(&mut ibytes, item).map_err(|e| CacheError::Format {
                path: self.dir.join(&iname),
                reason: e.to_string(),
            })?;
            ibytes.push(b'\n');
        }
        let (pname, psum) = match pixels {
            Some(p) => {
                let pname = format!("pixels-{n:05}.npy");
                let pbytes = npy_bytes(&p, &self.dir.join(&pname))?;
                write_atomic(&self.dir.join(&pname), &pbytes)?;
                (Some(pname), Some(checksum(&pbytes)))
            }
            None => (None, None),
        };
        write_atomic(&self.dir.join(&fname), &fbytes)?;
        write_atomic(&self.dir.join(&iname), &ibytes)?;
        Ok(ShardInfo {
            rows: items.len(),
            features_blake3: checksum(&fbytes),
            items_blake3: checksum(&ibytes),
            features_bytes: fbytes.len() as u64,
            features: fname,
            items: iname,
            pixels: pname,
            pixels_blake3: psum,
        })
    }

    fn save(&mut self) -> Result<()> {
        let mut bytes = Vec::new();
        for e in &self.errors {
            if serde_json::to_writer(&mut bytes, e).is_ok() {
                bytes.push(b'\n');
            }
        }
        write_atomic(&self.dir.join("errors.jsonl"), &bytes)?;
        self.manifest.failed = self.errors.len();
        self.manifest.save(&self.dir)
    }
}

fn npy_bytes<A: ndarray_npy::WritableElement>(
    array: &ArrayView2<A>,
    path: &Path,
) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(array.len() * std::mem::size_of::<A>() + 128);
    array
        .write_npy(&mut bytes)
        .map_err(|e| CacheError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(bytes)
}

fn shard_number(name: &str) -> Option<usize> {
    name.strip_prefix("features-")?
        .strip_suffix(".npy")?
        .parse()
        .ok()
}

/// Deletes the files Graft writes in a cache directory, and nothing else.
fn remove_own_files(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(_) => return Ok(()),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let own = OWN_FILE_PREFIXES.iter().any(|p| name.starts_with(p))
            || name == "manifest.json"
            || name == "errors.jsonl";
        if own {
            std::fs::remove_file(entry.path()).map_err(io_err(entry.path()))?;
        }
    }
    Ok(())
}
