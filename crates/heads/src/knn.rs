//! k nearest neighbours by cosine similarity.
//!
//! The training rows are stored (optionally centred by their mean, then L2-normalised), so a
//! saved k-NN head is as large as its training set. Neighbours are ranked by similarity, ties
//! by lower training index. Probabilities are vote fractions (`votes / k`); the predicted class
//! is the one with most votes, ties going to the larger summed similarity of its voters, then
//! to the lower class index.

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::Fit;
use linfa::ParamGuard;
use ndarray::{Array2, ArrayBase, ArrayView2, Axis, Data, Ix2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::centroid::{column_mean, normalize_rows};
use crate::dataset::Dataset;
use crate::error::{HeadError, ParamError, Result};
use crate::head::Classifier;

/// Hyper-parameters of a k-NN head, unchecked (linfa's [`ParamGuard`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnnParams(KnnValidParams);

/// Checked hyper-parameters of a k-NN head; implements linfa's [`Fit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnnValidParams {
    k: usize,
    center: bool,
}

/// Neighbours by default.
pub const DEFAULT_K: usize = 5;

impl Default for KnnParams {
    fn default() -> Self {
        KnnParams(KnnValidParams {
            k: DEFAULT_K,
            center: true,
        })
    }
}

impl KnnParams {
    /// [`DEFAULT_K`] neighbours, centred.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of neighbours (at least 1, at most the training rows).
    pub fn k(mut self, k: usize) -> Self {
        self.0.k = k;
        self
    }

    /// Whether to subtract the training mean before normalising (default `true`).
    pub fn center(mut self, center: bool) -> Self {
        self.0.center = center;
        self
    }

    pub(crate) fn into_unchecked(self) -> KnnValidParams {
        self.0
    }
}

impl KnnValidParams {
    /// Number of neighbours.
    pub fn k(&self) -> usize {
        self.k
    }

    pub(crate) fn validate(&self) -> std::result::Result<(), ParamError> {
        if self.k == 0 {
            return Err(ParamError::ZeroNeighbours);
        }
        Ok(())
    }
}

impl ParamGuard for KnnParams {
    type Checked = KnnValidParams;
    type Error = ParamError;

    fn check_ref(&self) -> std::result::Result<&KnnValidParams, ParamError> {
        self.0.validate()?;
        Ok(&self.0)
    }

    fn check(self) -> std::result::Result<KnnValidParams, ParamError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl<D, T> Fit<ArrayBase<D, Ix2>, T, HeadError> for KnnValidParams
where
    D: Data<Elem = f32>,
    T: AsSingleTargets<Elem = usize>,
{
    type Object = KnnModel;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<KnnModel> {
        KnnModel::fit(&Dataset::from_linfa(dataset, None)?, self.k, self.center)
    }
}

impl Classifier for KnnModel {
    fn n_features(&self) -> usize {
        self.points.ncols()
    }

    fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        KnnModel::predict_proba(self, x)
    }

    fn predict(&self, x: ArrayView2<f32>) -> Result<Vec<usize>> {
        KnnModel::predict(self, x)
    }
}

crate::head::predict_inplace_via_classifier!(KnnModel);

/// A fitted k-NN classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnModel {
    /// Number of neighbours (at most the number of stored rows).
    pub k: usize,
    /// Stored unit-norm training rows, `n x n_features`.
    #[serde(with = "crate::matrix")]
    pub points: Array2<f32>,
    /// Class index of each stored row.
    pub labels: Vec<usize>,
    /// Number of classes.
    pub n_classes: usize,
    /// Training mean subtracted before normalising (`None`: no centring).
    pub center: Option<Vec<f32>>,
}

/// Votes of one query: per class (count, summed similarity).
type Votes = Vec<(usize, f32)>;

impl KnnModel {
    /// Stores the training rows; `k = 0` or more neighbours than rows is an error.
    pub(crate) fn fit(ds: &Dataset, k: usize, center: bool) -> Result<Self> {
        ds.validate()?;
        if k == 0 {
            return Err(ParamError::ZeroNeighbours.into());
        }
        if k > ds.n_samples() {
            return Err(ParamError::TooManyNeighbours {
                k,
                rows: ds.n_samples(),
            }
            .into());
        }
        let mean = center.then(|| column_mean(ds.x.view()));
        Ok(KnnModel {
            k,
            points: normalize_rows(ds.x.view(), mean.as_deref()),
            labels: ds.y.clone(),
            n_classes: ds.n_classes(),
            center: mean,
        })
    }

