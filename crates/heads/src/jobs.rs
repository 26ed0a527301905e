//! What `graft train`, `graft curve` and `graft eval` do, as library calls: a config in,
//! a report out (text table and JSON), head files written where the config says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use linfa::ParamGuard;
use serde::Serialize;
use serde_json::{json, Value};

use crate::baseline::baseline_features;
use crate::centroid::CentroidParams;
use crate::curve::{learning_curve, plot_svg, CurvePoint, Shots};
use crate::dataset::Dataset;
use crate::error::{HeadError, ParamError, Result};
use crate::features::{labels_file, FeatureSet, LabelSource, LabelledRows};
use crate::head::{Classifier, HeadFile, HeadKind, HeadParams, HeadValidParams};
use crate::knn::KnnParams;
use crate::logistic::{ClassWeight, LogisticParams};
use crate::metrics::{compare_table, Report};

/// Which head to train, as a user states it: the kind and only the options that apply
/// to it ([`HeadChoice::params`] refuses the others).
#[derive(Debug, Clone, PartialEq)]
pub struct HeadChoice {
    /// The kind of head.
    pub kind: HeadKind,
    /// Logistic: a fixed `C` instead of the cross-validated search.
    pub c: Option<f64>,
    /// Logistic: exactly this many cross-validation folds (default 5, reduced for small
    /// classes).
    pub folds: Option<usize>,
    /// Logistic: class weights inversely proportional to class frequency.
    pub balanced: bool,
    /// k-NN: neighbours (default [`crate::DEFAULT_K`]).
    pub k: Option<usize>,
    /// Seed of folds, splits and samples.
    pub seed: u64,
}

impl Default for HeadChoice {
    fn default() -> Self {
        HeadChoice {
            kind: HeadKind::Logistic,
            c: None,
            folds: None,
            balanced: false,
            k: None,
            seed: 0,
        }
    }
}

impl HeadChoice {
    /// Checked params; an option that does not apply to the kind is an error saying why.
    pub fn params(&self) -> Result<HeadValidParams> {
        let not_for = |option, why| -> Result<HeadValidParams> {
            Err(ParamError::NotApplicable {
                option,
                context: format!("to a {} head", self.kind),
                why,
            }
            .into())
        };
        let params: HeadParams = match self.kind {
            HeadKind::Logistic => {
                if self.k.is_some() {
                    return not_for("--k", "neighbours belong to k-NN heads");
                }
                let mut p = LogisticParams::new().seed(self.seed);
                if let Some(c) = self.c {
                    p = p.c(c);
                }
                if let Some(f) = self.folds {
                    if self.c.is_some() {
                        return Err(ParamError::NotApplicable {
                            option: "--folds",
                            context: "with --c".into(),
                            why: "folds choose C by cross-validation, and --c fixes it",
                        }
                        .into());
                    }
                    p = p.folds(f);
                }
                if self.balanced {
                    p = p.class_weight(ClassWeight::Balanced);
                }
                p.into()
            }
            HeadKind::Centroid | HeadKind::Knn => {
                let why = "it sets the logistic head's regularisation";
                if self.c.is_some() {
                    return not_for("--c", why);
                }
                if self.folds.is_some() {
                    return not_for("--folds", "only the logistic head cross-validates C");
                }
                if self.balanced {
                    return not_for("--balanced", "class weights weight the logistic loss");
                }
                if self.kind == HeadKind::Centroid {
                    if self.k.is_some() {
                        return not_for("--k", "a centroid head has no neighbours");
                    }
                    CentroidParams::new().into()
                } else {
                    let mut p = KnnParams::new();
                    if let Some(k) = self.k {
                        p = p.k(k);
                    }
                    p.into()
                }
            }
        };
        Ok(params.check()?)
    }
}

/// Where evaluation rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalSource {
    /// Another cache made with the same model.
    Cache(PathBuf),
    /// A stratified fraction of the training cache's labelled rows.
    Split(f64),
}

/// Held-out fraction when neither an evaluation cache nor a fraction is given.
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;

