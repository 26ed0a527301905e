//! Graft's project automation, run as `cargo xtask <command>` (see `.cargo/config.toml`).
//!
//! - `setup`: system packages, the release `graft` binary with ONNX Runtime and the models,
//!   and the demo/test data under `$GRAFT_HOME/data` (Fashion-MNIST PNGs, three photos, a
//!   labelled text set).
//! - `export NAME`: re-runs a model's Python export recipe through `graft`.
//! - `test`: what the tests need (runtime, models, photos), then the workspace tests.
//! - `demo`: setup, then the main job on images and on text.
//! - `bench`: graft against Python references, side by side, as a table of ratios.
//!
//! Everything lives in Graft's home: `GRAFT_HOME`, else `$XDG_CACHE_HOME/graft`, else
//! `~/.cache/graft`; children get the resolved path as `GRAFT_HOME`.

mod bench;
mod demo;
mod fashion;
mod npy;
mod photos;
mod setup;
mod text;
mod util;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use graft_cache::GraftHome;

use crate::setup::{DataOptions, Step};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Graft's project automation"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Install and fetch everything the demo and the tests need (idempotent).
    Setup {
        /// Run only these steps (comma separated: system, graft, fashion, photos, text).
        #[arg(long, value_delimiter = ',')]
        only: Vec<Step>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Re-export a model to ONNX with its Python recipe (`graft models fetch NAME --reexport`).
    Export {
        /// Model name, e.g. efficientnet-lite0.
        name: String,
    },
    /// Fetch what the tests need (runtime, models, photos), then `cargo test --workspace --release`.
    Test {
        /// Extra arguments passed to `cargo test` as they are (e.g. `-p graft-heads -- --nocapture`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Setup, then the main job on Fashion-MNIST and on text, printing each command.
    Demo {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Compare graft with Python reference pipelines and print a table of ratios.
    Bench {
        /// Measurements per comparison (the median is reported).
        #[arg(long, default_value_t = 1)]
        repeats: usize,
        /// Skip the 20,000-image peak-RSS run.
        #[arg(long)]
        skip_large: bool,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Args)]
struct DataArgs {
    /// Fashion-MNIST images per class written for train and for test (0 = all).
    #[arg(long, default_value_t = setup::DEFAULT_FASHION_PER_CLASS)]
    fashion_per_class: usize,
    /// Texts per label kept in train and in test (0 = all).
    #[arg(long, default_value_t = setup::DEFAULT_TEXT_PER_CLASS)]
    text_per_class: usize,
}

impl From<&DataArgs> for DataOptions {
    fn from(a: &DataArgs) -> DataOptions {
        DataOptions {
            fashion_per_class: a.fashion_per_class,
            text_per_class: a.text_per_class,
        }
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let home = GraftHome::from_env();
    match &cli.command {
        Cmd::Setup { only, data } => {
            let steps = if only.is_empty() {
                Step::ALL.to_vec()
            } else {
                only.clone()
            };
            setup::run(&home, &steps, data.into())
        }
        Cmd::Export { name } => {
            setup::system()?;
            setup::build_graft(&home)?;
            util::run(util::graft(&home)?.args(["models", "fetch", name, "--reexport"]))
        }
        Cmd::Test { args } => test(&home, args),
        Cmd::Demo { data } => {
            setup::run(&home, &Step::ALL, data.into())?;
            demo::run(&home)
        }
        Cmd::Bench {
            repeats,
            skip_large,
            data,
        } => bench::run(
            &home,
            bench::Options {
                repeats: (*repeats).max(1),
                skip_large: *skip_large,
                data: data.into(),
            },
        ),
    }
}

/// `cargo xtask test`: runtime, models and photos, then the workspace's tests in release.
fn test(home: &GraftHome, args: &[String]) -> Result<()> {
    let steps = [Step::System, Step::Graft, Step::Photos];
    setup::run(home, &steps, DataOptions::default())?;
    let mut cmd = util::cargo(home);
    cmd.args(["test", "--release"]);
    // `--workspace` unless the caller picked packages (before any `--`).
    let picks_packages = args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a.starts_with("-p") || a.starts_with("--package"));
    if !picks_packages {
        cmd.arg("--workspace");
    }
    util::run(cmd.args(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_command_lines() {
        let argv = ["xtask", "test", "-p", "graft-heads", "--", "--nocapture"];
        match Cli::try_parse_from(argv).unwrap().command {
            Cmd::Test { args } => assert_eq!(args, ["-p", "graft-heads", "--", "--nocapture"]),
            other => panic!("parsed as {other:?}"),
        }
        let argv = ["xtask", "setup", "--only", "fashion,photos"];
        match Cli::try_parse_from(argv).unwrap().command {
            Cmd::Setup { only, data } => {
                assert_eq!(only, [Step::Fashion, Step::Photos]);
                assert_eq!(data.fashion_per_class, setup::DEFAULT_FASHION_PER_CLASS);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["xtask", "setup", "--only", "nope"]).is_err());
    }
}
