//! What `graft embed` does, as a library user writes it: embed a folder of images (or a
//! file of texts) into a resumable feature cache, then read the features back.
//!
//! ```text
//! cargo run --release -p graft-embed --example embed -- efficientnet-lite0 feats/ photos/
//! ```

use std::path::PathBuf;

use graft_embed::{Device, EmbedJob, EmbedOptions, GraftHome, ListOptions, LoadOptions, Silent};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: embed MODEL OUT_DIR INPUT...";
    let model = args.next().ok_or(usage)?;
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let inputs: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if inputs.is_empty() {
        return Err(usage.into());
    }
    let job = EmbedJob {
        model,
        inputs,
        out: out.clone(),
        list: ListOptions::default(),
        load: LoadOptions {
            device: Device::Cpu,
            ..Default::default()
        },
        run: EmbedOptions::default(),
        resize: None,
        part: None,
    };
    let summary = graft_embed::embed(&job, &GraftHome::from_env(), &mut Silent)?;
    println!(
        "embedded {} items ({} failed) at {:.1} items/s on {}",
        summary.embedded, summary.failed, summary.items_per_sec, summary.provider
    );
    let cache = graft_cache::Cache::open(&out)?;
    let features = cache.features()?;
    println!(
        "{}: {} x {} features",
        out.display(),
        features.nrows(),
        features.ncols()
    );
    Ok(())
}
