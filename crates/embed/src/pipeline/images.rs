//! The image preparer: files read and decoded in parallel, each resized and normalised
//! straight into its slot of the batch tensor.

use std::time::{Duration, Instant};

use graft_cache::{ErrorRecord, ItemRecord};
use rayon::prelude::*;

use super::batch::{no_panic, record_labels, BatchInput, BatchSender, Prepared, Preparer};
use super::EmbedOptions;
use crate::inputs::{Item, ItemSource};
use crate::preprocess::ImagePreprocessor;

/// Read time, prepare time, and the prepared item with its baseline thumbnail, or why it
/// failed.
type SlotResult = (
    Duration,
    Duration,
    Result<(ItemRecord, Vec<u8>), ErrorRecord>,
);

impl Preparer for ImagePreprocessor {
    fn produce(
        &self,
        pool: &rayon::ThreadPool,
        items: Vec<Item>,
        default_task: Option<&str>,
        opts: &EmbedOptions,
        send: &mut BatchSender<'_>,
    ) {
        let len = self.tensor_len();
        for chunk in items.chunks(opts.batch_size.max(1)) {
            // Every image is decoded and normalised in parallel straight into its slot of
            // the batch tensor; failed slots are squeezed out afterwards.
            let mut data = vec![0f32; len * chunk.len()];
            let results: Vec<SlotResult> = pool.install(|| {
                chunk
                    .par_iter()
                    .zip(data.par_chunks_mut(len))
                    .map(|(item, slot)| prepare_file(self, item, default_task, slot))
                    .collect()
            });
            let mut batch = Prepared::failures(Vec::new(), Duration::ZERO, Duration::ZERO);
            for (slot, (read, prepare, r)) in results.into_iter().enumerate() {
                batch.read += read;
                batch.prepare += prepare;
                match r {
                    Ok((record, thumbnail)) => {
                        let kept = batch.items.len();
                        if kept != slot {
                            data.copy_within(slot * len..(slot + 1) * len, kept * len);
                        }
                        batch.baseline.push(thumbnail);
                        batch.items.push(record);
                    }
                    Err(e) => batch.errors.push(e),
                }
            }
            data.truncate(batch.items.len() * len);
            if !batch.items.is_empty() {
                batch.input = BatchInput::Pixels {
                    shape: self.batch_shape(batch.items.len()),
                    data,
                };
            }
            if !send(batch) {
                return;
            }
        }
    }
}

/// Reads, hashes and preprocesses one image file into its tensor slot.
fn prepare_file(
    prep: &ImagePreprocessor,
    item: &Item,
    default_task: Option<&str>,
    slot: &mut [f32],
) -> SlotResult {
    let fail = |reason: String| ErrorRecord {
        id: item.id.clone(),
        reason,
    };
    let ItemSource::File { path, size, mtime } = &item.source else {
        return (
            Duration::ZERO,
            Duration::ZERO,
            Err(fail("not a file".into())),
        );
    };
    let t = Instant::now();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return (
                t.elapsed(),
                Duration::ZERO,
                Err(fail(format!("cannot read: {e}"))),
            )
        }
    };
    let read = t.elapsed();
    let t = Instant::now();
    let result = no_panic("decoding the image", || prep.prepare_into(&bytes, slot))
        .map_err(fail)
        .map(|thumbnail| {
            let (label, labels) = record_labels(item, default_task);
            let record = ItemRecord {
                id: item.id.clone(),
                label,
                labels,
                hash: graft_cache::checksum(&bytes),
                size: Some(*size),
                mtime: Some(*mtime),
                text: None,
            };
            (record, thumbnail)
        });
    (read, t.elapsed(), result)
}
