//! What Graft's tests share, written once: tiny real corpora (PNG class folders, labelled
//! texts), a scratch `GRAFT_HOME` beside the real one, a loopback server that speaks the
//! Hugging Face hub's file protocol, readers of a cache's `.npy` shards, and finding
//! system programs. A dev-dependency only; nothing here is part of Graft.

mod hub;

use std::path::{Path, PathBuf};

pub use hub::{FakeFile, FakeHub};

/// The Graft home the tests use: `GRAFT_HOME`, else the XDG cache (the binary's own rule).
pub fn home() -> PathBuf {
    graft_cache::GraftHome::from_env().root().to_path_buf()
}

/// A temporary Graft home that shares the real runtime (a symlink) and holds copies of
/// `models` from the real home; dropped with the test.
pub fn scratch_home(models: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    std::os::unix::fs::symlink(home().join("runtime"), tmp.path().join("runtime"))
        .expect("the runtime links into the scratch home");
    for model in models {
        let (from, to) = (
            home().join("models").join(model),
            tmp.path().join("models").join(model),
        );
        std::fs::create_dir_all(&to).expect("a model folder");
        for e in std::fs::read_dir(&from)
            .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask setup`", from.display()))
        {
            let e = e.expect("a directory entry");
            std::fs::copy(e.path(), to.join(e.file_name())).expect("a model file copies");
        }
    }
    tmp
}

/// Writes `per_class` small PNGs per class into `dir/CLASS/` (`reds`: red-ish squares with
/// diagonal dots, `blues`: blue-ish stripes), numbered from `offset`; returns their paths.
pub fn write_images(dir: &Path, per_class: usize, offset: usize) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for (class, colour) in [("reds", [200u8, 30, 30]), ("blues", [30u8, 30, 200])] {
        std::fs::create_dir_all(dir.join(class)).expect("a class folder");
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
            img.save(&path).expect("a PNG is written");
            paths.push(path);
        }
    }
    paths
}

/// Sentences about sport and money, with a second label (`even`/`odd`) per line, written
/// as JSONL with fields `id`, `text`, `topic`, `tone`; returns the file.
pub fn write_topic_texts(path: &Path) -> PathBuf {
    let sport = [
        "The striker scored twice and the club won the league",
        "A late goal sealed the cup final for the home side",
        "The coach praised the defence after a clean sheet",
        "Fans cheered as the team lifted the trophy",
        "The tennis champion served an ace to win the set",
        "The runner broke the record in the marathon",
    ];
    let money = [
        "Shares fell as the central bank raised interest rates",
        "The company reported record quarterly profits",
        "Investors sold bonds after inflation data surprised",
        "The currency weakened against the dollar",
        "Oil prices rose on supply fears in the market",
        "The bank cut its growth forecast for next year",
    ];
    let lines: Vec<String> = sport
        .iter()
        .chain(money.iter())
        .enumerate()
        .map(|(i, t)| {
            let topic = if i < sport.len() { "sport" } else { "money" };
            let tone = if i % 2 == 0 { "even" } else { "odd" };
            serde_json::json!({"id": format!("t{i}"), "text": t, "topic": topic, "tone": tone})
                .to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n")).expect("the texts are written");
    path.to_path_buf()
}

/// Reads an `.npy` float32 matrix written by Graft (the header checked by hand, so the
/// test does not trust Graft's own reader): its shape and values.
pub fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{} is not an npy file",
        path.display()
    );
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).expect("an ASCII header");
    assert!(header.contains("'descr': '<f4'"), "{header}");
    let shape_start = header.find("'shape': (").expect("a shape") + 10;
    let shape_end = header[shape_start..].find(')').expect("a shape") + shape_start;
    let shape: Vec<usize> = header[shape_start..shape_end]
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("a dimension"))
        .collect();
    let data = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (shape, data)
}

/// All rows of a cache as (id, features), sorted by id, read through its manifest.
pub fn cache_rows(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("manifest.json"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
    )
    .expect("the manifest is JSON");
    let mut rows = Vec::new();
    for shard in manifest["shards"].as_array().expect("a shard list") {
        let (shape, data) = read_npy(&dir.join(shard["features"].as_str().expect("a file")));
        let items = std::fs::read_to_string(dir.join(shard["items"].as_str().expect("a file")))
            .expect("the items file reads");
        let ids: Vec<String> = items
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("an item record");
                v["id"].as_str().expect("an id").to_string()
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

/// Largest absolute difference between two caches' rows (same ids required). A NaN on
/// either side is a failure, never a small difference.
pub fn max_abs_diff(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> f32 {
    assert_eq!(a.len(), b.len(), "row counts differ");
    let mut worst = 0.0f32;
    for ((ia, fa), (ib, fb)) in a.iter().zip(b) {
        assert_eq!(ia, ib, "ids differ");
        for (x, y) in fa.iter().zip(fb) {
            let d = (x - y).abs();
            assert!(d.is_finite(), "{ia}: {x} vs {y} is not a finite difference");
            worst = worst.max(d);
        }
    }
    worst
}

/// A system program on `PATH` or in the usual sbin/bin folders.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "not a finite difference")]
    fn max_abs_diff_fails_on_nan() {
        let a = vec![("x".to_string(), vec![1.0, f32::NAN])];
        let b = vec![("x".to_string(), vec![1.0, 2.0])];
        max_abs_diff(&a, &b);
    }
}
