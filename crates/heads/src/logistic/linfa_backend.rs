//! The `linfa_logistic::MultiLogisticRegression` backend (kept for comparison).

use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use ndarray::{s, Array1, Array2, ArrayView2};

use super::lbfgs::max_abs;
use super::objective::Objective;
use super::{FitInfo, LogisticRegression};
use crate::error::Result;

pub(super) fn linfa_fit(
    x: ArrayView2<f32>,
    y: &[usize],
    k: usize,
    p: &LogisticRegression,
) -> Result<(Array2<f64>, FitInfo)> {
    use linfa_logistic::MultiLogisticRegression;
    let n = x.nrows() as f64;
    let mut params = MultiLogisticRegression::<f32>::default()
        .alpha((1.0 / p.c) as f32)
        .max_iterations(p.max_iter as u64)
        // linfa checks the L2 norm of the summed gradient: n * tol is the closest analogue.
        .gradient_tolerance((n * p.tol) as f32);
    if let Some(w) = &p.warm_start {
        params = params.initial_params(w.mapv(|v| v as f32));
    }
    let targets = Array1::from(y.to_vec());
    let fitted = params.fit(&DatasetBase::new(x, targets))?;
    let d = x.ncols();
    let mut theta = Array2::zeros((d + 1, k));
    theta
        .slice_mut(s![..d, ..])
        .assign(&fitted.params().mapv(|v| v as f64));
    theta
        .row_mut(d)
        .assign(&fitted.intercept().mapv(|v| v as f64));
    // Report the true objective and gradient of the solution (linfa does not expose them).
    let obj = Objective::new(x, y, k, None, p.c);
    let flat: Vec<f64> = theta.iter().copied().collect();
    let mut g = vec![0.0; flat.len()];
    let objective = obj.eval(&flat, &mut g);
    let grad_max = max_abs(&g);
    Ok((
        theta,
        FitInfo {
            iterations: 0,
            evaluations: 0,
            converged: grad_max <= p.tol,
            grad_max,
            objective,
            seconds: 0.0,
        },
    ))
}
