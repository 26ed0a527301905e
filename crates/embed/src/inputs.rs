//! Listing a corpus: image files and folders, or text files (`.txt`, `.jsonl`, `.csv`).
//!
//! Images in a class-per-folder layout (`root/CLASS/img.png`) get `CLASS` as their
//! label; a labels file (CSV `id,label` or JSONL `{"id", "label"}`) overrides it.
//! Problems found while listing (an unreadable folder, a JSON line that does not
//! parse, an empty text) become error records, not a failed run. Texts from `.txt`
//! and `.jsonl` files are not kept in memory: an item holds its file, byte range
//! and content hash, and the text is read again when its batch is prepared.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use graft_cache::{label_text, ErrorRecord};

use crate::error::{io_err, EmbedError, Result};
use crate::manifest::Modality;

/// How inputs are listed.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Images: a CSV (`id,label`) or JSONL file of labels, keyed by the path as listed.
    pub labels_file: Option<PathBuf>,
    /// Texts: which fields of `.jsonl`/`.csv` inputs hold the text, labels and id.
    pub text: TextFields,
}

/// Lists `inputs` for a model of `modality`.
pub fn list(modality: Modality, inputs: &[PathBuf], opts: &ListOptions) -> Result<Listing> {
    match modality {
        Modality::Image => list_images(inputs, opts.labels_file.as_deref()),
        Modality::Text => {
            if let Some(file) = &opts.labels_file {
                return Err(EmbedError::Invalid(format!(
                    "--labels {}: a labels file applies to image inputs; texts take their labels from --label-field",
                    file.display()
                )));
            }
            list_texts(inputs, &opts.text)
        }
        Modality::Audio => Err(EmbedError::Invalid(
            "audio inputs are not supported by this build".into(),
        )),
    }
}

/// Image file extensions Graft lists (case-insensitive).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

/// One input item.
#[derive(Debug, Clone)]
pub struct Item {
    /// The path as given (images) or the given / generated id (texts).
    pub id: String,
    /// Where its content is.
    pub source: ItemSource,
    /// Labels by task name; the default task is `label`.
    pub labels: BTreeMap<String, String>,
}

/// Where an item's content is.
#[derive(Debug, Clone)]
pub enum ItemSource {
    /// An image file, with the size and modification time seen when listing.
    File {
        /// The file.
        path: PathBuf,
        /// Size in bytes.
        size: u64,
        /// Modification time, seconds since the epoch.
        mtime: i64,
    },
    /// A text held in memory.
    Text(String),
    /// A text left on disk, read again when its batch is prepared.
    Stored(StoredText),
}

impl ItemSource {
    /// The item's text (texts only); a stored text is read from its file.
    pub fn text(&self) -> Result<Cow<'_, str>, String> {
        match self {
            ItemSource::Text(t) => Ok(Cow::Borrowed(t)),
            ItemSource::Stored(s) => s.read().map(Cow::Owned),
            ItemSource::File { .. } => Err("not a text".into()),
        }
    }

    /// BLAKE3 of the text (texts only), to tell whether it changed since it was embedded.
    pub fn text_hash(&self) -> Option<String> {
        match self {
            ItemSource::Text(t) => Some(graft_cache::checksum(t.as_bytes())),
            ItemSource::Stored(s) => Some(s.hash.clone()),
            ItemSource::File { .. } => None,
        }
    }
}

/// How a stored text is found again inside its byte range.
#[derive(Debug, Clone)]
enum TextFormat {
    /// The whole line is the text.
    Line,
    /// The line is a JSON object; the text is this field.
    JsonField(String),
}

/// An open text file that stored items read from.
#[derive(Debug)]
struct TextFile {
    path: PathBuf,
    file: std::fs::File,
    format: TextFormat,
}

/// A text left on disk: its file, byte range and content hash.
#[derive(Debug, Clone)]
pub struct StoredText {
    file: Arc<TextFile>,
    offset: u64,
    len: usize,
    hash: String,
}

impl StoredText {
    /// Reads the text again (the file may have changed since listing: then it is an error).
    pub fn read(&self) -> Result<String, String> {
        let mut bytes = vec![0u8; self.len];
        self.file
            .file
            .read_exact_at(&mut bytes, self.offset)
            .map_err(|e| format!("cannot read {} again: {e}", self.file.path.display()))?;
        let text = match &self.file.format {
            TextFormat::Line => {
                String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())?
            }
            TextFormat::JsonField(field) => {
                let value: serde_json::Value =
                    serde_json::from_slice(&bytes).map_err(|e| format!("invalid JSON: {e}"))?;
                value
                    .get(field)
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| format!("no string field `{field}`"))?
                    .to_string()
            }
        };
        if graft_cache::checksum(text.as_bytes()) != self.hash {
            return Err(format!(
                "{} changed while it was being embedded",
                self.file.path.display()
            ));
        }
        Ok(text)
    }
}

