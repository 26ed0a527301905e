//! End-to-end tests of `graft train | curve | eval | predict` on caches made by
//! the real backbones, including the from-scratch baselines and bad input.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;

/// Train and eval image caches (EfficientNet-Lite0), built once for all tests.
fn image_caches() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static CACHES: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    CACHES.get_or_init(|| {
        require_setup();
        let tmp = tempfile::tempdir().unwrap();
        let (train_dir, eval_dir) = (tmp.path().join("train"), tmp.path().join("eval"));
        write_images(&train_dir, 12, 0);
        write_images(&eval_dir, 6, 50);
        let mut caches = Vec::new();
        for (name, dir) in [("train-cache", &train_dir), ("eval-cache", &eval_dir)] {
            let out = tmp.path().join(name);
            let o = embed("efficientnet-lite0", &out, &[dir.as_path()], &[]);
            assert!(o.status.success(), "{}", text(&o));
            caches.push(out);
        }
        let eval = caches.pop().unwrap();
        let train = caches.pop().unwrap();
        (tmp, train, eval)
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn train_reports_transfer_and_baseline_and_writes_a_head() {
    let (tmp, train, eval) = image_caches();
    let head = tmp.path().join("head.json");
    let out = run(&[
        "train",
        "--features",
        s(train),
        "--eval",
        s(eval),
        "--head",
        "logistic",
        "--baseline",
        "--json",
        "--out",
        s(&head),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acc = v["accuracy"].as_f64().unwrap();
    assert!(
        acc >= 0.9,
        "reds vs blues must be easy for ImageNet features: {v}"
    );
    assert!(v["macro_f1"].as_f64().unwrap() > 0.0);
    assert_eq!(v["per_class"].as_array().unwrap().len(), 2);
    assert_eq!(v["confusion"].as_array().unwrap().len(), 2);
    assert!(
        v["baseline"]["accuracy"].as_f64().is_some(),
        "baseline object of the same shape: {v}"
    );
    assert_eq!(v["baseline"]["confusion"].as_array().unwrap().len(), 2);
    // The head file is self-describing.
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&head).unwrap()).unwrap();
    assert_eq!(file["provenance"]["backbone"], "efficientnet-lite0");
    assert_eq!(file["classes"], serde_json::json!(["blues", "reds"]));
    assert!(file["format_version"].as_u64().is_some() && file["chosen_c"].as_f64().is_some());
    // eval gives the same accuracy on the same cache.
    let ev = run(&["eval", "--head", s(&head), "--features", s(eval), "--json"]);
    assert!(ev.status.success(), "{}", text(&ev));
    let e: serde_json::Value = serde_json::from_slice(&ev.stdout).unwrap();
    assert_eq!(e["accuracy"], v["accuracy"]);
    // predict runs backbone + head end to end on new files, CSV and JSONL.
    let probe = tmp.path().join("probe");
    let files = write_images(&probe, 2, 200);
    std::fs::write(probe.join("broken.png"), b"junk").unwrap();
    let p = run(&["predict", "--head", s(&head), "--device", "cpu", s(&probe)]);
    assert_eq!(
        p.status.code(),
        Some(3),
        "one input is broken: {}",
        text(&p)
    );
    let csv = String::from_utf8_lossy(&p.stdout);
    assert!(csv.starts_with("id,label,p_blues,p_reds"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + files.len());
    assert!(String::from_utf8_lossy(&p.stderr).contains("broken.png"));
    let pj = run(&[
        "predict",
        "--head",
        s(&head),
        "--device",
        "cpu",
        "--json",
        s(&files[0]),
    ]);
    let line: serde_json::Value = serde_json::from_slice(&pj.stdout).unwrap();
    assert_eq!(
        line["label"], "reds",
        "{line}: the first probe file is a red one"
    );
    let sum: f64 = line["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-4);
}

#[test]
fn centroid_knn_and_curve_run_with_a_plot() {
    let (tmp, train, eval) = image_caches();
    for (head, extra) in [("centroid", &[][..]), ("knn", &["--k", "3"][..])] {
        let out_path = tmp.path().join(format!("{head}.json"));
        let mut args = vec![
            "train",
            "--features",
            s(train),
            "--eval",
            s(eval),
            "--head",
            head,
            "--json",
            "--out",
            s(&out_path),
        ];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["accuracy"].as_f64().unwrap() >= 0.9, "{head}: {v}");
    }
    let plot = tmp.path().join("curve.svg");
    let out = run(&[
        "curve",
        "--features",
        s(train),
        "--eval",
        s(eval),
        "--shots",
        "1,2,5,all",
        "--repeats",
        "3",
        "--plot",
        s(&plot),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let series = v["series"].as_object().unwrap();
    assert_eq!(series.len(), 2, "transfer and baseline: {v}");
    for points in series.values() {
        assert_eq!(points.as_array().unwrap().len(), 4);
        assert_eq!(points[0]["accuracies"].as_array().unwrap().len(), 3);
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("efficientnet-lite0"),
        "not a plot"
    );
}

#[test]
fn text_heads_beat_or_match_tfidf_and_handle_tasks() {
    require_setup();
    let tmp = tempfile::tempdir().unwrap();
    let input = write_topic_texts(&tmp.path().join("t.jsonl"));
    let cache = tmp.path().join("cache");
    let o = embed(
        "all-minilm-l6-v2",
        &cache,
        &[input.as_path()],
        &["--label-field", "topic,tone"],
    );
    assert!(o.status.success(), "{}", text(&o));
    // Two tasks from one embedding pass: one head each.
    let out = run(&[
        "train",
        "--features",
        s(&cache),
        "--test-fraction",
        "0.34",
        "--baseline",
        "--json",
        "--out",
        s(&tmp.path().join("h.json")),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["tasks"]["topic"]["accuracy"].as_f64().unwrap() >= 0.75,
        "{v}"
    );
    assert!(v["tasks"]["topic"]["baseline"]["features"]
        .as_str()
        .unwrap()
        .contains("TF-IDF"));
    assert!(tmp.path().join("h.topic.json").is_file() && tmp.path().join("h.tone.json").is_file());
    // One task only.
    let one = run(&[
        "train",
        "--features",
        s(&cache),
        "--task",
        "topic",
        "--head",
        "centroid",
        "--json",
        "--out",
        s(&tmp.path().join("c.json")),
    ]);
    assert!(one.status.success(), "{}", text(&one));
    let p = run(&[
        "predict",
        "--head",
        s(&tmp.path().join("h.topic.json")),
        "--device",
        "cpu",
        "--json",
        s(&input),
    ]);
    assert!(p.status.success(), "{}", text(&p));
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&p.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["label"], "sport");
}

#[test]
fn bad_input_gets_specific_errors() {
    let (tmp, train, eval) = image_caches();
    // Labels file naming ids the cache does not hold.
    let labels = tmp.path().join("labels.csv");
    std::fs::write(&labels, "id,label\nnot/in/cache.png,reds\n").unwrap();
    let out = run(&[
        "train",
        "--features",
        s(train),
        "--labels",
        s(&labels),
        "--out",
        s(&tmp.path().join("x.json")),
    ]);
    assert!(
        !out.status.success() && text(&out).contains("not in the cache"),
        "{}",
        text(&out)
    );
    // One class only.
    let cache_items: Vec<String> = cache_rows(train).into_iter().map(|(id, _)| id).collect();
    let one = tmp.path().join("one.csv");
    let body: String = cache_items
        .iter()
        .map(|id| format!("{id},only\n"))
        .collect();
    std::fs::write(&one, format!("id,label\n{body}")).unwrap();
    let out = run(&[
        "train",
        "--features",
        s(train),
        "--labels",
        s(&one),
        "--out",
        s(&tmp.path().join("y.json")),
    ]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).to_lowercase().contains("class"),
        "{}",
        text(&out)
    );
    // An empty cache.
    let empty = tmp.path().join("empty");
    let o = embed(
        "efficientnet-lite0",
        &empty,
        &[tmp.path().join("probe-none").as_path()],
        &[],
    );
    assert!(!o.status.success(), "a missing input is an error");
    std::fs::create_dir_all(tmp.path().join("nothing")).unwrap();
    let o = embed(
        "efficientnet-lite0",
        &empty,
        &[tmp.path().join("nothing").as_path()],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = run(&[
        "train",
        "--features",
        s(&empty),
        "--out",
        s(&tmp.path().join("z.json")),
    ]);
    assert!(text(&out).contains("empty"), "{}", text(&out));
    // A head from a newer format, and a head applied to another backbone's features.
    let head = tmp.path().join("h.json");
    assert!(run(&[
        "train",
        "--features",
        s(train),
        "--eval",
        s(eval),
        "--head",
        "centroid",
        "--out",
        s(&head)
    ])
    .status
    .success());
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&head).unwrap()).unwrap();
    file["format_version"] = serde_json::json!(999);
    let newer = tmp.path().join("newer.json");
    std::fs::write(&newer, file.to_string()).unwrap();
    let out = run(&["eval", "--head", s(&newer), "--features", s(eval)]);
    assert!(
        !out.status.success() && text(&out).contains("999"),
        "{}",
        text(&out)
    );
    let texts = tmp.path().join("t.txt");
    std::fs::write(&texts, "hello world\nsecond line\n").unwrap();
    let text_cache = tmp.path().join("text-cache");
    assert!(
        embed("all-minilm-l6-v2", &text_cache, &[texts.as_path()], &[])
            .status
            .success()
    );
    let out = run(&["eval", "--head", s(&head), "--features", s(&text_cache)]);
    assert!(
        !out.status.success() && text(&out).contains("all-minilm-l6-v2"),
        "{}",
        text(&out)
    );
}

/// Labels of a predictions CSV (`id,label,...`) by id.
fn predicted_labels(csv: &str) -> std::collections::BTreeMap<String, String> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap().to_string(), f.next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn predict_and_eval_give_the_same_label_for_every_row_and_head_kind() {
    let (tmp, train, eval) = image_caches();
    // Labels that alternate between two classes regardless of colour: a k-NN head with
    // k = 2 then meets exact vote ties, which it breaks by similarity, not column order.
    let alternate = |cache: &Path, name: &str| {
        let body: String = cache_rows(cache)
            .iter()
            .enumerate()
            .map(|(i, (id, _))| format!("{id},{}\n", ["a", "b"][i % 2]))
            .collect();
        let path = tmp.path().join(name);
        std::fs::write(&path, format!("id,label\n{body}")).unwrap();
        path
    };
    let (train_labels, eval_labels) = (alternate(train, "tl.csv"), alternate(eval, "el.csv"));
    let both = tmp.path().join("both.csv");
    let eval_body: String = std::fs::read_to_string(&eval_labels)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        &both,
        std::fs::read_to_string(&train_labels).unwrap() + &eval_body,
    )
    .unwrap();
    let eval_dir = tmp.path().join("eval");
    let cases: [(&str, &[&str]); 4] = [
        ("logistic", &[]),
        ("centroid", &[]),
        ("knn", &["--k", "3"]),
        ("knn", &["--k", "2"]),
    ];
    for (i, (head, extra)) in cases.iter().enumerate() {
        let head_file = tmp.path().join(format!("same-{i}.json"));
        let preds = tmp.path().join(format!("same-{i}.csv"));
        let mut args = vec![
            "train",
            "--features",
            s(train),
            "--eval",
            s(eval),
            "--head",
            head,
            "--labels",
            s(&both),
            "--out",
            s(&head_file),
        ];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(out.status.success(), "{}", text(&out));
        let ev = run(&[
            "eval",
            "--head",
            s(&head_file),
            "--features",
            s(eval),
            "--labels",
            s(&eval_labels),
            "--predictions",
            s(&preds),
        ]);
        assert!(ev.status.success(), "{}", text(&ev));
        let p = run(&[
            "predict",
            "--head",
            s(&head_file),
            "--device",
            "cpu",
            s(&eval_dir),
        ]);
        assert!(p.status.success(), "{}", text(&p));
        let from_eval = predicted_labels(&std::fs::read_to_string(&preds).unwrap());
        let from_predict = predicted_labels(&String::from_utf8_lossy(&p.stdout));
        assert_eq!(from_eval.len(), 12, "{head} {extra:?}");
        assert_eq!(
            from_eval, from_predict,
            "{head} {extra:?}: eval and predict disagree on some row"
        );
    }
}

#[test]
fn flags_that_do_not_apply_are_refused_with_the_reason() {
    let (tmp, train, eval) = image_caches();
    let out = tmp.path().join("never.json");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--head", "logistic", "--k", "3"],
            "--k does not apply to a logistic head",
        ),
        (
            &["--head", "centroid", "--c", "1"],
            "--c does not apply to a centroid head",
        ),
        (
            &["--head", "knn", "--folds", "3"],
            "--folds does not apply to a knn head",
        ),
        (
            &["--head", "knn", "--balanced"],
            "--balanced does not apply to a knn head",
        ),
        (
            &["--test-fraction", "0.3"],
            "--test-fraction does not apply with --eval",
        ),
        (
            &["--task", "label", "--labels", "x.csv"],
            "--task does not apply with --labels",
        ),
    ];
    for (extra, reason) in cases {
        let mut args = vec![
            "train",
            "--features",
            s(train),
            "--eval",
            s(eval),
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(
            !o.status.success() && text(&o).contains(reason),
            "{extra:?} must be refused with `{reason}`: {}",
            text(&o)
        );
        assert!(!out.exists(), "{extra:?}: no head may be written");
    }
    // Invalid values get typed errors too.
    for (extra, reason) in [
        (&["--c", "0"][..], "C must be positive"),
        (&["--head", "knn", "--k", "0"][..], "k must be at least 1"),
        (
            &["--head", "knn", "--k", "500"][..],
            "only 24 training rows",
        ),
        (
            &["--folds", "20"][..],
            "20 folds need at least 20 rows per class",
        ),
    ] {
        let mut args = vec![
            "train",
            "--features",
            s(train),
            "--eval",
            s(eval),
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(
            !o.status.success() && text(&o).contains(reason),
            "{extra:?}: {}",
            text(&o)
        );
    }
}
