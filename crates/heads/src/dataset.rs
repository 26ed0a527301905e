//! Labelled feature matrices and deterministic stratified sampling.
//!
//! A [`Dataset`] holds an `n x d` `f32` feature matrix, one class index per row and the class
//! names. Constructors validate the data (non-empty, finite features, at least two classes);
//! [`Dataset::stratified_split`], [`Dataset::stratified_folds`] and [`Dataset::sample_shots`]
//! are reproducible from a seed (see [`crate::rng`]).

use std::collections::BTreeSet;

use linfa::dataset::{AsSingleTargets, AsTargets, DatasetBase};
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Axis, Data, Ix2};

use crate::error::{HeadError, ParamError, Result};
use crate::rng::SplitMix64;

/// Features with one class label per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Features, one row per example.
    pub x: Array2<f32>,
    /// Class index of each row, into `classes`.
    pub y: Vec<usize>,
    /// Class names; index `i` is class `i`.
    pub classes: Vec<String>,
}

/// Class-index targets with their class names: the target type of the linfa datasets that
/// [`Dataset::to_linfa`] makes, so a fitted [`crate::Head`] knows its class names.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassTargets {
    /// Class index of each row.
    pub indices: Array1<usize>,
    /// Class names; index `i` is class `i`.
    pub classes: Vec<String>,
}

impl AsTargets for ClassTargets {
    type Elem = usize;
    type Ix = ndarray::Ix1;

    fn as_targets(&self) -> ndarray::ArrayView1<'_, usize> {
        self.indices.view()
    }
}

/// One cross-validation fold: row indices (sorted) to train on and to evaluate on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Training rows.
    pub train: Vec<usize>,
    /// Held-out rows.
    pub test: Vec<usize>,
}

/// Returns an error naming the first non-finite value of `x`, if any.
pub fn check_finite(x: ArrayView2<f32>) -> Result<()> {
    for (row, r) in x.axis_iter(Axis(0)).enumerate() {
        if let Some((col, &value)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(HeadError::NonFiniteFeature { row, col, value });
        }
    }
    Ok(())
}

impl Dataset {
    /// Builds a dataset from class indices and class names, validating everything.
    ///
    /// Errors: empty data, row/label count mismatch, non-finite features, an index outside
    /// `classes`, duplicate class names, fewer than two classes present in `y`.
    pub fn new(x: Array2<f32>, y: Vec<usize>, classes: Vec<String>) -> Result<Self> {
        let ds = Dataset { x, y, classes };
        ds.validate()?;
        let present = ds.class_counts().iter().filter(|&&c| c > 0).count();
        if present < 2 {
            let names = ds
                .class_counts()
                .iter()
                .zip(&ds.classes)
                .filter(|(c, _)| **c > 0)
                .map(|(_, n)| n.clone())
                .collect();
            return Err(HeadError::TooFewClasses {
                found: present,
                classes: names,
            });
        }
        Ok(ds)
    }

    /// Builds a dataset from string labels; classes are the distinct labels, sorted.
    pub fn from_labels(x: Array2<f32>, labels: &[String]) -> Result<Self> {
        let classes: Vec<String> = labels
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Self::from_labels_with_classes(x, labels, &classes)
    }

