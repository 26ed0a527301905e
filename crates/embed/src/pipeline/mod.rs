//! The embedding run, a chain of small components:
//!
//! ```text
//! lister (crate::inputs) -> preparer -> backbone -> sink
//! ```
//!
//! The lister turns paths into items. A preparer (one per modality: [`ImagePreprocessor`]
//! decodes and resizes images in parallel on a rayon pool straight into the batch tensor;
//! [`TextPreprocessor`] tokenises texts in windows and buckets them by length so little
//! padding is computed) runs on its own thread and hands batches to inference through a
//! bounded channel, so memory stays flat however large the corpus. The sink writes a
//! `graft_cache` directory (resumable, incremental, partitioned) or collects a matrix.
//! Every stage is timed. A new modality is a new lister and a new preparer.

mod batch;
mod images;
mod sink;
mod texts;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use graft_cache::{CacheWriter, ErrorRecord, ModelStamp, PartId};
use ndarray::Array2;
use serde::Serialize;

use self::batch::{panic_message, BatchInput, Prepared, Preparer};
use self::sink::{CacheSink, MemorySink, Sink};
use crate::backbone::{Backbone, LoadOptions};
use crate::error::{EmbedError, Result};
use crate::inputs::{Item, ItemSource, ListOptions, Listing};
use crate::manifest::{Modality, ModelManifest, ResizeMode};
use crate::preprocess::{ImagePreprocessor, TextPreprocessor};
use crate::GraftHome;

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
            owner: format!("{}:{}", graft_cache::hostname(), std::process::id()),
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
    /// The backbone `model` is loaded and runs on `provider`.
    fn loaded(&mut self, _model: &str, _provider: crate::Provider) {}
    /// The run starts with `total` items to embed.
    fn start(&mut self, _total: usize) {}
    /// `rows` more items were embedded and `failed` more failed.
    fn advance(&mut self, _rows: usize, _failed: usize) {}
}

/// No progress reporting.
pub struct Silent;
impl Progress for Silent {}

/// A backbone with the preparer its modality needs: what turns inputs into features.
pub struct Embedder {
    backbone: Backbone,
    preparer: Box<dyn Preparer + Send>,
}

impl Embedder {
    /// Loads `manifest`'s model (verified against its fetch record) and its preparer.
    pub fn load(manifest: &ModelManifest, home: &GraftHome, load: &LoadOptions) -> Result<Self> {
        let backbone = Backbone::load(manifest, home, load)?;
        let preparer: Box<dyn Preparer + Send> = match manifest.modality {
            Modality::Image => {
                let prep = manifest.image.clone().ok_or_else(|| {
                    EmbedError::Invalid(format!("{}: no [image] section", manifest.name))
                })?;
                Box::new(ImagePreprocessor::new(prep))
            }
            Modality::Text => {
                let prep = manifest.text.as_ref().ok_or_else(|| {
                    EmbedError::Invalid(format!("{}: no [text] section", manifest.name))
                })?;
                Box::new(TextPreprocessor::load(
                    &manifest.model_dir(home).join(&prep.tokenizer),
                    prep.max_length,
                )?)
            }
            Modality::Audio => {
                return Err(EmbedError::Invalid(format!(
                    "{}: audio models are not supported by this build",
                    manifest.name
                )))
            }
        };
        Ok(Embedder { backbone, preparer })
    }

    /// The loaded backbone.
    pub fn backbone(&self) -> &Backbone {
        &self.backbone
    }

    /// What a cache records about this embedder's features.
    pub fn stamp(&self) -> ModelStamp {
        self.backbone.manifest().stamp(self.backbone.model_sha256())
    }

    /// Lists `inputs` as this model's modality reads them.
    pub fn list(&self, inputs: &[PathBuf], opts: &ListOptions) -> Result<Listing> {
        crate::inputs::list(self.backbone.modality(), inputs, opts)
    }

