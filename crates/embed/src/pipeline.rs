//! The embedding run: read, decode or tokenise, infer and write, overlapped.
//!
//! A producer thread prepares batches (file reads, decoding and resizing in
//! parallel on a rayon pool; texts tokenised in windows and bucketed by length so
//! little padding is computed) and hands them to the inference loop through a
//! bounded channel, so memory stays flat however large the corpus. Every stage
//! is timed. The same loop feeds either a `graft_cache` directory (resumable,
//! incremental, partitioned) or an in-memory matrix.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use graft_cache::{CacheWriter, ErrorRecord, ItemRecord, ModelStamp, PartId};
use ndarray::Array2;
use serde::Serialize;

use crate::backbone::Backbone;
use crate::error::{EmbedError, Result};
use crate::inputs::{Item, ItemSource, Listing};
use crate::manifest::Modality;
use crate::preprocess::text::{length_buckets, pad, Tokens};
use crate::preprocess::{ImagePreprocessor, TextPreprocessor};

/// How to run an embedding job.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// Images per batch; for texts, the most rows per batch.
    pub batch_size: usize,
    /// Padded tokens per text batch (rows x longest).
    pub token_budget: usize,
    /// Threads decoding images / tokenising (0 = one per core).
    pub prep_threads: usize,
    /// Rows per committed shard.
    pub shard_rows: usize,
    /// Only embed the items of this part.
    pub part: Option<PartId>,
    /// Who runs this part (for the part's claim).
    pub owner: String,
    /// Start the cache again if it was made with another model.
    pub force: bool,
    /// Batches prepared ahead of inference.
    pub queue_depth: usize,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            batch_size: 32,
            token_budget: 32 * 128,
            prep_threads: 0,
            shard_rows: 4096,
            part: None,
            owner: format!("pid:{}", std::process::id()),
            force: false,
            queue_depth: 4,
        }
    }
}

/// Seconds spent in each stage. Read and prepare are summed over worker
/// threads; infer, write and wait are wall time of the inference loop.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageTimes {
    /// Reading files.
    pub read: f64,
    /// Decoding and resizing images, or tokenising texts.
    pub prepare: f64,
    /// Running the backbone.
    pub infer: f64,
    /// Writing shards.
    pub write: f64,
    /// The inference loop waiting for prepared batches (high = input-bound).
    pub wait: f64,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EmbedSummary {
    /// Rows in the cache after the run.
    pub rows: usize,
    /// Rows embedded by this run.
    pub embedded: usize,
    /// Items skipped because the cache already had them unchanged.
    pub skipped: usize,
    /// Items in other parts (with `--part`).
    pub other_parts: usize,
    /// Inputs that failed.
    pub failed: usize,
    /// Wall seconds.
    pub seconds: f64,
    /// Items embedded per second.
    pub items_per_sec: f64,
    /// Real (non-padding) tokens per second, for texts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_sec: Option<f64>,
    /// The provider that ran the backbone.
    pub provider: String,
    /// Time per stage.
    pub stages: StageTimes,
}

/// Progress reports from a run.
pub trait Progress: Send {
    /// The run starts with `total` items to embed.
    fn start(&mut self, _total: usize) {}
    /// `rows` more items were embedded and `failed` more failed.
    fn advance(&mut self, _rows: usize, _failed: usize) {}
}

/// No progress reporting.
pub struct Silent;
impl Progress for Silent {}

/// One prepared batch travelling from the producer to inference.
struct Prepared {
    items: Vec<ItemRecord>,
    thumbnails: Vec<Vec<u8>>,
    errors: Vec<ErrorRecord>,
    input: BatchInput,
    read: Duration,
    prepare: Duration,
}

enum BatchInput {
    Pixels { shape: [usize; 4], data: Vec<f32> },
    Tokens(crate::preprocess::TextBatch),
    Empty,
}