    /// Builds a dataset from string labels encoded against a fixed class list (e.g. the
    /// training set's), so that class indices agree between train and evaluation sets.
    /// Requires at least two listed classes but not that each occurs (an evaluation set may
    /// lack some); a label outside `classes` is an error.
    pub fn from_labels_with_classes(
        x: Array2<f32>,
        labels: &[String],
        classes: &[String],
    ) -> Result<Self> {
        if x.nrows() == 0 && labels.is_empty() {
            return Err(HeadError::EmptyDataset);
        }
        if x.nrows() != labels.len() {
            return Err(HeadError::LabelCountMismatch {
                rows: x.nrows(),
                labels: labels.len(),
            });
        }
        let y = labels
            .iter()
            .enumerate()
            .map(|(row, l)| {
                classes
                    .iter()
                    .position(|c| c == l)
                    .ok_or_else(|| HeadError::UnknownLabel {
                        row,
                        label: l.clone(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        if classes.len() < 2 {
            return Err(HeadError::TooFewClasses {
                found: classes.len(),
                classes: classes.to_vec(),
            });
        }
        let ds = Dataset {
            x,
            y,
            classes: classes.to_vec(),
        };
        ds.validate()?;
        Ok(ds)
    }

    /// The same rows as a linfa dataset (targets: class indices with their names), for any
    /// head's [`linfa::traits::Fit`].
    pub fn to_linfa(&self) -> DatasetBase<Array2<f32>, ClassTargets> {
        DatasetBase::new(
            self.x.clone(),
            ClassTargets {
                indices: Array1::from(self.y.clone()),
                classes: self.classes.clone(),
            },
        )
    }

    /// Reads a linfa dataset with class-index targets; class names are `classes` if given,
    /// else `"0".."k-1"` for the largest index `k - 1`. Validated like [`Dataset::validate`].
    pub fn from_linfa<D, T>(
        data: &DatasetBase<ArrayBase<D, Ix2>, T>,
        classes: Option<&[String]>,
    ) -> Result<Self>
    where
        D: Data<Elem = f32>,
        T: AsSingleTargets<Elem = usize>,
    {
        let y: Vec<usize> = data.as_single_targets().to_vec();
        let classes = match classes {
            Some(names) => names.to_vec(),
            None => {
                let k = y.iter().max().map_or(0, |m| m + 1);
                (0..k).map(|c| c.to_string()).collect()
            }
        };
        let ds = Dataset {
            x: data.records().to_owned(),
            y,
            classes,
        };
        ds.validate()?;
        Ok(ds)
    }

    /// Checks shape, finiteness, label range and class-name uniqueness (not the class count).
    pub fn validate(&self) -> Result<()> {
        if self.x.nrows() == 0 || self.x.ncols() == 0 {
            return Err(HeadError::EmptyDataset);
        }
        if self.x.nrows() != self.y.len() {
            return Err(HeadError::LabelCountMismatch {
                rows: self.x.nrows(),
                labels: self.y.len(),
            });
        }
        let mut seen = BTreeSet::new();
        for c in &self.classes {
            if !seen.insert(c) {
                return Err(HeadError::DuplicateClass(c.clone()));
            }
        }
        if let Some((row, &index)) = self
            .y
            .iter()
            .enumerate()
            .find(|(_, &c)| c >= self.classes.len())
        {
            return Err(HeadError::ClassIndexOutOfRange {
                row,
                index,
                n_classes: self.classes.len(),
            });
        }
        check_finite(self.x.view())
    }

    /// Number of rows.
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    /// Feature dimension.
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    /// Number of classes in the class list (some may be absent from `y`).
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Number of rows of each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &c in &self.y {
            if let Some(n) = counts.get_mut(c) {
                *n += 1;
            }
        }
        counts
    }

    /// The rows `idx` (in that order), keeping the class list.
    ///
    /// # Panics
    /// If an index is out of range (indices come from this crate's splitters or the caller).
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        Dataset {
            x: self.x.select(Axis(0), idx),
            y: idx.iter().map(|&i| self.y[i]).collect(),
            classes: self.classes.clone(),
        }
    }

    /// Row indices of each class, in row order.
    pub fn indices_by_class(&self) -> Vec<Vec<usize>> {
        let mut by = vec![Vec::new(); self.classes.len()];
        for (i, &c) in self.y.iter().enumerate() {
            if let Some(v) = by.get_mut(c) {
                v.push(i);
            }
        }
        by
    }

    /// Row indices of each class, each list shuffled with a per-class stream of `seed`.
    fn shuffled_by_class(&self, seed: u64) -> Vec<Vec<usize>> {
        let mut by = self.indices_by_class();
        for (c, idx) in by.iter_mut().enumerate() {
            SplitMix64::derive(seed, c as u64).shuffle(idx);
        }
        by
    }

    /// Splits into `(train, test)` keeping class proportions: each class with `m` rows puts
    /// `round(m * test_fraction)` of them in the test set, clamped so that a class with at least
    /// two rows has at least one on each side (a single-row class stays in train).
    pub fn stratified_split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        let (train, test) = self.stratified_split_indices(test_fraction, seed)?;
        Ok((self.subset(&train), self.subset(&test)))
    }

    /// The row indices (sorted) of [`Dataset::stratified_split`]: the one split that
    /// training, curves and validation splits all use.
    pub fn stratified_split_indices(
        &self,
        test_fraction: f64,
        seed: u64,
    ) -> Result<(Vec<usize>, Vec<usize>)> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(ParamError::OutOfRange {
                name: "the test fraction",
                expected: "in (0, 1)",
                got: test_fraction.to_string(),
            }
            .into());
        }
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for idx in self.shuffled_by_class(seed) {
            let m = idx.len();
            let mut n_test = (m as f64 * test_fraction).round() as usize;
            if m >= 2 {
                n_test = n_test.clamp(1, m - 1);
            } else {
                n_test = 0;
            }
            test.extend_from_slice(&idx[..n_test]);
            train.extend_from_slice(&idx[n_test..]);
        }
        if test.is_empty() {
            return Err(HeadError::InvalidParameter(
                "test split would be empty: every class has a single example".into(),
            ));
        }
        train.sort_unstable();
        test.sort_unstable();
        Ok((train, test))
    }

