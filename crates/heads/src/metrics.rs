//! Classification reports: accuracy, per-class precision/recall/F1, confusion matrix, log-loss,
//! rendered as aligned text tables, alone or side by side (transfer head vs baseline).
//!
//! Conventions follow scikit-learn: precision/recall of a class never predicted / never present
//! is 0; `macro_f1` averages F1 over the classes that occur in the true or predicted labels;
//! `log_loss` is the mean of `-ln(max(p_true, 1e-15))`.

use std::fmt::Write as _;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::{HeadError, Result};
use crate::logistic::argmax;

/// Metrics of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Class name.
    pub class: String,
    /// TP / (TP + FP).
    pub precision: f64,
    /// TP / (TP + FN).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Number of true rows of this class.
    pub support: usize,
}

/// Evaluation of a classifier on a labelled set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Fraction of rows predicted correctly.
    pub accuracy: f64,
    /// Unweighted mean F1 over classes occurring in true or predicted labels.
    pub macro_f1: f64,
    /// Per-class metrics, in class order.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
    /// Mean log-loss (`None` when only hard predictions were given).
    pub log_loss: Option<f64>,
}

fn check_labels(y: &[usize], k: usize) -> Result<()> {
    match y.iter().enumerate().find(|(_, &c)| c >= k) {
        Some((row, &index)) => Err(HeadError::ClassIndexOutOfRange {
            row,
            index,
            n_classes: k,
        }),
        None => Ok(()),
    }
}

impl Report {
    /// Builds a report from hard predictions.
    pub fn from_predictions(
        y_true: &[usize],
        y_pred: &[usize],
        classes: &[String],
    ) -> Result<Self> {
        if y_true.is_empty() {
            return Err(HeadError::EmptyDataset);
        }
        if y_true.len() != y_pred.len() {
            return Err(HeadError::LabelCountMismatch {
                rows: y_pred.len(),
                labels: y_true.len(),
            });
        }
        let k = classes.len();
        check_labels(y_true, k)?;
        check_labels(y_pred, k)?;
        let mut confusion = vec![vec![0usize; k]; k];
        for (&t, &p) in y_true.iter().zip(y_pred) {
            confusion[t][p] += 1;
        }
        let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let mut per_class = Vec::with_capacity(k);
        let mut f1_sum = 0.0;
        let mut n_used = 0;
        for (c, name) in classes.iter().enumerate() {
            let tp = confusion[c][c];
            let support: usize = confusion[c].iter().sum();
            let predicted: usize = (0..k).map(|t| confusion[t][c]).sum();
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            if support > 0 || predicted > 0 {
                f1_sum += f1;
                n_used += 1;
            }
            per_class.push(ClassMetrics {
                class: name.clone(),
                precision,
                recall,
                f1,
                support,
            });
        }
        Ok(Report {
            accuracy: correct as f64 / y_true.len() as f64,
            macro_f1: f1_sum / n_used.max(1) as f64,
            per_class,
            confusion,
            log_loss: None,
        })
    }

    /// Builds a report from class probabilities (prediction = most probable class, first on
    /// ties), including log-loss.
    pub fn from_proba(
        y_true: &[usize],
        proba: ArrayView2<f32>,
        classes: &[String],
    ) -> Result<Self> {
        if proba.ncols() != classes.len() {
            return Err(HeadError::DimensionMismatch {
                expected: classes.len(),
                got: proba.ncols(),
            });
        }
        let pred: Vec<usize> = proba
            .rows()
            .into_iter()
            .map(|r| argmax(r.iter().copied()))
            .collect();
        let mut report = Self::from_predictions(y_true, &pred, classes)?;
        let ll: f64 = proba
            .rows()
            .into_iter()
            .zip(y_true)
            .map(|(r, &t)| -(r[t] as f64).clamp(1e-15, 1.0).ln())
            .sum();
        report.log_loss = Some(ll / y_true.len() as f64);
        Ok(report)
    }

    /// Builds a report from probabilities but with explicit predictions (for heads, like k-NN,
    /// whose decision rule is not a plain argmax).
    pub fn from_proba_and_predictions(
        y_true: &[usize],
        proba: ArrayView2<f32>,
        y_pred: &[usize],
        classes: &[String],
    ) -> Result<Self> {
        let with_ll = Self::from_proba(y_true, proba, classes)?;
        let mut report = Self::from_predictions(y_true, y_pred, classes)?;
        report.log_loss = with_ll.log_loss;
        Ok(report)
    }