/// Embeds a listed corpus into the cache at `out`: skips what the cache already
/// holds unchanged, re-embeds changed items, records failures, and resumes
/// after a kill. With `opts.part`, only that part's items are embedded.
pub fn embed_to_cache(
    backbone: &mut Backbone,
    text_prep: Option<&TextPreprocessor>,
    listing: Listing,
    out: &Path,
    opts: &EmbedOptions,
    progress: &mut dyn Progress,
) -> Result<EmbedSummary> {
    let started = Instant::now();
    let manifest = backbone.manifest().clone();
    let stamp = ModelStamp {
        name: manifest.name.clone(),
        modality: manifest.modality.to_string(),
        model_sha256: backbone.model_sha256().to_string(),
        preprocessing: manifest.preprocessing(),
        dim: manifest.dim,
    };
    let (mut writer, done) = CacheWriter::open(
        out,
        stamp,
        opts.part,
        &opts.owner,
        opts.force,
        opts.shard_rows,
    )?;
    writer.set_tasks(listing.tasks.clone());
    let mut summary = EmbedSummary {
        provider: backbone.provider().to_string(),
        ..Default::default()
    };
    let mut todo = Vec::new();
    let mut changed = HashSet::new();
    for item in listing.items {
        if let Some(part) = opts.part {
            if !part.contains(&item.id) {
                summary.other_parts += 1;
                continue;
            }
        }
        match done.get(&item.id) {
            None => todo.push(item),
            Some(key) => {
                let same = match &item.source {
                    ItemSource::File { size, mtime, .. } => {
                        key.size == Some(*size) && key.mtime == Some(*mtime)
                    }
                    text => text.text_hash().is_some_and(|h| h == key.hash),
                };
                if same {
                    summary.skipped += 1;
                } else {
                    changed.insert(item.id.clone());
                    todo.push(item);
                }
            }
        }
    }
    writer.supersede(&changed)?;
    for e in listing.errors {
        if opts.part.is_none_or(|p| p.contains(&e.id)) {
            writer.push_error(e);
        }
    }
    progress.start(todo.len());
    let mut tokens = 0usize;
    let default_task = listing.tasks.first().cloned();
    let stages = run_batches(
        backbone,
        text_prep,
        todo,
        default_task,
        opts,
        &mut |batch, features| {
            let t = Instant::now();
            let failed = batch.errors.len();
            for e in batch.errors {
                writer.push_error(e);
            }
            let rows = batch.items.len();
            if let Some(f) = features {
                for (r, item) in batch.items.into_iter().enumerate() {
                    let thumb = batch.thumbnails.get(r).map(Vec::as_slice);
                    let row = f.row(r);
                    let slice = row
                        .as_slice()
                        .map(<[f32]>::to_vec)
                        .unwrap_or_else(|| row.to_vec());
                    writer.push(&slice, item, thumb)?;
                }
            }
            if let BatchInput::Tokens(tb) = &batch.input {
                tokens += tb.real_tokens;
            }
            summary.embedded += rows;
            progress.advance(rows, failed);
            Ok(t.elapsed())
        },
    )?;
    summary.failed = writer.failed();
    let manifest = writer.finish()?;
    summary.rows = manifest.rows;
    summary.stages = stages;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.items_per_sec = summary.embedded as f64 / summary.seconds.max(1e-9);
    if manifest.model.modality == "text" {
        summary.tokens_per_sec = Some(tokens as f64 / summary.seconds.max(1e-9));
    }
    Ok(summary)
}

/// Embeds image files into a matrix (rows in input order); failures are returned
/// beside it and their rows are left out.
pub fn embed_images(
    backbone: &mut Backbone,
    paths: &[std::path::PathBuf],
    opts: &EmbedOptions,
) -> Result<(Vec<String>, Array2<f32>, Vec<ErrorRecord>)> {
    let listing = crate::inputs::list_images(paths, None)?;
    collect(backbone, None, listing, opts)
}

/// Embeds texts into a matrix (rows in input order).
pub fn embed_texts(
    backbone: &mut Backbone,
    tokenizer: &TextPreprocessor,
    texts: &[String],
    opts: &EmbedOptions,
) -> Result<Array2<f32>> {
    let items = texts
        .iter()
        .enumerate()
        .map(|(i, t)| Item {
            id: i.to_string(),
            source: ItemSource::Text(t.clone()),
            labels: Default::default(),
        })
        .collect();
    let (ids, m, errors) = collect(
        backbone,
        Some(tokenizer),
        Listing {
            items,
            ..Default::default()
        },
        opts,
    )?;
    if let Some(e) = errors.first() {
        return Err(EmbedError::Invalid(format!("text {}: {}", e.id, e.reason)));
    }
    debug_assert_eq!(ids.len(), texts.len());
    Ok(m)
}

