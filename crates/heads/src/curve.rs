//! Learning curves (accuracy vs labelled examples per class) and their SVG plot.
//!
//! For every shot count and repeat `r`, [`learning_curve`] draws a stratified sample with
//! [`Dataset::sample_shots`] (seed derived from `seed` and `r`, so within a repeat the samples
//! are nested: the 5-shot set is part of the 10-shot set), trains with the caller's trainer and
//! measures accuracy on the evaluation set. [`Shots::All`] uses the full training set once.
//! Runs are spread over rayon's thread pool; results do not depend on scheduling.

use std::path::Path;

use plotters::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use linfa::traits::Fit;
use ndarray::Array2;

use crate::dataset::{ClassTargets, Dataset};
use crate::error::{HeadError, ParamError, Result};
use crate::head::Classifier;
use crate::rng::SplitMix64;

/// Training-set size of one curve point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shots {
    /// This many labelled examples of every class.
    N(usize),
    /// The whole training set.
    All,
}

impl Shots {
    /// The count per class, `None` for [`Shots::All`].
    pub fn count(&self) -> Option<usize> {
        match self {
            Shots::N(n) => Some(*n),
            Shots::All => None,
        }
    }
}

impl std::str::FromStr for Shots {
    type Err = ParamError;

    /// A positive count, or `all`.
    fn from_str(s: &str) -> std::result::Result<Self, ParamError> {
        match s.trim() {
            "all" => Ok(Shots::All),
            n => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .map(Shots::N)
                .ok_or_else(|| ParamError::OutOfRange {
                    name: "a shot count",
                    expected: "a positive number or `all`",
                    got: n.to_string(),
                }),
        }
    }
}

/// Accuracy at one training-set size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Requested size.
    pub shots: Shots,
    /// x position: examples per class (for [`Shots::All`], the training set's mean per class).
    pub shots_per_class: f64,
    /// Mean accuracy over repeats.
    pub mean: f64,
    /// Sample standard deviation over repeats (0 for a single run).
    pub std: f64,
    /// Accuracy of each repeat.
    pub accuracies: Vec<f64>,
}

/// Accuracy of any head (anything implementing linfa's [`Fit`] whose model is a
/// [`Classifier`]) as a function of the number of labelled examples per class.
///
/// `eval` must use the same class list as `train`. Errors if `repeats == 0`, `shots` is
/// empty, a shot count exceeds a class's size, or any training run fails.
pub fn learning_curve<P>(
    params: &P,
    train: &Dataset,
    eval: &Dataset,
    shots: &[Shots],
    repeats: usize,
    seed: u64,
) -> Result<Vec<CurvePoint>>
where
    P: Fit<Array2<f32>, ClassTargets, HeadError> + Sync,
    P::Object: Classifier,
{
    if repeats == 0 || shots.is_empty() {
        return Err(HeadError::InvalidParameter(
            "a learning curve needs at least one shot count and one repeat".into(),
        ));
    }
    if eval.classes != train.classes {
        return Err(HeadError::InvalidParameter(
            "evaluation and training sets must share the same class list".into(),
        ));
    }
    train.validate()?;
    eval.validate()?;
    let jobs: Vec<(usize, usize)> = shots
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            let reps = if *s == Shots::All { 1 } else { repeats };
            (0..reps).map(move |r| (i, r))
        })
        .collect();
    let results: Vec<((usize, usize), f64)> = jobs
        .par_iter()
        .map(|&(i, r)| {
            let run_seed = SplitMix64::derive(seed, r as u64).next_u64();
            let subset = match shots[i] {
                Shots::N(n) => train.sample_shots(n, run_seed)?,
                Shots::All => train.clone(),
            };
            let model = params.fit(&subset.to_linfa())?;
            let pred = model.predict(eval.x.view())?;
            let correct = pred.iter().zip(&eval.y).filter(|(p, t)| p == t).count();
            Ok(((i, r), correct as f64 / eval.n_samples() as f64))
        })
        .collect::<Result<_>>()?;
    let mean_per_class = train.n_samples() as f64 / train.n_classes().max(1) as f64;
    Ok(shots
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let mut acc: Vec<((usize, usize), f64)> =
                results.iter().filter(|(k, _)| k.0 == i).copied().collect();
            acc.sort_by_key(|(k, _)| k.1);
            let accuracies: Vec<f64> = acc.into_iter().map(|(_, a)| a).collect();
            let m = accuracies.len() as f64;
            let mean = accuracies.iter().sum::<f64>() / m;
            let std = if accuracies.len() > 1 {
                (accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt()
            } else {
                0.0
            };
            CurvePoint {
                shots: s,
                shots_per_class: match s {
                    Shots::N(n) => n as f64,
                    Shots::All => mean_per_class,
                },
                mean,
                std,
                accuracies,
            }
        })
        .collect())
}

