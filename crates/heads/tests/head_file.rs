//! End-to-end: train each head kind, save, reload, predict identically; provenance and
//! format-version checks; a TF-IDF baseline head stored with its vectoriser.

use graft_heads::{
    CentroidParams, Classifier, Dataset, FittedHead, HeadError, HeadFile, HeadKind, HeadParams,
    KnnParams, LogisticConfig, LogisticParams, Provenance, SplitMix64, TfidfConfig,
    TfidfVectorizer, HEAD_FORMAT_VERSION,
};
use linfa::traits::Fit;
use ndarray::Array2;
use serde_json::json;

fn fit(params: impl Into<HeadParams>, train: &Dataset) -> FittedHead {
    params.into().fit(&train.to_linfa()).unwrap()
}

fn blobs(n_per: usize, d: usize, seed: u64) -> Dataset {
    let mut g = SplitMix64::new(99);
    let means: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..d).map(|_| g.normal() * 1.5).collect())
        .collect();
    let mut g = SplitMix64::new(seed);
    let mut x = Array2::zeros((n_per * 3, d));
    let mut labels = Vec::new();
    for i in 0..n_per * 3 {
        let c = i % 3;
        labels.push(["ant", "bee", "cow"][c].to_string());
        for j in 0..d {
            x[[i, j]] = (means[c][j] + g.normal()) as f32;
        }
    }
    Dataset::from_labels(x, &labels).unwrap()
}

fn provenance(dim: usize) -> Provenance {
    Provenance {
        backbone: "efficientnet-lite0".into(),
        model_sha256: "ab".repeat(32),
        preprocessing: json!({"resize": 224, "normalize": "imagenet"}),
        feature_dim: dim,
    }
}

