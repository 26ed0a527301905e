//! `graft train | curve | eval | predict`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args)]
pub struct TrainArgs {
    /// Training feature cache.
    #[arg(long)]
    features: PathBuf,
}

#[derive(Args)]
pub struct CurveArgs {
    /// Training feature cache.
    #[arg(long)]
    features: PathBuf,
}

#[derive(Args)]
pub struct EvalArgs {
    /// Head file.
    #[arg(long)]
    head: PathBuf,
}

#[derive(Args)]
pub struct PredictArgs {
    /// Head file.
    #[arg(long)]
    head: PathBuf,
}

pub fn train(_a: TrainArgs) -> Result<u8> {
    bail!("not built yet")
}
pub fn curve(_a: CurveArgs) -> Result<u8> {
    bail!("not built yet")
}
pub fn eval(_a: EvalArgs) -> Result<u8> {
    bail!("not built yet")
}
pub fn predict(_a: PredictArgs, _o: Option<PathBuf>) -> Result<u8> {
    bail!("not built yet")
}
