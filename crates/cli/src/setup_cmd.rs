//! `graft setup`, `graft doctor` and `graft models ...`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use graft_embed::fetch::{fetch_model, verify_recorded, FetchOptions};
use graft_embed::manifest::{builtin_names, ModelManifest};
use graft_embed::runtime::{self, CPU_BUILD, GPU_BUILD};
use graft_embed::GraftHome;

/// Models `graft doctor` requires.
const REQUIRED_MODELS: [&str; 2] = ["efficientnet-lite0", "all-minilm-l6-v2"];

#[derive(Args)]
pub struct SetupArgs {
    /// Also install the GPU build (onnxruntime-gpu: CUDA 13, cuDNN 9, TensorRT providers).
    #[arg(long)]
    gpu: bool,
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// List the built-in backbones and whether they are fetched.
    List,
    /// Show a backbone's manifest.
    Info {
        /// Built-in name or path to a manifest .toml.
        name: String,
    },
    /// Fetch backbones and verify them (idempotent).
    Fetch {
        /// Built-in names or manifest paths.
        #[arg(required = true)]
        names: Vec<String>,
        /// Fetch and export again even if present.
        #[arg(long)]
        reexport: bool,
        /// Hugging Face hub endpoint (or a mirror); default HF_ENDPOINT or the public hub.
        #[arg(long, env = "HF_ENDPOINT")]
        hub_endpoint: Option<String>,
        /// Use cached downloads only.
        #[arg(long, env = "HF_HUB_OFFLINE", value_parser = clap::builder::BoolishValueParser::new())]
        offline: bool,
    },
}

pub fn setup(args: SetupArgs) -> Result<u8> {
    let home = GraftHome::from_env();
    let lib =
        runtime::install(&home, &CPU_BUILD).context("installing the ONNX Runtime CPU build")?;
    println!(
        "onnxruntime {} (cpu): {}",
        runtime::ORT_VERSION,
        lib.display()
    );
    if args.gpu {
        let lib =
            runtime::install(&home, &GPU_BUILD).context("installing the ONNX Runtime GPU build")?;
        println!(
            "onnxruntime {} (gpu): {}",
            runtime::ORT_VERSION,
            lib.display()
        );
        let report = runtime::gpu_library_report(&lib);
        for (name, found) in &report {
            println!("  {name}: {}", found.as_deref().unwrap_or("MISSING"));
        }
        if report.iter().any(|(_, f)| f.is_none()) {
            println!("  some CUDA libraries are missing: install the CUDA 13 runtime, cuBLAS and cuDNN 9 (or add their lib folders to LD_LIBRARY_PATH); --device cuda will fail until then");
        }
    }
    println!("cache: {}", home.root().display());
    Ok(0)
}

pub fn doctor(ort_lib: Option<&Path>) -> Result<u8> {
    let home = GraftHome::from_env();
    let mut problems = Vec::new();
    println!("cache: {}", home.root().display());
    match runtime::locate(ort_lib, &home, true) {
        Ok(lib) => match runtime::environment(&lib) {
            Ok(env) => {
                println!("runtime: {}", lib.display());
                println!("  {}", runtime::build_info());
                for (provider, status) in runtime::provider_status(&env) {
                    println!("  provider {provider}: {status}");
                }
            }
            Err(e) => problems.push(format!("{e}")),
        },
        Err(e) => problems.push(format!("{e}")),
    }
    for name in builtin_names() {
        let manifest = ModelManifest::builtin(name)?;
        let dir = manifest.model_dir(&home);
        let required = REQUIRED_MODELS.contains(&name);
        let state = if dir.join("fetched.json").is_file() {
            match verify_recorded(&manifest, &dir) {
                Ok(_) => "fetched, verified".to_string(),
                Err(e) => {
                    problems.push(e.to_string());
                    "NOT USABLE (see below)".into()
                }
            }
        } else {
            if required {
                problems.push(format!(
                    "required model {name} is not fetched: run `graft models fetch {name}`"
                ));
            }
            "not fetched".into()
        };
        println!(
            "model {name}: {state}{}",
            if required { " (required)" } else { "" }
        );
    }
    if problems.is_empty() {
        println!("ok");
        Ok(0)
    } else {
        for p in &problems {
            eprintln!("problem: {p}");
        }
        Ok(1)
    }
}

pub fn models(cmd: ModelsCommand, ort_lib: Option<PathBuf>) -> Result<u8> {
    let home = GraftHome::from_env();
    match cmd {
        ModelsCommand::List => {
            for m in ModelManifest::all_builtin()? {
                let fetched = m.model_dir(&home).join("fetched.json").is_file();
                println!(
                    "{:<20} {:<6} {:>5}-d  {:<12} {}",
                    m.name,
                    m.modality.to_string(),
                    m.dim,
                    if fetched { "fetched" } else { "not fetched" },
                    m.description
                );
            }
            Ok(0)
        }
        ModelsCommand::Info { name } => {
            let m = ModelManifest::resolve(&name)?;
            let mut value = serde_json::to_value(&m)?;
            if let Some(obj) = value.as_object_mut() {
                obj.insert("manifest".into(), m.origin.clone().into());
                obj.insert(
                    "folder".into(),
                    m.model_dir(&home).display().to_string().into(),
                );
            }
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(0)
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
                let report =
                    fetch_model(&m, &home, &opts).with_context(|| format!("fetching {name}"))?;
                println!(
                    "{}: {} {} [{}]",
                    report.name,
                    if report.already_present {
                        "present"
                    } else {
                        "fetched"
                    },
                    report.dir.display(),
                    report.checks.join(", ")
                );
            }
            Ok(0)
        }
    }
}