/// 1-2-5 ticks covering `lo..=hi`.
fn nice_log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi {
        for m in [1.0, 2.0, 5.0] {
            let t = decade * m;
            if t >= lo && t <= hi {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    ticks
}

fn plot_err<E: std::fmt::Display>(e: E) -> HeadError {
    HeadError::Plot(e.to_string())
}

/// Draws learning curves to an SVG file: log-scale x (examples per class), accuracy on y, a
/// line and markers per series, +-1 std error bars and a shaded +-1 std band, and a legend.
pub fn plot_svg<S, P>(path: impl AsRef<Path>, series: &[(S, P)]) -> Result<()>
where
    S: AsRef<str>,
    P: AsRef<[CurvePoint]>,
{
    let all: Vec<&CurvePoint> = series.iter().flat_map(|(_, p)| p.as_ref()).collect();
    if all.is_empty() {
        return Err(HeadError::InvalidParameter("nothing to plot".into()));
    }
    if all
        .iter()
        .any(|p| !(p.shots_per_class > 0.0 && p.mean.is_finite() && p.std.is_finite()))
    {
        return Err(HeadError::InvalidParameter(
            "curve points need positive x and finite accuracy".into(),
        ));
    }
    let x_min = all
        .iter()
        .map(|p| p.shots_per_class)
        .fold(f64::INFINITY, f64::min);
    let x_max = all.iter().map(|p| p.shots_per_class).fold(0.0, f64::max);
    let y_min = all.iter().map(|p| p.mean - p.std).fold(1.0, f64::min);
    let y_max = all.iter().map(|p| p.mean + p.std).fold(0.0, f64::max);
    let (y_lo, y_hi) = (
        ((y_min - 0.05) * 20.0).floor().max(0.0) / 20.0,
        ((y_max + 0.05) * 20.0).ceil().min(20.0) / 20.0,
    );

    let path = path.as_ref();
    let root = SVGBackend::new(path, (820, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Learning curve", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(
            (x_min / 1.4..x_max * 1.4)
                .log_scale()
                .with_key_points(nice_log_ticks(x_min / 1.4, x_max * 1.4)),
            y_lo..y_hi,
        )
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("labelled examples per class (log scale)")
        .y_desc("accuracy (mean, ±1 sd over repeats)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .draw()
        .map_err(plot_err)?;
    for (i, (name, points)) in series.iter().enumerate() {
        let mut pts: Vec<&CurvePoint> = points.as_ref().iter().collect();
        pts.sort_by(|a, b| a.shots_per_class.total_cmp(&b.shots_per_class));
        let color = Palette99::pick(i).to_rgba();
        let band: Vec<(f64, f64)> = pts
            .iter()
            .map(|p| (p.shots_per_class, (p.mean + p.std).min(y_hi)))
            .chain(
                pts.iter()
                    .rev()
                    .map(|p| (p.shots_per_class, (p.mean - p.std).max(y_lo))),
            )
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                color.mix(0.15).filled(),
            )))
            .map_err(plot_err)?;
        chart
            .draw_series(pts.iter().map(|p| {
                PathElement::new(
                    vec![
                        (p.shots_per_class, (p.mean - p.std).max(y_lo)),
                        (p.shots_per_class, (p.mean + p.std).min(y_hi)),
                    ],
                    color.stroke_width(1),
                )
            }))
            .map_err(plot_err)?;
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.shots_per_class, p.mean)),
                color.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(name.as_ref())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new((p.shots_per_class, p.mean), 3, color.filled())),
            )
            .map_err(plot_err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    root.present().map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::centroid::CentroidParams;
    use crate::head::HeadParams;
    use linfa::ParamGuard;

    fn blobs(n_per: usize, seed: u64) -> Dataset {
        let mut g = SplitMix64::new(seed);
        let k = 3;
        let mut x = Array2::zeros((n_per * k, 4));
        let mut y = Vec::new();
        for i in 0..n_per * k {
            let c = i % k;
            y.push(c);
            for j in 0..4 {
                let mean = if j == c { 1.0 } else { 0.0 };
                x[[i, j]] = (mean + 0.8 * g.normal()) as f32;
            }
        }
        Dataset::new(x, y, vec!["a".into(), "b".into(), "c".into()]).unwrap()
    }

    #[test]
    fn curve_is_deterministic_and_plots() {
        let train = blobs(30, 1);
        let eval = blobs(30, 2);
        let params = HeadParams::from(CentroidParams::new().center(false))
            .check()
            .unwrap();
        let run = || {
            learning_curve(
                &params,
                &train,
                &eval,
                &[Shots::N(1), Shots::N(10), Shots::All],
                4,
                7,
            )
            .unwrap()
        };
        let a = run();
        assert_eq!(a, run());
        assert_eq!(a[0].accuracies.len(), 4);
        assert_eq!(a[2].accuracies.len(), 1);
        assert_eq!(a[2].shots_per_class, 30.0);
        assert!(a[2].mean > a[0].mean, "{a:?}");
        assert!(a[0].std > 0.0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curve.svg");
        plot_svg(&path, &[("centroid", &a), ("copy", &a)]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("centroid") && svg.contains("accuracy"));
        assert!(learning_curve(&params, &train, &eval, &[Shots::N(31)], 1, 0).is_err());
    }
}
