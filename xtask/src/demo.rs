//! `cargo xtask demo`: the main job end to end with the release binary, once for images
//! (EfficientNet-Lite0 on Fashion-MNIST) and once for text (all-MiniLM-L6-v2 on the text
//! data set): embed train and test, a few-shot learning curve, and a trained head with its
//! baseline. Every command is printed before it runs; the first failure stops the demo.

use graft_cache::GraftHome;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::util;

/// Shot counts of the learning curves.
const SHOTS: &str = "1,2,5,10,20,50,all";
/// Repeats per shot count.
const REPEATS: &str = "5";

/// One data set run through the demo.
struct Story {
    /// Prefix of everything under `runs/`.
    name: &'static str,
    model: &'static str,
    train: PathBuf,
    test: PathBuf,
    /// Extra `graft embed` arguments (how to read the inputs).
    embed_args: &'static [&'static str],
}

/// Runs both stories (setup must have run) and prints where the results are.
pub fn run(home: &GraftHome) -> Result<()> {
    let data = home.data();
    let text_train = data.join("text").join("train.jsonl");
    let stories = [
        Story {
            name: "fashion",
            model: "efficientnet-lite0",
            train: data.join("fashion-mnist").join("train"),
            test: data.join("fashion-mnist").join("test"),
            embed_args: &["--resize", "stretch"],
        },
        Story {
            name: "text",
            model: "all-minilm-l6-v2",
            train: text_train.clone(),
            test: data.join("text").join("test.jsonl"),
            embed_args: &[
                "--text-field",
                "text",
                "--label-field",
                "label",
                "--id-field",
                "id",
            ],
        },
    ];
    if !text_train.is_file() {
        bail!(
            "{} is missing: the text step of setup did not produce it \
             (is xtask/python/prepare_text.py there?)",
            text_train.display()
        );
    }

    let runs = home.runs();
    let mut outputs = Vec::new();
    for story in &stories {
        outputs.extend(run_story(home, &runs, story)?);
    }

    println!();
    println!("Demo finished. Results:");
    for (what, path) in outputs {
        println!("  {what:<28} {}", path.display());
    }
    Ok(())
}

fn run_story(home: &GraftHome, runs: &Path, story: &Story) -> Result<Vec<(String, PathBuf)>> {
    let name = story.name;
    let train_features = runs.join(format!("{name}-train"));
    let test_features = runs.join(format!("{name}-test"));
    let curve = runs.join(format!("{name}-curve.svg"));
    let head = runs.join(format!("{name}-head.json"));

    for (input, out) in [
        (&story.train, &train_features),
        (&story.test, &test_features),
    ] {
        util::run(
            util::graft(home)?
                .args(["embed", "--model", story.model, "--out"])
                .arg(out)
                .args(story.embed_args)
                .arg(input),
        )?;
    }
    util::run(
        util::graft(home)?
            .args(["curve", "--features"])
            .arg(&train_features)
            .arg("--eval")
            .arg(&test_features)
            .args(["--shots", SHOTS, "--repeats", REPEATS, "--plot"])
            .arg(&curve),
    )?;
    util::run(
        util::graft(home)?
            .args(["train", "--features"])
            .arg(&train_features)
            .arg("--eval")
            .arg(&test_features)
            .args(["--head", "logistic", "--baseline", "--out"])
            .arg(&head),
    )?;
    Ok(vec![
        (format!("{name} train features"), train_features),
        (format!("{name} test features"), test_features),
        (format!("{name} learning curve"), curve),
        (format!("{name} head"), head),
    ])
}
