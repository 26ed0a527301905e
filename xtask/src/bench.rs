//! `cargo xtask bench`: graft against reference pipelines, measured side by side in one run
//! (interleaved, same machine, same inputs), printed as a table of ratios and saved to
//! `runs/bench.json`.
//!
//! The references are Python scripts under `xtask/python/` (see its README), run with a venv
//! at `$GRAFT_HOME/bench-venv` built from `xtask/python/requirements-bench.txt`. Each prints
//! one JSON line. What is passed and read:
//!
//! - `bench_ort_images.py --model M.onnx --images DIR --threads T --mode both`:
//!   `bare.images_per_s` (onnxruntime on random tensors: the ceiling) and
//!   `pillow.images_per_s` (decode + preprocess + run in Python).
//! - `bench_ort_text.py --model M.onnx --tokenizer tokenizer.json --texts FILE.jsonl
//!   --text-field text --threads T`: `texts_per_s` end to end, and `texts /
//!   inference_seconds` as the onnxruntime-only figure.
//! - `bench_sklearn_logistic.py --features X.npy --labels y.npy --test-features Xt.npy
//!   --test-labels yt.npy --cv --threads T`: `search_seconds`, `test_accuracy`; the `.npy`
//!   files are exported here from graft's feature caches (see [`crate::npy`]).
//!
//! graft is measured with `graft embed ... --json` (a JSON summary with `rows`, `failed`,
//! `seconds`, `items_per_sec`) and, for `graft train`, wall-clock time. Peak RSS of every
//! child is read from `wait4`'s rusage (no `/usr/bin/time` needed). T is the number of CPUs;
//! graft runs with its defaults.
//! A missing script or requirements file skips the rows that need it, with a note.

use graft_cache::GraftHome;
use std::{
    fs,
    io::Read,
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    time::Instant,
};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{
    fashion, npy,
    setup::{self, DataOptions, Step},
    util,
};

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Measurements per comparison (medians are reported).
    pub repeats: usize,
    /// Skip the 20,000-image peak-RSS run (about ten times the 2,000-image run).
    pub skip_large: bool,
    /// Data settings shared with `setup`.
    pub data: DataOptions,
}

/// Images per class of the large RSS set (10 classes, so 20,000 images).
const LARGE_PER_CLASS: usize = 2_000;
const IMAGE_MODEL: &str = "efficientnet-lite0";
const TEXT_MODEL: &str = "all-minilm-l6-v2";

/// Runs the benchmarks.
pub fn run(home: &GraftHome, opts: Options) -> Result<()> {
    setup::run(
        home,
        &[Step::System, Step::Graft, Step::Fashion, Step::Text],
        opts.data,
    )?;
    if !opts.skip_large {
        fashion::ensure_subset(
            home,
            "fashion-mnist-20k",
            LARGE_PER_CLASS,
            &[fashion::TRAIN],
        )?;
    }
    let python = bench_python(home)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bench_runs = home.runs().join("bench");
    fs::create_dir_all(&bench_runs)
        .with_context(|| format!("cannot create {}", bench_runs.display()))?;

    let mut ctx = Bench {
        home,
        python,
        threads,
        runs: bench_runs,
        rows: Vec::new(),
        raw: serde_json::Map::new(),
        small_rss_kib: None,
    };
    ctx.images(opts.repeats)?;
    ctx.text(opts.repeats)?;
    ctx.logistic()?;
    ctx.memory(opts.skip_large)?;

    let report = home.runs().join("bench.json");
    let body = json!({ "threads": threads, "repeats": opts.repeats, "results": ctx.raw });
    fs::write(&report, format!("{body:#}\n"))
        .with_context(|| format!("cannot write {}", report.display()))?;

    println!();
    println!(
        "Benchmarks ({threads} CPU threads, median of {} run(s); ratio > 1 means graft is \
         better: faster, or smaller)",
        opts.repeats
    );
    print_table(&ctx.rows);
    println!("Raw results: {}", report.display());
    Ok(())
}

/// One line of the table.
struct Row {
    what: String,
    graft: String,
    reference: String,
    ratio: Option<f64>,
}

struct Bench<'a> {
    home: &'a GraftHome,
    /// The venv's Python, when the requirements exist.
    python: Option<PathBuf>,
    threads: usize,
    runs: PathBuf,
    rows: Vec<Row>,
    raw: serde_json::Map<String, Value>,
    /// Peak RSS (KiB) of the image embed runs on the 2,000-image test set.
    small_rss_kib: Option<u64>,
}

