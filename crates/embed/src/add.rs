//! `graft models add`: your own ONNX file as a Graft model in one command. The file is
//! inspected (input and output names, shapes, element types), the tensor roles proposed,
//! a manifest written under `GRAFT_HOME/models/NAME/` beside a copy of the file (with its
//! SHA-256, checked at every load), and one real input is run through it. A model whose
//! outputs do not fit (wrong rank, a fixed batch or sequence axis, non-finite values) is
//! refused with the reason, and nothing is left behind.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};
use serde::Serialize;

use crate::backbone::{Backbone, LoadOptions};
use crate::device::Device;
use crate::download::sha256_file;
use crate::error::{io_err, ort_err, EmbedError, Result};
use crate::manifest::{
    ChannelOrder, Filter, ImagePrep, InputNames, Layout, Modality, ModelManifest, OnnxSpec,
    Pooling, ResizeMode, TextPrep,
};
use crate::preprocess::text::pad;
use crate::preprocess::{ImagePreprocessor, TextPreprocessor};
use crate::{runtime, GraftHome};

/// ImageNet mean, the default normalisation of image models.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet standard deviation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// One input or output of an ONNX graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorInfo {
    /// Its name.
    pub name: String,
    /// Element type (`f32`, `i64`, ...), or the kind of a non-tensor value.
    pub dtype: String,
    /// Dimensions; `-1` for a dynamic axis.
    pub shape: Vec<i64>,
}

/// The inputs and outputs of an ONNX file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnnxInfo {
    /// Graph inputs.
    pub inputs: Vec<TensorInfo>,
    /// Graph outputs.
    pub outputs: Vec<TensorInfo>,
}

fn infos(outlets: &[ort::value::Outlet]) -> Vec<TensorInfo> {
    outlets
        .iter()
        .map(|o| match o.dtype() {
            ValueType::Tensor { ty, shape, .. } => TensorInfo {
                name: o.name().to_string(),
                dtype: ty.to_string(),
                shape: shape.to_vec(),
            },
            other => TensorInfo {
                name: o.name().to_string(),
                dtype: other.to_string(),
                shape: Vec::new(),
            },
        })
        .collect()
}

/// Opens `onnx` on the CPU and lists its inputs and outputs.
pub fn inspect_onnx(onnx: &Path, home: &GraftHome, ort_lib: Option<&Path>) -> Result<OnnxInfo> {
    let lib = runtime::locate(ort_lib, home, false)?;
    let env = runtime::environment(&lib)?;
    let ctx = format!("{}: opening the model", onnx.display());
    let session = Session::builder(&env)
        .and_then(|mut b| b.commit_from_file(onnx))
        .map_err(ort_err(&ctx))?;
    Ok(OnnxInfo {
        inputs: infos(session.inputs()),
        outputs: infos(session.outputs()),
    })
}

/// What to add, as `graft models add` takes it: only name, file and modality are needed;
/// everything else is proposed from the graph when not given.
#[derive(Debug, Clone)]
pub struct AddModel {
    /// The name to use it by (`--model NAME`).
    pub name: String,
    /// The ONNX file.
    pub onnx: PathBuf,
    /// Image or text.
    pub modality: Modality,
    /// Text models: the `tokenizer.json` (Hugging Face tokenizers format).
    pub tokenizer: Option<PathBuf>,
    /// The output holding features (default: the first float output of rank 2, 3 or 4).
    pub output: Option<String>,
    /// Text models: pooling of `[n, t, d]` outputs (default mean).
    pub pooling: Option<Pooling>,
    /// Text models: L2-normalise the pooled vector.
    pub normalize: bool,
    /// Text models: truncation length (default 256).
    pub max_length: Option<usize>,
    /// Image models: input height and width (default: the graph's, else 224 x 224).
    pub size: Option<[u32; 2]>,
    /// Image models: per-channel mean after scaling to [0, 1] (default ImageNet's).
    pub mean: Option<[f32; 3]>,
    /// Image models: per-channel standard deviation (default ImageNet's).
    pub std: Option<[f32; 3]>,
    /// Replace a model already added under this name.
    pub force: bool,
    /// ONNX Runtime library for the checks.
    pub ort_lib: Option<PathBuf>,
}

