//! Graft feature caches exported as the plain `.npy` pairs the scikit-learn reference reads:
//! `X` float32 `[rows, dim]` and `y` int64 `[rows]`, with label indices assigned over the
//! sorted union of the train and test label names (so both splits share one coding).

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use graft_cache::Cache;
use ndarray::Array1;

/// Writes `train_X.npy`, `train_y.npy`, `test_X.npy`, `test_y.npy` into `out` from the
/// caches `train` and `test`; returns their paths in that order.
pub fn export_pair(train: &Path, test: &Path, out: &Path) -> Result<[PathBuf; 4]> {
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let (train_cache, train_labels) = open(train)?;
    let (test_cache, test_labels) = open(test)?;
    let mut coding: BTreeMap<&str, i64> = train_labels
        .iter()
        .chain(&test_labels)
        .map(|l| (l.as_str(), 0))
        .collect();
    for (i, code) in coding.values_mut().enumerate() {
        *code = i64::try_from(i).context("too many labels")?;
    }

    let paths = ["train_X", "train_y", "test_X", "test_y"].map(|n| out.join(format!("{n}.npy")));
    for (cache, labels, x_path, y_path) in [
        (&train_cache, &train_labels, &paths[0], &paths[1]),
        (&test_cache, &test_labels, &paths[2], &paths[3]),
    ] {
        let x = cache
            .features()
            .with_context(|| format!("cannot read the features in {}", cache.dir().display()))?;
        let y: Array1<i64> = labels.iter().map(|l| coding[l.as_str()]).collect();
        ndarray_npy::write_npy(x_path, &x)
            .with_context(|| format!("cannot write {}", x_path.display()))?;
        ndarray_npy::write_npy(y_path, &y)
            .with_context(|| format!("cannot write {}", y_path.display()))?;
    }
    Ok(paths)
}

/// Opens a cache and reads the default label of every row.
fn open(dir: &Path) -> Result<(Cache, Vec<String>)> {
    let cache = Cache::open(dir)
        .with_context(|| format!("cannot open the feature cache {}", dir.display()))?;
    let items = cache
        .items()
        .with_context(|| format!("cannot read the items of {}", dir.display()))?;
    let labels = items
        .iter()
        .map(|item| {
            item.label_for(None)
                .map(str::to_owned)
                .with_context(|| format!("{}: item {} has no label", dir.display(), item.id))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((cache, labels))
}

#[cfg(test)]
mod tests {
    use graft_cache::{CacheWriter, ItemRecord, ModelStamp};
    use ndarray::Array2;

    use super::*;

    fn write_cache(dir: &Path, labels: &[&str]) {
        let stamp = ModelStamp {
            name: "m".into(),
            modality: graft_cache::Modality::Image,
            model_sha256: "ab".repeat(32),
            preprocessing: serde_json::json!({}),
            dim: 2,
        };
        let (mut w, _) = CacheWriter::open(dir, stamp, None, "me", false, 2).unwrap();
        for (i, label) in labels.iter().enumerate() {
            let item = ItemRecord {
                id: format!("{dir:?}-{i}"),
                label: Some((*label).into()),
                labels: Default::default(),
                hash: graft_cache::checksum(&[i as u8]),
                size: None,
                mtime: None,
                text: None,
            };
            w.push(&[i as f32, 1.0], item, None).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn exports_features_and_shared_label_codes() {
        let tmp = tempfile::tempdir().unwrap();
        let (train, test) = (tmp.path().join("train"), tmp.path().join("test"));
        write_cache(&train, &["dog", "cat", "dog"]);
        write_cache(&test, &["emu", "cat"]);
        let [x, y, xt, yt] = export_pair(&train, &test, &tmp.path().join("npy")).unwrap();
        let x: Array2<f32> = ndarray_npy::read_npy(x).unwrap();
        assert_eq!(x, ndarray::array![[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]);
        let y: Array1<i64> = ndarray_npy::read_npy(y).unwrap();
        let yt: Array1<i64> = ndarray_npy::read_npy(yt).unwrap();
        assert_eq!((y.to_vec(), yt.to_vec()), (vec![1, 0, 1], vec![2, 0]));
        let xt: Array2<f32> = ndarray_npy::read_npy(xt).unwrap();
        assert_eq!(xt.nrows(), 2);
    }
}
