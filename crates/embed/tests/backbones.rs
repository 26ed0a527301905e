//! The default backbones are right: EfficientNet-Lite0 through Graft names real
//! photos' ImageNet classes, and MiniLM through Graft matches the PyTorch
//! sentence-transformers recipe recorded by the export (cosine >= 0.999).
//! Needs `cargo xtask setup` (runtime, models, photos in GRAFT_HOME).

use graft_embed::{
    Backbone, Device, EmbedOptions, Embedder, GraftHome, ImagePreprocessor, LoadOptions,
    ModelManifest,
};

/// Index of the largest logit.
fn argmax(values: &[f32]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0)
}

fn cpu() -> LoadOptions {
    LoadOptions {
        device: Device::Cpu,
        threads: 2,
        ..Default::default()
    }
}

#[test]
fn efficientnet_names_real_photos() {
    let home = GraftHome::from_env();
    let manifest = ModelManifest::builtin("efficientnet-lite0").unwrap();
    let mut backbone =
        Backbone::load(&manifest, &home, &cpu()).expect("run `cargo xtask setup` first");
    let prep = ImagePreprocessor::new(manifest.image.clone().unwrap());
    // ImageNet-1k: 281-285 domestic cats (285 Egyptian cat), 967 espresso, 657 missile, 744 projectile.
    let cases: [(&str, &[usize]); 3] = [
        ("chelsea.png", &[281, 282, 283, 284, 285]),
        ("coffee.png", &[967]),
        ("rocket.jpg", &[657, 744]),
    ];
    let mut batch = Vec::new();
    for (file, _) in &cases {
        let path = home.root().join("data/photos").join(file);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask setup`", path.display()));
        batch.extend(prep.prepare(&bytes).unwrap().tensor);
    }
    let shape = prep.batch_shape(cases.len());
    let logits = backbone.logits_pixels(shape, &batch).unwrap();
    for (i, (file, want)) in cases.iter().enumerate() {
        let top1 = argmax(logits.row(i).as_slice().unwrap());
        assert!(
            want.contains(&top1),
            "{file}: top-1 class {top1}, expected one of {want:?}"
        );
    }
    let features = backbone.embed_pixels(shape, &batch).unwrap();
    assert_eq!(features.dim(), (3, 1280));
}

#[test]
fn minilm_matches_the_sentence_transformers_recipe() {
    let home = GraftHome::from_env();
    let manifest = ModelManifest::builtin("all-minilm-l6-v2").unwrap();
    let dir = manifest.model_dir(&home);
    let mut embedder =
        Embedder::load(&manifest, &home, &cpu()).expect("run `cargo xtask setup` first");
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("reference.json")).unwrap()).unwrap();
    let sentences: Vec<String> = reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert!(sentences.len() >= 10);
    // Batched with length bucketing: padding must not change any embedding.
    let opts = EmbedOptions {
        batch_size: 4,
        ..Default::default()
    };
    let ours = embedder.embed_texts(&sentences, &opts).unwrap();
    for (i, want) in reference["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let want: Vec<f32> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let got = ours.row(i);
        let dot: f32 = got.iter().zip(&want).map(|(a, b)| a * b).sum();
        let norm = |v: &mut dyn Iterator<Item = f32>| v.map(|x| x * x).sum::<f32>().sqrt();
        let cos = dot / (norm(&mut got.iter().copied()) * norm(&mut want.iter().copied()));
        let max_abs = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            cos >= 0.999,
            "sentence {i} {:?}: cosine {cos}",
            sentences[i]
        );
        assert!(
            max_abs <= 1e-4,
            "sentence {i}: max abs difference {max_abs}"
        );
    }
}
