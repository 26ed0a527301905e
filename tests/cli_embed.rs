//! End-to-end tests of `graft embed` and `graft cache` with the real
//! EfficientNet-Lite0 and all-MiniLM-L6-v2 through ONNX Runtime.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

fn embed_images(out: &Path, input: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--json", "--batch-size", "8", "--shard-rows", "16"];
    args.extend_from_slice(extra);
    embed("efficientnet-lite0", out, &[input], &args)
}

#[test]
fn bad_files_are_skipped_and_reported_not_fatal() {
    require_setup();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_images(&data, 6, 0);
    let full = std::fs::read(data.join("reds/000.png")).unwrap();
    std::fs::write(data.join("reds/truncated.png"), &full[..full.len() / 3]).unwrap();
    std::fs::write(data.join("reds/empty.jpg"), b"").unwrap();
    std::fs::write(
        data.join("blues/noise.webp"),
        (0..5000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    std::fs::write(
        data.join("blues/notes.png"),
        b"this is a text file with a png name",
    )
    .unwrap();
    std::fs::write(
        data.join("README.txt"),
        b"not listed: not an image extension",
    )
    .unwrap();
    let out_dir = tmp.path().join("cache");
    let out = embed_images(&out_dir, &data, &[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "some inputs failed: documented exit code 3\n{}",
        text(&out)
    );
    let s = summary(&out);
    assert_eq!(s["embedded"], 12, "{s}");
    assert_eq!(s["failed"], 4, "{s}");
    let errors = std::fs::read_to_string(out_dir.join("errors.jsonl")).unwrap();
    assert_eq!(errors.lines().count(), 4, "{errors}");
    for name in ["truncated.png", "empty.jpg", "noise.webp", "notes.png"] {
        let line = errors
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not reported: {errors}"));
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(!v["reason"].as_str().unwrap().is_empty());
    }
    assert!(errors.contains("empty file"), "{errors}");
    // The cache reads back: 12 rows of 1280 floats, labels from the folders.
    let rows = cache_rows(&out_dir);
    assert_eq!(rows.len(), 12);
    assert!(rows
        .iter()
        .all(|(_, f)| f.len() == 1280 && f.iter().all(|v| v.is_finite())));
    let items = std::fs::read_to_string(out_dir.join("items-00000.jsonl")).unwrap();
    assert!(
        items.contains("\"label\":\"reds\"") && items.contains("\"hash\""),
        "{items}"
    );
    // Same images, same features: a rerun embeds nothing.
    let again = summary(&embed_images(&out_dir, &data, &[]));
    assert_eq!(again["embedded"], 0, "{again}");
    assert_eq!(again["skipped"], 12, "{again}");
}

#[test]
fn killed_run_resumes_and_grown_corpus_embeds_only_new_items() {
    require_setup();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_images(&data, 40, 0);
    // Reference: one uninterrupted run.
    let reference = tmp.path().join("reference");
    let out = embed_images(&reference, &data, &[]);
    assert!(out.status.success(), "{}", text(&out));

    // Kill -9 once the first shard is committed, then rerun the same command.
    let cache = tmp.path().join("cache");
    let mut child = graft()
        .args([
            "embed",
            "--model",
            "efficientnet-lite0",
            "--device",
            "cpu",
            "--batch-size",
            "8",
            "--shard-rows",
            "16",
            "--threads",
            "1",
            "--out",
        ])
        .arg(&cache)
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let rows = std::fs::read(cache.join("manifest.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|m| m["rows"].as_u64())
            .unwrap_or(0);
        if rows > 0 || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run should have been killed mid-way");
    let resumed = summary(&embed_images(&cache, &data, &[]));
    assert!(
        resumed["skipped"].as_u64().unwrap() >= 16,
        "committed shards are not recomputed: {resumed}"
    );
    assert_eq!(resumed["rows"], 80, "{resumed}");
    let diff = max_abs_diff(&cache_rows(&reference), &cache_rows(&cache));
    assert!(
        diff <= 1e-5,
        "resumed cache differs from a clean run by {diff}"
    );

    // Grow the corpus: only the new items are embedded.
    write_images(&data, 3, 100);
    let grown = summary(&embed_images(&cache, &data, &[]));
    assert_eq!(grown["embedded"], 6, "{grown}");
    assert_eq!(grown["skipped"], 80, "{grown}");
    assert_eq!(grown["rows"], 86, "{grown}");
    // A changed file is re-embedded and replaces its old row.
    let changed = data.join("reds/005.png");
    image::RgbImage::from_pixel(30, 30, image::Rgb([1, 250, 1]))
        .save(&changed)
        .unwrap();
    let after = summary(&embed_images(&cache, &data, &[]));
    assert_eq!(after["embedded"], 1, "{after}");
    assert_eq!(after["rows"], 86, "{after}");
    let ids: Vec<String> = cache_rows(&cache).into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids.iter().filter(|id| id.ends_with("reds/005.png")).count(),
        1
    );

    // The cache was made with EfficientNet: another model is refused unless --force.
    let other = embed(
        "all-minilm-l6-v2",
        &cache,
        &[data.join("reds/000.png").as_path()],
        &[],
    );
    let why = text(&other);
    assert!(
        !other.status.success()
            && why.contains("cache was made with model efficientnet-lite0")
            && why.contains("--force"),
        "the refusal must name the cache's model and the way out: {why}"
    );
}

#[test]
fn parts_merge_to_the_single_machine_result() {
    require_setup();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_images(&data, 10, 0);
    let single = tmp.path().join("single");
    assert!(embed_images(&single, &data, &[]).status.success());
    let shared = tmp.path().join("shared");
    let mut total = 0;
    for i in 0..3 {
        let part = format!("{i}/3");
        let out = embed_images(&shared, &data, &["--part", &part]);
        assert!(out.status.success(), "{}", text(&out));
        total += summary(&out)["embedded"].as_u64().unwrap();
    }
    assert_eq!(total, 20, "every item in exactly one part");
    // Kubernetes: the same command with JOB_COMPLETION_INDEX; part 1 is already done.
    let k8s = graft()
        .env("JOB_COMPLETION_INDEX", "1")
        .args([
            "embed",
            "--model",
            "efficientnet-lite0",
            "--device",
            "cpu",
            "--json",
            "--part",
            "auto",
            "--parts",
            "3",
            "--out",
        ])
        .arg(&shared)
        .arg(&data)
        .output()
        .unwrap();
    assert!(k8s.status.success(), "{}", text(&k8s));
    assert_eq!(summary(&k8s)["embedded"], 0);
    let status = run(&["cache", "status", shared.to_str().unwrap()]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains("3/3 parts done"));
    let merge = run(&["cache", "merge", shared.to_str().unwrap()]);
    assert!(merge.status.success(), "{}", text(&merge));
    let diff = max_abs_diff(&cache_rows(&single), &cache_rows(&shared));
    assert!(
        diff <= 1e-5,
        "merged parts differ from the single run by {diff}"
    );
    assert!(run(&["cache", "verify", shared.to_str().unwrap()])
        .status
        .success());
    // A different part count cannot join the same directory.
    let clash = embed_images(&shared, &data, &["--part", "0/2"]);
    assert!(!clash.status.success());
}

#[test]
fn texts_from_jsonl_with_labels_and_bad_lines() {
    require_setup();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("texts.jsonl");
    let mut lines = Vec::new();
    for i in 0..30 {
        let (topic, text) = if i % 2 == 0 {
            (
                "sport",
                format!("The team won match {i} after a late goal in extra time."),
            )
        } else {
            (
                "markets",
                format!("Shares fell {i} percent as investors sold bank stocks."),
            )
        };
        lines.push(serde_json::json!({"id": format!("doc{i}"), "body": text, "topic": topic, "lang": "en"}).to_string());
    }
    lines.push("{not json".into());
    lines.push(serde_json::json!({"id": "blank", "body": "   ", "topic": "sport"}).to_string());
    lines.push(serde_json::json!({"id": "nobody", "topic": "sport"}).to_string());
    std::fs::write(&input, lines.join("\n")).unwrap();
    let out_dir = tmp.path().join("cache");
    let out = embed(
        "all-minilm-l6-v2",
        &out_dir,
        &[input.as_path()],
        &[
            "--json",
            "--text-field",
            "body",
            "--label-field",
            "topic,lang",
            "--id-field",
            "id",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let s = summary(&out);
    assert_eq!(
        (s["embedded"].as_u64(), s["failed"].as_u64()),
        (Some(30), Some(3)),
        "{s}"
    );
    assert!(s["tokens_per_sec"].as_f64().unwrap() > 0.0);
    let rows = cache_rows(&out_dir);
    let norm: f32 = rows[0].1.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!(
        (norm - 1.0).abs() < 1e-4,
        "MiniLM features are L2-normalised: {norm}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["tasks"], serde_json::json!(["topic", "lang"]));
    let items = std::fs::read_to_string(out_dir.join("items-00000.jsonl")).unwrap();
    assert!(
        items.contains("\"label\":\"sport\"") && items.contains("\"lang\":\"en\""),
        "{items}"
    );
    let errors = std::fs::read_to_string(out_dir.join("errors.jsonl")).unwrap();
    assert!(
        errors.contains("invalid JSON")
            && errors.contains("empty text")
            && errors.contains("no string field `body`"),
        "{errors}"
    );
}