/// A corpus listing: the items and the inputs that could not be listed.
#[derive(Debug, Default)]
pub struct Listing {
    /// Items in a stable order.
    pub items: Vec<Item>,
    /// Problems found while listing.
    pub errors: Vec<ErrorRecord>,
    /// Label fields (tasks) seen; the first is the default.
    pub tasks: Vec<String>,
}

/// Field names for `.jsonl` and `.csv` text inputs.
#[derive(Debug, Clone)]
pub struct TextFields {
    /// The field holding the text.
    pub text: String,
    /// Label fields (one task each).
    pub labels: Vec<String>,
    /// The id field; without it ids are `FILE:LINE`.
    pub id: Option<String>,
}

impl Default for TextFields {
    fn default() -> Self {
        TextFields {
            text: "text".into(),
            labels: Vec::new(),
            id: None,
        }
    }
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn file_item(id: String, path: &Path, label: Option<String>) -> std::result::Result<Item, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let mut labels = BTreeMap::new();
    if let Some(l) = label {
        labels.insert("label".to_string(), l);
    }
    Ok(Item {
        id,
        source: ItemSource::File {
            path: path.to_path_buf(),
            size: meta.len(),
            mtime,
        },
        labels,
    })
}

/// Lists image files under `inputs` (files or folders, recursive, sorted).
pub fn list_images(inputs: &[PathBuf], labels_file: Option<&Path>) -> Result<Listing> {
    let mut listing = Listing::default();
    for input in inputs {
        if input.is_file() {
            match file_item(input.display().to_string(), input, None) {
                Ok(item) => listing.items.push(item),
                Err(reason) => listing.errors.push(ErrorRecord {
                    id: input.display().to_string(),
                    reason,
                }),
            }
            continue;
        }
        if !input.is_dir() {
            return Err(EmbedError::Invalid(format!(
                "{}: no such file or directory",
                input.display()
            )));
        }
        for entry in walkdir::WalkDir::new(input).sort_by_file_name() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let id = e
                        .path()
                        .map_or_else(|| input.display().to_string(), |p| p.display().to_string());
                    listing.errors.push(ErrorRecord {
                        id,
                        reason: format!("cannot list: {e}"),
                    });
                    continue;
                }
            };
            if !entry.file_type().is_file() || !is_image(entry.path()) {
                continue;
            }
            let rel = entry.path().strip_prefix(input).unwrap_or(entry.path());
            let label = match rel.parent().map(|p| p.components().count()) {
                Some(1) => rel.parent().map(|p| p.display().to_string()),
                _ => None,
            };
            let id = entry.path().display().to_string();
            match file_item(id.clone(), entry.path(), label) {
                Ok(item) => listing.items.push(item),
                Err(reason) => listing.errors.push(ErrorRecord { id, reason }),
            }
        }
    }
    if let Some(file) = labels_file {
        let labels = graft_cache::read_labels_file(file)?;
        for item in &mut listing.items {
            if let Some(l) = labels.get(&item.id) {
                item.labels.insert("label".into(), l.clone());
            }
        }
    }
    if listing.items.iter().any(|i| !i.labels.is_empty()) {
        listing.tasks = vec!["label".into()];
    }
    Ok(listing)
}

/// Lists texts from `.txt` (one per line), `.jsonl` and `.csv` files.
pub fn list_texts(inputs: &[PathBuf], fields: &TextFields) -> Result<Listing> {
    let mut listing = Listing {
        tasks: fields.labels.clone(),
        ..Default::default()
    };
    for path in inputs {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => list_jsonl(path, fields, &mut listing)?,
            "csv" | "tsv" => list_csv(path, fields, ext == "tsv", &mut listing)?,
            _ => list_txt(path, &mut listing)?,
        }
    }
    Ok(listing)
}

fn push_text(listing: &mut Listing, id: String, text: String, labels: BTreeMap<String, String>) {
    if text.trim().is_empty() {
        listing.errors.push(ErrorRecord {
            id,
            reason: "empty text".into(),
        });
    } else {
        listing.items.push(Item {
            id,
            source: ItemSource::Text(text),
            labels,
        });
    }
}

