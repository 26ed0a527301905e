//! From-scratch baselines: the same head trained on raw inputs kept in the cache instead
//! of backbone features, so a user sees honestly whether the pre-trained features help.
//!
//! Images: the 28x28 grey thumbnails every image cache keeps, scaled to [0, 1]. Texts:
//! TF-IDF bag of words (vocabulary fitted on the training texts only, at most
//! [`TFIDF_TERMS`] terms of document frequency at least 2, sublinear term frequency).

use graft_cache::Modality;
use ndarray::{Array2, Axis};

use crate::error::{HeadError, Result};
use crate::features::FeatureSet;
use crate::tfidf::{TfidfConfig, TfidfVectorizer};

/// Most terms of the TF-IDF baseline vocabulary.
pub const TFIDF_TERMS: usize = 5_000;

/// Raw-input features for training and evaluation rows, and what they are.
#[derive(Debug, Clone)]
pub struct BaselineFeatures {
    /// Training rows.
    pub train: Array2<f32>,
    /// Evaluation rows.
    pub eval: Array2<f32>,
    /// What the features are, for reports (e.g. `pixels (28x28 grey)`).
    pub description: String,
}

/// Raw-input features of `train_rows` of `train` and `eval_rows` of `eval`.
pub fn baseline_features(
    train: &FeatureSet,
    train_rows: &[usize],
    eval: &FeatureSet,
    eval_rows: &[usize],
) -> Result<BaselineFeatures> {
    match train.stamp().modality {
        Modality::Image => {
            let pixels = |set: &FeatureSet, rows: &[usize]| -> Result<Array2<f32>> {
                let p = set
                    .cache()
                    .pixels()?
                    .ok_or_else(|| HeadError::NoBaselineInputs {
                        cache: set.dir().to_path_buf(),
                        what: "pixel thumbnails (made by an older graft?): re-embed with --force",
                    })?;
                Ok(p.select(Axis(0), rows).mapv(|v| f32::from(v) / 255.0))
            };
            Ok(BaselineFeatures {
                train: pixels(train, train_rows)?,
                eval: pixels(eval, eval_rows)?,
                description: "pixels (28x28 grey)".into(),
            })
        }
        Modality::Text => {
            let texts = |set: &FeatureSet, rows: &[usize]| -> Result<Vec<String>> {
                rows.iter()
                    .map(|&r| {
                        set.items()[r]
                            .text
                            .clone()
                            .ok_or_else(|| HeadError::NoBaselineInputs {
                                cache: set.dir().to_path_buf(),
                                what: "texts in the item records",
                            })
                    })
                    .collect()
            };
            let train_texts = texts(train, train_rows)?;
            let eval_texts = texts(eval, eval_rows)?;
            let cfg = TfidfConfig {
                max_features: Some(TFIDF_TERMS),
                min_df: 2,
                sublinear_tf: true,
                ..TfidfConfig::default()
            };
            let vectorizer = TfidfVectorizer::fit(&train_texts, cfg)?;
            Ok(BaselineFeatures {
                train: vectorizer.transform(&train_texts),
                eval: vectorizer.transform(&eval_texts),
                description: format!("TF-IDF bag of words ({} terms)", vectorizer.n_features()),
            })
        }
        Modality::Audio => Err(HeadError::NoBaselineInputs {
            cache: train.dir().to_path_buf(),
            what: "a from-scratch baseline for audio",
        }),
    }
}