impl EvalSource {
    /// From `--eval` and `--test-fraction`: giving both is refused.
    pub fn new(eval: Option<PathBuf>, test_fraction: Option<f64>) -> Result<Self> {
        match (eval, test_fraction) {
            (Some(_), Some(_)) => Err(ParamError::NotApplicable {
                option: "--test-fraction",
                context: "with --eval".into(),
                why: "the evaluation rows come from the --eval cache, none are held out",
            }
            .into()),
            (Some(dir), None) => Ok(EvalSource::Cache(dir)),
            (None, f) => Ok(EvalSource::Split(f.unwrap_or(DEFAULT_TEST_FRACTION))),
        }
    }
}

/// `graft train`.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// The training cache.
    pub features: PathBuf,
    /// Evaluation rows.
    pub eval: EvalSource,
    /// Labels, and which tasks to train.
    pub labels: LabelSource,
    /// The head.
    pub head: HeadChoice,
    /// Also train the same head from scratch on raw inputs and compare.
    pub baseline: bool,
    /// The head file; with several tasks, `.TASK` goes before the extension.
    pub out: PathBuf,
}

/// The same head trained from scratch on raw inputs, evaluated on the same rows.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineResult {
    /// What the raw features are.
    pub features: String,
    /// Its evaluation.
    pub report: Report,
}

/// One trained task.
#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    /// The task (label field); `label` for the default.
    pub task: String,
    /// Where the head file was written.
    pub head: PathBuf,
    /// Head kind.
    pub kind: HeadKind,
    /// The backbone that made the features.
    pub backbone: String,
    /// Training rows.
    pub train_rows: usize,
    /// Evaluation rows.
    pub eval_rows: usize,
    /// Rows without a label, left out.
    pub unlabelled: usize,
    /// Seed of folds and splits.
    pub seed: u64,
    /// Logistic: the chosen (or fixed) `C`.
    pub chosen_c: Option<f64>,
    /// Logistic: the folds of the `C` search.
    pub folds: Option<usize>,
    /// Logistic: `C` was fixed because a class had one example.
    pub few_shot_fallback: bool,
    /// Training wall time in seconds.
    pub train_seconds: f64,
    /// Evaluation of the trained head.
    pub report: Report,
    /// The from-scratch baseline, when asked for.
    pub baseline: Option<BaselineResult>,
}

/// What `graft train` did.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// One entry per task.
    pub tasks: Vec<TaskResult>,
}

/// Trains a head per task (and the from-scratch baseline if asked), evaluates it, and
/// writes each head file.
pub fn train(cfg: &TrainConfig) -> Result<TrainReport> {
    let params = cfg.head.params()?;
    let train = FeatureSet::open(&cfg.features)?;
    let eval = match &cfg.eval {
        EvalSource::Cache(dir) => {
            let e = FeatureSet::open(dir)?;
            train.check_same_model(&e)?;
            Some(e)
        }
        EvalSource::Split(_) => None,
    };
    let tasks = train.tasks_of(&cfg.labels);
    let several = tasks.len() > 1;
    // A labels file may label the evaluation cache's rows too.
    let sets: Vec<&FeatureSet> = std::iter::once(&train).chain(eval.as_ref()).collect();
    let map = labels_file(&cfg.labels, &sets)?;
    let mut results = Vec::new();
    for task in &tasks {
        let labelled = train.labelled_with(map.as_ref(), task.as_deref())?;
        let full = train.dataset(&labelled, None)?;
        // Evaluation rows: another cache, or a stratified split of this one.
        let (train_idx, eval_set, eval_rows) = match (&eval, &cfg.eval) {
            (Some(e), _) => {
                let er = e.labelled_with(map.as_ref(), task.as_deref())?;
                ((0..labelled.rows.len()).collect::<Vec<_>>(), e, er)
            }
            (None, EvalSource::Split(fraction)) => {
                let (tr, te) = full.stratified_split_indices(*fraction, cfg.head.seed)?;
                let er = LabelledRows {
                    task: task.clone(),
                    rows: te.iter().map(|&i| labelled.rows[i]).collect(),
                    labels: te.iter().map(|&i| labelled.labels[i].clone()).collect(),
                    unlabelled: 0,
                };
                (tr, &train, er)
            }
            (None, EvalSource::Cache(_)) => unreachable!("opened above"),
        };
        let train_ds = full.subset(&train_idx);
        let eval_ds = eval_set.dataset(&eval_rows, Some(&train_ds.classes))?;
        let fitted = params.fit_dataset(&train_ds)?;
        let report = fitted.head.evaluate(&eval_ds)?;
        let path = task_path(&cfg.out, task.as_deref(), several);
        let metrics = fitted.metrics.clone();
        let mut file = HeadFile::new(fitted, train.provenance(), cfg.head.seed);
        file.task = task.clone();
        file.save(&path)?;
        let baseline = if cfg.baseline {
            let train_rows: Vec<usize> = train_idx.iter().map(|&i| labelled.rows[i]).collect();
            let raw = baseline_features(&train, &train_rows, eval_set, &eval_rows.rows)?;
            let b_train = Dataset::new(raw.train, train_ds.y.clone(), train_ds.classes.clone())?;
            let b_eval = Dataset::new(raw.eval, eval_ds.y.clone(), eval_ds.classes.clone())?;
            let b_report = params.fit_dataset(&b_train)?.head.evaluate(&b_eval)?;
            Some(BaselineResult {
                features: raw.description,
                report: b_report,
            })
        } else {
            None
        };
        results.push(TaskResult {
            task: task.clone().unwrap_or_else(|| "label".into()),
            head: path,
            kind: params.kind(),
            backbone: train.stamp().name.clone(),
            train_rows: train_ds.n_samples(),
            eval_rows: eval_ds.n_samples(),
            unlabelled: labelled.unlabelled,
            seed: cfg.head.seed,
            chosen_c: metrics.chosen_c,
            folds: metrics.cv.as_ref().map(|cv| cv.folds),
            few_shot_fallback: metrics.few_shot_fallback,
            train_seconds: metrics.seconds,
            report,
            baseline,
        });
    }
    Ok(TrainReport { tasks: results })
}

