//! Per-feature standardisation fitted on training data only.

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{HeadError, Result};

/// Subtracts the training mean and divides by the training standard deviation (population,
/// `ddof = 0`, as scikit-learn's `StandardScaler`); a feature with zero spread gets std 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Per-feature mean of the training rows.
    pub mean: Vec<f32>,
    /// Per-feature standard deviation of the training rows (1 where it was ~0).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Learns means and standard deviations from `x` (accumulated in `f64`).
    pub fn fit(x: ArrayView2<f32>) -> Result<Self> {
        if x.nrows() == 0 || x.ncols() == 0 {
            return Err(HeadError::EmptyDataset);
        }
        let n = x.nrows() as f64;
        let mut mean = vec![0f64; x.ncols()];
        for row in x.axis_iter(Axis(0)) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0f64; x.ncols()];
        for row in x.axis_iter(Axis(0)) {
            for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
                let d = v as f64 - m;
                *s += d * d;
            }
        }
        let std = var
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let sd = (s / n).sqrt();
                // Treat spread at the level of f32 rounding noise as zero.
                if sd <= 1e-6 * m.abs().max(1e-6) || !sd.is_finite() {
                    1.0
                } else {
                    sd as f32
                }
            })
            .collect();
        Ok(Standardizer {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        })
    }

    /// Feature dimension this scaler was fitted on.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Returns standardised copy of `x`.
    pub fn transform(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        let mut out = x.to_owned();
        self.transform_inplace(&mut out)?;
        Ok(out)
    }

    /// Standardises `x` in place.
    pub fn transform_inplace(&self, x: &mut Array2<f32>) -> Result<()> {
        if x.ncols() != self.dim() || self.std.len() != self.dim() {
            return Err(HeadError::DimensionMismatch {
                expected: self.dim(),
                got: x.ncols(),
            });
        }
        for mut row in x.axis_iter_mut(Axis(0)) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn standardizes_and_handles_constant_columns() {
        let x = array![[1.0f32, 5.0], [3.0, 5.0]];
        let s = Standardizer::fit(x.view()).unwrap();
        assert_eq!(s.mean, vec![2.0, 5.0]);
        assert_eq!(s.std, vec![1.0, 1.0]);
        let t = s.transform(x.view()).unwrap();
        assert_eq!(t, array![[-1.0f32, 0.0], [1.0, 0.0]]);
        let y = array![[1.0f32, 2.0, 3.0]];
        assert!(matches!(
            s.transform(y.view()),
            Err(HeadError::DimensionMismatch {
                expected: 2,
                got: 3
            })
        ));
    }
}