    /// Stratified `k`-fold partition: every class's rows are shuffled and dealt round-robin to
    /// the folds (with a rotating start so fold sizes stay within one of each other).
    ///
    /// Errors if `k < 2` or if a class present in the data has fewer than `k` rows (it would be
    /// missing from some test folds); callers wanting a fallback can use
    /// [`Dataset::min_class_count`] to lower `k`.
    pub fn stratified_folds(&self, k: usize, seed: u64) -> Result<Vec<Fold>> {
        if k < 2 {
            return Err(HeadError::InvalidParameter(format!(
                "need at least 2 folds, got {k}"
            )));
        }
        for (c, &count) in self.class_counts().iter().enumerate() {
            if count > 0 && count < k {
                return Err(HeadError::NotEnoughExamples {
                    class: self.classes[c].clone(),
                    count,
                    needed: k,
                    purpose: format!("{k}-fold stratified cross-validation"),
                });
            }
        }
        let mut fold_of = vec![0usize; self.n_samples()];
        let mut offset = 0;
        for idx in self.shuffled_by_class(seed) {
            for (j, &i) in idx.iter().enumerate() {
                fold_of[i] = (offset + j) % k;
            }
            offset = (offset + idx.len()) % k;
        }
        Ok((0..k)
            .map(|f| {
                let (test, train): (Vec<usize>, Vec<usize>) =
                    (0..self.n_samples()).partition(|&i| fold_of[i] == f);
                Fold { train, test }
            })
            .collect())
    }

    /// Smallest number of rows among the classes present in the data.
    pub fn min_class_count(&self) -> usize {
        self.class_counts()
            .into_iter()
            .filter(|&c| c > 0)
            .min()
            .unwrap_or(0)
    }

