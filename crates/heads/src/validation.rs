//! Cross-validated accuracy of any head: stratified k-fold, each fold trained with the
//! head's own [`Fit`] and scored through [`Classifier::predict`].

use linfa::traits::Fit;
use ndarray::Array2;
use rayon::prelude::*;
use serde::Serialize;

use crate::dataset::{ClassTargets, Dataset};
use crate::error::{HeadError, Result};
use crate::head::Classifier;

/// Accuracy of every fold, with their mean and standard deviation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldScores {
    /// Accuracy per fold.
    pub accuracies: Vec<f64>,
    /// Mean over folds.
    pub mean: f64,
    /// Sample standard deviation over folds (0 for one fold).
    pub std: f64,
}

/// Stratified `k`-fold cross-validated accuracy of `params` on `data` (folds from `seed`,
/// trained in parallel). Errors if a class has fewer than `k` rows.
pub fn cross_val_accuracy<P>(params: &P, data: &Dataset, k: usize, seed: u64) -> Result<FoldScores>
where
    P: Fit<Array2<f32>, ClassTargets, HeadError> + Sync,
    P::Object: Classifier,
{
    let folds = data.stratified_folds(k, seed)?;
    let accuracies: Vec<f64> = folds
        .par_iter()
        .map(|f| {
            let model = params.fit(&data.subset(&f.train).to_linfa())?;
            let test = data.subset(&f.test);
            let pred = model.predict(test.x.view())?;
            let correct = pred.iter().zip(&test.y).filter(|(p, t)| p == t).count();
            Ok(correct as f64 / test.n_samples() as f64)
        })
        .collect::<Result<_>>()?;
    let n = accuracies.len() as f64;
    let mean = accuracies.iter().sum::<f64>() / n;
    let std = if accuracies.len() > 1 {
        (accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    Ok(FoldScores {
        accuracies,
        mean,
        std,
    })
}