impl TrainReport {
    /// JSON: the report of the one task, or `{"tasks": {NAME: report}}` for several; each
    /// report is the evaluation's fields plus head, chosen_c, seed, rows, seconds and the
    /// baseline's report with its `features`.
    pub fn to_json(&self) -> Value {
        let one = |t: &TaskResult| {
            let mut obj = serde_json::to_value(&t.report).unwrap_or(Value::Null);
            obj["head"] = json!(t.head.display().to_string());
            obj["chosen_c"] = json!(t.chosen_c);
            obj["folds"] = json!(t.folds);
            obj["few_shot_fallback"] = json!(t.few_shot_fallback);
            obj["seed"] = json!(t.seed);
            obj["train_rows"] = json!(t.train_rows);
            obj["eval_rows"] = json!(t.eval_rows);
            obj["unlabelled_rows"] = json!(t.unlabelled);
            obj["train_seconds"] = json!(t.train_seconds);
            if let Some(b) = &t.baseline {
                obj["baseline"] = serde_json::to_value(&b.report).unwrap_or(Value::Null);
                obj["baseline"]["features"] = json!(b.features);
            }
            obj
        };
        match self.tasks.as_slice() {
            [t] => one(t),
            many => {
                let tasks: BTreeMap<&str, Value> =
                    many.iter().map(|t| (t.task.as_str(), one(t))).collect();
                json!({ "tasks": tasks })
            }
        }
    }

    /// Text for people: per task a summary line, the report table, the baseline comparison.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for t in &self.tasks {
            let c = match (t.chosen_c, t.folds, t.few_shot_fallback) {
                (Some(c), Some(f), _) => format!(", C = {c:.3e} by {f}-fold CV"),
                (Some(c), None, true) => {
                    format!(", C = {c} fixed (a class has one example: too few to cross-validate)")
                }
                (Some(c), None, false) => format!(", C = {c:.3e} fixed"),
                _ => String::new(),
            };
            s.push_str(&format!(
                "task {}: {} head on {} ({} train rows, {} eval rows, seed {}{c})\n{}",
                t.task,
                t.kind,
                t.backbone,
                t.train_rows,
                t.eval_rows,
                t.seed,
                t.report.to_table()
            ));
            if let Some(b) = &t.baseline {
                s.push_str(&format!(
                    "\nfrom scratch on {} vs transfer:\n{}",
                    b.features,
                    compare_table(&t.report, &b.report)
                ));
            }
            s.push_str(&format!("head written to {}\n\n", t.head.display()));
        }
        s
    }
}

