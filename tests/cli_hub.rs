//! End-to-end tests of `graft models fetch` from a Hugging Face hub: the real `graft` binary
//! against a fake hub on 127.0.0.1 that serves the real EfficientNet-Lite0 ONNX file (from the
//! GRAFT_HOME set up by `cargo xtask setup`) in the hub's `resolve/` layout, the way hf-hub 1.0
//! asks for it. Nothing leaves the loopback.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

const REPO: &str = "graft-test/effnet";
const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// The real EfficientNet-Lite0 ONNX file.
fn real_onnx() -> PathBuf {
    home().join("models/efficientnet-lite0/model.onnx")
}

/// A fake hub whose repo serves the real EfficientNet-Lite0 file as `onnx/model.onnx`.
fn start_hub(sha256: &str) -> FakeHub {
    let file = FakeFile::on_disk("onnx/model.onnx", real_onnx(), sha256, true);
    FakeHub::start(REPO, COMMIT, vec![file], None)
}

/// Writes a hub manifest for `name` into `dir`: the fake repo's ONNX file pinned to `sha256`,
/// the pixel input called `pixels`, preprocessing as the built-in EfficientNet-Lite0.
fn hub_manifest(dir: &Path, name: &str, sha256: &str, pixels: &str) -> PathBuf {
    let text = format!(
        r#"name = "{name}"
modality = "image"
description = "EfficientNet-Lite0 from a fake hub (test)"
license = "Apache-2.0"
dim = 1280

[[sources]]
kind = "hub"
repo = "{REPO}"
files = [{{ path = "onnx/model.onnx", dest = "model.onnx", sha256 = "{sha256}" }}]

[onnx]
output = "features"

[onnx.inputs]
pixels = "{pixels}"

[image]
size = [224, 224]
resize = "shorter-crop"
resize_shorter = 256
filter = "bilinear"
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]
channel_order = "rgb"
layout = "nchw"
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `graft args...` with `home` as GRAFT_HOME and no ambient hub settings; the loopback
/// is kept off any proxy the environment sets.
fn graft_in(home: &Path, args: &[&str]) -> Output {
    let no_proxy = |key: &str| {
        let old = std::env::var(key).unwrap_or_default();
        format!("{old},127.0.0.1,localhost")
    };
    graft()
        .env("GRAFT_HOME", home)
        .env("HF_HOME", home.join("hf-home"))
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN")
        .env_remove("HF_TOKEN_PATH")
        .env("NO_PROXY", no_proxy("NO_PROXY"))
        .env("no_proxy", no_proxy("no_proxy"))
        .args(args)
        .output()
        .expect("the graft binary runs")
}

/// SHA-256 of the real model, as `cargo xtask setup` recorded it (and `graft doctor`,
/// run by `require_setup`, re-verified).
fn real_sha256() -> String {
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(home().join("models/efficientnet-lite0/fetched.json")).unwrap(),
    )
    .unwrap();
    let sha = record["files"]["model.onnx"].as_str().unwrap().to_string();
    assert_eq!(sha.len(), 64, "{record}");
    sha
}

