//! TF-IDF bag-of-words vectoriser for the from-scratch text baseline.
//!
//! Matches scikit-learn's `TfidfVectorizer` defaults: lowercase, tokens are runs of Unicode
//! alphanumeric characters or `_` with at least two characters (sklearn's `\b\w\w+\b`),
//! `idf = ln((1 + n) / (1 + df)) + 1` (smooth idf), raw counts or `1 + ln(tf)` (sublinear),
//! rows L2-normalised. Differences: `min_df` is an absolute count, and `max_features` keeps the
//! terms with the highest *document* frequency (ties: alphabetical). Fit on training texts only.

use std::collections::BTreeMap;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{HeadError, Result};

/// Vectoriser settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TfidfConfig {
    /// Lowercase text before tokenising.
    pub lowercase: bool,
    /// Keep only terms occurring in at least this many training documents.
    pub min_df: usize,
    /// Keep at most this many terms (highest document frequency first).
    pub max_features: Option<usize>,
    /// Use `1 + ln(tf)` instead of raw counts.
    pub sublinear_tf: bool,
    /// Minimum token length in characters.
    pub min_token_chars: usize,
}

impl Default for TfidfConfig {
    fn default() -> Self {
        TfidfConfig {
            lowercase: true,
            min_df: 1,
            max_features: None,
            sublinear_tf: false,
            min_token_chars: 2,
        }
    }
}

/// A fitted TF-IDF vectoriser: settings, sorted vocabulary and idf weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TfidfVectorizer {
    /// Settings used to fit (and to tokenise at transform time).
    pub config: TfidfConfig,
    /// Terms, sorted; column `j` of the output is `vocabulary[j]`.
    pub vocabulary: Vec<String>,
    /// Inverse document frequency of each term.
    pub idf: Vec<f32>,
}

/// Splits `text` into tokens according to `config`.
pub fn tokenize(text: &str, config: &TfidfConfig) -> Vec<String> {
    let text = if config.lowercase {
        text.to_lowercase()
    } else {
        text.to_string()
    };
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| t.chars().count() >= config.min_token_chars.max(1))
        .map(str::to_string)
        .collect()
}

impl TfidfVectorizer {
    /// Learns the vocabulary and idf from training texts.
    pub fn fit<S: AsRef<str>>(texts: &[S], config: TfidfConfig) -> Result<Self> {
        if texts.is_empty() {
            return Err(HeadError::EmptyDataset);
        }
        let mut df: BTreeMap<String, usize> = BTreeMap::new();
        for t in texts {
            let mut toks = tokenize(t.as_ref(), &config);
            toks.sort_unstable();
            toks.dedup();
            for tok in toks {
                *df.entry(tok).or_insert(0) += 1;
            }
        }
        let mut terms: Vec<(String, usize)> = df
            .into_iter()
            .filter(|(_, d)| *d >= config.min_df)
            .collect();
        if let Some(m) = config.max_features {
            // Highest document frequency first, alphabetical among equals.
            terms.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            terms.truncate(m);
            terms.sort_by(|a, b| a.0.cmp(&b.0));
        }
        if terms.is_empty() {
            return Err(HeadError::InvalidParameter(
                "TF-IDF vocabulary is empty (no tokens, or min_df/max_features too strict)".into(),
            ));
        }
        let n = texts.len() as f64;
        let idf = terms
            .iter()
            .map(|(_, d)| (((1.0 + n) / (1.0 + *d as f64)).ln() + 1.0) as f32)
            .collect();
        Ok(TfidfVectorizer {
            config,
            vocabulary: terms.into_iter().map(|(t, _)| t).collect(),
            idf,
        })
    }

    /// Number of output columns.
    pub fn n_features(&self) -> usize {
        self.vocabulary.len()
    }