/// `out` for `task`: `head.json` alone, `head.TASK.json` when several tasks are trained.
fn task_path(out: &Path, task: Option<&str>, several: bool) -> PathBuf {
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

/// `graft curve`.
#[derive(Debug, Clone)]
pub struct CurveConfig {
    /// The training cache (the pool few-shot samples are drawn from).
    pub features: PathBuf,
    /// The evaluation cache.
    pub eval: PathBuf,
    /// Labels (one task: the named or the default one).
    pub labels: LabelSource,
    /// The head.
    pub head: HeadChoice,
    /// Labelled examples per class; counts above the smallest class are dropped.
    pub shots: Vec<Shots>,
    /// Samples per count.
    pub repeats: usize,
    /// Also draw the from-scratch baseline's curve.
    pub baseline: bool,
    /// Write the plot here (SVG).
    pub plot: Option<PathBuf>,
}

/// Learning curves: one series per method.
#[derive(Debug, Clone, Serialize)]
pub struct CurveReport {
    /// Head kind.
    pub kind: HeadKind,
    /// Samples per count.
    pub repeats: usize,
    /// Evaluation rows.
    pub eval_rows: usize,
    /// Series name and its points, transfer first.
    pub series: Vec<(String, Vec<CurvePoint>)>,
    /// Where the plot was written.
    pub plot: Option<PathBuf>,
}

/// Draws learning curves of the head on the features (and on raw inputs), plotting them
/// if asked.
pub fn curve(cfg: &CurveConfig) -> Result<CurveReport> {
    let params = cfg.head.params()?;
    if cfg.repeats == 0 {
        return Err(ParamError::OutOfRange {
            name: "--repeats",
            expected: "at least 1",
            got: "0".into(),
        }
        .into());
    }
    let train = FeatureSet::open(&cfg.features)?;
    let eval = FeatureSet::open(&cfg.eval)?;
    train.check_same_model(&eval)?;
    let task = match &cfg.labels {
        LabelSource::Task(t) => t.clone(),
        LabelSource::File(_) => None,
    };
    let map = labels_file(&cfg.labels, &[&train, &eval])?;
    let rows = train.labelled_with(map.as_ref(), task.as_deref())?;
    let erows = eval.labelled_with(map.as_ref(), task.as_deref())?;
    let tr = train.dataset(&rows, None)?;
    let ev = eval.dataset(&erows, Some(&tr.classes))?;
    let min_class = tr.min_class_count();
    let shots: Vec<Shots> = cfg
        .shots
        .iter()
        .copied()
        .filter(|s| !matches!(s, Shots::N(n) if *n > min_class))
        .collect();
    if shots.is_empty() {
        return Err(HeadError::NotEnoughExamples {
            class: "the smallest class".into(),
            count: min_class,
            needed: cfg.shots.iter().filter_map(Shots::count).min().unwrap_or(1),
            purpose: "any of the requested shot counts".into(),
        });
    }
    let mut series = vec![(
        format!("{} features", train.stamp().name),
        learning_curve(&params, &tr, &ev, &shots, cfg.repeats, cfg.head.seed)?,
    )];
    if cfg.baseline {
        let raw = baseline_features(&train, &rows.rows, &eval, &erows.rows)?;
        let btr = Dataset::new(raw.train, tr.y.clone(), tr.classes.clone())?;
        let bev = Dataset::new(raw.eval, ev.y.clone(), ev.classes.clone())?;
        series.push((
            format!("from scratch: {}", raw.description),
            learning_curve(&params, &btr, &bev, &shots, cfg.repeats, cfg.head.seed)?,
        ));
    }
    if let Some(plot) = &cfg.plot {
        plot_svg(plot, &series)?;
    }
    Ok(CurveReport {
        kind: params.kind(),
        repeats: cfg.repeats,
        eval_rows: ev.n_samples(),
        series,
        plot: cfg.plot.clone(),
    })
}

impl CurveReport {
    /// JSON: `{"series": {NAME: [points]}, "plot": PATH}`.
    pub fn to_json(&self) -> Value {
        let series: BTreeMap<&str, &Vec<CurvePoint>> =
            self.series.iter().map(|(n, p)| (n.as_str(), p)).collect();
        json!({ "series": series, "plot": self.plot })
    }

    /// A table: one row per shot count, mean ± sd per series, and the difference of the
    /// first two series.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} head, {} repeats, eval on {} rows; accuracy mean ± sd\n{:>8}",
            self.kind, self.repeats, self.eval_rows, "shots"
        );
        for (name, _) in &self.series {
            s.push_str(&format!("  {name:>32}"));
        }
        let diff = self.series.len() >= 2;
        s.push_str(if diff { "  difference\n" } else { "\n" });
        let Some((_, first)) = self.series.first() else {
            return s;
        };
        for (i, p) in first.iter().enumerate() {
            let label = match p.shots {
                Shots::All => format!("all({:.0})", p.shots_per_class),
                Shots::N(n) => n.to_string(),
            };
            s.push_str(&format!("{label:>8}"));
            for (_, pts) in &self.series {
                s.push_str(&format!(
                    "  {:>32}",
                    format!("{:.3} ± {:.3}", pts[i].mean, pts[i].std)
                ));
            }
            if diff {
                s.push_str(&format!(
                    "  {:>+10.3}",
                    self.series[0].1[i].mean - self.series[1].1[i].mean
                ));
            }
            s.push('\n');
        }
        if let Some(plot) = &self.plot {
            s.push_str(&format!("plot written to {}\n", plot.display()));
        }
        s
    }
}

