//! Reading a finished (or merged) cache back: features, items, pixels, errors.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use ndarray::{concatenate, Array2, Axis};
use ndarray_npy::ReadNpyExt;

use crate::manifest::{CacheManifest, ErrorRecord, ItemRecord, ShardInfo};
use crate::{checksum, io_err, CacheError, Result};

/// A feature cache opened for reading; every shard is checked against its
/// manifest checksum as it is read.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    manifest: CacheManifest,
}

impl Cache {
    /// Opens the cache in `dir` (its `manifest.json`).
    pub fn open(dir: &Path) -> Result<Self> {
        let manifest = CacheManifest::load(dir)?;
        Ok(Cache {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &CacheManifest {
        &self.manifest
    }

    /// All item records, in row order.
    pub fn items(&self) -> Result<Vec<ItemRecord>> {
        let mut all = Vec::with_capacity(self.manifest.rows);
        for shard in &self.manifest.shards {
            all.extend(read_items(&self.dir, shard)?);
        }
        Ok(all)
    }

    /// All features as one rows x dim matrix.
    pub fn features(&self) -> Result<Array2<f32>> {
        let mut parts = Vec::with_capacity(self.manifest.shards.len());
        for shard in &self.manifest.shards {
            let f = read_npy_f32(&self.dir, &shard.features, &shard.features_blake3)?;
            if f.nrows() != shard.rows || f.ncols() != self.manifest.model.dim {
                return Err(CacheError::Format {
                    path: self.dir.join(&shard.features),
                    reason: format!(
                        "shape {:?}, manifest says {} x {}",
                        f.shape(),
                        shard.rows,
                        self.manifest.model.dim
                    ),
                });
            }
            parts.push(f);
        }
        stack(parts, self.manifest.model.dim)
    }

    /// The downscaled pixels kept for the image baseline, if every shard has them.
    pub fn pixels(&self) -> Result<Option<Array2<u8>>> {
        let mut parts = Vec::new();
        for shard in &self.manifest.shards {
            match (&shard.pixels, &shard.pixels_blake3) {
                (Some(p), Some(sum)) => parts.push(read_npy_u8(&self.dir, p, sum)?),
                _ => return Ok(None),
            }
        }
        let dim = parts.first().map_or(0, |p| p.ncols());
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        if views.is_empty() {
            return Ok(None);
        }
        concatenate(Axis(0), &views)
            .map(Some)
            .map_err(|e| CacheError::Format {
                path: self.dir.clone(),
                reason: format!("pixel shards of unequal width ({dim}): {e}"),
            })
    }

    /// The inputs that failed.
    pub fn errors(&self) -> Result<Vec<ErrorRecord>> {
        let mut all = Vec::new();
        for rel in &self.manifest.errors {
            let path = self.dir.join(rel);
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&path)(e)),
            };
            for line in std::io::BufReader::new(file).lines() {
                let line = line.map_err(io_err(&path))?;
                if line.trim().is_empty() {
                    continue;
                }
                all.push(serde_json::from_str(&line).map_err(|e| CacheError::Format {
                    path: path.clone(),
                    reason: e.to_string(),
                })?);
            }
        }
        Ok(all)
    }

    /// Reads every shard and checks every checksum.
    ///
    /// Also checks that no id appears twice.
    pub fn verify(&self) -> Result<()> {
        self.features()?;
        self.pixels()?;
        let mut seen = std::collections::HashSet::new();
        for item in self.items()? {
            if !seen.insert(item.id.clone()) {
                return Err(CacheError::Format {
                    path: self.dir.clone(),
                    reason: format!("id {} appears twice", item.id),
                });
            }
        }
        Ok(())
    }
}

fn stack(parts: Vec<Array2<f32>>, dim: usize) -> Result<Array2<f32>> {
    if parts.is_empty() {
        return Ok(Array2::zeros((0, dim)));
    }
    if parts.len() == 1 {
        return Ok(parts
            .into_iter()
            .next()
            .unwrap_or_else(|| Array2::zeros((0, dim))));
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    concatenate(Axis(0), &views).map_err(|e| CacheError::Format {
        path: PathBuf::new(),
        reason: e.to_string(),
    })
}

fn read_checked(dir: &Path, rel: &str, expected: &str) -> Result<Vec<u8>> {
    let path = dir.join(rel);
    let bytes = std::fs::read(&path).map_err(io_err(&path))?;
    let actual = checksum(&bytes);
    if actual != expected {
        return Err(CacheError::Checksum {
            path,
            expected: expected.into(),
            actual,
        });
    }
    Ok(bytes)
}

pub(crate) fn read_items(dir: &Path, shard: &ShardInfo) -> Result<Vec<ItemRecord>> {
    let bytes = read_checked(dir, &shard.items, &shard.items_blake3)?;
    let path = dir.join(&shard.items);
    let mut items = Vec::with_capacity(shard.rows);
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        items.push(
            serde_json::from_slice(line).map_err(|e| CacheError::Format {
                path: path.clone(),
                reason: e.to_string(),
            })?,
        );
    }
    if items.len() != shard.rows {
        return Err(CacheError::Format {
            path,
            reason: format!("{} item rows, manifest says {}", items.len(), shard.rows),
        });
    }
    Ok(items)
}

pub(crate) fn read_npy_f32(dir: &Path, rel: &str, sum: &str) -> Result<Array2<f32>> {
    let bytes = read_checked(dir, rel, sum)?;
    Array2::<f32>::read_npy(bytes.as_slice()).map_err(|e| CacheError::Format {
        path: dir.join(rel),
        reason: e.to_string(),
    })
}

pub(crate) fn read_npy_u8(dir: &Path, rel: &str, sum: &str) -> Result<Array2<u8>> {
    let bytes = read_checked(dir, rel, sum)?;
    Array2::<u8>::read_npy(bytes.as_slice()).map_err(|e| CacheError::Format {
        path: dir.join(rel),
        reason: e.to_string(),
    })
}
