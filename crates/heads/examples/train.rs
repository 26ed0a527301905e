//! What `graft train` does, as a library user writes it: a logistic head on a feature
//! cache, C by cross-validation, evaluated on a held-out cache against the from-scratch
//! baseline, saved as a head file.
//!
//! ```text
//! cargo run --release -p graft-heads --example train -- feats/train feats/test head.json
//! ```

use std::path::PathBuf;

use graft_heads::{EvalSource, HeadChoice, LabelSource, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [features, eval, out] = args.as_slice() else {
        return Err("usage: train TRAIN_CACHE EVAL_CACHE HEAD.json".into());
    };
    let report = graft_heads::train(&TrainConfig {
        features: features.clone(),
        eval: EvalSource::Cache(eval.clone()),
        labels: LabelSource::Task(None),
        head: HeadChoice::default(),
        baseline: true,
        out: out.clone(),
    })?;
    print!("{}", report.to_text());
    Ok(())
}
