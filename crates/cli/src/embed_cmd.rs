//! `graft embed`: flags -> `graft_embed::embed` -> a summary.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use graft_embed::{
    Device, EmbedJob, EmbedOptions, EmbedSummary, GpuOptions, GraftHome, ListOptions, LoadOptions,
    Progress, Provider, ResizeMode, TextFields,
};

/// Options that select and tune the device; shared by `embed` and `predict`.
#[derive(Args, Clone)]
pub struct DeviceArgs {
    /// auto | cpu | cuda[:N] | tensorrt[:N]. An explicit GPU that cannot be used is an error.
    #[arg(long, default_value = "auto")]
    pub device: Device,
    /// ONNX Runtime intra-op threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// CUDA memory arena limit, in MiB.
    #[arg(long)]
    pub gpu_mem_limit_mb: Option<usize>,
    /// TensorRT: build fp16 engines.
    #[arg(long)]
    pub fp16: bool,
    /// TensorRT: engine cache directory (default GRAFT_HOME/trt-engines).
    #[arg(long)]
    pub trt_engine_cache: Option<PathBuf>,
    /// TensorRT: largest batch in the optimisation profile (default: the batch size).
    #[arg(long)]
    pub trt_max_batch: Option<usize>,
}

impl DeviceArgs {
    /// Load options (TensorRT profiles are added for the model when it is known).
    pub fn load_options(&self, home: &GraftHome, ort_lib: Option<PathBuf>) -> LoadOptions {
        LoadOptions {
            device: self.device,
            gpu: GpuOptions {
                memory_limit: self.gpu_mem_limit_mb.map(|mb| mb << 20),
                fp16: self.fp16,
                engine_cache: Some(
                    self.trt_engine_cache
                        .clone()
                        .unwrap_or_else(|| home.root().join("trt-engines")),
                ),
                profiles: Vec::new(),
                max_batch: self.trt_max_batch,
            },
            threads: self.threads,
            ort_lib,
        }
    }
}

/// Image resize policies for `--resize`.
#[derive(Clone, Copy, ValueEnum)]
pub enum ResizeArg {
    /// Resize to the exact size (keeps whole small or centred images such as Fashion-MNIST).
    Stretch,
    /// Shorter side, then centre crop (the usual ImageNet evaluation crop).
    ShorterCrop,
}

impl From<ResizeArg> for ResizeMode {
    fn from(r: ResizeArg) -> Self {
        match r {
            ResizeArg::Stretch => ResizeMode::Stretch,
            ResizeArg::ShorterCrop => ResizeMode::ShorterCrop,
        }
    }
}

#[derive(Args)]
pub struct EmbedArgs {
    /// Built-in model name, or a manifest .toml for a custom ONNX model.
    #[arg(long)]
    model: String,
    /// Cache directory.
    #[arg(long)]
    out: PathBuf,
    /// Images per batch (texts: most rows per batch).
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Texts: padded tokens per batch.
    #[arg(long, default_value_t = 4096)]
    token_budget: usize,
    /// Threads decoding images / tokenising texts (default: one per core).
    #[arg(long, default_value_t = 0)]
    prep_threads: usize,
    /// Rows per shard file.
    #[arg(long, default_value_t = 4096)]
    shard_rows: usize,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    text: TextArgs,
    /// Texts: label field(s), comma-separated; each is a task, the first is the default.
    #[arg(long, value_delimiter = ',')]
    label_field: Vec<String>,
    /// Images: a CSV (id,label) or JSONL file of labels, keyed by path as listed.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Embed only part I of N (0-based), or `auto` to take it from Slurm / Kubernetes.
    #[arg(long)]
    part: Option<String>,
    /// With `--part auto` under Kubernetes: the number of parts (or GRAFT_PARTS).
    #[arg(long, env = "GRAFT_PARTS", requires = "part")]
    parts: Option<u32>,
    /// Images: override the manifest's resize.
    #[arg(long, value_enum)]
    resize: Option<ResizeArg>,
    /// Start the cache again if it was made with another model or preprocessing.
    #[arg(long)]
    force: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
    /// Image files and folders, or text files (.txt, .jsonl, .csv).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

/// Where the text and id are in `.jsonl`/`.csv` inputs; shared by `embed` and `predict`.
#[derive(Args, Clone)]
pub struct TextArgs {
    /// Texts: the field (JSONL) or column (CSV) holding the text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Texts: the id field; default FILE:LINE.
    #[arg(long)]
    pub id_field: Option<String>,
}

impl TextArgs {
    /// Text fields with `labels` as the label fields.
    pub fn fields(&self, labels: Vec<String>) -> TextFields {
        TextFields {
            text: self.text_field.clone(),
            labels,
            id: self.id_field.clone(),
        }
    }
}

/// A progress bar on a terminal, nothing otherwise.
#[derive(Default)]
pub struct Bar(Option<indicatif::ProgressBar>);

impl Progress for Bar {
    fn loaded(&mut self, model: &str, provider: Provider) {
        eprintln!("{model}: running on {provider}");
    }

    fn start(&mut self, total: usize) {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} items  {per_sec}  ETA {eta}  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            self.0 = Some(bar);
        }
    }
    fn advance(&mut self, rows: usize, failed: usize) {
        if let Some(bar) = &self.0 {
            bar.inc((rows + failed) as u64);
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

pub fn embed(args: EmbedArgs, ort_lib: Option<PathBuf>) -> Result<u8> {
    let home = GraftHome::from_env();
    let job = EmbedJob {
        model: args.model.clone(),
        inputs: args.inputs.clone(),
        out: args.out.clone(),
        list: ListOptions {
            labels_file: args.labels.clone(),
            text: args.text.fields(args.label_field.clone()),
        },
        load: args.device.load_options(&home, ort_lib),
        run: EmbedOptions {
            batch_size: args.batch_size,
            token_budget: args.token_budget,
            prep_threads: args.prep_threads,
            shard_rows: args.shard_rows,
            force: args.force,
            ..Default::default()
        },
        resize: args.resize.map(Into::into),
        part: args.part.clone().map(|p| (p, args.parts)),
    };
    let summary = graft_embed::embed(&job, &home, &mut Bar::default())?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary, &args);
    }
    Ok(if summary.failed > 0 {
        crate::EXIT_SOME_FAILED
    } else {
        0
    })
}

fn print_summary(s: &EmbedSummary, args: &EmbedArgs) {
    let parts = if args.part.is_some() {
        format!(", {} in other parts", s.other_parts)
    } else {
        String::new()
    };
    eprintln!(
        "embedded {} ({} skipped, {} failed{parts}) in {:.1}s, {:.1} items/s on {}; cache {} holds {} rows",
        s.embedded,
        s.skipped,
        s.failed,
        s.seconds,
        s.items_per_sec,
        s.provider,
        args.out.display(),
        s.rows
    );
    let t = &s.stages;
    eprintln!(
        "stages (s): read {:.2}  prepare {:.2}  infer {:.2}  write {:.2}  waiting-for-input {:.2}",
        t.read, t.prepare, t.infer, t.write, t.wait
    );
    if s.failed > 0 {
        eprintln!(
            "{} inputs failed: see {}",
            s.failed,
            args.out.join("errors.jsonl").display()
        );
    }
}
