//! Where features go: a feature cache on disk, or a matrix in memory.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use graft_cache::{CacheWriter, ErrorRecord};
use ndarray::{Array2, ArrayView1};

use super::batch::{BatchInput, Prepared};
use crate::error::Result;

/// The last component of a run: takes each batch with its features (none when every
/// item of the batch failed) and returns the time it spent.
pub(crate) trait Sink {
    fn write(&mut self, batch: Prepared, features: Option<Array2<f32>>) -> Result<Duration>;
}

/// Writes rows into a feature cache, committing a shard every `shard_rows` rows.
pub(crate) struct CacheSink<'a> {
    pub writer: &'a mut CacheWriter,
    pub embedded: usize,
    pub real_tokens: usize,
    pub progress: &'a mut dyn super::Progress,
}

impl Sink for CacheSink<'_> {
    fn write(&mut self, batch: Prepared, features: Option<Array2<f32>>) -> Result<Duration> {
        let t = Instant::now();
        let failed = batch.errors.len();
        for e in batch.errors {
            self.writer.push_error(e);
        }
        let rows = batch.items.len();
        if let Some(f) = features {
            for (r, item) in batch.items.into_iter().enumerate() {
                let baseline = batch.baseline.get(r).map(Vec::as_slice);
                let row = f.row(r);
                let values = row.as_slice().map_or_else(|| row.to_vec(), <[f32]>::to_vec);
                self.writer.push(&values, item, baseline)?;
            }
        }
        if let BatchInput::Tokens(tb) = &batch.input {
            self.real_tokens += tb.real_tokens;
        }
        self.embedded += rows;
        self.progress.advance(rows, failed);
        Ok(t.elapsed())
    }
}

/// Keeps rows in memory, to be returned in listing order.
pub(crate) struct MemorySink {
    pub order: HashMap<String, usize>,
    pub rows: Vec<(usize, String, Vec<f32>)>,
    pub errors: Vec<ErrorRecord>,
}

impl Sink for MemorySink {
    fn write(&mut self, batch: Prepared, features: Option<Array2<f32>>) -> Result<Duration> {
        self.errors.extend(batch.errors);
        if let Some(f) = features {
            for (r, item) in batch.items.into_iter().enumerate() {
                let pos = self.order.get(&item.id).copied().unwrap_or(usize::MAX);
                self.rows.push((pos, item.id, f.row(r).to_vec()));
            }
        }
        Ok(Duration::ZERO)
    }
}

impl MemorySink {
    /// Ids and features in listing order, with the failures.
    pub fn finish(mut self, dim: usize) -> (Vec<String>, Array2<f32>, Vec<ErrorRecord>) {
        self.rows.sort_by_key(|r| r.0);
        let mut m = Array2::zeros((self.rows.len(), dim));
        let mut ids = Vec::with_capacity(self.rows.len());
        for (i, (_, id, v)) in self.rows.into_iter().enumerate() {
            m.row_mut(i).assign(&ArrayView1::from(&v[..]));
            ids.push(id);
        }
        (ids, m, self.errors)
    }
}
