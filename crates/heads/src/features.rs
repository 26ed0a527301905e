//! A feature cache opened for heads: its rows, item records and labels.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use graft_cache::{Cache, ItemRecord, ModelStamp};
use ndarray::{Array2, Axis};

use crate::dataset::Dataset;
use crate::error::{HeadError, ParamError, Result};
use crate::head::Provenance;

/// Where labels come from: the cache's items (one task, the default one, or every task the
/// cache records), or an id -> label file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelSource {
    /// The label field `Some(task)`, or the cache's tasks (`None`: every task for
    /// training, the default one elsewhere).
    Task(Option<String>),
    /// A CSV (`id,label`) or JSONL file keyed by the cache's item ids.
    File(PathBuf),
}

impl LabelSource {
    /// From `--task` and `--labels`: a labels file has one label per item, so naming a task
    /// beside it is refused.
    pub fn new(task: Option<String>, file: Option<PathBuf>) -> Result<Self> {
        match (task, file) {
            (Some(_), Some(_)) => Err(ParamError::NotApplicable {
                option: "--task",
                context: "with --labels".into(),
                why: "a labels file holds one label per item, so there is no task to choose",
            }
            .into()),
            (task, None) => Ok(LabelSource::Task(task)),
            (None, Some(f)) => Ok(LabelSource::File(f)),
        }
    }
}

/// The id -> label map of `source`'s labels file (`None` for labels in the items), checked
/// to name only ids that one of `sets` holds.
pub fn labels_file(
    source: &LabelSource,
    sets: &[&FeatureSet],
) -> Result<Option<HashMap<String, String>>> {
    let LabelSource::File(f) = source else {
        return Ok(None);
    };
    let map = graft_cache::read_labels_file(f)?;
    let known: HashSet<&str> = sets
        .iter()
        .flat_map(|s| s.items.iter().map(|i| i.id.as_str()))
        .collect();
    let unknown: Vec<&String> = map.keys().filter(|k| !known.contains(k.as_str())).collect();
    if let Some(first) = unknown.first() {
        let caches: Vec<String> = sets.iter().map(|s| s.dir().display().to_string()).collect();
        return Err(HeadError::UnknownIds {
            file: f.clone(),
            cache: PathBuf::from(caches.join(" or ")),
            count: unknown.len(),
            example: (*first).clone(),
        });
    }
    Ok(Some(map))
}

/// The labelled rows of a cache for one task.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledRows {
    /// The task (`None`: the default task or a labels file).
    pub task: Option<String>,
    /// Row indices into the cache.
    pub rows: Vec<usize>,
    /// One label per row index.
    pub labels: Vec<String>,
    /// Rows left out because they have no label.
    pub unlabelled: usize,
}

/// A feature cache loaded for heads: features, item records and the stamp of the model
/// that made them.
#[derive(Debug, Clone)]
pub struct FeatureSet {
    cache: Cache,
    items: Vec<ItemRecord>,
    features: Array2<f32>,
}

impl FeatureSet {
    /// Opens and reads the cache in `dir` (every shard checked against its checksum); an
    /// empty cache is an error.
    pub fn open(dir: &Path) -> Result<Self> {
        let cache = Cache::open(dir)?;
        if cache.manifest().rows == 0 {
            return Err(HeadError::EmptyCache(dir.to_path_buf()));
        }
        let items = cache.items()?;
        let features = cache.features()?;
        Ok(FeatureSet {
            cache,
            items,
            features,
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        self.cache.dir()
    }

    /// The model and preprocessing that made the features.
    pub fn stamp(&self) -> &ModelStamp {
        &self.cache.manifest().model
    }

    /// What a head trained on these features records.
    pub fn provenance(&self) -> Provenance {
        Provenance::of_stamp(self.stamp())
    }

    /// The label fields (tasks) recorded in the items; the first is the default.
    pub fn tasks(&self) -> &[String] {
        &self.cache.manifest().tasks
    }

    /// Item records, row-aligned with the features.
    pub fn items(&self) -> &[ItemRecord] {
        &self.items
    }

    /// All features, one row per item.
    pub fn features(&self) -> &Array2<f32> {
        &self.features
    }

    /// The underlying cache (for raw baseline inputs).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Refuses another cache made with a different model or preprocessing.
    pub fn check_same_model(&self, other: &FeatureSet) -> Result<()> {
        if self.stamp() != other.stamp() {
            return Err(HeadError::IncompatibleCaches {
                a: self.dir().to_path_buf(),
                b: other.dir().to_path_buf(),
                a_model: self.stamp().describe(),
                b_model: other.stamp().describe(),
            });
        }
        Ok(())
    }

    /// The tasks a [`LabelSource`] selects for training: the one named, every task the
    /// cache records when it has several, else the default.
    pub fn tasks_of(&self, source: &LabelSource) -> Vec<Option<String>> {
        match source {
            LabelSource::Task(Some(t)) => vec![Some(t.clone())],
            LabelSource::Task(None) if self.tasks().len() > 1 => {
                self.tasks().iter().cloned().map(Some).collect()
            }
            _ => vec![None],
        }
    }

    /// Rows with a label for `task` (or from `source`'s labels file). A labels file naming
    /// ids the cache lacks, or no labelled row at all, is an error.
    pub fn labelled(&self, source: &LabelSource, task: Option<&str>) -> Result<LabelledRows> {
        let map = labels_file(source, &[self])?;
        self.labelled_with(map.as_ref(), task)
    }

    /// Rows with a label in `map` (id -> label), or for `task` in the items without one.
    pub fn labelled_with(
        &self,
        map: Option<&HashMap<String, String>>,
        task: Option<&str>,
    ) -> Result<LabelledRows> {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for (r, item) in self.items.iter().enumerate() {
            let label = match map {
                Some(map) => map.get(&item.id).map(String::as_str),
                None => item.label_for(task),
            };
            if let Some(label) = label {
                rows.push(r);
                labels.push(label.to_string());
            }
        }
        if rows.is_empty() {
            return Err(HeadError::NoLabels {
                cache: self.dir().to_path_buf(),
                task: task.map(str::to_string),
            });
        }
        Ok(LabelledRows {
            task: task.map(str::to_string),
            unlabelled: self.items.len() - rows.len(),
            rows,
            labels,
        })
    }

    /// The features of `rows`.
    pub fn select(&self, rows: &[usize]) -> Array2<f32> {
        self.features.select(Axis(0), rows)
    }

    /// A dataset of the labelled rows, classes sorted (or encoded against `classes`).
    pub fn dataset(&self, labelled: &LabelledRows, classes: Option<&[String]>) -> Result<Dataset> {
        let x = self.select(&labelled.rows);
        match classes {
            None => Dataset::from_labels(x, &labelled.labels),
            Some(c) => {
                Dataset::from_labels_with_classes(x, &labelled.labels, c).map_err(|e| match e {
                    HeadError::UnknownLabel { label, .. } => HeadError::UnseenClass {
                        cache: self.dir().to_path_buf(),
                        label,
                    },
                    e => e,
                })
            }
        }
    }
}

impl Provenance {
    /// The provenance of features made as `stamp` says.
    pub fn of_stamp(stamp: &ModelStamp) -> Self {
        Provenance {
            backbone: stamp.name.clone(),
            model_sha256: stamp.model_sha256.clone(),
            preprocessing: stamp.preprocessing.clone(),
            feature_dim: stamp.dim,
        }
    }
}
