//! `graft embed`: a thin layer over `graft_embed::pipeline::embed_to_cache`.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use graft_cache::PartId;
use graft_embed::backbone::LoadOptions;
use graft_embed::device::{GpuOptions, ShapeProfile};
use graft_embed::inputs::{list_images, list_texts, TextFields};
use graft_embed::manifest::{Modality, ModelManifest, ResizeMode};
use graft_embed::pipeline::{embed_to_cache, EmbedOptions, Progress};
use graft_embed::preprocess::TextPreprocessor;
use graft_embed::{Backbone, Device, GraftHome};

/// Options that select and tune the device; shared by `embed` and `predict`.
#[derive(Args, Clone)]
pub struct DeviceArgs {
    /// auto | cpu | cuda[:N] | tensorrt[:N]. An explicit GPU that cannot be used is an error.
    #[arg(long, default_value = "auto")]
    pub device: String,
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
    /// Load options for `manifest` with `batch` rows per run.
    pub fn load_options(
        &self,
        manifest: &ModelManifest,
        home: &GraftHome,
        batch: usize,
        ort_lib: Option<PathBuf>,
    ) -> Result<LoadOptions> {
        let device: Device = self.device.parse()?;
        let mut gpu = GpuOptions {
            memory_limit: self.gpu_mem_limit_mb.map(|mb| mb << 20),
            fp16: self.fp16,
            engine_cache: Some(
                self.trt_engine_cache
                    .clone()
                    .unwrap_or_else(|| home.root().join("trt-engines")),
            ),
            profiles: Vec::new(),
        };
        if let (Some(prep), Some(input)) = (&manifest.image, &manifest.onnx.inputs.pixels) {
            let max = self.trt_max_batch.unwrap_or(batch).max(1) as i64;
            let [h, w] = prep.size.map(i64::from);
            gpu.profiles.push(ShapeProfile {
                input: input.clone(),
                min: vec![1, 3, h, w],
                opt: vec![max, 3, h, w],
                max: vec![max, 3, h, w],
            });
        }
        if let Some(text) = &manifest.text {
            let max = self.trt_max_batch.unwrap_or(batch).max(1) as i64;
            let len = text.max_length as i64;
            let names = &manifest.onnx.inputs;
            for name in [
                &names.input_ids,
                &names.attention_mask,
                &names.token_type_ids,
            ]
            .into_iter()
            .flatten()
            {
                gpu.profiles.push(ShapeProfile {
                    input: name.clone(),
                    min: vec![1, 1],
                    opt: vec![max, len / 2],
                    max: vec![max, len],
                });
            }
        }
        Ok(LoadOptions {
            device,
            gpu,
            threads: self.threads,
            ort_lib,
        })
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
    /// Texts: the field (JSONL) or column (CSV) holding the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Texts: label field(s), comma-separated; each is a task, the first is the default.
    #[arg(long, value_delimiter = ',')]
    label_field: Vec<String>,
    /// Texts: the id field; default FILE:LINE.
    #[arg(long)]
    id_field: Option<String>,
    /// Images: a CSV (id,label) or JSONL file of labels, keyed by path as listed.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Embed only part I of N (0-based), or `auto` to take it from Slurm / Kubernetes.
    #[arg(long)]
    part: Option<String>,
    /// With `--part auto` under Kubernetes: the number of parts (or GRAFT_PARTS).
    #[arg(long, env = "GRAFT_PARTS")]
    parts: Option<u32>,
    /// Images: override the manifest's resize (`stretch` keeps whole small or centred
    /// images such as Fashion-MNIST; `shorter-crop` is the usual ImageNet eval crop).
    #[arg(long, value_parser = ["stretch", "shorter-crop"])]
    resize: Option<String>,
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

/// Resolves `--part`: `I/N`, or `auto` from the engine's environment.
pub fn resolve_part(
    spec: &str,
    parts: Option<u32>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(PartId, String)> {
    let num = |name: &str| -> Result<Option<u32>> {
        env(name)
            .map(|v| {
                v.trim()
                    .parse::<u32>()
                    .with_context(|| format!("{name}={v} is not a number"))
            })
            .transpose()
    };
    let host = graft_cache::hostname();
    let (part, owner) = if spec == "auto" {
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let (index, count) = slurm_index(
                id,
                num("SLURM_ARRAY_TASK_COUNT")?,
                num("SLURM_ARRAY_TASK_MIN")?,
                num("SLURM_ARRAY_TASK_MAX")?,
                num("SLURM_ARRAY_TASK_STEP")?,
            )?;
            let job = env("SLURM_ARRAY_JOB_ID").unwrap_or_default();
            (PartId { index, count }, format!("slurm:{job}_{id}"))
        } else if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = parts.context("--part auto under Kubernetes: pass --parts N or set GRAFT_PARTS to the Job's completions")?;
            let job = env("JOB_NAME").unwrap_or_default();
            (PartId { index, count }, format!("k8s:{job}:{index}"))
        } else {
            bail!("--part auto: no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX in the environment; pass --part I/N")
        }
    } else {
        let (i, n) = spec
            .split_once('/')
            .with_context(|| format!("--part {spec}: expected I/N (e.g. 0/4) or auto"))?;
        let index: u32 = i
            .trim()
            .parse()
            .with_context(|| format!("--part {spec}: `{i}` is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .with_context(|| format!("--part {spec}: `{n}` is not a number"))?;
        (
            PartId { index, count },
            format!("{host}:{}", std::process::id()),
        )
    };
    if part.count == 0 || part.index >= part.count {
        bail!("--part: index {} is not in 0..{}", part.index, part.count);
    }
    Ok((part, owner))
}

/// Part index and count of a Slurm array task. Arrays must be a plain range
/// (`--array=A-B` or `A-B:STEP`): the tasks, in order, are parts 0..COUNT. A listed
/// array (`--array=1,4,9`) cannot be mapped to parts without gaps and is refused.
fn slurm_index(
    id: u32,
    count: Option<u32>,
    min: Option<u32>,
    max: Option<u32>,
    step: Option<u32>,
) -> Result<(u32, u32)> {
    let step = step.unwrap_or(1).max(1);
    // Without COUNT (old Slurm), a plain range is assumed and checked below.
    let count = count.or(match (min, max) {
        (Some(min), Some(max)) if max >= min => Some((max - min) / step + 1),
        _ => None,
    });
    match (count, min, max) {
        (Some(count), Some(min), Some(max)) if max >= min && id >= min => {
            let span = max - min;
            if !span.is_multiple_of(step) || span / step + 1 != count || !(id - min).is_multiple_of(step) {
                bail!(
                    "--part auto: the Slurm array ({min}-{max}, step {step}, {count} tasks) is not a plain range; submit --array=0-{} or pass --part I/N",
                    count.saturating_sub(1)
                );
            }
            Ok(((id - min) / step, count))
        }
        (Some(count), None, None) => Ok((id, count)),
        _ => bail!("--part auto: SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT with SLURM_ARRAY_TASK_MIN/MAX"),
    }
}

struct Bar(Option<indicatif::ProgressBar>);

impl Progress for Bar {
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

pub fn embed(args: EmbedArgs, ort_lib: Option<PathBuf>) -> Result<u8> {
    let home = GraftHome::from_env();
    let mut manifest = ModelManifest::resolve(&args.model)?;
    if let (Some(resize), Some(image)) = (&args.resize, manifest.image.as_mut()) {
        image.resize = if resize == "stretch" {
            ResizeMode::Stretch
        } else {
            ResizeMode::ShorterCrop
        };
        if image.resize == ResizeMode::ShorterCrop && image.resize_shorter.is_none() {
            image.resize_shorter = Some(image.size[0].max(image.size[1]));
        }
    }
    let (part, owner) = match &args.part {
        Some(spec) => {
            let (p, o) = resolve_part(spec, args.parts, &|k| std::env::var(k).ok())?;
            (Some(p), o)
        }
        None => (
            None,
            format!("{}:{}", graft_cache::hostname(), std::process::id()),
        ),
    };
    let load = args
        .device
        .load_options(&manifest, &home, args.batch_size, ort_lib)?;
    let mut backbone = Backbone::load(&manifest, &home, &load)?;
    eprintln!("{}: running on {}", manifest.name, backbone.provider());
    let (listing, tokenizer) = match manifest.modality {
        Modality::Image => (list_images(&args.inputs, args.labels.as_deref())?, None),
        Modality::Text => {
            let fields = TextFields {
                text: args.text_field.clone(),
                labels: args.label_field.clone(),
                id: args.id_field.clone(),
            };
            let prep = manifest
                .text
                .as_ref()
                .context("text model without [text] section")?;
            let tok = TextPreprocessor::load(
                &manifest.model_dir(&home).join(&prep.tokenizer),
                prep.max_length,
            )?;
            (list_texts(&args.inputs, &fields)?, Some(tok))
        }
    };
    let opts = EmbedOptions {
        batch_size: args.batch_size,
        token_budget: args.token_budget,
        prep_threads: args.prep_threads,
        shard_rows: args.shard_rows,
        part,
        owner,
        force: args.force,
        ..Default::default()
    };
    let mut bar = Bar(None);
    let summary = embed_to_cache(
        &mut backbone,
        tokenizer.as_ref(),
        listing,
        &args.out,
        &opts,
        &mut bar,
    )?;
    if let Some(b) = &bar.0 {
        b.finish_and_clear();
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        let s = &summary.stages;
        eprintln!(
            "embedded {} ({} skipped, {} failed{}) in {:.1}s, {:.1} items/s on {}; cache {} holds {} rows",
            summary.embedded,
            summary.skipped,
            summary.failed,
            if part.is_some() { format!(", {} in other parts", summary.other_parts) } else { String::new() },
            summary.seconds,
            summary.items_per_sec,
            summary.provider,
            args.out.display(),
            summary.rows
        );
        eprintln!("stages (s): read {:.2}  prepare {:.2}  infer {:.2}  write {:.2}  waiting-for-input {:.2}", s.read, s.prepare, s.infer, s.write, s.wait);
        if summary.failed > 0 {
            eprintln!(
                "{} inputs failed: see {}",
                summary.failed,
                args.out.join("errors.jsonl").display()
            );
        }
    }
    Ok(if summary.failed > 0 {
        crate::EXIT_SOME_FAILED
    } else {
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const STEPPED: &[(&str, &str)] = &[
        ("SLURM_ARRAY_TASK_ID", "4"),
        ("SLURM_ARRAY_TASK_COUNT", "4"),
        ("SLURM_ARRAY_TASK_MIN", "0"),
        ("SLURM_ARRAY_TASK_MAX", "6"),
        ("SLURM_ARRAY_TASK_STEP", "2"),
    ];
    const LISTED: &[(&str, &str)] = &[
        ("SLURM_ARRAY_TASK_ID", "4"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_MAX", "9"),
        ("SLURM_ARRAY_TASK_STEP", "1"),
    ];

    #[test]
    fn part_specs() {
        let (p, _) = resolve_part("1/4", None, &env(&[])).unwrap();
        assert_eq!((p.index, p.count), (1, 4));
        assert!(resolve_part("4/4", None, &env(&[])).is_err());
        assert!(resolve_part("x", None, &env(&[])).is_err());
        let (p, owner) = resolve_part(
            "auto",
            None,
            &env(&[
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_JOB_ID", "77"),
            ]),
        )
        .unwrap();
        assert_eq!((p.index, p.count, owner.as_str()), (2, 4, "slurm:77_2"));
        let (p, _) = resolve_part(
            "auto",
            None,
            &env(&[
                ("SLURM_ARRAY_TASK_ID", "11"),
                ("SLURM_ARRAY_TASK_MIN", "10"),
                ("SLURM_ARRAY_TASK_MAX", "13"),
            ]),
        )
        .unwrap();
        assert_eq!((p.index, p.count), (1, 4));
        // --array=0-6:2 runs 4 tasks: they are parts 0..4, not 0, 2, 4, 6 of 7.
        let (p, _) = resolve_part("auto", None, &env(STEPPED)).unwrap();
        assert_eq!((p.index, p.count), (2, 4));
        // --array=1,4,9 cannot be mapped to parts without gaps.
        let err = resolve_part("auto", None, &env(LISTED))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a plain range"), "{err}");
        let (p, _) = resolve_part("auto", Some(3), &env(&[("JOB_COMPLETION_INDEX", "2")])).unwrap();
        assert_eq!((p.index, p.count), (2, 3));
        let err = resolve_part("auto", None, &env(&[("JOB_COMPLETION_INDEX", "2")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--parts"), "{err}");
        let err = resolve_part("auto", None, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("SLURM_ARRAY_TASK_ID"), "{err}");
    }
}
