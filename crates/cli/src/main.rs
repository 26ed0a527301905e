//! `graft`: the command-line front of Graft. Each subcommand is a thin layer over
//! `graft_embed` (backbones and the embedding run), `graft_cache` (the feature
//! cache) and `graft_heads` (task heads); this crate only parses arguments,
//! reports progress and turns typed errors into messages for people.

mod cache_cmd;
mod embed_cmd;
mod heads_cmd;
mod setup_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code when a run finished but some inputs failed (listed in errors.jsonl).
pub const EXIT_SOME_FAILED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "graft",
    version,
    about = "Transfer learning from frozen ONNX backbones: embed, cache, train heads."
)]
struct Cli {
    /// ONNX Runtime library to load (else ORT_DYLIB_PATH, else the Graft cache).
    #[arg(long, global = true, env = "GRAFT_ORT_LIB")]
    ort_lib: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install ONNX Runtime into the Graft cache (via pip; idempotent).
    Setup(setup_cmd::SetupArgs),
    /// Check the runtime, execution providers and models; non-zero if something required is missing.
    Doctor,
    /// List, describe and fetch backbones.
    #[command(subcommand)]
    Models(setup_cmd::ModelsCommand),
    /// Embed images or texts into a feature cache.
    Embed(Box<embed_cmd::EmbedArgs>),
    /// Inspect, merge and verify feature caches.
    #[command(subcommand)]
    Cache(cache_cmd::CacheCommand),
    /// Train a head on cached features (and optionally a from-scratch baseline).
    Train(heads_cmd::TrainArgs),
    /// Learning curve: accuracy against labelled examples per class, transfer vs baseline.
    Curve(heads_cmd::CurveArgs),
    /// Evaluate a trained head on a labelled feature cache.
    Eval(heads_cmd::EvalArgs),
    /// Run backbone + head on new files or texts.
    Predict(Box<heads_cmd::PredictArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ort_lib = cli.ort_lib;
    let result = match cli.command {
        Command::Setup(a) => setup_cmd::setup(a),
        Command::Doctor => setup_cmd::doctor(ort_lib.as_deref()),
        Command::Models(c) => setup_cmd::models(c, ort_lib),
        Command::Embed(a) => embed_cmd::embed(*a, ort_lib),
        Command::Cache(c) => cache_cmd::cache(c),
        Command::Train(a) => heads_cmd::train(a),
        Command::Curve(a) => heads_cmd::curve(a),
        Command::Eval(a) => heads_cmd::eval(a),
        Command::Predict(a) => heads_cmd::predict(*a, ort_lib),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
