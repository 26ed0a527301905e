//! Shared helpers for the end-to-end tests: run the real `graft` binary against
//! the real default models in GRAFT_HOME (installed by `cargo xtask setup`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A `graft` command with the test's environment.
pub fn graft() -> Command {
    Command::new(env!("CARGO_BIN_EXE_graft"))
}

/// Runs `graft args...` and returns its output.
pub fn run(args: &[&str]) -> Output {
    graft().args(args).output().expect("the graft binary runs")
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

/// Writes `n` small PNGs per class into `dir/CLASS/`: red-ish squares vs blue-ish stripes.
pub fn write_images(dir: &Path, per_class: usize, offset: usize) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for (class, colour) in [("reds", [200u8, 30, 30]), ("blues", [30u8, 30, 200])] {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for i in offset..offset + per_class {
            let img = image::RgbImage::from_fn(40 + i as u32 % 7, 32, |x, y| {
                let stripe = if class == "blues" {
                    (x / 4) % 2 == 0
                } else {
                    (x + y + i as u32).is_multiple_of(9)
                };
                let k = if stripe { 60 } else { 0 };
                image::Rgb([
                    colour[0].saturating_sub(k),
                    colour[1].saturating_add(k / 2),
                    colour[2].saturating_sub(k),
                ])
            });
            let path = dir.join(class).join(format!("{i:03}.png"));
            img.save(&path).unwrap();
            paths.push(path);
        }
    }
    paths
}

/// Reads an `.npy` float32 matrix written by Graft (header checked by hand).
pub fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{} is not an npy file",
        path.display()
    );
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{header}");
    let shape_start = header.find("'shape': (").unwrap() + 10;
    let shape_end = header[shape_start..].find(')').unwrap() + shape_start;
    let shape: Vec<usize> = header[shape_start..shape_end]
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (shape, data)
}

/// All rows of a cache as (id, features), sorted by id, read through its manifest.
pub fn cache_rows(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let mut rows = Vec::new();
    for shard in manifest["shards"].as_array().unwrap() {
        let (shape, data) = read_npy(&dir.join(shard["features"].as_str().unwrap()));
        let items = std::fs::read_to_string(dir.join(shard["items"].as_str().unwrap())).unwrap();
        let ids: Vec<String> = items
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids.len(), shape[0]);
        for (r, id) in ids.into_iter().enumerate() {
            rows.push((id, data[r * shape[1]..(r + 1) * shape[1]].to_vec()));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// Largest absolute difference between two caches' rows (same ids required).
pub fn max_abs_diff(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> f32 {
    assert_eq!(a.len(), b.len(), "row counts differ");
    a.iter()
        .zip(b)
        .map(|((ia, fa), (ib, fb))| {
            assert_eq!(ia, ib, "ids differ");
            fa.iter()
                .zip(fb)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max)
        })
        .fold(0.0, f32::max)
}

/// Parses the JSON summary `graft embed --json` prints.
pub fn summary(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}):\n{}", text(out)))
}