    /// Number of evaluated rows.
    pub fn n_samples(&self) -> usize {
        self.per_class.iter().map(|c| c.support).sum()
    }

    /// Unweighted means of precision and recall over the classes used by `macro_f1`.
    pub fn macro_precision_recall(&self) -> (f64, f64) {
        let used: Vec<&ClassMetrics> = self
            .per_class
            .iter()
            .enumerate()
            .filter(|(c, m)| m.support > 0 || self.confusion.iter().any(|r| r[*c] > 0))
            .map(|(_, m)| m)
            .collect();
        let n = used.len().max(1) as f64;
        (
            used.iter().map(|m| m.precision).sum::<f64>() / n,
            used.iter().map(|m| m.recall).sum::<f64>() / n,
        )
    }

    /// Readable aligned table: per-class lines, totals, log-loss and the confusion matrix.
    pub fn to_table(&self) -> String {
        let w = name_width(self.per_class.iter().map(|c| c.class.as_str()));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<w$}  {:>9}  {:>9}  {:>9}  {:>8}",
            "class", "precision", "recall", "f1", "support"
        );
        for c in &self.per_class {
            let _ = writeln!(
                s,
                "{:<w$}  {:>9.3}  {:>9.3}  {:>9.3}  {:>8}",
                clip(&c.class, w),
                c.precision,
                c.recall,
                c.f1,
                c.support
            );
        }
        let n = self.n_samples();
        let (mp, mr) = self.macro_precision_recall();
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<w$}  {:>9}  {:>9}  {:>9.3}  {:>8}",
            "accuracy", "", "", self.accuracy, n
        );
        let _ = writeln!(
            s,
            "{:<w$}  {:>9.3}  {:>9.3}  {:>9.3}  {:>8}",
            "macro avg", mp, mr, self.macro_f1, n
        );
        if let Some(ll) = self.log_loss {
            let _ = writeln!(s, "{:<w$}  {:>9.4}", "log loss", ll);
        }
        let _ = writeln!(
            s,
            "\nconfusion matrix (rows: true class, columns: predicted class)"
        );
        let k = self.confusion.len();
        let cell = self
            .confusion
            .iter()
            .flatten()
            .map(|v| v.to_string().len())
            .chain([k.saturating_sub(1).to_string().len()])
            .max()
            .unwrap_or(1);
        let idx_w = k.saturating_sub(1).to_string().len();
        let _ = write!(s, "{:<w$}", "", w = idx_w + 1 + w);
        for c in 0..k {
            let _ = write!(s, " {:>cell$}", c);
        }
        let _ = writeln!(s);
        for (c, row) in self.confusion.iter().enumerate() {
            let name = self.per_class.get(c).map_or("", |m| m.class.as_str());
            let _ = write!(s, "{:>idx_w$} {:<w$}", c, clip(name, w));
            for v in row {
                let _ = write!(s, " {:>cell$}", v);
            }
            let _ = writeln!(s);
        }
        s
    }
}

const MAX_NAME: usize = 28;

fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names
        .map(|n| n.chars().count())
        .chain([9])
        .max()
        .unwrap_or(9)
        .min(MAX_NAME)
}

fn clip(name: &str, w: usize) -> String {
    if name.chars().count() <= w {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(w.saturating_sub(1)).collect();
        s.push('~');
        s
    }
}

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.prec$}"))
}

fn fmt_diff(a: Option<f64>, b: Option<f64>, prec: usize) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:+.prec$}", a - b),
        _ => "-".to_string(),
    }
}