impl Bench<'_> {
    /// The venv's Python and the script's path, or why the comparison must be skipped.
    fn script(&self, name: &str) -> Result<(PathBuf, PathBuf), String> {
        let script = util::project_root().join("xtask/python").join(name);
        match &self.python {
            None => Err("no xtask/python/requirements-bench.txt".to_owned()),
            Some(_) if !script.is_file() => Err(format!("no xtask/python/{name}")),
            Some(python) => Ok((python.clone(), script)),
        }
    }

    /// A row for a comparison whose reference could not run.
    fn push_skipped(&mut self, what: String, graft: String, reason: &str) {
        self.rows.push(Row {
            what,
            graft,
            reference: format!("skipped: {reason}"),
            ratio: None,
        });
    }

    /// `graft embed --json` into a fresh folder (so nothing is resumed from a cache).
    fn graft_embed(&self, model: &str, out: &str, input: &Path, extra: &[&str]) -> Result<Run> {
        let out = self.runs.join(out);
        if out.exists() {
            fs::remove_dir_all(&out).with_context(|| format!("cannot remove {}", out.display()))?;
        }
        let run = measure(
            util::graft(self.home)?
                .args(["embed", "--model", model, "--out"])
                .arg(&out)
                .arg("--json")
                .args(extra)
                .arg(input),
        )?;
        let failed = num(&run.json, &["failed"]).unwrap_or(0.0);
        if failed > 0.0 {
            println!("warning: graft embed reported {failed} failed item(s)");
        }
        Ok(run)
    }

    fn images(&mut self, repeats: usize) -> Result<()> {
        let images = self.home.data().join("fashion-mnist").join("test");
        let model = self.home.model_dir(IMAGE_MODEL).join("model.onnx");
        let reference = self.script("bench_ort_images.py");
        let (mut graft, mut bare, mut pillow, mut raw) = (vec![], vec![], vec![], vec![]);
        let mut python_rss_kib = 0;
        for _ in 0..repeats {
            let g = self.graft_embed(IMAGE_MODEL, "fashion-test", &images, &[])?;
            graft.push(rate(&g.json, "graft embed")?);
            self.small_rss_kib = self.small_rss_kib.max(Some(g.max_rss_kib));
            let mut entry = json!({ "graft": g.json, "graft_max_rss_kib": g.max_rss_kib });
            if let Ok((python, script)) = &reference {
                let p = measure(
                    Command::new(python)
                        .arg(script)
                        .arg("--model")
                        .arg(&model)
                        .arg("--images")
                        .arg(&images)
                        .args(["--threads", &self.threads.to_string(), "--mode", "both"]),
                )?;
                bare.push(required(&p.json, &["bare.images_per_s"], script)?);
                pillow.push(required(&p.json, &["pillow.images_per_s"], script)?);
                python_rss_kib = python_rss_kib.max(p.max_rss_kib);
                entry["python"] = p.json;
                entry["python_max_rss_kib"] = p.max_rss_kib.into();
            }
            raw.push(entry);
        }
        self.raw.insert("images".into(), raw.into());
        let g = median(&graft);
        let what = format!("image embed, {} PNGs, items/s", images_in(&images));
        match reference {
            Err(reason) => self.push_skipped(what, format!("{g:.1}"), &reason),
            Ok(_) => {
                self.push_ratio(what, g, "Python ORT + Pillow", median(&pillow));
                self.push_ratio(
                    "  same, vs bare ORT (no decode)".into(),
                    g,
                    "bare onnxruntime",
                    median(&bare),
                );
                let graft_rss = self.small_rss_kib.unwrap_or(0);
                self.rows.push(Row {
                    what: "  same, peak RSS".into(),
                    graft: mib(graft_rss),
                    reference: format!("Python ORT + Pillow {}", mib(python_rss_kib)),
                    ratio: Some(python_rss_kib as f64 / graft_rss.max(1) as f64),
                });
            }
        }
        Ok(())
    }

    fn text(&mut self, repeats: usize) -> Result<()> {
        let jsonl = self.home.data().join("text").join("test.jsonl");
        if !jsonl.is_file() {
            let reason = format!("no {}", jsonl.display());
            self.push_skipped("text embed, items/s".into(), "-".into(), &reason);
            return Ok(());
        }
        let model_dir = self.home.model_dir(TEXT_MODEL);
        let fields = [
            "--text-field",
            "text",
            "--label-field",
            "label",
            "--id-field",
            "id",
        ];
        let reference = self.script("bench_ort_text.py");
        let (mut graft, mut ort_only, mut e2e, mut raw) = (vec![], vec![], vec![], vec![]);
        for _ in 0..repeats {
            let g = self.graft_embed(TEXT_MODEL, "text-test", &jsonl, &fields)?;
            graft.push(rate(&g.json, "graft embed")?);
            let mut entry = json!({ "graft": g.json, "graft_max_rss_kib": g.max_rss_kib });
            if let Ok((python, script)) = &reference {
                let p = measure(
                    Command::new(python)
                        .arg(script)
                        .arg("--model")
                        .arg(model_dir.join("model.onnx"))
                        .arg("--tokenizer")
                        .arg(model_dir.join("tokenizer.json"))
                        .arg("--texts")
                        .arg(&jsonl)
                        .args(["--text-field", "text"])
                        .args(["--threads", &self.threads.to_string()]),
                )?;
                e2e.push(required(&p.json, &["texts_per_s"], script)?);
                let texts = required(&p.json, &["texts"], script)?;
                let inference = required(&p.json, &["inference_seconds"], script)?;
                ort_only.push(texts / inference.max(1e-9));
                entry["python"] = p.json;
            }
            raw.push(entry);
        }
        self.raw.insert("text".into(), raw.into());
        let g = median(&graft);
        let what = format!("text embed, {} texts, items/s", lines_in(&jsonl));
        match reference {
            Err(reason) => self.push_skipped(what, format!("{g:.1}"), &reason),
            Ok(_) => {
                self.push_ratio(what, g, "Python tokenizers + ORT", median(&e2e));
                self.push_ratio(
                    "  same, vs ORT inference time only".into(),
                    g,
                    "onnxruntime run() alone",
                    median(&ort_only),
                );
            }
        }
        Ok(())
    }

    /// `graft train --head logistic` (cross-validated C) against scikit-learn's
    /// `GridSearchCV` over the same grid (`bench_sklearn_logistic.py --cv`), on the same
    /// EfficientNet-Lite0 features of the Fashion-MNIST subset.
    fn logistic(&mut self) -> Result<()> {
        let what = "logistic head with CV over C, s (wall)";
        let (python, script) = match self.script("bench_sklearn_logistic.py") {
            Ok(found) => found,
            Err(reason) => {
                self.push_skipped(what.into(), "-".into(), &reason);
                return Ok(());
            }
        };
        let data = self.home.data().join("fashion-mnist");
        self.graft_embed(IMAGE_MODEL, "fashion-train", &data.join("train"), &[])?;
        let test = self.runs.join("fashion-test");
        if !test.join("manifest.json").is_file() {
            self.graft_embed(IMAGE_MODEL, "fashion-test", &data.join("test"), &[])?;
        }
        let train = self.runs.join("fashion-train");
        let npy = self.runs.join("npy");
        let [x, y, xt, yt] = npy::export_pair(&train, &test, &npy)?;

        let head = self.runs.join("fashion-head.json");
        let g = measure(
            util::graft(self.home)?
                .args(["train", "--features"])
                .arg(&train)
                .arg("--eval")
                .arg(&test)
                .args(["--head", "logistic", "--out"])
                .arg(&head),
        )?;
        let p = measure(
            Command::new(&python)
                .arg(&script)
                .arg("--features")
                .arg(&x)
                .arg("--labels")
                .arg(&y)
                .arg("--test-features")
                .arg(&xt)
                .arg("--test-labels")
                .arg(&yt)
                .args(["--cv", "--threads", &self.threads.to_string()]),
        )?;
        let head_json: Value = fs::read_to_string(&head)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        let accuracy = [
            "test_accuracy",
            "accuracy",
            "eval.accuracy",
            "metrics.accuracy",
            "eval.test_accuracy",
        ];
        let graft_acc = num(&head_json, &accuracy).or_else(|| num(&g.json, &accuracy));
        let python_acc = num(&p.json, &["test_accuracy"]);
        let python_search = num(&p.json, &["search_seconds"]);
        self.raw.insert(
            "logistic".into(),
            json!({
                "graft_wall_seconds": g.wall_seconds,
                "graft_accuracy": graft_acc,
                "graft_stdout_json": g.json,
                "python_wall_seconds": p.wall_seconds,
                "python": p.json,
            }),
        );
        let show_acc = |acc: Option<f64>| acc.map_or(String::new(), |a| format!(", acc {a:.3}"));
        self.rows.push(Row {
            what: what.into(),
            graft: format!("{:.2}{}", g.wall_seconds, show_acc(graft_acc)),
            reference: format!(
                "scikit-learn {:.2}{}{}",
                p.wall_seconds,
                python_search.map_or(String::new(), |f| format!(" (search {f:.2})")),
                show_acc(python_acc)
            ),
            ratio: Some(p.wall_seconds / g.wall_seconds.max(1e-9)),
        });
        Ok(())
    }

    fn memory(&mut self, skip_large: bool) -> Result<()> {
        let small = self.home.data().join("fashion-mnist").join("test");
        let rss_small = match self.small_rss_kib {
            Some(kib) => kib,
            None => {
                self.graft_embed(IMAGE_MODEL, "fashion-test", &small, &[])?
                    .max_rss_kib
            }
        };
        let n_small = images_in(&small);
        let mut entry = json!({ "small_items": n_small, "small_max_rss_kib": rss_small });
        if skip_large {
            self.rows.push(Row {
                what: format!("graft embed peak RSS, {n_small} images"),
                graft: mib(rss_small),
                reference: "skipped: --skip-large".into(),
                ratio: None,
            });
        } else {
            let large = self.home.data().join("fashion-mnist-20k").join("train");
            let l = self.graft_embed(IMAGE_MODEL, "fashion-20k", &large, &[])?;
            let n_large = images_in(&large);
            entry["large_items"] = n_large.into();
            entry["large_max_rss_kib"] = l.max_rss_kib.into();
            entry["large_graft"] = l.json.clone();
            self.rows.push(Row {
                what: format!("graft embed peak RSS, {n_small} vs {n_large}"),
                graft: mib(l.max_rss_kib),
                reference: format!("{n_small} images: {}", mib(rss_small)),
                ratio: Some(rss_small as f64 / l.max_rss_kib.max(1) as f64),
            });
            if let Ok(r) = rate(&l.json, "graft embed") {
                self.rows.push(Row {
                    what: format!("  image embed, {n_large} PNGs, items/s"),
                    graft: format!("{r:.1}"),
                    reference: "-".into(),
                    ratio: None,
                });
            }
        }
        self.raw.insert("memory".into(), entry);
        Ok(())
    }

    fn push_ratio(&mut self, what: String, graft: f64, name: &str, reference: f64) {
        self.rows.push(Row {
            what,
            graft: format!("{graft:.1}"),
            reference: format!("{name} {reference:.1}"),
            ratio: Some(graft / reference),
        });
    }
}