/// `graft eval`.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// The head file.
    pub head: PathBuf,
    /// A labelled cache made with the head's backbone and preprocessing.
    pub features: PathBuf,
    /// Labels: the cache's (task: the head's, unless named) or a labels file.
    pub labels: LabelSource,
}

/// What `graft eval` measured.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The head file.
    pub head: PathBuf,
    /// The cache.
    pub features: PathBuf,
    /// The evaluation.
    pub report: Report,
    /// Ids of the evaluated rows.
    pub ids: Vec<String>,
    /// The head's prediction for each row.
    #[serde(skip)]
    pub predictions: Predictions,
}

/// Evaluates a head file on a labelled cache; features of another backbone, model file or
/// preprocessing are refused.
pub fn evaluate(cfg: &EvalConfig) -> Result<EvalReport> {
    let file = HeadFile::load(&cfg.head)?;
    let set = FeatureSet::open(&cfg.features)?;
    file.check_compatible(&set.provenance())?;
    let head = file.head()?;
    let task = match &cfg.labels {
        LabelSource::Task(t) => t.clone().or(file.task.clone()),
        LabelSource::File(_) => None,
    };
    let rows = set.labelled(&cfg.labels, task.as_deref())?;
    let ds = set.dataset(&rows, Some(&head.classes))?;
    let predictions = predict(&head, ds.x.view())?;
    let report = Report::from_proba_and_predictions(
        &ds.y,
        predictions.proba.view(),
        &predictions.predicted,
        &head.classes,
    )?;
    Ok(EvalReport {
        head: cfg.head.clone(),
        features: cfg.features.clone(),
        report,
        ids: rows
            .rows
            .iter()
            .map(|&r| set.items()[r].id.clone())
            .collect(),
        predictions,
    })
}

impl EvalReport {
    /// Text for people.
    pub fn to_text(&self) -> String {
        format!(
            "{} on {} ({} rows)\n{}",
            self.head.display(),
            self.features.display(),
            self.report.n_samples(),
            self.report.to_table()
        )
    }
}

/// Class probabilities and predicted classes of a head on new features: predicted
/// classes come from [`Classifier::predict`], the same path `eval` and `curve` use.
pub fn predict(head: &crate::Head, x: ndarray::ArrayView2<f32>) -> Result<Predictions> {
    Ok(Predictions {
        classes: head.classes.clone(),
        proba: head.predict_proba(x)?,
        predicted: head.predict(x)?,
    })
}

/// A head's predictions for some rows.
#[derive(Debug, Clone)]
pub struct Predictions {
    /// Class names, the columns of `proba`.
    pub classes: Vec<String>,
    /// Class probabilities, one row per input.
    pub proba: ndarray::Array2<f32>,
    /// Predicted class index per row.
    pub predicted: Vec<usize>,
}
