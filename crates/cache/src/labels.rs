//! Labels kept beside a corpus: an id -> label file (CSV `id,label`, or JSONL objects with
//! `id` and `label`), read by `graft embed --labels` and `graft train --labels` alike.

use std::collections::HashMap;
use std::path::Path;

use crate::{io_err, CacheError, Result};

/// Reads an id -> label file: `.jsonl`/`.json` as one object per line with `id` and `label`
/// fields, anything else as CSV with `id` and `label` columns. Errors name the file and line.
pub fn read_labels_file(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let bad = |line: usize, why: String| CacheError::Format {
        path: path.to_path_buf(),
        reason: format!("line {line}: {why}"),
    };
    let mut map = HashMap::new();
    if path
        .extension()
        .is_some_and(|e| e == "jsonl" || e == "json")
    {
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| bad(i + 1, e.to_string()))?;
            let field = |name: &str| {
                v.get(name)
                    .map(label_text)
                    .ok_or_else(|| bad(i + 1, format!("no `{name}` field")))
            };
            map.insert(field("id")?, field("label")?);
        }
    } else {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
        let col = |name: &str| headers.iter().position(|h| h == name);
        let (Some(idc), Some(lc)) = (col("id"), col("label")) else {
            return Err(bad(
                1,
                "expected a header with `id` and `label` columns".into(),
            ));
        };
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| bad(i + 2, e.to_string()))?;
            map.insert(
                rec.get(idc).unwrap_or_default().to_string(),
                rec.get(lc).unwrap_or_default().to_string(),
            );
        }
    }
    Ok(map)
}

/// A JSON value as label (or id) text: strings as they are, anything else as JSON.
pub fn label_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_jsonl_labels_read_the_same_and_bad_lines_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("l.csv");
        std::fs::write(&csv, "label,id\ncat,a.png\ndog,b.png\n").unwrap();
        let jsonl = dir.path().join("l.jsonl");
        std::fs::write(
            &jsonl,
            "{\"id\":\"a.png\",\"label\":\"cat\"}\n\n{\"id\":\"b.png\",\"label\":\"dog\"}\n",
        )
        .unwrap();
        let a = read_labels_file(&csv).unwrap();
        assert_eq!(a, read_labels_file(&jsonl).unwrap());
        assert_eq!(a["b.png"], "dog");
        std::fs::write(&jsonl, "{\"id\":\"a.png\"}\n").unwrap();
        let err = read_labels_file(&jsonl).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("`label`"), "{err}");
        std::fs::write(&csv, "name,class\nx,y\n").unwrap();
        let err = read_labels_file(&csv).unwrap_err().to_string();
        assert!(err.contains("`id` and `label`"), "{err}");
    }
}