/// Everything in `GRAFT_HOME/models/` (hidden staging folders included).
fn models_entries(home: &Path) -> Vec<String> {
    match std::fs::read_dir(home.join("models")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn fetches_from_the_hub_embeds_and_refetches_offline() {
    require_setup();
    let sha = real_sha256();
    let hub = start_hub(&sha);
    let gh = scratch_home(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let manifest = hub_manifest(tmp.path(), "hub-effnet", &sha, "input");
    let m = manifest.to_str().unwrap();
    let model_dir = gh.path().join("models/hub-effnet");

    // Online: downloaded through hf-hub, checked, then renamed into place.
    let out = graft_in(
        gh.path(),
        &["models", "fetch", m, "--hub-endpoint", &hub.endpoint],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "hub-effnet: fetched",
        "onnx loads",
        "tensor names",
        "output dim 1280",
    ] {
        assert!(stdout.contains(want), "no `{want}` in\n{}", text(&out));
    }
    assert_eq!(
        std::fs::read(model_dir.join("model.onnx")).unwrap(),
        std::fs::read(real_onnx()).unwrap(),
        "the fetched model differs from the served one"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model_dir.join("fetched.json")).unwrap()).unwrap();
    assert_eq!(record["files"]["model.onnx"], sha.as_str(), "{record}");
    assert_eq!(record["source"], format!("hub:{REPO}@main"), "{record}");
    assert_eq!(models_entries(gh.path()), vec!["hub-effnet".to_string()]);
    let online = hub.requests();
    assert!(
        online.contains(&format!("HEAD /{REPO}/resolve/main/onnx/model.onnx")),
        "{online:?}"
    );
    assert!(
        online.contains(&format!("GET /cdn/{sha}")),
        "LFS redirect not followed: {online:?}"
    );
    assert!(
        !online.iter().any(|r| r.contains("/api/")),
        "unexpected API call: {online:?}"
    );

    // Fetching again is idempotent: present, and no request at all.
    let again = graft_in(
        gh.path(),
        &["models", "fetch", m, "--hub-endpoint", &hub.endpoint],
    );
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("hub-effnet: present"),
        "{}",
        text(&again)
    );
    assert_eq!(hub.requests(), online, "a present model touched the hub");

    // The fetched model embeds, exactly as the built-in EfficientNet-Lite0 does.
    let images = write_images(&tmp.path().join("img"), 2, 0);
    let mut args = vec!["embed", "--model", m, "--device", "cpu", "--json", "--out"];
    let cache = tmp.path().join("cache");
    args.push(cache.to_str().unwrap());
    args.extend(images.iter().map(|p| p.to_str().unwrap()));
    let out = graft_in(gh.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(summary(&out)["embedded"], images.len(), "{}", text(&out));
    let rows = cache_rows(&cache);
    assert!(rows.iter().all(|(_, f)| f.len() == 1280));
    let builtin = tmp.path().join("builtin");
    args[2] = "efficientnet-lite0";
    args[7] = builtin.to_str().unwrap();
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out));
    let diff = max_abs_diff(&rows, &cache_rows(&builtin));
    assert!(
        diff <= 1e-6,
        "hub model and built-in model differ by {diff}"
    );

    // Offline with the hub gone: the present model is used as is...
    let endpoint = hub.endpoint.clone();
    drop(hub);
    let out = graft_in(
        gh.path(),
        &[
            "models",
            "fetch",
            m,
            "--offline",
            "--hub-endpoint",
            &endpoint,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hub-effnet: present"),
        "{}",
        text(&out)
    );
    // ...and without the model folder it is rebuilt, checks and all, from hf-hub's cache.
    std::fs::remove_dir_all(&model_dir).unwrap();
    let out = graft_in(
        gh.path(),
        &[
            "models",
            "fetch",
            m,
            "--offline",
            "--hub-endpoint",
            &endpoint,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("hub-effnet: fetched") && stdout.contains("output dim 1280"),
        "{}",
        text(&out)
    );
    assert!(model_dir.join("fetched.json").is_file());
    assert_eq!(
        std::fs::read(model_dir.join("model.onnx")).unwrap(),
        std::fs::read(real_onnx()).unwrap()
    );
}

#[test]
fn a_wrong_pinned_sha256_is_refused_and_leaves_nothing() {
    require_setup();
    let sha = real_sha256();
    let hub = start_hub(&sha);
    let gh = scratch_home(&[]);
    let tmp = tempfile::tempdir().unwrap();
    // The real hash with its last digit changed.
    let last = if sha.ends_with('0') { "1" } else { "0" };
    let wrong = format!("{}{last}", &sha[..63]);
    let manifest = hub_manifest(tmp.path(), "hub-effnet", &wrong, "input");

    let out = graft_in(
        gh.path(),
        &[
            "models",
            "fetch",
            manifest.to_str().unwrap(),
            "--hub-endpoint",
            &hub.endpoint,
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("model.onnx") && stderr.contains("sha256"),
        "{}",
        text(&out)
    );
    assert!(
        stderr.contains(&wrong) && stderr.contains(&sha),
        "expected and found hashes not both named:\n{}",
        text(&out)
    );
    assert!(
        hub.requests().iter().any(|r| r.starts_with("GET /cdn/")),
        "the file was never downloaded: {:?}",
        hub.requests()
    );
    assert_eq!(
        models_entries(gh.path()),
        Vec::<String>::new(),
        "a refused model left files behind"
    );
}

#[test]
fn a_wrong_input_name_is_refused_naming_the_real_one() {
    require_setup();
    let sha = real_sha256();
    let hub = start_hub(&sha);
    let gh = scratch_home(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let manifest = hub_manifest(tmp.path(), "hub-effnet", &sha, "pixel_values");

    let out = graft_in(
        gh.path(),
        &[
            "models",
            "fetch",
            manifest.to_str().unwrap(),
            "--hub-endpoint",
            &hub.endpoint,
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let s = text(&out);
    assert!(
        s.contains("`pixel_values` not found") && s.contains("inputs [input]"),
        "{s}"
    );
    assert_eq!(
        models_entries(gh.path()),
        Vec::<String>::new(),
        "a refused model left files behind"
    );
}