/// Runs a listing into memory; rows are returned in listing order.
pub fn collect(
    backbone: &mut Backbone,
    text_prep: Option<&TextPreprocessor>,
    listing: Listing,
    opts: &EmbedOptions,
) -> Result<(Vec<String>, Array2<f32>, Vec<ErrorRecord>)> {
    let order: std::collections::HashMap<String, usize> = listing
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.clone(), i))
        .collect();
    let dim = backbone.manifest().dim;
    let mut rows: Vec<(usize, String, Vec<f32>)> = Vec::new();
    let mut errors = listing.errors;
    run_batches(
        backbone,
        text_prep,
        listing.items,
        None,
        opts,
        &mut |batch, features| {
            errors.extend(batch.errors);
            if let Some(f) = features {
                for (r, item) in batch.items.into_iter().enumerate() {
                    let pos = order.get(&item.id).copied().unwrap_or(usize::MAX);
                    rows.push((pos, item.id, f.row(r).to_vec()));
                }
            }
            Ok(Duration::ZERO)
        },
    )?;
    rows.sort_by_key(|r| r.0);
    let mut m = Array2::zeros((rows.len(), dim));
    let mut ids = Vec::with_capacity(rows.len());
    for (i, (_, id, v)) in rows.into_iter().enumerate() {
        m.row_mut(i).assign(&ndarray::ArrayView1::from(&v[..]));
        ids.push(id);
    }
    Ok((ids, m, errors))
}

/// Read time, prepare time, and the prepared image or why it failed.
type PreparedResult = (
    Duration,
    Duration,
    std::result::Result<(ItemRecord, Vec<u8>), ErrorRecord>,
);

type Sink<'a> = dyn FnMut(Prepared, Option<Array2<f32>>) -> Result<Duration> + 'a;