/// Side-by-side comparison of a transfer head and a baseline: accuracy, macro F1, log-loss and
/// per-class F1, with differences (transfer minus baseline). Classes are matched by name.
pub fn compare_table(transfer: &Report, baseline: &Report) -> String {
    let mut names: Vec<&str> = transfer
        .per_class
        .iter()
        .map(|c| c.class.as_str())
        .collect();
    for c in &baseline.per_class {
        if !names.contains(&c.class.as_str()) {
            names.push(&c.class);
        }
    }
    let w = name_width(names.iter().copied().chain(["macro F1"]));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<w$}  {:>9}  {:>9}  {:>8}",
        "metric", "transfer", "baseline", "diff"
    );
    let rows = [
        (
            "accuracy",
            Some(transfer.accuracy),
            Some(baseline.accuracy),
            3,
        ),
        (
            "macro F1",
            Some(transfer.macro_f1),
            Some(baseline.macro_f1),
            3,
        ),
        ("log loss", transfer.log_loss, baseline.log_loss, 4),
    ];
    for (label, a, b, p) in rows {
        let _ = writeln!(
            s,
            "{:<w$}  {:>9}  {:>9}  {:>8}",
            label,
            fmt_opt(a, p),
            fmt_opt(b, p),
            fmt_diff(a, b, p)
        );
    }
    let _ = writeln!(s, "\nper-class F1");
    let f1 = |r: &Report, n: &str| r.per_class.iter().find(|c| c.class == n).map(|c| c.f1);
    for n in names {
        let (a, b) = (f1(transfer, n), f1(baseline, n));
        let _ = writeln!(
            s,
            "{:<w$}  {:>9}  {:>9}  {:>8}",
            clip(n, w),
            fmt_opt(a, 3),
            fmt_opt(b, 3),
            fmt_diff(a, b, 3)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn names() -> Vec<String> {
        vec!["cat".into(), "dog".into(), "eel".into()]
    }

    #[test]
    fn hand_computed_confusion() {
        // true: 0 0 0 1 1 2 ; pred: 0 0 1 1 2 2
        let r =
            Report::from_predictions(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], &names()).unwrap();
        assert_eq!(
            r.confusion,
            vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]
        );
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-12);
        let c = &r.per_class;
        // cat: P 2/2, R 2/3, F1 0.8; dog: P 1/2, R 1/2, F1 0.5; eel: P 1/2, R 1, F1 2/3
        assert!((c[0].precision - 1.0).abs() < 1e-12 && (c[0].recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((c[0].f1 - 0.8).abs() < 1e-12);
        assert!((c[1].f1 - 0.5).abs() < 1e-12);
        assert!((c[2].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((c[0].support, c[1].support, c[2].support), (3, 2, 1));
        assert!((r.macro_f1 - (0.8 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(r.log_loss, None);
        let table = r.to_table();
        assert!(table.contains("cat"), "{table}");
        assert!(table.contains("0.800"), "{table}");
        let lines: Vec<&str> = table.lines().collect();
        // header and class lines align their columns
        assert_eq!(lines[0].len(), lines[1].len());
    }

    #[test]
    fn log_loss_and_json_field_names() {
        let p = array![[0.5f32, 0.25, 0.25], [0.1, 0.8, 0.1]];
        let r = Report::from_proba(&[0, 1], p.view(), &names()).unwrap();
        let expected = -(0.5f64.ln() + 0.8f32.ln() as f64) / 2.0;
        assert!((r.log_loss.unwrap() - expected).abs() < 1e-6);
        assert_eq!(r.accuracy, 1.0);
        // eel neither true nor predicted: excluded from macro F1
        assert_eq!(r.macro_f1, 1.0);
        let v = serde_json::to_value(&r).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|s| s.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["accuracy", "confusion", "log_loss", "macro_f1", "per_class"]
        );
        let mut ck: Vec<&str> = v["per_class"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(|s| s.as_str())
            .collect();
        ck.sort_unstable();
        assert_eq!(ck, ["class", "f1", "precision", "recall", "support"]);
    }

    #[test]
    fn comparison_shows_differences() {
        let a = Report::from_predictions(&[0, 1, 2, 2], &[0, 1, 2, 2], &names()).unwrap();
        let b = Report::from_predictions(&[0, 1, 2, 2], &[0, 0, 2, 1], &names()).unwrap();
        let t = compare_table(&a, &b);
        assert!(t.contains("+0.500"), "{t}"); // accuracy 1.0 vs 0.5
        assert!(t.contains("dog"), "{t}");
        assert!(Report::from_predictions(&[0, 5], &[0, 1], &names()).is_err());
    }
}