    /// Draws `n_per_class` rows of every class (for learning curves). With the same seed, the
    /// sample for a smaller `n` is a subset of the sample for a larger one, so curves are nested.
    ///
    /// Errors if `n_per_class == 0` or a class has fewer than `n_per_class` rows.
    pub fn sample_shots(&self, n_per_class: usize, seed: u64) -> Result<Dataset> {
        if n_per_class == 0 {
            return Err(HeadError::InvalidParameter(
                "n_per_class must be at least 1".into(),
            ));
        }
        let mut picked = Vec::with_capacity(n_per_class * self.n_classes());
        for (c, idx) in self.shuffled_by_class(seed).into_iter().enumerate() {
            if idx.len() < n_per_class {
                return Err(HeadError::NotEnoughExamples {
                    class: self.classes[c].clone(),
                    count: idx.len(),
                    needed: n_per_class,
                    purpose: format!("a {n_per_class}-shot sample"),
                });
            }
            picked.extend_from_slice(&idx[..n_per_class]);
        }
        picked.sort_unstable();
        Ok(self.subset(&picked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn toy(counts: &[usize]) -> Dataset {
        let n: usize = counts.iter().sum();
        let mut y = Vec::new();
        for (c, &m) in counts.iter().enumerate() {
            y.extend(std::iter::repeat_n(c, m));
        }
        let x = Array2::from_shape_fn((n, 2), |(i, j)| (i * 2 + j) as f32);
        let classes = (0..counts.len()).map(|c| format!("c{c}")).collect();
        Dataset::new(x, y, classes).unwrap()
    }

    #[test]
    fn from_labels_sorts_classes() {
        let x = Array2::zeros((3, 2));
        let ds = Dataset::from_labels(x, &labels(&["dog", "cat", "dog"])).unwrap();
        assert_eq!(ds.classes, labels(&["cat", "dog"]));
        assert_eq!(ds.y, vec![1, 0, 1]);
    }

    #[test]
    fn nan_refused_with_row() {
        let mut x = Array2::zeros((3, 2));
        x[[2, 1]] = f32::NAN;
        let err = Dataset::from_labels(x, &labels(&["a", "b", "a"])).unwrap_err();
        match err {
            HeadError::NonFiniteFeature { row, col, .. } => assert_eq!((row, col), (2, 1)),
            e => panic!("unexpected {e}"),
        }
        let mut x = Array2::zeros((2, 2));
        x[[0, 0]] = f32::INFINITY;
        let msg = Dataset::from_labels(x, &labels(&["a", "b"]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("row 0"), "{msg}");
    }

    #[test]
    fn one_class_and_empty_refused() {
        let err = Dataset::from_labels(Array2::zeros((3, 2)), &labels(&["a", "a", "a"]));
        assert!(matches!(
            err,
            Err(HeadError::TooFewClasses { found: 1, .. })
        ));
        let err = Dataset::from_labels(Array2::zeros((0, 2)), &[]);
        assert!(matches!(err, Err(HeadError::EmptyDataset)));
        let err = Dataset::from_labels(Array2::zeros((2, 2)), &labels(&["a"]));
        assert!(matches!(err, Err(HeadError::LabelCountMismatch { .. })));
        let err = Dataset::from_labels_with_classes(
            Array2::zeros((2, 2)),
            &labels(&["a", "z"]),
            &labels(&["a", "b"]),
        );
        assert!(matches!(err, Err(HeadError::UnknownLabel { row: 1, .. })));
    }

    #[test]
    fn stratified_folds_keep_every_class() {
        let ds = toy(&[10, 7, 5]);
        let folds = ds.stratified_folds(5, 3).unwrap();
        assert_eq!(folds.len(), 5);
        let mut all_test: Vec<usize> = Vec::new();
        for f in &folds {
            let tr = ds.subset(&f.train).class_counts();
            let te = ds.subset(&f.test).class_counts();
            assert!(tr.iter().all(|&c| c > 0), "train {tr:?}");
            assert!(te.iter().all(|&c| c > 0), "test {te:?}");
            assert_eq!(f.train.len() + f.test.len(), ds.n_samples());
            all_test.extend(&f.test);
        }
        all_test.sort_unstable();
        assert_eq!(all_test, (0..ds.n_samples()).collect::<Vec<_>>());
        let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        assert_eq!(folds, ds.stratified_folds(5, 3).unwrap());
        assert_ne!(folds, ds.stratified_folds(5, 4).unwrap());
        assert!(matches!(
            ds.stratified_folds(6, 0),
            Err(HeadError::NotEnoughExamples { count: 5, .. })
        ));
    }

    #[test]
    fn split_and_shots() {
        let ds = toy(&[20, 10]);
        let (tr, te) = ds.stratified_split(0.3, 1).unwrap();
        assert_eq!(te.class_counts(), vec![6, 3]);
        assert_eq!(tr.class_counts(), vec![14, 7]);
        let s5 = ds.sample_shots(5, 9).unwrap();
        let s8 = ds.sample_shots(8, 9).unwrap();
        assert_eq!(s5.class_counts(), vec![5, 5]);
        // nested: every row of the 5-shot sample is in the 8-shot sample
        for r in s5.x.rows() {
            assert!(s8.x.rows().into_iter().any(|q| q == r));
        }
        assert!(ds.sample_shots(11, 0).is_err());
    }
}
