//! `graft train | curve | eval | predict`: glue between the feature cache
//! (`graft_cache`), the heads (`graft_heads`) and, for `predict`, the backbone.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use graft_cache::{Cache, ItemRecord};
use graft_heads::curve::{learning_curve, plot_svg, CurvePoint, Shots};
use graft_heads::logistic::{ClassWeight, LogisticConfig};
use graft_heads::tfidf::{TfidfConfig, TfidfVectorizer};
use graft_heads::{
    compare_table, train_head, Classifier, Dataset, Head, HeadFile, HeadSpec, Provenance, Report,
};
use ndarray::Array2;
use serde_json::{json, Value};

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
    /// Class weights inversely proportional to class frequency.
    #[arg(long)]
    balanced: bool,
    /// Logistic: a fixed inverse L2 strength C instead of the CV search.
    #[arg(long)]
    c: Option<f64>,
    /// Logistic: CV folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// k-NN: neighbours.
    #[arg(long, default_value_t = 5)]
    k: usize,
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
    fn spec(&self) -> HeadSpec {
        match self.head {
            HeadKindArg::Logistic => HeadSpec::Logistic {
                c: self.c,
                config: LogisticConfig {
                    folds: self.folds,
                    class_weight: if self.balanced {
                        ClassWeight::Balanced
                    } else {
                        ClassWeight::None
                    },
                    seed: self.seed,
                    ..LogisticConfig::default()
                },
            },
            HeadKindArg::Centroid => HeadSpec::Centroid { center: true },
            HeadKindArg::Knn => HeadSpec::Knn {
                k: self.k,
                center: true,
            },
        }
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
    /// Held-out fraction when there is no --eval.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
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
    shots: Vec<String>,
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
    /// Texts: the field holding the text in .jsonl/.csv inputs.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Texts: the id field; default FILE:LINE.
    #[arg(long)]
    id_field: Option<String>,
    /// Image files and folders, or text files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

/// A labelled view of a cache for one task.
struct Labelled {
    cache: Cache,
    items: Vec<ItemRecord>,
    features: Array2<f32>,
}

fn open(dir: &Path) -> Result<Labelled> {
    let cache = Cache::open(dir)?;
    if cache.manifest().rows == 0 {
        bail!(
            "{}: the cache is empty (0 rows); embed some inputs first",
            dir.display()
        );
    }
    let items = cache.items()?;
    let features = cache.features()?;
    Ok(Labelled {
        cache,
        items,
        features,
    })
}

fn provenance(cache: &Cache) -> Provenance {
    let m = &cache.manifest().model;
    Provenance {
        backbone: m.name.clone(),
        model_sha256: m.model_sha256.clone(),
        preprocessing: m.preprocessing.clone(),
        feature_dim: m.dim,
    }
}

/// The tasks to train: the one asked for, or every task the cache records.
fn tasks(cache: &Cache, task: &Option<String>) -> Vec<Option<String>> {
    match task {
        Some(t) => vec![Some(t.clone())],
        None if cache.manifest().tasks.len() > 1 => {
            cache.manifest().tasks.iter().cloned().map(Some).collect()
        }
        None => vec![None],
    }
}

/// Row indices and labels of the rows that have a label for `task`.
fn labels_for(
    l: &Labelled,
    task: Option<&str>,
    file: Option<&Path>,
) -> Result<(Vec<usize>, Vec<String>)> {
    let from_file = match file {
        Some(f) => {
            let map = graft_embed::inputs::read_labels_file(f)?;
            let known: std::collections::HashSet<&str> =
                l.items.iter().map(|i| i.id.as_str()).collect();
            let unknown: Vec<&String> =
                map.keys().filter(|k| !known.contains(k.as_str())).collect();
            if !unknown.is_empty() {
                bail!(
                    "{}: {} ids are not in the cache {} (e.g. {})",
                    f.display(),
                    unknown.len(),
                    l.cache.dir().display(),
                    unknown[0]
                );
            }
            Some(map)
        }
        None => None,
    };
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (r, item) in l.items.iter().enumerate() {
        let label = match &from_file {
            Some(map) => map.get(&item.id).map(String::as_str),
            None => item.label_for(task),
        };
        if let Some(label) = label {
            rows.push(r);
            labels.push(label.to_string());
        }
    }
    if rows.is_empty() {
        bail!(
            "{}: no row has a label{}; embed with labels (class folders, --labels or --label-field) or pass --labels",
            l.cache.dir().display(),
            task.map(|t| format!(" for task `{t}`")).unwrap_or_default()
        );
    }
    let missing = l.items.len() - rows.len();
    if missing > 0 {
        eprintln!(
            "note: {missing} rows of {} have no label and are left out",
            l.cache.dir().display()
        );
    }
    Ok((rows, labels))
}

fn select(m: &Array2<f32>, rows: &[usize]) -> Array2<f32> {
    m.select(ndarray::Axis(0), rows)
}

/// Raw-input features for the from-scratch baseline: pixels, or TF-IDF fitted on the training texts.
fn baseline_features(
    train: &Labelled,
    train_rows: &[usize],
    eval: &Labelled,
    eval_rows: &[usize],
) -> Result<(Array2<f32>, Array2<f32>, String)> {
    if train.cache.manifest().model.modality == "image" {
        let (Some(tp), Some(ep)) = (train.cache.pixels()?, eval.cache.pixels()?) else {
            bail!("the cache has no pixel thumbnails for the image baseline (made by an older graft?); re-embed with --force");
        };
        let to_f = |m: Array2<u8>, rows: &[usize]| {
            m.select(ndarray::Axis(0), rows)
                .mapv(|v| f32::from(v) / 255.0)
        };
        return Ok((
            to_f(tp, train_rows),
            to_f(ep, eval_rows),
            "pixels (28x28 grey)".into(),
        ));
    }
    let texts = |l: &Labelled, rows: &[usize]| -> Result<Vec<String>> {
        rows.iter()
            .map(|&r| {
                l.items[r].text.clone().with_context(|| {
                    format!(
                        "{}: item {} has no text kept for the baseline",
                        l.cache.dir().display(),
                        l.items[r].id
                    )
                })
            })
            .collect()
    };
    let train_texts = texts(train, train_rows)?;
    let eval_texts = texts(eval, eval_rows)?;
    let cfg = TfidfConfig {
        max_features: Some(5_000),
        min_df: 2,
        sublinear_tf: true,
        ..TfidfConfig::default()
    };
    let vec = TfidfVectorizer::fit(&train_texts, cfg)?;
    Ok((
        vec.transform(&train_texts),
        vec.transform(&eval_texts),
        format!("TF-IDF bag of words ({} terms)", vec.n_features()),
    ))
}

fn report_json(r: &Report) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

/// Trains a head, falling back to a fixed C when a class has fewer than 2 examples
/// (too few for cross-validation): the documented behaviour of few-shot curves.
fn fit(spec: &HeadSpec, ds: &Dataset) -> graft_heads::Result<(Head, graft_heads::TrainingMetrics)> {
    match spec {
        HeadSpec::Logistic { c: None, config } if ds.min_class_count() < 2 => train_head(
            &HeadSpec::Logistic {
                c: Some(1.0),
                config: config.clone(),
            },
            ds,
        ),
        _ => train_head(spec, ds),
    }
}

fn task_path(out: &Path, task: &Option<String>, several: bool) -> PathBuf {
    match (task, several) {
        (Some(t), true) => {
            let stem = out
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let ext = out
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default();
            out.with_file_name(format!("{stem}.{t}{ext}"))
        }
        _ => out.to_path_buf(),
    }
}

pub fn train(a: TrainArgs) -> Result<u8> {
    let train = open(&a.features)?;
    let eval = match &a.eval {
        Some(dir) => Some(open(dir)?),
        None => None,
    };
    if let Some(e) = &eval {
        if e.cache.manifest().model != train.cache.manifest().model {
            bail!(
                "{} and {} were made with different models or preprocessing",
                a.features.display(),
                e.cache.dir().display()
            );
        }
    }
    let spec = a.opts.spec();
    let task_list = tasks(&train.cache, &a.opts.task);
    let several = task_list.len() > 1;
    let mut results = BTreeMap::new();
    for task in &task_list {
        let (rows, labels) = labels_for(&train, task.as_deref(), a.opts.labels.as_deref())?;
        let full = Dataset::from_labels(select(&train.features, &rows), &labels)?;
        // Evaluation rows: another cache, or a stratified split of this one.
        let (train_idx, eval_src, eval_idx, eval_labels): (
            Vec<usize>,
            &Labelled,
            Vec<usize>,
            Vec<String>,
        ) = match &eval {
            Some(e) => {
                let (er, el) = labels_for(e, task.as_deref(), None)?;
                ((0..rows.len()).collect(), e, er, el)
            }
            None => {
                let idx = split_indices(&full, a.test_fraction, a.opts.seed)?;
                let eval_labels = idx.1.iter().map(|&i| labels[i].clone()).collect();
                (
                    idx.0,
                    &train,
                    idx.1.iter().map(|&i| rows[i]).collect(),
                    eval_labels,
                )
            }
        };
        let train_ds = full.subset(&train_idx);
        let eval_ds = Dataset::from_labels_with_classes(
            select(&eval_src.features, &eval_idx),
            &eval_labels,
            &train_ds.classes,
        )
        .with_context(|| "the evaluation set has a class the training set lacks")?;
        let (head, metrics) = fit(&spec, &train_ds)?;
        let report = head.evaluate(&eval_ds)?;
        let path = task_path(&a.out, task, several);
        let mut file = HeadFile::new(head, metrics.clone(), provenance(&train.cache), a.opts.seed);
        file.task = task.clone();
        file.save(&path)?;
        let mut obj = report_json(&report);
        obj["head"] = json!(path.display().to_string());
        obj["chosen_c"] = json!(metrics.chosen_c);
        obj["seed"] = json!(a.opts.seed);
        obj["train_rows"] = json!(train_ds.n_samples());
        obj["eval_rows"] = json!(eval_ds.n_samples());
        obj["train_seconds"] = json!(metrics.seconds);
        let mut text = format!(
            "task {}: {} head on {} ({} train rows, {} eval rows, seed {}{})\n{}",
            task.as_deref().unwrap_or("label"),
            spec_name(&spec),
            train.cache.manifest().model.name,
            train_ds.n_samples(),
            eval_ds.n_samples(),
            a.opts.seed,
            metrics
                .chosen_c
                .map(|c| format!(", C = {c:.3e} by {}-fold CV", a.opts.folds))
                .unwrap_or_default(),
            report.to_table()
        );
        if a.baseline {
            let train_rows: Vec<usize> = train_idx.iter().map(|&i| rows[i]).collect();
            let (bx, ex, what) = baseline_features(&train, &train_rows, eval_src, &eval_idx)?;
            let btrain = Dataset::new(bx, train_ds.y.clone(), train_ds.classes.clone())?;
            let beval = Dataset::new(ex, eval_ds.y.clone(), eval_ds.classes.clone())?;
            let (bhead, _) = fit(&spec, &btrain)?;
            let breport = bhead.evaluate(&beval)?;
            obj["baseline"] = report_json(&breport);
            obj["baseline"]["features"] = json!(what);
            text.push_str(&format!(
                "\nfrom scratch on {what} vs transfer:\n{}",
                compare_table(&report, &breport)
            ));
        }
        text.push_str(&format!("head written to {}\n", path.display()));
        if !a.json {
            println!("{text}");
        }
        results.insert(task.clone().unwrap_or_else(|| "label".into()), obj);
    }
    if a.json {
        let out = if several {
            json!({ "tasks": results })
        } else {
            results.into_values().next().unwrap_or(Value::Null)
        };
        println!("{}", serde_json::to_string(&out)?);
    }
    Ok(0)
}

fn spec_name(spec: &HeadSpec) -> &'static str {
    match spec {
        HeadSpec::Logistic { .. } => "logistic",
        HeadSpec::Centroid { .. } => "centroid",
        HeadSpec::Knn { .. } => "knn",
    }
}