fn print_table(rows: &[Row]) {
    let w0 = rows.iter().map(|r| r.what.len()).max().unwrap_or(0).max(9);
    let w1 = rows.iter().map(|r| r.graft.len()).max().unwrap_or(0).max(5);
    let w2 = rows
        .iter()
        .map(|r| r.reference.len())
        .max()
        .unwrap_or(0)
        .max(9);
    println!(
        "{:<w0$}  {:>w1$}  {:<w2$}  {:>6}",
        "benchmark", "graft", "reference", "ratio"
    );
    println!("{}", "-".repeat(w0 + w1 + w2 + 12));
    for r in rows {
        let ratio = r.ratio.map_or("-".to_owned(), |x| format!("{x:.2}"));
        println!(
            "{:<w0$}  {:>w1$}  {:<w2$}  {:>6}",
            r.what, r.graft, r.reference, ratio
        );
    }
}

/// The benchmark venv's Python, created and brought in line with the requirements file
/// when needed; `None` when the requirements file does not exist.
fn bench_python(home: &GraftHome) -> Result<Option<PathBuf>> {
    let requirements = util::project_root().join("xtask/python/requirements-bench.txt");
    if !requirements.is_file() {
        util::step(
            "bench-venv",
            "skipped: xtask/python/requirements-bench.txt does not exist",
        );
        return Ok(None);
    }
    let wanted = fs::read_to_string(&requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let venv = home.root().join("bench-venv");
    let python = venv.join("bin").join("python");
    let stamp = venv.join(".graft-requirements.txt");
    let works = || util::succeeds(Command::new(&python).args(["-c", "import sys"]));
    if works() && util::read_marker(&stamp).as_deref() == Some(wanted.as_str()) {
        util::step("bench-venv", format!("up to date in {}", venv.display()));
        return Ok(Some(python));
    }
    if venv.exists() && !works() {
        fs::remove_dir_all(&venv).with_context(|| format!("cannot remove {}", venv.display()))?;
    }
    if !venv.exists() {
        util::run_captured(Command::new(util::python()).args(["-m", "venv"]).arg(&venv))?;
    }
    util::run_captured(
        Command::new(&python)
            .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
    )?;
    fs::write(&stamp, &wanted).with_context(|| format!("cannot write {}", stamp.display()))?;
    util::step("bench-venv", format!("installed into {}", venv.display()));
    Ok(Some(python))
}

/// What a measured child left behind.
struct Run {
    /// The JSON summary it printed (the whole stdout, or its last JSON line); `Null` if none.
    json: Value,
    wall_seconds: f64,
    /// Peak resident set size (Linux reports KiB).
    max_rss_kib: u64,
}

/// Runs `cmd` (stdout captured, stderr shown), waits for it with `wait4` to get its own
/// rusage, and fails unless it exits 0.
fn measure(cmd: &mut Command) -> Result<Run> {
    let shown = util::display(cmd);
    println!("$ {shown}");
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{shown}`"))?;
    let mut stdout = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        pipe.read_to_string(&mut stdout)
            .with_context(|| format!("cannot read the output of `{shown}`"))?;
    }
    let pid = libc::pid_t::try_from(child.id()).context("child pid out of range")?;
    let mut raw_status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, valid when zeroed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child; both pointers are valid for writes.
        let r = unsafe { libc::wait4(pid, &mut raw_status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).with_context(|| format!("cannot wait for `{shown}`"));
        }
    }
    // The child is reaped; `child` must not be waited on again (dropping it does not wait).
    drop(child);
    let wall_seconds = started.elapsed().as_secs_f64();
    let status = ExitStatus::from_raw(raw_status);
    if !status.success() {
        bail!(
            "`{shown}` failed ({status})\n--- stdout (tail) ---\n{}",
            util::tail(&stdout, 20)
        );
    }
    let json = last_json(&stdout).unwrap_or(Value::Null);
    Ok(Run {
        json,
        wall_seconds,
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    })
}

/// The whole of `stdout` as JSON, else its last line that parses as a JSON object.
fn last_json(stdout: &str) -> Option<Value> {
    if let Ok(v @ Value::Object(_)) = serde_json::from_str(stdout.trim()) {
        return Some(v);
    }
    stdout
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .find(Value::is_object)
}

/// The first of the dotted `paths` that leads to a number.
fn num(v: &Value, paths: &[impl AsRef<str>]) -> Option<f64> {
    paths.iter().find_map(|path| {
        path.as_ref()
            .split('.')
            .try_fold(v, |v, key| v.get(key))
            .and_then(Value::as_f64)
    })
}

fn required(v: &Value, paths: &[impl AsRef<str>], source: &Path) -> Result<f64> {
    num(v, paths).with_context(|| {
        let names: Vec<&str> = paths.iter().map(AsRef::as_ref).collect();
        format!(
            "{} printed none of {} in {v}",
            source.display(),
            names.join(", ")
        )
    })
}

/// `graft embed --json`'s throughput.
fn rate(v: &Value, source: &str) -> Result<f64> {
    num(v, &["items_per_sec"])
        .or_else(|| {
            let rows = num(v, &["rows"])?;
            let seconds = num(v, &["seconds"])?;
            (seconds > 0.0).then(|| rows / seconds)
        })
        .with_context(|| {
            format!("{source} --json printed neither items_per_sec nor rows/seconds: {v}")
        })
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

/// Image files under `dir`, recursively (for labelling the table).
fn images_in(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                images_in(&path)
            } else {
                usize::from(path.extension().is_some_and(|x| x == "png" || x == "jpg"))
            }
        })
        .sum()
}

fn lines_in(path: &Path) -> usize {
    fs::read_to_string(path).map_or(0, |s| s.lines().filter(|l| !l.trim().is_empty()).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbers_and_json() {
        let v = last_json("progress\n{\"bare\": {\"images_per_s\": 12.5}}\n").unwrap();
        assert_eq!(
            num(&v, &["pillow.images_per_s", "bare.images_per_s"]),
            Some(12.5)
        );
        assert_eq!(num(&v, &["missing"]), None);
        let pretty = "{\n  \"rows\": 10,\n  \"seconds\": 2.0\n}\n";
        assert_eq!(rate(&last_json(pretty).unwrap(), "t").unwrap(), 5.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0]), 2.5);
    }

    #[test]
    fn measures_a_child() {
        let run = measure(Command::new("sh").args(["-c", "echo '{\"rows\": 3}'"])).unwrap();
        assert_eq!(num(&run.json, &["rows"]), Some(3.0));
        assert!(run.max_rss_kib > 0);
        assert!(measure(Command::new("sh").args(["-c", "exit 3"])).is_err());
    }
}