fn run_batches(
    backbone: &mut Backbone,
    text_prep: Option<&TextPreprocessor>,
    items: Vec<Item>,
    default_task: Option<String>,
    opts: &EmbedOptions,
    sink: &mut Sink<'_>,
) -> Result<StageTimes> {
    let threads = if opts.prep_threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.prep_threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("graft-prep-{i}"))
        .build()
        .map_err(|e| EmbedError::Invalid(format!("thread pool: {e}")))?;
    let modality = backbone.modality();
    let manifest = backbone.manifest().clone();
    let image_prep = manifest.image.clone().map(ImagePreprocessor::new);
    if modality == Modality::Text && text_prep.is_none() {
        return Err(EmbedError::Invalid(format!(
            "{}: a text model needs its tokenizer",
            manifest.name
        )));
    }
    let (tx, rx) = crossbeam_channel::bounded::<Prepared>(opts.queue_depth.max(1));
    let mut stages = StageTimes::default();
    std::thread::scope(|scope| -> Result<()> {
        let producer = scope.spawn(move || match (modality, &image_prep, text_prep) {
            (Modality::Image, Some(prep), _) => {
                produce_images(&pool, prep, items, opts.batch_size, &tx)
            }
            (Modality::Text, _, Some(tok)) => {
                produce_texts(&pool, tok, items, default_task.as_deref(), opts, &tx)
            }
            _ => {}
        });
        let mut result = Ok(());
        loop {
            let wait = Instant::now();
            let Ok(batch) = rx.recv() else { break };
            stages.wait += wait.elapsed().as_secs_f64();
            stages.read += batch.read.as_secs_f64();
            stages.prepare += batch.prepare.as_secs_f64();
            let t = Instant::now();
            let features = match &batch.input {
                BatchInput::Pixels { shape, data } => backbone.embed_pixels(*shape, data).map(Some),
                BatchInput::Tokens(tb) => backbone.embed_tokens(tb).map(Some),
                BatchInput::Empty => Ok(None),
            };
            stages.infer += t.elapsed().as_secs_f64();
            let written = features.and_then(|f| sink(batch, f));
            match written {
                Ok(d) => stages.write += d.as_secs_f64(),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(rx);
        let _ = producer.join();
        result
    })?;
    Ok(stages)
}

fn produce_images(
    pool: &rayon::ThreadPool,
    prep: &ImagePreprocessor,
    items: Vec<Item>,
    batch_size: usize,
    tx: &crossbeam_channel::Sender<Prepared>,
) {
    use rayon::prelude::*;
    let len = prep.tensor_len();
    for chunk in items.chunks(batch_size.max(1)) {
        // Every image is decoded and normalised in parallel straight into its slot
        // of the batch tensor; failed slots are squeezed out afterwards.
        let mut data = vec![0f32; len * chunk.len()];
        let results: Vec<PreparedResult> = pool.install(|| {
            chunk
                .par_iter()
                .zip(data.par_chunks_mut(len))
                .map(|(item, slot)| prepare_file(prep, item, slot))
                .collect()
        });
        let mut batch = Prepared {
            items: Vec::new(),
            thumbnails: Vec::new(),
            errors: Vec::new(),
            input: BatchInput::Empty,
            read: Duration::ZERO,
            prepare: Duration::ZERO,
        };
        for (slot, (read, prepare, r)) in results.into_iter().enumerate() {
            batch.read += read;
            batch.prepare += prepare;
            match r {
                Ok((record, thumbnail)) => {
                    let kept = batch.items.len();
                    if kept != slot {
                        data.copy_within(slot * len..(slot + 1) * len, kept * len);
                    }
                    batch.thumbnails.push(thumbnail);
                    batch.items.push(record);
                }
                Err(e) => batch.errors.push(e),
            }
        }
        data.truncate(batch.items.len() * len);
        if !batch.items.is_empty() {
            batch.input = BatchInput::Pixels {
                shape: prep.batch_shape(batch.items.len()),
                data,
            };
        }
        if tx.send(batch).is_err() {
            return;
        }
    }
}

/// Reads, hashes and preprocesses one image file into its tensor slot.
fn prepare_file(prep: &ImagePreprocessor, item: &Item, slot: &mut [f32]) -> PreparedResult {
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
    let result = prep
        .prepare_into(&bytes, slot)
        .map_err(fail)
        .map(|thumbnail| {
            let record = ItemRecord {
                id: item.id.clone(),
                label: item.labels.get("label").cloned(),
                labels: Default::default(),
                hash: graft_cache::checksum(&bytes),
                size: Some(*size),
                mtime: Some(*mtime),
                text: None,
            };
            (record, thumbnail)
        });
    (read, t.elapsed(), result)
}

fn produce_texts(
    pool: &rayon::ThreadPool,
    tok: &TextPreprocessor,
    items: Vec<Item>,
    default_task: Option<&str>,
    opts: &EmbedOptions,
    tx: &crossbeam_channel::Sender<Prepared>,
) {
    let window = opts.batch_size.max(1) * 32;
    let pad_id = tok.pad_id();
    for chunk in items.chunks(window) {
        let t = Instant::now();
        let mut kept: Vec<&Item> = Vec::with_capacity(chunk.len());
        let mut texts: Vec<String> = Vec::with_capacity(chunk.len());
        let mut unreadable = Vec::new();
        for item in chunk {
            match item.source.text() {
                Ok(text) => {
                    kept.push(item);
                    texts.push(text.into_owned());
                }
                Err(reason) => unreadable.push(ErrorRecord {
                    id: item.id.clone(),
                    reason,
                }),
            }
        }
        // Reading is reported with the window's first batch.
        let mut read = t.elapsed();
        if !unreadable.is_empty() {
            let batch = Prepared {
                items: Vec::new(),
                thumbnails: Vec::new(),
                errors: unreadable,
                input: BatchInput::Empty,
                read: std::mem::take(&mut read),
                prepare: Duration::ZERO,
            };
            if tx.send(batch).is_err() {
                return;
            }
        }
        let t = Instant::now();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encoded: std::result::Result<Vec<Tokens>, _> = pool.install(|| tok.encode(&refs));
        let prepare = t.elapsed();
        let encoded = match encoded {
            Ok(e) => e,
            Err(e) => {
                let errors = kept
                    .iter()
                    .map(|i| ErrorRecord {
                        id: i.id.clone(),
                        reason: format!("cannot tokenise: {e}"),
                    })
                    .collect();
                let batch = Prepared {
                    items: Vec::new(),
                    thumbnails: Vec::new(),
                    errors,
                    input: BatchInput::Empty,
                    read: Duration::ZERO,
                    prepare,
                };
                if tx.send(batch).is_err() {
                    return;
                }
                continue;
            }
        };
        let lengths: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();
        let buckets = length_buckets(&lengths, opts.batch_size, opts.token_budget);
        let per_bucket = prepare / buckets.len().max(1) as u32;
        for bucket in buckets {
            let t = Instant::now();
            let toks: Vec<&Tokens> = bucket.iter().map(|&i| &encoded[i]).collect();
            let input = BatchInput::Tokens(pad(&toks, pad_id));
            let items = bucket
                .iter()
                .map(|&i| {
                    let item = kept[i];
                    let text = &texts[i];
                    let label = default_task.and_then(|t| item.labels.get(t)).cloned();
                    let labels = if item.labels.len() > 1 {
                        item.labels.clone()
                    } else {
                        Default::default()
                    };
                    ItemRecord {
                        id: item.id.clone(),
                        label,
                        labels,
                        hash: graft_cache::checksum(text.as_bytes()),
                        size: None,
                        mtime: None,
                        text: Some(text.clone()),
                    }
                })
                .collect();
            let batch = Prepared {
                items,
                thumbnails: Vec::new(),
                errors: Vec::new(),
                input,
                read: std::mem::take(&mut read),
                prepare: per_bucket + t.elapsed(),
            };
            if tx.send(batch).is_err() {
                return;
            }
        }
    }
}