/// What `add_model` did.
#[derive(Debug, Clone, Serialize)]
pub struct AddReport {
    /// The model's folder (manifest, ONNX file, tokenizer).
    pub dir: PathBuf,
    /// What the graph has.
    pub onnx: OnnxInfo,
    /// The manifest written.
    #[serde(skip)]
    pub manifest: ModelManifest,
    /// SHA-256 of the ONNX file.
    pub sha256: String,
    /// The checks it passed.
    pub checks: Vec<String>,
}

fn refuse(onnx: &Path, reason: String) -> EmbedError {
    EmbedError::ModelMismatch {
        path: onnx.to_path_buf(),
        reason,
    }
}

/// Inspects `req.onnx`, proposes its tensor roles, writes `GRAFT_HOME/models/NAME/`
/// (`graft.toml`, the ONNX file, the tokenizer) and runs one real input through it.
pub fn add_model(req: &AddModel, home: &GraftHome) -> Result<AddReport> {
    if ModelManifest::builtin(&req.name).is_ok() {
        return Err(EmbedError::Invalid(format!(
            "`{}` is a built-in model: choose another name",
            req.name
        )));
    }
    let valid_name = !req.name.is_empty()
        && req
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !req.name.starts_with('.');
    if !valid_name {
        return Err(EmbedError::Invalid(format!(
            "model name `{}`: use letters, digits, `-`, `_` and `.`",
            req.name
        )));
    }
    let info = inspect_onnx(&req.onnx, home, req.ort_lib.as_deref())?;
    let (inputs, prep_image, prep_text) = match req.modality {
        Modality::Image => {
            let (inputs, image) = image_roles(req, &info)?;
            (inputs, Some(image), None)
        }
        Modality::Text => {
            let (inputs, text) = text_roles(req, &info)?;
            (inputs, None, Some(text))
        }
        Modality::Audio => {
            return Err(EmbedError::Invalid(
                "`graft models add` takes image and text models".into(),
            ))
        }
    };
    let output = feature_output(req, &info)?;
    let dir = home.model_dir(&req.name);
    if dir.exists() && !req.force {
        return Err(EmbedError::Invalid(format!(
            "{} exists: a model called `{}` was added before; pass --force to replace it",
            dir.display(),
            req.name
        )));
    }
    let staging =
        home.root()
            .join("models")
            .join(format!(".add-{}-{}", req.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
    let result = stage(req, &staging, inputs, prep_image, prep_text, output, home);
    match result {
        Ok((sha256, checks)) => {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(&staging, &dir).map_err(io_err(&dir))?;
            let manifest = ModelManifest::from_file(&dir.join("graft.toml"))?;
            Ok(AddReport {
                dir,
                onnx: info,
                manifest,
                sha256,
                checks,
            })
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

/// Writes the model folder in `staging` and checks it; returns the ONNX file's SHA-256 and
/// the checks passed.
fn stage(
    req: &AddModel,
    staging: &Path,
    inputs: InputNames,
    image: Option<ImagePrep>,
    text: Option<TextPrep>,
    (output, dim): (String, Option<usize>),
    home: &GraftHome,
) -> Result<(String, Vec<String>)> {
    let onnx = staging.join("model.onnx");
    std::fs::copy(&req.onnx, &onnx).map_err(io_err(&req.onnx))?;
    if let (Some(t), Some(src)) = (&text, &req.tokenizer) {
        let dest = staging.join(&t.tokenizer);
        std::fs::copy(src, &dest).map_err(io_err(src))?;
    }
    let sha256 = sha256_file(&onnx)?;
    let mut manifest = ModelManifest {
        name: req.name.clone(),
        modality: req.modality,
        description: format!("added from {}", req.onnx.display()),
        license: "as its source says (added by the user)".into(),
        dim: dim.unwrap_or(0),
        sources: Vec::new(),
        onnx: OnnxSpec {
            file: "model.onnx".into(),
            inputs,
            output,
            logits: None,
            sha256: Some(sha256.clone()),
        },
        image,
        text,
        check: None,
        origin: staging.join("graft.toml").display().to_string(),
        local_dir: Some(staging.to_path_buf()),
    };
    // One real input through the model: the output must be finite, of a known rank and, if
    // the graph leaves the feature width open, it is read from the output.
    let load = LoadOptions {
        device: Device::Cpu,
        threads: 1,
        ort_lib: req.ort_lib.clone(),
        ..Default::default()
    };
    let mut backbone = Backbone::load_file(&manifest, &onnx, sha256.clone(), home, &load)?;
    let features = match req.modality {
        Modality::Image => {
            let prep = ImagePreprocessor::new(manifest.image.clone().unwrap_or_else(default_image));
            let png = test_image();
            let mut tensor = vec![0f32; prep.tensor_len()];
            prep.prepare_into(&png, &mut tensor)
                .map_err(|e| EmbedError::Invalid(format!("the test image: {e}")))?;
            backbone.embed_pixels(prep.batch_shape(1), &tensor)
        }
        _ => {
            let t = manifest.text.clone().unwrap_or_else(|| default_text(None));
            let tok = TextPreprocessor::load(&staging.join(&t.tokenizer), t.max_length)?;
            let tokens = tok.encode(&["Graft checks a model it has just been given."])?;
            backbone.embed_tokens(&pad(&tokens.iter().collect::<Vec<_>>(), tok.pad_id()))
        }
    }
    .map_err(|e| match e {
        EmbedError::ModelMismatch { reason, .. } => refuse(&req.onnx, reason),
        e => e,
    })?;
    let mut checks = vec![
        "onnx loads".to_string(),
        format!("one {} input runs", req.modality),
    ];
    let width = features.ncols();
    if width == 0 {
        return Err(refuse(&req.onnx, "the feature output is empty".into()));
    }
    manifest.dim = width;
    checks.push(format!("features finite, {width}-d"));
    let toml = toml::to_string(&manifest)
        .map_err(|e| EmbedError::Invalid(format!("writing the manifest: {e}")))?;
    let path = staging.join("graft.toml");
    graft_cache::write_atomic(&path, toml.as_bytes())?;
    Ok((sha256, checks))
}

fn is_dynamic(d: i64) -> bool {
    d < 0
}

fn image_roles(req: &AddModel, info: &OnnxInfo) -> Result<(InputNames, ImagePrep)> {
    let float_inputs: Vec<&TensorInfo> = info
        .inputs
        .iter()
        .filter(|t| t.dtype == TensorElementType::Float32.to_string())
        .collect();
    let pixels = match float_inputs.as_slice() {
        [one] => *one,
        [] => {
            return Err(refuse(
                &req.onnx,
                format!(
                    "no float input to take pixels: inputs are {:?}",
                    names(&info.inputs)
                ),
            ))
        }
        many => {
            return Err(refuse(
                &req.onnx,
                format!(
                    "several float inputs ({:?}): an image model takes one pixel tensor",
                    names(many.iter().copied())
                ),
            ))
        }
    };
    if pixels.shape.len() != 4 {
        return Err(refuse(
            &req.onnx,
            format!(
                "input `{}` has shape {:?}: an image input is [batch, 3, height, width] or [batch, height, width, 3]",
                pixels.name, pixels.shape
            ),
        ));
    }
    if !is_dynamic(pixels.shape[0]) {
        return Err(refuse(
            &req.onnx,
            format!(
                "input `{}` has a fixed batch of {}: export it with a dynamic batch axis",
                pixels.name, pixels.shape[0]
            ),
        ));
    }
    let (layout, h, w) = match (pixels.shape[1], pixels.shape[3]) {
        (3, _) => (Layout::Nchw, pixels.shape[2], pixels.shape[3]),
        (_, 3) => (Layout::Nhwc, pixels.shape[1], pixels.shape[2]),
        _ => {
            return Err(refuse(
                &req.onnx,
                format!(
                    "input `{}` has shape {:?}: no axis of 3 colour channels",
                    pixels.name, pixels.shape
                ),
            ))
        }
    };
    let graph_size = (h > 0 && w > 0).then_some([h as u32, w as u32]);
    let size = match (req.size, graph_size) {
        (Some(s), Some(g)) if s != g => {
            return Err(refuse(
                &req.onnx,
                format!(
                    "--size {}x{} but the graph takes {}x{}",
                    s[0], s[1], g[0], g[1]
                ),
            ))
        }
        (Some(s), _) => s,
        (None, Some(g)) => g,
        (None, None) => [224, 224],
    };
    let image = ImagePrep {
        size,
        resize: ResizeMode::ShorterCrop,
        resize_shorter: Some(size[0].max(size[1]) * 8 / 7),
        filter: Filter::Bilinear,
        mean: req.mean.unwrap_or(IMAGENET_MEAN),
        std: req.std.unwrap_or(IMAGENET_STD),
        channel_order: ChannelOrder::Rgb,
        layout,
    };
    let inputs = InputNames {
        pixels: Some(pixels.name.clone()),
        ..Default::default()
    };
    Ok((inputs, image))
}

fn default_image() -> ImagePrep {
    ImagePrep {
        size: [224, 224],
        resize: ResizeMode::Stretch,
        resize_shorter: None,
        filter: Filter::Bilinear,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
        channel_order: ChannelOrder::Rgb,
        layout: Layout::Nchw,
    }
}

fn default_text(req: Option<&AddModel>) -> TextPrep {
    TextPrep {
        tokenizer: "tokenizer.json".into(),
        max_length: req.and_then(|r| r.max_length).unwrap_or(256),
        pooling: req.and_then(|r| r.pooling).unwrap_or(Pooling::Mean),
        normalize: req.is_some_and(|r| r.normalize),
    }
}

fn text_roles(req: &AddModel, info: &OnnxInfo) -> Result<(InputNames, TextPrep)> {
    if req.tokenizer.is_none() {
        return Err(EmbedError::Invalid(
            "a text model needs its tokenizer: pass --tokenizer tokenizer.json".into(),
        ));
    }
    let find = |key: &str| {
        info.inputs
            .iter()
            .find(|t| t.name.to_ascii_lowercase().contains(key))
            .map(|t| t.name.clone())
    };
    let input_ids = find("input_ids").ok_or_else(|| {
        refuse(
            &req.onnx,
            format!("no `input_ids` input: inputs are {:?}", names(&info.inputs)),
        )
    })?;
    for t in info.inputs.iter() {
        if t.shape.len() != 2 || !is_dynamic(t.shape[0]) || !is_dynamic(t.shape[1]) {
            return Err(refuse(
                &req.onnx,
                format!(
                    "input `{}` has shape {:?}: token inputs must be [batch, sequence] with both axes dynamic",
                    t.name, t.shape
                ),
            ));
        }
    }
    let inputs = InputNames {
        input_ids: Some(input_ids),
        attention_mask: find("attention_mask"),
        token_type_ids: find("token_type_ids"),
        ..Default::default()
    };
    Ok((inputs, default_text(Some(req))))
}

/// The feature output and its width when the graph fixes it.
fn feature_output(req: &AddModel, info: &OnnxInfo) -> Result<(String, Option<usize>)> {
    let float = TensorElementType::Float32.to_string();
    let usable = |t: &&TensorInfo| t.dtype == float && (2..=4).contains(&t.shape.len());
    let out = match &req.output {
        Some(name) => info
            .outputs
            .iter()
            .find(|t| &t.name == name)
            .ok_or_else(|| {
                refuse(
                    &req.onnx,
                    format!("no output `{name}`: outputs are {:?}", names(&info.outputs)),
                )
            })?,
        None => info.outputs.iter().find(usable).ok_or_else(|| {
            refuse(
                &req.onnx,
                format!(
                    "no float output of shape [n, d], [n, t, d] or [n, c, h, w]: outputs are {:?}",
                    info.outputs
                        .iter()
                        .map(|t| format!("{} {:?} {}", t.name, t.shape, t.dtype))
                        .collect::<Vec<_>>()
                ),
            )
        })?,
    };
    if !usable(&out) {
        return Err(refuse(
            &req.onnx,
            format!(
                "output `{}` ({} {:?}) is not a float tensor of shape [n, d], [n, t, d] or [n, c, h, w]",
                out.name, out.dtype, out.shape
            ),
        ));
    }
    if !is_dynamic(out.shape[0]) && out.shape[0] != 1 {
        return Err(refuse(
            &req.onnx,
            format!(
                "output `{}` has a fixed batch of {}: export it with a dynamic batch axis",
                out.name, out.shape[0]
            ),
        ));
    }
    let width = match out.shape.len() {
        4 => out.shape[1],
        _ => out.shape[out.shape.len() - 1],
    };
    Ok((out.name.clone(), (width > 0).then_some(width as usize)))
}

fn names<'a>(t: impl IntoIterator<Item = &'a TensorInfo>) -> Vec<&'a str> {
    t.into_iter().map(|t| t.name.as_str()).collect()
}

/// A 64 x 48 colour gradient with a disc, encoded as PNG: a real image for the check run.
fn test_image() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        let inside = (x as i32 - 32).pow(2) + (y as i32 - 24).pow(2) < 200;
        if inside {
            image::Rgb([250, 220, 40])
        } else {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
        }
    });
    let mut png = Vec::new();
    // Encoding into memory cannot fail for an RGB buffer.
    let _ = img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
    png
}
