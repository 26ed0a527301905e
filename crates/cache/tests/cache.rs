//! Round trips, resume after an interrupted run, corruption, and merging parts.

use std::collections::HashSet;

use graft_cache::{
    merge, status, Cache, CacheError, CacheWriter, ItemRecord, ModelStamp, PartId, PartState,
};

fn stamp(name: &str) -> ModelStamp {
    ModelStamp {
        name: name.into(),
        modality: graft_cache::Modality::Image,
        model_sha256: "ab".repeat(32),
        preprocessing: serde_json::json!({"size": [4, 4]}),
        dim: 3,
    }
}

fn item(id: &str) -> ItemRecord {
    ItemRecord {
        id: id.into(),
        label: Some(format!("class-{}", id.len() % 2)),
        labels: Default::default(),
        hash: graft_cache::checksum(id.as_bytes()),
        size: Some(id.len() as u64),
        mtime: Some(1),
        text: None,
    }
}

fn row(i: usize) -> [f32; 3] {
    [i as f32, (i * 2) as f32, -(i as f32)]
}

#[test]
fn rows_round_trip_through_shards() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, done) = CacheWriter::open(dir.path(), stamp("m"), None, "me", false, 4).unwrap();
    assert!(done.is_empty());
    for i in 0..10 {
        w.push(&row(i), item(&format!("img{i}")), Some(&[i as u8; 5]))
            .unwrap();
    }
    let m = w.finish().unwrap();
    assert_eq!(m.rows, 10);
    assert_eq!(m.shards.len(), 3);
    let cache = Cache::open(dir.path()).unwrap();
    let f = cache.features().unwrap();
    assert_eq!(f.shape(), &[10, 3]);
    assert_eq!(f[[7, 1]], 14.0);
    assert_eq!(cache.items().unwrap()[9].id, "img9");
    assert_eq!(cache.pixels().unwrap().unwrap()[[3, 0]], 3);
    cache.verify().unwrap();
}

#[test]
fn interrupted_run_resumes_from_committed_shards() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, _) = CacheWriter::open(dir.path(), stamp("m"), None, "me", false, 4).unwrap();
        for i in 0..6 {
            w.push(&row(i), item(&format!("img{i}")), None).unwrap();
        }
        // Dropped without finish: as if killed. Rows 4 and 5 were never committed.
    }
    let (w, done) = CacheWriter::open(dir.path(), stamp("m"), None, "me", false, 4).unwrap();
    assert_eq!(done.len(), 4);
    assert!(done.get("img3").is_some());
    assert!(done.get("img4").is_none());
    assert!(!w.manifest().complete);
}

#[test]
fn another_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = CacheWriter::open(dir.path(), stamp("m"), None, "me", false, 4).unwrap();
    w.finish().unwrap();
    let err = CacheWriter::open(dir.path(), stamp("other"), None, "me", false, 4).err();
    assert!(
        matches!(err, Some(CacheError::ModelMismatch { .. })),
        "{err:?}"
    );
    // --force starts again.
    let (_, done) = CacheWriter::open(dir.path(), stamp("other"), None, "me", true, 4).unwrap();
    assert!(done.is_empty());
}

#[test]
fn corrupt_shard_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = CacheWriter::open(dir.path(), stamp("m"), None, "me", false, 4).unwrap();
    for i in 0..4 {
        w.push(&row(i), item(&format!("img{i}")), None).unwrap();
    }
    w.finish().unwrap();
    let shard = dir.path().join("features-00000.npy");
    let mut bytes = std::fs::read(&shard).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&shard, bytes).unwrap();
    let err = Cache::open(dir.path()).unwrap().features().err();
    assert!(matches!(err, Some(CacheError::Checksum { .. })), "{err:?}");
}

#[test]
fn superseded_rows_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = CacheWriter::open(dir.path(), stamp("m"), None, "me", false, 4).unwrap();
    for i in 0..8 {
        w.push(&row(i), item(&format!("img{i}")), None).unwrap();
    }
    w.finish().unwrap();
    let (mut w, _) = CacheWriter::open(dir.path(), stamp("m"), None, "me", false, 4).unwrap();
    w.supersede(&HashSet::from(["img1".to_string(), "img6".to_string()]))
        .unwrap();
    w.push(&row(100), item("img1"), None).unwrap();
    w.finish().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let ids: Vec<String> = cache.items().unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(ids.len(), 7);
    assert!(!ids.contains(&"img6".to_string()));
    let f = cache.features().unwrap();
    let pos = ids.iter().position(|i| i == "img1").unwrap();
    assert_eq!(f[[pos, 0]], 100.0);
    cache.verify().unwrap();
    // Old shard files are gone; only listed ones remain.
    let npy = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".npy")
        })
        .count();
    assert_eq!(npy, cache.manifest().shards.len());
}

#[test]
fn parts_merge_into_one_cache() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..40).map(|i| format!("img{i}")).collect();
    for index in 0..3 {
        let part = PartId { index, count: 3 };
        let (mut w, _) = CacheWriter::open(
            dir.path(),
            stamp("m"),
            Some(part),
            &format!("task{index}"),
            false,
            4,
        )
        .unwrap();
        for (i, id) in ids.iter().enumerate() {
            if part.contains(id) {
                w.push(&row(i), item(id), None).unwrap();
            }
        }
        if index < 2 {
            w.finish().unwrap();
        }
    }
    let st = status(dir.path()).unwrap();
    assert_eq!(st[0].state, PartState::Done);
    assert_eq!(st[2].state, PartState::InProgress);
    assert!(
        merge(dir.path()).is_err(),
        "an unfinished part must block the merge"
    );
    // A different task claiming the running part is refused; the same owner resumes.
    let part2 = PartId { index: 2, count: 3 };
    let err = CacheWriter::open(dir.path(), stamp("m"), Some(part2), "intruder", false, 4).err();
    assert!(matches!(err, Some(CacheError::Parts { .. })), "{err:?}");
    let (mut w, done) =
        CacheWriter::open(dir.path(), stamp("m"), Some(part2), "task2", false, 4).unwrap();
    for (i, id) in ids.iter().enumerate() {
        if part2.contains(id) && done.get(id).is_none() {
            w.push(&row(i), item(id), None).unwrap();
        }
    }
    w.finish().unwrap();
    let report = merge(dir.path()).unwrap();
    assert_eq!(report.rows, 40);
    let cache = Cache::open(dir.path()).unwrap();
    cache.verify().unwrap();
    let items = cache.items().unwrap();
    let f = cache.features().unwrap();
    for (r, it) in items.iter().enumerate() {
        let i: usize = it.id[3..].parse().unwrap();
        assert_eq!(f.row(r).to_vec(), row(i).to_vec());
    }
    // A part of another count cannot join.
    std::fs::create_dir_all(dir.path().join("part-0-of-5")).unwrap();
    assert!(status(dir.path()).is_err());
}

#[test]
fn part_of_id_is_stable_and_spread() {
    let counts = (0..1000).fold([0usize; 4], |mut acc, i| {
        acc[PartId::of_id(&format!("x/{i}.png"), 4) as usize] += 1;
        acc
    });
    assert!(counts.iter().all(|&c| c > 200), "{counts:?}");
    assert_eq!(PartId::of_id("a/b.png", 7), PartId::of_id("a/b.png", 7));
}