#[test]
fn every_kind_round_trips_through_json() {
    let train = blobs(20, 8, 1);
    let test = blobs(20, 8, 2);
    let specs: [HeadParams; 4] = [
        LogisticParams::new().into(),
        LogisticParams::new().c(0.5).into(),
        CentroidParams::new().into(),
        KnnParams::new().k(5).into(),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, spec) in specs.iter().enumerate() {
        let fitted = spec.fit(&train.to_linfa()).unwrap();
        let head = fitted.head.clone();
        let report = head.evaluate(&test).unwrap();
        assert!(report.accuracy > 0.9, "{spec:?}: {}", report.to_table());
        let file = HeadFile::new(fitted, provenance(8), 42);
        let path = dir.path().join(format!("head{i}.json"));
        file.save(&path).unwrap();
        let loaded = HeadFile::load(&path).unwrap();
        assert_eq!(loaded, file);
        let again = loaded.head().unwrap();
        assert_eq!(
            again.predict_proba(test.x.view()).unwrap(),
            head.predict_proba(test.x.view()).unwrap()
        );
        assert_eq!(again.predict_labels(test.x.view()).unwrap().len(), 60);
        let v: serde_json::Value = serde_json::from_str(&file.to_json().unwrap()).unwrap();
        for key in [
            "format_version",
            "kind",
            "classes",
            "scaler",
            "params",
            "seed",
            "chosen_c",
            "training_metrics",
            "provenance",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        if i == 0 {
            assert_eq!(v["kind"], "logistic");
            assert!(v["chosen_c"].as_f64().unwrap() > 0.0);
            assert!(
                v["training_metrics"]["cv"]["points"]
                    .as_array()
                    .unwrap()
                    .len()
                    >= 3
            );
        }
    }
}

#[test]
fn newer_format_version_is_refused() {
    let train = blobs(5, 4, 3);
    let fitted = fit(CentroidParams::new().center(false), &train);
    let mut v = serde_json::to_value(HeadFile::new(fitted, provenance(4), 0)).unwrap();
    v["format_version"] = json!(HEAD_FORMAT_VERSION + 1);
    // Even a file whose body this build could not parse reports the version first.
    v["params"] = json!({"transformer": {}});
    match HeadFile::from_json(&v.to_string()) {
        Err(HeadError::UnsupportedFormatVersion { found, supported }) => {
            assert_eq!(
                (found, supported),
                (HEAD_FORMAT_VERSION + 1, HEAD_FORMAT_VERSION)
            );
        }
        other => panic!("expected UnsupportedFormatVersion, got {other:?}"),
    }
}

#[test]
fn corrupted_files_are_rejected() {
    let train = blobs(5, 4, 3);
    let file = HeadFile::new(
        fit(KnnParams::new().k(3).center(false), &train),
        provenance(4),
        0,
    );
    let mut v = serde_json::to_value(&file).unwrap();
    v["kind"] = json!("logistic");
    assert!(matches!(
        HeadFile::from_json(&v.to_string()),
        Err(HeadError::InvalidHeadFile(_))
    ));
    let mut v = serde_json::to_value(&file).unwrap();
    v["provenance"]["feature_dim"] = json!(5);
    assert!(HeadFile::from_json(&v.to_string()).is_err());
    let mut v = serde_json::to_value(&file).unwrap();
    v["params"]["knn"]["points"]["rows"] = json!(99);
    assert!(HeadFile::from_json(&v.to_string()).is_err());
    assert!(HeadFile::from_json("{}").is_err());
}

#[test]
fn incompatible_features_are_refused() {
    let train = blobs(5, 4, 3);
    let file = HeadFile::new(
        fit(CentroidParams::new().center(false), &train),
        provenance(4),
        0,
    );
    assert!(file.check_compatible(&provenance(4)).is_ok());
    let mut other = provenance(4);
    other.backbone = "minilm".into();
    let err = file.check_compatible(&other).unwrap_err();
    assert!(
        matches!(
            err,
            HeadError::IncompatibleFeatures {
                field: "backbone",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("minilm"));
    let mut other = provenance(4);
    other.model_sha256 = "cd".repeat(32);
    assert!(matches!(
        file.check_compatible(&other),
        Err(HeadError::IncompatibleFeatures {
            field: "model_sha256",
            ..
        })
    ));
    assert!(matches!(
        file.check_compatible(&provenance(5)),
        Err(HeadError::IncompatibleFeatures {
            field: "feature_dim",
            ..
        })
    ));
    let mut other = provenance(4);
    other.preprocessing = json!({"resize": 256, "normalize": "imagenet"});
    assert!(matches!(
        file.check_compatible(&other),
        Err(HeadError::IncompatibleFeatures {
            field: "preprocessing",
            ..
        })
    ));
}

#[test]
fn nan_features_refused_at_prediction() {
    let train = blobs(5, 4, 3);
    let head = fit(LogisticParams::new(), &train).head;
    let mut x = Array2::<f32>::zeros((3, 4));
    x[[1, 2]] = f32::NAN;
    assert!(matches!(
        head.predict_proba(x.view()),
        Err(HeadError::NonFiniteFeature { row: 1, col: 2, .. })
    ));
    let wrong = Array2::<f32>::zeros((2, 3));
    assert!(matches!(
        head.predict(wrong.view()),
        Err(HeadError::DimensionMismatch {
            expected: 4,
            got: 3
        })
    ));
}

#[test]
fn tfidf_baseline_head_is_stored_with_its_vectoriser() {
    let texts = [
        "great film, loved the acting",
        "wonderful story and great cast",
        "loved it, a wonderful film",
        "terrible plot and bad acting",
        "boring, bad and far too long",
        "awful film, terrible cast",
    ];
    let labels: Vec<String> = ["pos", "pos", "pos", "neg", "neg", "neg"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let vec = TfidfVectorizer::fit(&texts, TfidfConfig::default()).unwrap();
    let train = Dataset::from_labels(vec.transform(&texts), &labels).unwrap();
    let params = LogisticParams::new()
        .config(LogisticConfig {
            standardize: false,
            ..Default::default()
        })
        .c(10.0);
    let mut file = HeadFile::new(
        fit(params, &train),
        Provenance {
            backbone: "tfidf".into(),
            model_sha256: String::new(),
            preprocessing: serde_json::to_value(&vec.config).unwrap(),
            feature_dim: vec.n_features(),
        },
        0,
    );
    file.vectorizer = Some(vec);
    let loaded = HeadFile::from_json(&file.to_json().unwrap()).unwrap();
    assert_eq!(loaded.kind, HeadKind::Logistic);
    let v = loaded.vectorizer.as_ref().unwrap();
    let x = v.transform(&["a wonderful, great story", "bad and boring"]);
    assert_eq!(
        loaded.head().unwrap().predict_labels(x.view()).unwrap(),
        ["pos", "neg"]
    );
}