    /// Embeds a listed corpus into the cache at `out`: skips what the cache already
    /// holds unchanged, re-embeds changed items, records failures, and resumes after a
    /// kill. With `opts.part`, only that part's items are embedded.
    pub fn embed_to_cache(
        &mut self,
        listing: Listing,
        out: &Path,
        opts: &EmbedOptions,
        progress: &mut dyn Progress,
    ) -> Result<EmbedSummary> {
        let started = Instant::now();
        let (mut writer, done) = CacheWriter::open(
            out,
            self.stamp(),
            opts.part,
            &opts.owner,
            opts.force,
            opts.shard_rows,
        )?;
        writer.set_tasks(listing.tasks.clone());
        let mut summary = EmbedSummary {
            provider: self.backbone.provider().to_string(),
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
        let default_task = listing.tasks.first().map(String::as_str);
        let mut sink = CacheSink {
            writer: &mut writer,
            embedded: 0,
            real_tokens: 0,
            progress,
        };
        let stages = run_batches(
            &mut self.backbone,
            self.preparer.as_ref(),
            todo,
            default_task,
            opts,
            &mut sink,
        )?;
        let (embedded, tokens) = (sink.embedded, sink.real_tokens);
        summary.embedded = embedded;
        summary.failed = writer.failed();
        let manifest = writer.finish()?;
        summary.rows = manifest.rows;
        summary.stages = stages;
        summary.seconds = started.elapsed().as_secs_f64();
        summary.items_per_sec = summary.embedded as f64 / summary.seconds.max(1e-9);
        if manifest.model.modality == Modality::Text {
            summary.tokens_per_sec = Some(tokens as f64 / summary.seconds.max(1e-9));
        }
        Ok(summary)
    }

    /// Embeds a listing into memory: rows in listing order, failures beside them.
    pub fn collect(&mut self, listing: Listing, opts: &EmbedOptions) -> Result<Embeddings> {
        let mut sink = MemorySink {
            order: listing
                .items
                .iter()
                .enumerate()
                .map(|(i, it)| (it.id.clone(), i))
                .collect::<HashMap<_, _>>(),
            rows: Vec::new(),
            errors: listing.errors,
        };
        let default_task = listing.tasks.first().map(String::as_str);
        run_batches(
            &mut self.backbone,
            self.preparer.as_ref(),
            listing.items,
            default_task,
            opts,
            &mut sink,
        )?;
        let (ids, features, errors) = sink.finish(self.backbone.manifest().dim);
        Ok(Embeddings {
            ids,
            features,
            errors,
        })
    }

    /// Embeds texts held in memory (rows in input order); any text that fails is an error.
    pub fn embed_texts(&mut self, texts: &[String], opts: &EmbedOptions) -> Result<Array2<f32>> {
        let items = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Item {
                id: i.to_string(),
                source: ItemSource::Text(t.clone()),
                labels: Default::default(),
            })
            .collect();
        let out = self.collect(
            Listing {
                items,
                ..Default::default()
            },
            opts,
        )?;
        if let Some(e) = out.errors.first() {
            return Err(EmbedError::Invalid(format!("text {}: {}", e.id, e.reason)));
        }
        Ok(out.features)
    }
}

/// Features of inputs embedded in memory.
#[derive(Debug, Clone)]
pub struct Embeddings {
    /// Item ids, row-aligned with `features`.
    pub ids: Vec<String>,
    /// One row per embedded item.
    pub features: Array2<f32>,
    /// Inputs that failed, with the reason.
    pub errors: Vec<ErrorRecord>,
}

/// Everything `graft embed` does, as data: which model, which inputs, where to, how.
#[derive(Debug, Clone)]
pub struct EmbedJob {
    /// Built-in model name, or a manifest path (see [`ModelManifest::resolve`]).
    pub model: String,
    /// Files and folders to embed.
    pub inputs: Vec<PathBuf>,
    /// The cache directory.
    pub out: PathBuf,
    /// How inputs are listed (labels file, text fields).
    pub list: ListOptions,
    /// Where and how the backbone runs.
    pub load: LoadOptions,
    /// Batching, shards, parts.
    pub run: EmbedOptions,
    /// Images: replaces the manifest's resize policy.
    pub resize: Option<ResizeMode>,
    /// `I/N` or `auto` (Slurm / Kubernetes), with the Kubernetes part count.
    pub part: Option<(String, Option<u32>)>,
}

/// Runs an [`EmbedJob`]: resolves the model (and `--resize`), the part (from the
/// scheduler's environment for `auto`), loads the backbone, lists the inputs and embeds
/// them into the cache. TensorRT profiles follow the manifest and the batch size.
pub fn embed(
    job: &EmbedJob,
    home: &GraftHome,
    progress: &mut dyn Progress,
) -> Result<EmbedSummary> {
    let mut manifest = ModelManifest::resolve(&job.model)?;
    if let Some(mode) = job.resize {
        manifest = manifest.with_resize(mode)?;
    }
    let mut run = job.run.clone();
    if let Some((spec, parts)) = &job.part {
        let (part, owner) = graft_cache::resolve_part(spec, *parts, &|k| std::env::var(k).ok())?;
        run.part = Some(part);
        run.owner = owner;
    }
    let load = job.load.clone().for_manifest(&manifest, run.batch_size);
    let mut embedder = Embedder::load(&manifest, home, &load)?;
    progress.loaded(&manifest.name, embedder.backbone().provider());
    let listing = embedder.list(&job.inputs, &job.list)?;
    embedder.embed_to_cache(listing, &job.out, &run, progress)
}

/// Feeds `items` through `preparer` (on its own thread) and `backbone` into `sink`.
///
/// A panic in the preparer outside any one item (inside one, it is that item's error) is
/// an error of the run: rows are never silently missing.
fn run_batches(
    backbone: &mut Backbone,
    preparer: &dyn Preparer,
    items: Vec<Item>,
    default_task: Option<&str>,
    opts: &EmbedOptions,
    sink: &mut dyn Sink,
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
    let (tx, rx) = crossbeam_channel::bounded::<Prepared>(opts.queue_depth.max(1));
    let mut stages = StageTimes::default();
    std::thread::scope(|scope| -> Result<()> {
        let producer = scope.spawn(move || {
            preparer.produce(&pool, items, default_task, opts, &mut |batch| {
                tx.send(batch).is_ok()
            })
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
            match features.and_then(|f| sink.write(batch, f)) {
                Ok(d) => stages.write += d.as_secs_f64(),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(rx);
        if let Err(panic) = producer.join() {
            result = result.and(Err(EmbedError::Worker(panic_message(panic.as_ref()))));
        }
        result
    })?;
    Ok(stages)
}
