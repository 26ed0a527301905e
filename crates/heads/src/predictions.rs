//! Writing predictions for people and programs: CSV (`id,label,p_CLASS...`, through the
//! `csv` crate so ids and class names with commas or quotes stay one field) or JSONL
//! (`{"id", "label", "probabilities": {CLASS: p}}`).

use std::io::Write;

use serde_json::json;

use crate::error::{HeadError, Result};
use crate::jobs::Predictions;

/// Output format of predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionFormat {
    /// A header, then `id,label,p_CLASS...` per row.
    Csv,
    /// One JSON object per row.
    Jsonl,
}

/// Writes `predictions` for the items `ids` (row-aligned) to `out`.
pub fn write_predictions(
    out: impl Write,
    format: PredictionFormat,
    ids: &[String],
    predictions: &Predictions,
) -> Result<()> {
    let io = |e: std::io::Error| HeadError::io("standard output", e);
    match format {
        PredictionFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let header = ["id".to_string(), "label".to_string()]
                .into_iter()
                .chain(predictions.classes.iter().map(|c| format!("p_{c}")));
            w.write_record(header).map_err(csv_err)?;
            for (i, id) in ids.iter().enumerate() {
                let label = &predictions.classes[predictions.predicted[i]];
                let row = predictions.proba.row(i);
                let probs = row.iter().map(|p| format!("{p:.6}"));
                let record = [id.clone(), label.clone()].into_iter().chain(probs);
                w.write_record(record).map_err(csv_err)?;
            }
            w.flush().map_err(io)
        }
        PredictionFormat::Jsonl => {
            let mut out = std::io::BufWriter::new(out);
            for (i, id) in ids.iter().enumerate() {
                let probabilities: serde_json::Map<String, serde_json::Value> = predictions
                    .classes
                    .iter()
                    .zip(predictions.proba.row(i))
                    .map(|(c, p)| (c.clone(), json!(p)))
                    .collect();
                let line = json!({
                    "id": id,
                    "label": predictions.classes[predictions.predicted[i]],
                    "probabilities": probabilities,
                });
                writeln!(out, "{line}").map_err(io)?;
            }
            out.flush().map_err(io)
        }
    }
}

fn csv_err(e: csv::Error) -> HeadError {
    HeadError::io("standard output", std::io::Error::other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn csv_quotes_awkward_names_and_jsonl_keeps_probabilities() {
        let p = Predictions {
            classes: vec!["a,b".into(), "c\"d".into()],
            proba: array![[0.25f32, 0.75], [0.9, 0.1]],
            predicted: vec![1, 0],
        };
        let ids = vec!["x,1.png".to_string(), "y.png".to_string()];
        let mut buf = Vec::new();
        write_predictions(&mut buf, PredictionFormat::Csv, &ids, &p).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            r.headers().unwrap().iter().collect::<Vec<_>>(),
            ["id", "label", "p_a,b", "p_c\"d"]
        );
        let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
        assert_eq!(&rows[0][0], "x,1.png");
        assert_eq!(&rows[0][1], "c\"d");
        assert_eq!(&rows[1][1], "a,b");
        let mut buf = Vec::new();
        write_predictions(&mut buf, PredictionFormat::Jsonl, &ids, &p).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(String::from_utf8(buf).unwrap().lines().next().unwrap()).unwrap();
        assert_eq!(first["label"], "c\"d");
        assert_eq!(first["probabilities"]["a,b"], 0.25);
    }
}
