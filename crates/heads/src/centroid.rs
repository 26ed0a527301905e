//! Nearest class mean by cosine similarity.
//!
//! Rows are (optionally) centred by the training mean and L2-normalised; each class centroid is
//! the normalised mean of its normalised rows. Probabilities are `softmax(cos / T)` with the
//! temperature `T` chosen on the training rows (log-loss over a log grid `10^-3 .. 10^0`), so
//! they are somewhat over-confident on unseen data. Centring then normalising ("CL2N") is the
//! usual strong few-shot baseline on CNN features, which are all non-negative.

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::Fit;
use linfa::ParamGuard;
use ndarray::{Array2, ArrayBase, ArrayView2, Axis, Data, Ix2};
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{HeadError, ParamError, Result};
use crate::head::Classifier;

/// Hyper-parameters of a nearest-centroid head, unchecked (linfa's [`ParamGuard`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CentroidParams(CentroidValidParams);

/// Checked hyper-parameters of a nearest-centroid head; implements linfa's [`Fit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CentroidValidParams {
    center: bool,
}

impl Default for CentroidParams {
    fn default() -> Self {
        CentroidParams(CentroidValidParams { center: true })
    }
}

impl CentroidParams {
    /// Centred (CL2N) nearest centroid.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to subtract the training mean before normalising (default `true`).
    pub fn center(mut self, center: bool) -> Self {
        self.0.center = center;
        self
    }

    pub(crate) fn into_unchecked(self) -> CentroidValidParams {
        self.0
    }
}

impl ParamGuard for CentroidParams {
    type Checked = CentroidValidParams;
    type Error = ParamError;

    fn check_ref(&self) -> std::result::Result<&CentroidValidParams, ParamError> {
        Ok(&self.0)
    }

    fn check(self) -> std::result::Result<CentroidValidParams, ParamError> {
        Ok(self.0)
    }
}

impl<D, T> Fit<ArrayBase<D, Ix2>, T, HeadError> for CentroidValidParams
where
    D: Data<Elem = f32>,
    T: AsSingleTargets<Elem = usize>,
{
    type Object = CentroidModel;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<CentroidModel> {
        CentroidModel::fit(&Dataset::from_linfa(dataset, None)?, self.center)
    }
}

impl Classifier for CentroidModel {
    fn n_features(&self) -> usize {
        self.centroids.ncols()
    }

    fn n_classes(&self) -> usize {
        self.centroids.nrows()
    }

    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        CentroidModel::predict_proba(self, x)
    }
}

crate::head::predict_inplace_via_classifier!(CentroidModel);

/// A fitted nearest-centroid classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CentroidModel {
    /// Unit-norm class centroids, `n_classes x n_features`.
    #[serde(with = "crate::matrix")]
    pub centroids: Array2<f32>,
    /// Training mean subtracted before normalising (`None`: no centring).
    pub center: Option<Vec<f32>>,
    /// Softmax temperature applied to cosine similarities.
    pub temperature: f32,
}

/// Subtracts `center` (if any) and L2-normalises each row (all-zero rows stay zero).
pub(crate) fn normalize_rows(x: ArrayView2<f32>, center: Option<&[f32]>) -> Array2<f32> {
    let mut out = x.to_owned();
    for mut row in out.axis_iter_mut(Axis(0)) {
        if let Some(c) = center {
            row.iter_mut().zip(c).for_each(|(v, m)| *v -= m);
        }
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.mapv_inplace(|v| v / norm);
        }
    }
    out
}

/// Column means of `x`.
pub(crate) fn column_mean(x: ArrayView2<f32>) -> Vec<f32> {
    let mut m = vec![0f64; x.ncols()];
    for row in x.rows() {
        m.iter_mut().zip(row).for_each(|(a, &v)| *a += v as f64);
    }
    let n = x.nrows().max(1) as f64;
    m.into_iter().map(|v| (v / n) as f32).collect()
}

