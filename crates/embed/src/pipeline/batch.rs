//! What travels from a preparer to the backbone: one prepared batch, and the
//! [`Preparer`] component that makes them.

use std::collections::BTreeMap;
use std::time::Duration;

use graft_cache::{ErrorRecord, ItemRecord};

use crate::inputs::Item;
use crate::preprocess::TextBatch;

use super::EmbedOptions;

/// One prepared batch travelling from the preparer to inference.
pub(crate) struct Prepared {
    /// Records of the items in the batch, row-aligned with the input.
    pub items: Vec<ItemRecord>,
    /// Per item, the raw-input features of the from-scratch baseline (e.g. 28x28 pixels).
    pub baseline: Vec<Vec<u8>>,
    /// Items that failed while reading or preparing.
    pub errors: Vec<ErrorRecord>,
    /// The model input.
    pub input: BatchInput,
    /// Time spent reading files (summed over workers).
    pub read: Duration,
    /// Time spent decoding/resizing or tokenising (summed over workers).
    pub prepare: Duration,
}

impl Prepared {
    /// A batch with only failures (or nothing) in it.
    pub fn failures(errors: Vec<ErrorRecord>, read: Duration, prepare: Duration) -> Self {
        Prepared {
            items: Vec::new(),
            baseline: Vec::new(),
            errors,
            input: BatchInput::Empty,
            read,
            prepare,
        }
    }
}

/// A batch's model input.
pub(crate) enum BatchInput {
    /// Image tensors laid end to end, with the batch shape.
    Pixels { shape: [usize; 4], data: Vec<f32> },
    /// Padded token ids.
    Tokens(TextBatch),
    /// Nothing to run (every item failed).
    Empty,
}

/// Where prepared batches go; `false` means the consumer stopped and the preparer
/// should stop too.
pub(crate) type BatchSender<'a> = dyn FnMut(Prepared) -> bool + 'a;

/// A modality's preparation step: turns listed items into batches of model input on a
/// worker pool. A new modality is a new lister (see [`crate::inputs`]) and a new preparer.
pub(crate) trait Preparer: Sync {
    /// Prepares `items` in order, sending every batch (failed items included, as error
    /// records). A panic inside one item's preparation must become that item's error.
    /// `default_task` is the label field recorded as an item's `label`.
    fn produce(
        &self,
        pool: &rayon::ThreadPool,
        items: Vec<Item>,
        default_task: Option<&str>,
        opts: &EmbedOptions,
        send: &mut BatchSender<'_>,
    );
}

/// An item's labels as its cache record keeps them: the default task's as `label`, and
/// all of them by task when there are several.
pub(crate) fn record_labels(
    item: &Item,
    default_task: Option<&str>,
) -> (Option<String>, BTreeMap<String, String>) {
    let label = default_task.and_then(|t| item.labels.get(t)).cloned();
    let labels = if item.labels.len() > 1 {
        item.labels.clone()
    } else {
        BTreeMap::new()
    };
    (label, labels)
}

/// Runs `f`, turning a panic into an error reason that names `what`.
pub(crate) fn no_panic<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(format!(
            "internal error while {what}: {}",
            panic_message(panic.as_ref())
        ))
    })
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}