/// Calls `visit` with every line of a text file (1-based number, byte offset,
/// bytes with their newline) and the shared handle stored items read from.
fn scan_lines(
    path: &Path,
    format: TextFormat,
    mut visit: impl FnMut(&Arc<TextFile>, usize, u64, &[u8]),
) -> Result<()> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let shared = Arc::new(TextFile {
        path: path.to_path_buf(),
        file: file.try_clone().map_err(io_err(path))?,
        format,
    });
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let mut offset = 0u64;
    for number in 1.. {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io_err(path))?;
        if read == 0 {
            break;
        }
        visit(&shared, number, offset, &line);
        offset += read as u64;
    }
    Ok(())
}

fn list_txt(path: &Path, listing: &mut Listing) -> Result<()> {
    scan_lines(path, TextFormat::Line, |shared, number, start, line| {
        let id = format!("{}:{number}", path.display());
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        match std::str::from_utf8(body) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => listing.items.push(Item {
                id,
                source: ItemSource::Stored(StoredText {
                    file: shared.clone(),
                    offset: start,
                    len: body.len(),
                    hash: graft_cache::checksum(text.as_bytes()),
                }),
                labels: BTreeMap::new(),
            }),
            Err(_) => listing.errors.push(ErrorRecord {
                id,
                reason: "not valid UTF-8".into(),
            }),
        }
    })
}

fn list_jsonl(path: &Path, fields: &TextFields, listing: &mut Listing) -> Result<()> {
    let format = TextFormat::JsonField(fields.text.clone());
    scan_lines(path, format, |shared, number, start, line| {
        let fallback_id = format!("{}:{number}", path.display());
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return;
        }
        let value: serde_json::Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                listing.errors.push(ErrorRecord {
                    id: fallback_id,
                    reason: format!("invalid JSON: {e}"),
                });
                return;
            }
        };
        let id = fields
            .id
            .as_ref()
            .and_then(|f| value.get(f))
            .map_or(fallback_id, label_text);
        let Some(text) = value.get(&fields.text).and_then(|t| t.as_str()) else {
            listing.errors.push(ErrorRecord {
                id,
                reason: format!("no string field `{}`", fields.text),
            });
            return;
        };
        if text.trim().is_empty() {
            listing.errors.push(ErrorRecord {
                id,
                reason: "empty text".into(),
            });
            return;
        }
        let labels = fields
            .labels
            .iter()
            .filter_map(|f| {
                value
                    .get(f)
                    .filter(|v| !v.is_null())
                    .map(|v| (f.clone(), label_text(v)))
            })
            .collect();
        let stored = StoredText {
            file: shared.clone(),
            offset: start,
            len: line.len(),
            hash: graft_cache::checksum(text.as_bytes()),
        };
        listing.items.push(Item {
            id,
            source: ItemSource::Stored(stored),
            labels,
        });
    })
}

fn list_csv(path: &Path, fields: &TextFields, tabs: bool, listing: &mut Listing) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tabs { b'\t' } else { b',' })
        .flexible(true)
        .from_path(path)
        .map_err(|e| EmbedError::Invalid(format!("{}: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| EmbedError::Invalid(format!("{}: {e}", path.display())))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let text_col = col(&fields.text).ok_or_else(|| {
        EmbedError::Invalid(format!(
            "{}: no column `{}` (columns: {}); pass --text-field",
            path.display(),
            fields.text,
            headers.iter().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let id_col = fields.id.as_deref().and_then(col);
    let label_cols: Vec<(String, Option<usize>)> =
        fields.labels.iter().map(|l| (l.clone(), col(l))).collect();
    for (i, rec) in reader.byte_records().enumerate() {
        let fallback_id = format!("{}:{}", path.display(), i + 2);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                listing.errors.push(ErrorRecord {
                    id: fallback_id,
                    reason: format!("invalid CSV row: {e}"),
                });
                continue;
            }
        };
        let get = |c: usize| rec.get(c).map(|b| String::from_utf8_lossy(b).into_owned());
        let id = id_col.and_then(get).unwrap_or(fallback_id);
        let Some(text) = rec.get(text_col).map(|b| String::from_utf8(b.to_vec())) else {
            listing.errors.push(ErrorRecord {
                id,
                reason: "row has no text column".into(),
            });
            continue;
        };
        let Ok(text) = text else {
            listing.errors.push(ErrorRecord {
                id,
                reason: "not valid UTF-8".into(),
            });
            continue;
        };
        let labels = label_cols
            .iter()
            .filter_map(|(name, c)| {
                c.and_then(get)
                    .filter(|v| !v.is_empty())
                    .map(|v| (name.clone(), v))
            })
            .collect();
        push_text(listing, id, text, labels);
    }
    Ok(())
}