/// Stratified train / eval positions within a dataset.
fn split_indices(ds: &Dataset, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..1.0).contains(&fraction) || fraction == 0.0 {
        bail!("--test-fraction must be in (0, 1)");
    }
    let mut train = Vec::new();
    let mut test = Vec::new();
    let mut rng = graft_heads::rng::SplitMix64::new(seed);
    for mut idx in ds.indices_by_class() {
        rng.shuffle(&mut idx);
        let n_test = ((idx.len() as f64 * fraction).round() as usize)
            .clamp(usize::from(idx.len() > 1), idx.len().saturating_sub(1));
        test.extend_from_slice(&idx[..n_test]);
        train.extend_from_slice(&idx[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

fn parse_shots(specs: &[String]) -> Result<Vec<Shots>> {
    specs
        .iter()
        .map(|s| match s.trim() {
            "all" => Ok(Shots::All),
            n => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .map(Shots::N)
                .with_context(|| format!("--shots: `{n}` is not a positive number or `all`")),
        })
        .collect()
}

pub fn curve(a: CurveArgs) -> Result<u8> {
    let train = open(&a.features)?;
    let eval = open(&a.eval)?;
    let shots = parse_shots(&a.shots)?;
    let spec = a.opts.spec();
    let task = a.opts.task.clone();
    let (rows, labels) = labels_for(&train, task.as_deref(), a.opts.labels.as_deref())?;
    let (erows, elabels) = labels_for(&eval, task.as_deref(), None)?;
    let tr = Dataset::from_labels(select(&train.features, &rows), &labels)?;
    let ev =
        Dataset::from_labels_with_classes(select(&eval.features, &erows), &elabels, &tr.classes)?;
    // Few-shot points larger than the smallest class are capped at it.
    let min_class = tr.min_class_count();
    let shots: Vec<Shots> = shots
        .into_iter()
        .filter(|s| !matches!(s, Shots::N(n) if *n > min_class))
        .collect();
    let trainer = |ds: &Dataset, seed: u64| fit(&spec.with_seed(seed), ds).map(|(h, _)| h);
    let transfer = learning_curve(&tr, &ev, &shots, a.repeats, a.opts.seed, trainer)?;
    let mut series: Vec<(String, Vec<CurvePoint>)> = vec![(
        format!("{} features", train.cache.manifest().model.name),
        transfer,
    )];
    if !a.no_baseline {
        let (bx, ex, what) = baseline_features(&train, &rows, &eval, &erows)?;
        let btr = Dataset::new(bx, tr.y.clone(), tr.classes.clone())?;
        let bev = Dataset::new(ex, ev.y.clone(), ev.classes.clone())?;
        series.push((
            format!("from scratch: {what}"),
            learning_curve(&btr, &bev, &shots, a.repeats, a.opts.seed, trainer)?,
        ));
    }
    if let Some(plot) = &a.plot {
        plot_svg(plot, &series)?;
    }
    if a.json {
        let obj: BTreeMap<&str, &Vec<CurvePoint>> =
            series.iter().map(|(n, p)| (n.as_str(), p)).collect();
        println!(
            "{}",
            serde_json::to_string(&json!({ "series": obj, "plot": a.plot }))?
        );
        return Ok(0);
    }
    println!(
        "{} head, {} repeats, eval on {} rows; accuracy mean ± sd",
        spec_name(&spec),
        a.repeats,
        ev.n_samples()
    );
    print!("{:>8}", "shots");
    for (name, _) in &series {
        print!("  {name:>32}");
    }
    println!(
        "{}",
        if series.len() == 2 {
            "  difference"
        } else {
            ""
        }
    );
    for (i, p) in series[0].1.iter().enumerate() {
        let label = match p.shots {
            Shots::All => format!("all({:.0})", p.shots_per_class),
            Shots::N(n) => n.to_string(),
        };
        print!("{label:>8}");
        for (_, pts) in &series {
            print!(
                "  {:>32}",
                format!("{:.3} ± {:.3}", pts[i].mean, pts[i].std)
            );
        }
        if series.len() == 2 {
            print!("  {:>+10.3}", series[0].1[i].mean - series[1].1[i].mean);
        }
        println!();
    }
    if let Some(plot) = &a.plot {
        println!("plot written to {}", plot.display());
    }
    Ok(0)
}

pub fn eval(a: EvalArgs) -> Result<u8> {
    let file = HeadFile::load(&a.head)?;
    let l = open(&a.features)?;
    file.check_compatible(&provenance(&l.cache))
        .with_context(|| {
            format!(
                "{} cannot be applied to {}",
                a.head.display(),
                a.features.display()
            )
        })?;
    let head = file.head()?;
    let task = a.task.clone().or(file.task.clone());
    let (rows, labels) = labels_for(&l, task.as_deref(), a.labels.as_deref())?;
    let ds = Dataset::from_labels_with_classes(select(&l.features, &rows), &labels, &head.classes)
        .with_context(|| {
            format!(
                "{} has labels the head was not trained on",
                a.features.display()
            )
        })?;
    let report = head.evaluate(&ds)?;
    if a.json {
        println!("{}", serde_json::to_string(&report_json(&report))?);
    } else {
        println!(
            "{} on {} ({} rows)\n{}",
            a.head.display(),
            a.features.display(),
            ds.n_samples(),
            report.to_table()
        );
    }
    Ok(0)
}

pub fn predict(a: PredictArgs, ort_lib: Option<PathBuf>) -> Result<u8> {
    use graft_embed::inputs::{list_images, list_texts, TextFields};
    use graft_embed::manifest::{Modality, ModelManifest};
    use graft_embed::pipeline::{collect, EmbedOptions};
    let file = HeadFile::load(&a.head)?;
    let head = file.head()?;
    let home = graft_embed::GraftHome::from_env();
    let mut manifest = ModelManifest::resolve(&file.provenance.backbone)?;
    // Preprocess exactly as the training features were (e.g. an `embed --resize` override).
    if let Some(image) = file.provenance.preprocessing.get("image") {
        manifest.image = Some(
            serde_json::from_value(image.clone())
                .context("the head's recorded image preprocessing")?,
        );
    }
    let load = a
        .device
        .load_options(&manifest, &home, a.batch_size, ort_lib)?;
    let mut backbone = graft_embed::Backbone::load(&manifest, &home, &load)?;
    let features_of = Provenance {
        backbone: manifest.name.clone(),
        model_sha256: backbone.model_sha256().to_string(),
        preprocessing: manifest.preprocessing(),
        feature_dim: manifest.dim,
    };
    file.check_compatible(&features_of)
        .with_context(|| format!("{} was trained on other features", a.head.display()))?;
    let (listing, tok) = match manifest.modality {
        Modality::Image => (list_images(&a.inputs, None)?, None),
        Modality::Text => {
            let prep = manifest
                .text
                .as_ref()
                .context("text model without [text] section")?;
            let tok = graft_embed::preprocess::TextPreprocessor::load(
                &manifest.model_dir(&home).join(&prep.tokenizer),
                prep.max_length,
            )?;
            let fields = TextFields {
                text: a.text_field.clone(),
                labels: Vec::new(),
                id: a.id_field.clone(),
            };
            (list_texts(&a.inputs, &fields)?, Some(tok))
        }
    };
    let opts = EmbedOptions {
        batch_size: a.batch_size,
        ..Default::default()
    };
    let (ids, features, errors) = collect(&mut backbone, tok.as_ref(), listing, &opts)?;
    let proba = head.predict_proba(features.view())?;
    let mut out = String::new();
    if !a.json {
        out.push_str("id,label");
        for c in &head.classes {
            out.push_str(&format!(",p_{}", csv_field(c)));
        }
        out.push('\n');
    }
    for (i, id) in ids.iter().enumerate() {
        let row = proba.row(i);
        let best = graft_embed::fetch::argmax(row.as_slice().unwrap_or(&[]));
        let label = &head.classes[best];
        if a.json {
            let probs: HashMap<&str, f32> = head
                .classes
                .iter()
                .map(String::as_str)
                .zip(row.iter().copied())
                .collect();
            out.push_str(&serde_json::to_string(
                &json!({"id": id, "label": label, "probabilities": probs}),
            )?);
            out.push('\n');
        } else {
            out.push_str(&format!("{},{}", csv_field(id), csv_field(label)));
            for p in row {
                out.push_str(&format!(",{p:.6}"));
            }
            out.push('\n');
        }
    }
    print!("{out}");
    for e in &errors {
        eprintln!("failed: {}: {}", e.id, e.reason);
    }
    Ok(if errors.is_empty() {
        0
    } else {
        crate::EXIT_SOME_FAILED
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