impl CentroidModel {
    /// Fits centroids (every class in `ds.classes` must occur) and the temperature.
    pub(crate) fn fit(ds: &Dataset, center: bool) -> Result<Self> {
        ds.validate()?;
        let counts = ds.class_counts();
        if let Some(c) = counts.iter().position(|&m| m == 0) {
            return Err(HeadError::NotEnoughExamples {
                class: ds.classes[c].clone(),
                count: 0,
                needed: 1,
                purpose: "fitting a centroid head".into(),
            });
        }
        let mean = center.then(|| column_mean(ds.x.view()));
        let xn = normalize_rows(ds.x.view(), mean.as_deref());
        let mut sums = Array2::<f32>::zeros((ds.n_classes(), ds.n_features()));
        for (row, &c) in xn.rows().into_iter().zip(&ds.y) {
            let mut s = sums.row_mut(c);
            s += &row;
        }
        let centroids = normalize_rows(sums.view(), None);
        let mut model = CentroidModel {
            centroids,
            center: mean,
            temperature: 1.0,
        };
        let sims = xn.dot(&model.centroids.t());
        model.temperature = best_temperature(&sims, &ds.y);
        Ok(model)
    }

    /// Checks internal shape consistency.
    pub fn validate(&self) -> Result<()> {
        let bad_center = self
            .center
            .as_ref()
            .is_some_and(|c| c.len() != self.n_features());
        if bad_center
            || self.n_classes() < 2
            || self.temperature.is_nan()
            || self.temperature <= 0.0
        {
            return Err(HeadError::InvalidHeadFile(
                "centroid head: inconsistent centre length, fewer than 2 classes or bad temperature"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Cosine similarity of every row to every centroid (`n x n_classes`).
    pub fn similarities(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.validate()?;
        if x.ncols() != self.n_features() {
            return Err(HeadError::DimensionMismatch {
                expected: self.n_features(),
                got: x.ncols(),
            });
        }
        let xn = normalize_rows(x, self.center.as_deref());
        Ok(xn.dot(&self.centroids.t()))
    }

    /// `softmax(cos / T)` per row.
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        let mut s = self.similarities(x)?;
        let t = self.temperature;
        s.mapv_inplace(|v| v / t);
        s.rows_mut()
            .into_iter()
            .for_each(crate::logistic::softmax_inplace);
        Ok(s)
    }
}

/// Temperature minimising the mean log-loss of `softmax(sims / T)` over a log grid.
fn best_temperature(sims: &Array2<f32>, y: &[usize]) -> f32 {
    let mut best = (f64::INFINITY, 1.0f32);
    for i in 0..=30 {
        let t = 10f64.powf(-3.0 + i as f64 * 0.1);
        let mut ll = 0.0;
        for (row, &c) in sims.rows().into_iter().zip(y) {
            let m = row
                .iter()
                .fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64 / t));
            let lse = m + row
                .iter()
                .map(|&v| (v as f64 / t - m).exp())
                .sum::<f64>()
                .ln();
            ll += lse - row[c] as f64 / t;
        }
        if ll < best.0 {
            best = (ll, t as f32);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn nearest_cosine_centroid() {
        let x = array![[1.0f32, 0.1], [2.0, -0.1], [0.1, 1.0], [-0.1, 3.0]];
        let ds = Dataset::new(x, vec![0, 0, 1, 1], vec!["e".into(), "n".into()]).unwrap();
        let m = CentroidModel::fit(&ds, false).unwrap();
        let q = array![[5.0f32, 1.0], [0.2, 0.3], [0.0, 0.0]];
        let p = m.predict_proba(q.view()).unwrap();
        assert!(p[[0, 0]] > 0.9);
        assert!(p[[1, 1]] > p[[1, 0]]);
        // a zero row has equal similarity to everything
        assert!((p[[2, 0]] - 0.5).abs() < 1e-6);
        for r in p.rows() {
            assert!((r.sum() - 1.0).abs() < 1e-5);
        }
        assert!(m.predict_proba(array![[1.0f32]].view()).is_err());
    }
}
