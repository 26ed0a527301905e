//! Shared helpers for the end-to-end tests: run the real `graft` binary against the real
//! default models in GRAFT_HOME (installed by `cargo xtask setup`). Corpora, scratch homes,
//! the loopback hub and cache readers come from `graft-testkit`.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub use graft_testkit::*;

/// A `graft` command with the test's environment.
pub fn graft() -> Command {
    Command::new(env!("CARGO_BIN_EXE_graft"))
}

/// Runs `graft args...` and returns its output.
pub fn run(args: &[&str]) -> Output {
    graft().args(args).output().expect("the graft binary runs")
}

/// `graft embed --model MODEL --device cpu --out OUT EXTRA... INPUTS...` in the test's
/// GRAFT_HOME, or in `home` when given.
pub fn embed_in(
    home: Option<&Path>,
    model: &str,
    out: &Path,
    inputs: &[&Path],
    extra: &[&str],
) -> Output {
    let mut cmd = graft();
    if let Some(h) = home {
        cmd.env("GRAFT_HOME", h);
    }
    cmd.args(["embed", "--model", model, "--device", "cpu", "--out"])
        .arg(out)
        .args(extra)
        .args(inputs)
        .output()
        .expect("the graft binary runs")
}

/// [`embed_in`] the test's GRAFT_HOME.
pub fn embed(model: &str, out: &Path, inputs: &[&Path], extra: &[&str]) -> Output {
    embed_in(None, model, out, inputs, extra)
}

/// Stdout and stderr of an output, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Fails the test with the set-up command when the runtime or default models are missing.
pub fn require_setup() {
    let out = run(&["doctor"]);
    assert!(
        out.status.success(),
        "Graft is not set up (runtime and default models): run `cargo xtask setup` first.\n{}",
        text(&out)
    );
}

/// Parses the JSON summary `graft embed --json` prints.
pub fn summary(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}):\n{}", text(out)))
}
