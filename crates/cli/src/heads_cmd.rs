//! `graft train | curve | eval | predict`: flags -> one `graft_heads` job (plus, for
//! `predict`, the embedding of the new inputs) -> printing.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use graft_embed::{EmbedOptions, Embedder, GraftHome, ListOptions, ModelManifest};
use graft_heads::{
    CurveConfig, EvalConfig, EvalSource, HeadChoice, HeadFile, HeadKind, LabelSource,
    PredictionFormat, Shots, TrainConfig,
};

/// Head types.
#[derive(Clone, Copy, ValueEnum)]
pub enum HeadKindArg {
    /// Multinomial logistic regression, L2 strength by stratified k-fold CV.
    Logistic,
    /// Nearest class mean (cosine).
    Centroid,
    /// k nearest neighbours (cosine).
    Knn,
}

/// Options shared by `train` and `curve`.
#[derive(Args, Clone)]
pub struct HeadOptions {
    /// Head type.
    #[arg(long, value_enum, default_value = "logistic")]
    head: HeadKindArg,
    /// Logistic: class weights inversely proportional to class frequency.
    #[arg(long)]
    balanced: bool,
    /// Logistic: a fixed inverse L2 strength C instead of the CV search.
    #[arg(long)]
    c: Option<f64>,
    /// Logistic: cross-validation folds (default 5, fewer for classes that small).
    #[arg(long)]
    folds: Option<usize>,
    /// k-NN: neighbours (default 5).
    #[arg(long)]
    k: Option<usize>,
    /// Seed for splits, folds and few-shot samples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Labels from a file (CSV id,label or JSONL) instead of the cache's.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Task (label field) to train; default: every task in the cache.
    #[arg(long)]
    task: Option<String>,
}

impl HeadOptions {
    fn choice(&self) -> HeadChoice {
        HeadChoice {
            kind: match self.head {
                HeadKindArg::Logistic => HeadKind::Logistic,
                HeadKindArg::Centroid => HeadKind::Centroid,
                HeadKindArg::Knn => HeadKind::Knn,
            },
            c: self.c,
            folds: self.folds,
            balanced: self.balanced,
            k: self.k,
            seed: self.seed,
        }
    }

    fn labels(&self) -> Result<LabelSource> {
        Ok(LabelSource::new(self.task.clone(), self.labels.clone())?)
    }
}

#[derive(Args)]
pub struct TrainArgs {
    /// Training feature cache.
    #[arg(long)]
    features: PathBuf,
    /// Evaluation feature cache (else a stratified split of the training cache).
    #[arg(long)]
    eval: Option<PathBuf>,
    /// Held-out fraction when there is no --eval (default 0.2).
    #[arg(long)]
    test_fraction: Option<f64>,
    /// Also train the same head from scratch on raw inputs (pixels / TF-IDF) and compare.
    #[arg(long)]
    baseline: bool,
    /// Where to write the head (JSON); with several tasks, `.TASK` is added before the extension.
    #[arg(long)]
    out: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    opts: HeadOptions,
}

#[derive(Args)]
pub struct CurveArgs {
    /// Training feature cache (the pool few-shot samples are drawn from).
    #[arg(long)]
    features: PathBuf,
    /// Evaluation feature cache.
    #[arg(long)]
    eval: PathBuf,
    /// Labelled examples per class, comma-separated; `all` = the whole pool.
    #[arg(long, value_delimiter = ',', default_value = "1,2,5,10,20,50,all")]
    shots: Vec<Shots>,
    /// Repeats per point (different samples).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Write the plot here (SVG).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Skip the from-scratch baseline.
    #[arg(long)]
    no_baseline: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    opts: HeadOptions,
}