    /// Checks internal consistency.
    pub fn validate(&self) -> Result<()> {
        let ok = self.labels.len() == self.points.nrows()
            && self.k >= 1
            && self.k <= self.points.nrows()
            && self.n_classes >= 2
            && self.labels.iter().all(|&l| l < self.n_classes)
            && self
                .center
                .as_ref()
                .is_none_or(|c| c.len() == self.n_features());
        if ok {
            Ok(())
        } else {
            Err(HeadError::InvalidHeadFile(
                "k-NN head: inconsistent points, labels, k or centre".into(),
            ))
        }
    }

    fn votes(&self, x: ArrayView2<f32>) -> Result<Vec<Votes>> {
        self.validate()?;
        if x.ncols() != self.n_features() {
            return Err(HeadError::DimensionMismatch {
                expected: self.n_features(),
                got: x.ncols(),
            });
        }
        let q = normalize_rows(x, self.center.as_deref());
        let blocks: Vec<_> = q.axis_chunks_iter(Axis(0), 256).collect();
        let per_block: Vec<Vec<Votes>> = blocks
            .par_iter()
            .map(|b| {
                let sims = b.dot(&self.points.t());
                sims.rows()
                    .into_iter()
                    .map(|row| {
                        let mut idx: Vec<usize> = (0..row.len()).collect();
                        let order =
                            |a: &usize, b: &usize| row[*b].total_cmp(&row[*a]).then(a.cmp(b));
                        if self.k < idx.len() {
                            idx.select_nth_unstable_by(self.k - 1, order);
                        }
                        let mut v = vec![(0usize, 0f32); self.n_classes];
                        for &i in &idx[..self.k] {
                            let c = self.labels[i];
                            v[c].0 += 1;
                            v[c].1 += row[i];
                        }
                        v
                    })
                    .collect()
            })
            .collect();
        Ok(per_block.into_iter().flatten().collect())
    }

    /// Vote fractions per class.
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        let votes = self.votes(x)?;
        let mut p = Array2::zeros((votes.len(), self.n_classes));
        for (mut row, v) in p.rows_mut().into_iter().zip(&votes) {
            for (out, (count, _)) in row.iter_mut().zip(v) {
                *out = *count as f32 / self.k as f32;
            }
        }
        Ok(p)
    }

    /// Majority vote with the deterministic tie-break described in the module docs.
    pub fn predict(&self, x: ArrayView2<f32>) -> Result<Vec<usize>> {
        Ok(self
            .votes(x)?
            .iter()
            .map(|v| {
                let mut best = 0;
                for (c, &(count, sim)) in v.iter().enumerate() {
                    let (bc, bs) = v[best];
                    if count > bc || (count == bc && sim > bs) {
                        best = c;
                    }
                }
                best
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn votes_and_ties() {
        // Three class-0 points near +x, two class-1 points near +y.
        let x = array![
            [1.0f32, 0.0],
            [1.0, 0.1],
            [1.0, -0.1],
            [0.0, 1.0],
            [0.1, 1.0]
        ];
        let ds = Dataset::new(x, vec![0, 0, 0, 1, 1], vec!["a".into(), "b".into()]).unwrap();
        let m = KnnModel::fit(&ds, 3, false).unwrap();
        let q = array![[1.0f32, 0.05], [0.05, 1.0]];
        let p = m.predict_proba(q.view()).unwrap();
        assert_eq!(p.row(0).to_vec(), vec![1.0, 0.0]);
        assert!((p[[1, 1]] - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(m.predict(q.view()).unwrap(), vec![0, 1]);

        // k = 2 with one neighbour of each class: the more similar one wins the tie,
        // whichever class index it has.
        let x2 = array![[1.0f32, 0.0], [0.0, 1.0], [-1.0, 0.0]];
        let ds2 = Dataset::new(x2, vec![0, 1, 0], vec!["a".into(), "b".into()]).unwrap();
        let m2 = KnnModel::fit(&ds2, 2, false).unwrap();
        let q2 = array![[1.0f32, 0.9], [0.9, 1.0]];
        let p2 = m2.predict_proba(q2.view()).unwrap();
        assert_eq!(p2.row(0).to_vec(), vec![0.5, 0.5]);
        assert_eq!(p2.row(1).to_vec(), vec![0.5, 0.5]);
        assert_eq!(m2.predict(q2.view()).unwrap(), vec![0, 1]);
        // k larger than the data is refused, naming both numbers
        assert!(matches!(
            KnnModel::fit(&ds, 99, false),
            Err(HeadError::Param(ParamError::TooManyNeighbours {
                k: 99,
                rows: 5
            }))
        ));
    }
}
