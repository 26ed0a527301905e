//! The text preparer: texts read and tokenised a window at a time, then cut into batches
//! of similar length under a token budget, so little padding is computed.

use std::time::{Duration, Instant};

use graft_cache::{ErrorRecord, ItemRecord};

use super::batch::{no_panic, record_labels, BatchInput, BatchSender, Prepared, Preparer};
use super::EmbedOptions;
use crate::inputs::Item;
use crate::preprocess::text::{length_buckets, pad, Tokens};
use crate::preprocess::TextPreprocessor;

/// Windows hold this many batches' worth of texts: long enough to sort by length well,
/// short enough to keep memory flat.
const WINDOW_BATCHES: usize = 32;

impl Preparer for TextPreprocessor {
    fn produce(
        &self,
        pool: &rayon::ThreadPool,
        items: Vec<Item>,
        default_task: Option<&str>,
        opts: &EmbedOptions,
        send: &mut BatchSender<'_>,
    ) {
        let window = opts.batch_size.max(1) * WINDOW_BATCHES;
        for chunk in items.chunks(window) {
            let t = Instant::now();
            let mut kept: Vec<&Item> = Vec::with_capacity(chunk.len());
            let mut texts: Vec<String> = Vec::with_capacity(chunk.len());
            let mut failed = Vec::new();
            for item in chunk {
                match item.source.text() {
                    Ok(text) => {
                        kept.push(item);
                        texts.push(text.into_owned());
                    }
                    Err(reason) => failed.push(ErrorRecord {
                        id: item.id.clone(),
                        reason,
                    }),
                }
            }
            // Reading is reported with the window's first batch.
            let mut read = t.elapsed();
            let t = Instant::now();
            let (encoded, untokenised) = pool.install(|| self.encode_each(&kept, &texts));
            failed.extend(untokenised);
            let prepare = t.elapsed();
            if !failed.is_empty()
                && !send(Prepared::failures(
                    failed,
                    std::mem::take(&mut read),
                    Duration::ZERO,
                ))
            {
                return;
            }
            let lengths: Vec<usize> = encoded.iter().map(|(_, e)| e.ids.len()).collect();
            let buckets = length_buckets(&lengths, opts.batch_size, opts.token_budget);
            let per_bucket = prepare / buckets.len().max(1) as u32;
            for bucket in buckets {
                let t = Instant::now();
                let toks: Vec<&Tokens> = bucket.iter().map(|&i| &encoded[i].1).collect();
                let input = BatchInput::Tokens(pad(&toks, self.pad_id()));
                let items = bucket
                    .iter()
                    .map(|&i| {
                        let k = encoded[i].0;
                        let (item, text) = (kept[k], &texts[k]);
                        let (label, labels) = record_labels(item, default_task);
                        ItemRecord {
                            id: item.id.clone(),
                            label,
                            labels,
                            hash: graft_cache::checksum(text.as_bytes()),
                            size: None,
                            mtime: None,
                            text: Some(text.clone()),
                        }
                    })
                    .collect();
                let batch = Prepared {
                    items,
                    baseline: Vec::new(),
                    errors: Vec::new(),
                    input,
                    read: std::mem::take(&mut read),
                    prepare: per_bucket + t.elapsed(),
                };
                if !send(batch) {
                    return;
                }
            }
        }
    }
}

impl TextPreprocessor {
    /// Tokenises a window of texts; returns (position in `texts`, tokens) for those that
    /// tokenised and an error record for each that did not. A failure or panic of the
    /// batched call is retried text by text, so only the culprits are reported.
    fn encode_each(
        &self,
        items: &[&Item],
        texts: &[String],
    ) -> (Vec<(usize, Tokens)>, Vec<ErrorRecord>) {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let batched = no_panic("tokenising", || {
            self.encode(&refs).map_err(|e| e.to_string())
        });
        if let Ok(all) = batched {
            return (all.into_iter().enumerate().collect(), Vec::new());
        }
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        for (i, text) in refs.iter().enumerate() {
            let one = no_panic("tokenising", || {
                self.encode(&[text]).map_err(|e| e.to_string())
            });
            match one.map(|mut v| v.pop()) {
                Ok(Some(tokens)) => ok.push((i, tokens)),
                Ok(None) => failed.push(ErrorRecord {
                    id: items[i].id.clone(),
                    reason: "cannot tokenise: no tokens".into(),
                }),
                Err(reason) => failed.push(ErrorRecord {
                    id: items[i].id.clone(),
                    reason: format!("cannot tokenise: {reason}"),
                }),
            }
        }
        (ok, failed)
    }
}