#[derive(Args)]
pub struct EvalArgs {
    /// Head file written by `graft train`.
    #[arg(long)]
    head: PathBuf,
    /// Labelled feature cache made with the head's backbone.
    #[arg(long)]
    features: PathBuf,
    /// Labels from a file instead of the cache's.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Task whose labels to use (default: the head's task).
    #[arg(long)]
    task: Option<String>,
    /// Also write each row's prediction here (CSV like `graft predict`; JSONL for `.jsonl`).
    #[arg(long)]
    predictions: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct PredictArgs {
    /// Head file written by `graft train`.
    #[arg(long)]
    head: PathBuf,
    /// JSONL output (default CSV).
    #[arg(long)]
    json: bool,
    /// Images per batch (texts: rows).
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[command(flatten)]
    device: crate::embed_cmd::DeviceArgs,
    #[command(flatten)]
    text: crate::embed_cmd::TextArgs,
    /// Image files and folders, or text files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

pub fn train(a: TrainArgs) -> Result<u8> {
    let report = graft_heads::train(&TrainConfig {
        features: a.features,
        eval: EvalSource::new(a.eval, a.test_fraction)?,
        labels: a.opts.labels()?,
        head: a.opts.choice(),
        baseline: a.baseline,
        out: a.out,
    })?;
    for t in &report.tasks {
        if t.unlabelled > 0 {
            eprintln!(
                "note: task {}: {} rows have no label and are left out",
                t.task, t.unlabelled
            );
        }
    }
    if a.json {
        println!("{}", serde_json::to_string(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(0)
}

pub fn curve(a: CurveArgs) -> Result<u8> {
    let report = graft_heads::curve(&CurveConfig {
        features: a.features,
        eval: a.eval,
        labels: a.opts.labels()?,
        head: a.opts.choice(),
        shots: a.shots,
        repeats: a.repeats,
        baseline: !a.no_baseline,
        plot: a.plot,
    })?;
    if a.json {
        println!("{}", serde_json::to_string(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(0)
}

pub fn eval(a: EvalArgs) -> Result<u8> {
    let head = a.head.clone();
    let report = graft_heads::evaluate(&EvalConfig {
        head: a.head,
        features: a.features,
        labels: LabelSource::new(a.task, a.labels)?,
    })
    .with_context(|| format!("evaluating {}", head.display()))?;
    if let Some(path) = &a.predictions {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        graft_heads::write_predictions(file, format_of(path), &report.ids, &report.predictions)?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&report.report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(0)
}

/// Embeds the inputs with the head's backbone, preprocessed exactly as its training
/// features were, and writes the head's predictions.
pub fn predict(a: PredictArgs, ort_lib: Option<PathBuf>) -> Result<u8> {
    let file = HeadFile::load(&a.head)?;
    let head = file.head()?;
    let home = GraftHome::from_env();
    let manifest = ModelManifest::resolve(&file.provenance.backbone)?
        .with_recorded_preprocessing(&file.provenance.preprocessing)?;
    let load = a
        .device
        .load_options(&home, ort_lib)
        .for_manifest(&manifest, a.batch_size);
    let mut embedder = Embedder::load(&manifest, &home, &load)?;
    file.check_compatible(&graft_heads::Provenance::of_stamp(&embedder.stamp()))
        .with_context(|| format!("{} was trained on other features", a.head.display()))?;
    let list = ListOptions {
        labels_file: None,
        text: a.text.fields(Vec::new()),
    };
    let listing = embedder.list(&a.inputs, &list)?;
    let opts = EmbedOptions {
        batch_size: a.batch_size,
        ..Default::default()
    };
    let out = embedder.collect(listing, &opts)?;
    let predictions = graft_heads::predict(&head, out.features.view())?;
    let format = if a.json {
        PredictionFormat::Jsonl
    } else {
        PredictionFormat::Csv
    };
    graft_heads::write_predictions(std::io::stdout().lock(), format, &out.ids, &predictions)?;
    for e in &out.errors {
        eprintln!("failed: {}: {}", e.id, e.reason);
    }
    Ok(if out.errors.is_empty() {
        0
    } else {
        crate::EXIT_SOME_FAILED
    })
}

/// JSONL for a `.jsonl` path, CSV otherwise.
fn format_of(path: &std::path::Path) -> PredictionFormat {
    if path.extension().is_some_and(|e| e == "jsonl") {
        PredictionFormat::Jsonl
    } else {
        PredictionFormat::Csv
    }
}
