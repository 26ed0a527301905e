//! Text tokenising with a model's `tokenizer.json`, and padding into batches.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationParams};

use crate::error::{EmbedError, Result};

/// Token ids of a batch, padded to its longest member.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBatch {
    /// Rows in the batch.
    pub rows: usize,
    /// Padded length.
    pub len: usize,
    /// Token ids, rows x len.
    pub input_ids: Vec<i64>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Token type ids (segment ids).
    pub token_type_ids: Vec<i64>,
    /// Real (non-padding) tokens in the batch.
    pub real_tokens: usize,
}

/// A tokenizer with the manifest's truncation length.
pub struct TextPreprocessor {
    tokenizer: Tokenizer,
}

/// One tokenised text: ids and type ids, truncated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Token type ids.
    pub type_ids: Vec<u32>,
}

impl TextPreprocessor {
    /// Loads `tokenizer.json` and truncates to `max_length` tokens.
    pub fn load(path: &Path, max_length: usize) -> Result<Self> {
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| EmbedError::Manifest {
            path: path.to_path_buf(),
            reason: format!("cannot load tokenizer: {e}"),
        })?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(|e| EmbedError::Invalid(format!("{}: truncation: {e}", path.display())))?;
        tokenizer.with_padding(None);
        Ok(TextPreprocessor { tokenizer })
    }

    /// Tokenises texts (in parallel) with special tokens and truncation.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Tokens>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Invalid(format!("tokenizer: {e}")))?;
        Ok(encodings
            .into_iter()
            .map(|e| Tokens {
                ids: e.get_ids().to_vec(),
                type_ids: e.get_type_ids().to_vec(),
            })
            .collect())
    }

    /// The id used for padding (0 when the tokenizer names none).
    pub fn pad_id(&self) -> u32 {
        self.tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| self.tokenizer.token_to_id("[PAD]"))
            .unwrap_or(0)
    }
}

/// Pads tokenised texts into one batch.
pub fn pad(tokens: &[&Tokens], pad_id: u32) -> TextBatch {
    let rows = tokens.len();
    let len = tokens.iter().map(|t| t.ids.len()).max().unwrap_or(0).max(1);
    let mut batch = TextBatch {
        rows,
        len,
        input_ids: vec![i64::from(pad_id); rows * len],
        attention_mask: vec![0; rows * len],
        token_type_ids: vec![0; rows * len],
        real_tokens: 0,
    };
    for (r, t) in tokens.iter().enumerate() {
        for (j, (&id, &ty)) in t.ids.iter().zip(&t.type_ids).enumerate() {
            batch.input_ids[r * len + j] = i64::from(id);
            batch.attention_mask[r * len + j] = 1;
            batch.token_type_ids[r * len + j] = i64::from(ty);
        }
        batch.real_tokens += t.ids.len();
    }
    batch
}

/// Groups item indices into batches of similar length: sorted by token count,
/// at most `max_rows` rows and at most `token_budget` padded tokens per batch.
pub fn length_buckets(lengths: &[usize], max_rows: usize, token_budget: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut longest = 0;
    for i in order {
        let l = lengths[i].max(1);
        let new_longest = longest.max(l);
        if !current.is_empty()
            && (current.len() >= max_rows.max(1)
                || new_longest * (current.len() + 1) > token_budget)
        {
            batches.push(std::mem::take(&mut current));
            longest = 0;
        }
        longest = longest.max(l);
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_longest_member() {
        let a = Tokens {
            ids: vec![101, 7, 102],
            type_ids: vec![0; 3],
        };
        let b = Tokens {
            ids: vec![101, 102],
            type_ids: vec![0; 2],
        };
        let batch = pad(&[&a, &b], 0);
        assert_eq!((batch.rows, batch.len, batch.real_tokens), (2, 3, 5));
        assert_eq!(batch.input_ids, vec![101, 7, 102, 101, 102, 0]);
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 1, 1, 0]);
    }

    #[test]
    fn buckets_respect_rows_and_token_budget() {
        let lengths = [5, 100, 6, 98, 7, 50];
        let batches = length_buckets(&lengths, 4, 200);
        // Longest first; 100 + 98 fill the budget of 200, then the rest.
        assert_eq!(batches[0], vec![1, 3]);
        assert!(batches.iter().all(|b| b.len() <= 4));
        let mut all: Vec<usize> = batches.concat();
        all.sort();
        assert_eq!(all, vec![0, 1, 2, 3, 4, 5]);
    }
}