    /// Dense TF-IDF rows (unknown terms ignored; a text without known terms gives a zero row).
    pub fn transform<S: AsRef<str>>(&self, texts: &[S]) -> Array2<f32> {
        let mut out = Array2::<f32>::zeros((texts.len(), self.n_features()));
        for (mut row, t) in out.rows_mut().into_iter().zip(texts) {
            for tok in tokenize(t.as_ref(), &self.config) {
                if let Ok(j) = self.vocabulary.binary_search(&tok) {
                    row[j] += 1.0;
                }
            }
            let mut norm = 0.0f32;
            for (v, idf) in row.iter_mut().zip(&self.idf) {
                if *v > 0.0 {
                    let tf = if self.config.sublinear_tf {
                        1.0 + v.ln()
                    } else {
                        *v
                    };
                    *v = tf * idf;
                    norm += *v * *v;
                }
            }
            if norm > 0.0 {
                let norm = norm.sqrt();
                row.mapv_inplace(|v| v / norm);
            }
        }
        out
    }

    /// Checks that vocabulary and idf agree and the vocabulary is sorted and unique.
    pub fn validate(&self) -> Result<()> {
        let sorted = self.vocabulary.windows(2).all(|w| w[0] < w[1]);
        if self.vocabulary.len() != self.idf.len() || !sorted {
            return Err(HeadError::InvalidHeadFile(
                "TF-IDF vocabulary must be sorted, unique and match idf".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS: [&str; 3] = ["The cat sat", "the dog sat", "a cat! A cat."];

    #[test]
    fn matches_hand_computed_values() {
        let v = TfidfVectorizer::fit(&DOCS, TfidfConfig::default()).unwrap();
        assert_eq!(v.vocabulary, ["cat", "dog", "sat", "the"]);
        let idf2 = (4.0f32 / 3.0).ln() + 1.0; // df = 2 of n = 3
        let idf1 = 2.0f32.ln() + 1.0; // df = 1
        assert!((v.idf[0] - idf2).abs() < 1e-6 && (v.idf[1] - idf1).abs() < 1e-6);
        let x = v.transform(&DOCS);
        let r3 = 1.0 / 3f32.sqrt();
        let expect = [
            [r3, 0.0, r3, r3],
            [0.0, 0.680919, 0.517856, 0.517856],
            [1.0, 0.0, 0.0, 0.0],
        ];
        for (i, row) in expect.iter().enumerate() {
            for (j, &e) in row.iter().enumerate() {
                assert!(
                    (x[[i, j]] - e).abs() < 1e-5,
                    "[{i},{j}] {} vs {e}",
                    x[[i, j]]
                );
            }
        }
        let unseen = v.transform(&["zebra", "DOG dog"]);
        assert_eq!(unseen.row(0).sum(), 0.0);
        assert!((unseen[[1, 1]] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn sublinear_min_df_max_features() {
        let docs = ["cat cat dog", DOCS[0], DOCS[1], DOCS[2]];
        let cfg = TfidfConfig {
            sublinear_tf: true,
            ..Default::default()
        };
        let x = TfidfVectorizer::fit(&docs, cfg).unwrap().transform(&docs);
        // scikit-learn TfidfVectorizer(sublinear_tf=True) gives [0.807868, 0.589363, 0, 0]
        assert!((x[[0, 0]] - 0.807868).abs() < 1e-5 && (x[[0, 1]] - 0.589363).abs() < 1e-5);
        let cfg = TfidfConfig {
            min_df: 2,
            ..Default::default()
        };
        let v = TfidfVectorizer::fit(&DOCS, cfg).unwrap();
        assert_eq!(v.vocabulary, ["cat", "sat", "the"]);
        let cfg = TfidfConfig {
            max_features: Some(2),
            ..Default::default()
        };
        let v = TfidfVectorizer::fit(&DOCS, cfg).unwrap();
        assert_eq!(v.vocabulary, ["cat", "sat"]);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<TfidfVectorizer>(&json).unwrap(), v);
        let cfg = TfidfConfig {
            min_df: 9,
            ..Default::default()
        };
        assert!(TfidfVectorizer::fit(&DOCS, cfg).is_err());
    }

    #[test]
    fn unicode_tokens() {
        let t = tokenize("Ça coûte 10€, naïve_user!", &TfidfConfig::default());
        assert_eq!(t, ["ça", "coûte", "10", "naïve_user"]);
    }
}
