//! A loaded backbone: an ONNX Runtime session plus the manifest that says how to
//! feed it and how to pool what comes out.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use ort::session::Session;
use ort::value::TensorRef;

use crate::device::{self, Device, GpuOptions, Provider};
use crate::error::{ort_err, EmbedError, Result};
use crate::manifest::{Modality, ModelManifest, Pooling};
use crate::preprocess::TextBatch;
use crate::record;
use crate::runtime;
use crate::GraftHome;

/// How to load a backbone.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Where to run it.
    pub device: Device,
    /// GPU options (CUDA / TensorRT).
    pub gpu: GpuOptions,
    /// ONNX Runtime intra-op threads (0 = one per core).
    pub threads: usize,
    /// Explicit ONNX Runtime library (`--ort-lib`).
    pub ort_lib: Option<PathBuf>,
}

impl LoadOptions {
    /// These options with TensorRT optimisation profiles for `manifest`'s inputs, up to
    /// the GPU options' `max_batch` or else `batch` rows.
    pub fn for_manifest(mut self, manifest: &ModelManifest, batch: usize) -> Self {
        let max_batch = self.gpu.max_batch.unwrap_or(batch);
        self.gpu = self.gpu.with_profiles_for(manifest, max_batch);
        self
    }
}

/// A backbone ready to embed preprocessed batches.
pub struct Backbone {
    session: Session,
    manifest: ModelManifest,
    model_path: PathBuf,
    model_sha256: String,
    provider: Provider,
}

impl Backbone {
    /// Loads the model files of `manifest` (verified against what `graft models
    /// fetch` recorded), on the device asked for.
    pub fn load(manifest: &ModelManifest, home: &GraftHome, opts: &LoadOptions) -> Result<Self> {
        let dir = manifest.model_dir(home);
        let model_path = dir.join(&manifest.onnx.file);
        if !model_path.is_file() {
            return Err(EmbedError::NotFetched {
                name: manifest.name.clone(),
                path: model_path,
            });
        }
        let model_sha256 = record::verify_recorded(manifest, &dir)?;
        Self::load_file(manifest, &model_path, model_sha256, home, opts)
    }

    /// Loads an ONNX file for `manifest` without the fetch record (used while
    /// verifying a fresh download).
    pub fn load_file(
        manifest: &ModelManifest,
        model_path: &Path,
        model_sha256: String,
        home: &GraftHome,
        opts: &LoadOptions,
    ) -> Result<Self> {
        let lib = runtime::locate(opts.ort_lib.as_deref(), home, opts.device.wants_gpu())?;
        let env = runtime::environment(&lib)?;
        let candidates = device::plan(opts.device, &opts.gpu);
        let mut failures = Vec::new();
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.threads
        };
        for plans in &candidates {
            let kind = plans[0].kind;
            if let Some(missing) = plans.iter().find(|p| !device::compiled_in(p.kind)) {
                failures.push(format!(
                    "{}: the loaded ONNX Runtime ({}) has no {} provider; run `graft setup --gpu`",
                    missing.kind,
                    lib.display(),
                    missing.kind
                ));
                continue;
            }
            let context = format!("{}: creating a session on {kind}", model_path.display());
            let attempt = Session::builder(&env)
                .map_err(ort_err(&context))
                .and_then(|b| b.with_intra_threads(threads).map_err(ort_err(&context)))
                .and_then(|b| b.with_inter_threads(1).map_err(ort_err(&context)))
                // ort's default policy lets ONNX Runtime add accelerators on its own;
                // a CPU plan must run on the CPU and nowhere else.
                .and_then(|b| match kind {
                    Provider::Cpu => b
                        .with_auto_device(ort::session::builder::AutoDevicePolicy::PreferCPU)
                        .map_err(ort_err(&context)),
                    _ => Ok(b),
                })
                .and_then(|b| {
                    b.with_execution_providers(device::dispatches(plans))
                        .map_err(ort_err(&context))
                })
                .and_then(|mut b| b.commit_from_file(model_path).map_err(ort_err(&context)));
            match attempt {
                Ok(session) => {
                    let backbone = Backbone {
                        session,
                        manifest: manifest.clone(),
                        model_path: model_path.to_path_buf(),
                        model_sha256,
                        provider: kind,
                    };
                    backbone.check_tensor_names()?;
                    return Ok(backbone);
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        match opts.device {
            Device::Auto | Device::Cpu if failures.len() == candidates.len() => {
                Err(EmbedError::Ort {
                    context: model_path.display().to_string(),
                    message: failures.join("; "),
                })
            }
            _ => Err(EmbedError::DeviceUnavailable {
                device: opts.device.to_string(),
                reason: failures.join("; "),
            }),
        }
    }

    /// The provider the session runs on.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The manifest.
    pub fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }

    /// SHA-256 of the ONNX file.
    pub fn model_sha256(&self) -> &str {
        &self.model_sha256
    }

    /// The ONNX file.
    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    fn check_tensor_names(&self) -> Result<()> {
        let inputs: Vec<&str> = self.session.inputs().iter().map(|o| o.name()).collect();
        let outputs: Vec<&str> = self.session.outputs().iter().map(|o| o.name()).collect();
        let names = &self.manifest.onnx.inputs;
        let wanted_inputs = [
            &names.pixels,
            &names.input_ids,
            &names.attention_mask,
            &names.token_type_ids,
        ];
        let mut problems = Vec::new();
        for name in wanted_inputs.into_iter().flatten() {
            if !inputs.contains(&name.as_str()) {
                problems.push(format!("input `{name}` not found"));
            }
        }
        let wanted_outputs = [
            Some(&self.manifest.onnx.output),
            self.manifest.onnx.logits.as_ref(),
        ];
        for name in wanted_outputs.into_iter().flatten() {
            if !outputs.contains(&name.as_str()) {
                problems.push(format!("output `{name}` not found"));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(EmbedError::ModelMismatch {
            path: self.model_path.clone(),
            reason: format!(
                "{}. The model has inputs [{}] and outputs [{}]; set them in the manifest's [onnx] section ({})",
                problems.join(", "),
                inputs.join(", "),
                outputs.join(", "),
                self.manifest.origin
            ),
        })
    }

    /// Runs an image batch (`n` preprocessed tensors laid end to end) and returns
    /// n x dim features.
    pub fn embed_pixels(&mut self, shape: [usize; 4], data: &[f32]) -> Result<Array2<f32>> {
        let output = self.manifest.onnx.output.clone();
        self.run_pixels(shape, data, &output, None)
    }

    /// Runs an image batch and returns the classifier output (`[onnx] logits`).
    pub fn logits_pixels(&mut self, shape: [usize; 4], data: &[f32]) -> Result<Array2<f32>> {
        let name = self.manifest.onnx.logits.clone().ok_or_else(|| {
            EmbedError::Invalid(format!(
                "{}: the manifest names no logits output",
                self.manifest.name
            ))
        })?;
        self.run_pixels(shape, data, &name, Some(0))
    }

    fn run_pixels(
        &mut self,
        shape: [usize; 4],
        data: &[f32],
        output: &str,
        dim_override: Option<usize>,
    ) -> Result<Array2<f32>> {
        let input = self.manifest.onnx.inputs.pixels.clone().unwrap_or_default();
        let ctx = format!(
            "{}: running a batch of {}",
            self.model_path.display(),
            shape[0]
        );
        let tensor =
            TensorRef::from_array_view((shape.map(|d| d as i64), data)).map_err(ort_err(&ctx))?;
        let outputs = self
            .session
            .run(ort::inputs![input.as_str() => tensor])
            .map_err(ort_err(&ctx))?;
        let want = dim_override.unwrap_or(self.manifest.dim);
        pool_output(
            &outputs,
            output,
            &ctx,
            None,
            Pooling::Cls,
            &self.model_path,
            want,
        )
    }

    /// Runs a padded token batch and returns pooled (and, if the manifest says so,
    /// L2-normalised) n x dim features.
    pub fn embed_tokens(&mut self, batch: &TextBatch) -> Result<Array2<f32>> {
        let names = self.manifest.onnx.inputs.clone();
        let shape = [batch.rows as i64, batch.len as i64];
        let ctx = format!(
            "{}: running a batch of {} texts",
            self.model_path.display(),
            batch.rows
        );
        let mut inputs: Vec<(String, TensorRef<'_, i64>)> = Vec::new();
        for (name, data) in [
            (&names.input_ids, &batch.input_ids),
            (&names.attention_mask, &batch.attention_mask),
            (&names.token_type_ids, &batch.token_type_ids),
        ] {
            if let Some(name) = name {
                inputs.push((
                    name.clone(),
                    TensorRef::from_array_view((shape, data.as_slice())).map_err(ort_err(&ctx))?,
                ));
            }
        }
        let feeds: Vec<(
            std::borrow::Cow<'_, str>,
            ort::session::SessionInputValue<'_>,
        )> = inputs
            .into_iter()
            .map(|(n, t)| (std::borrow::Cow::Owned(n), t.into()))
            .collect();
        let outputs = self.session.run(feeds).map_err(ort_err(&ctx))?;
        let text = self.manifest.text.clone();
        let pooling = text.as_ref().map_or(Pooling::Mean, |t| t.pooling);
        let mask = Some(batch.attention_mask.as_slice());
        let output = &self.manifest.onnx.output;
        let mut pooled = pool_output(
            &outputs,
            output,
            &ctx,
            mask,
            pooling,
            &self.model_path,
            self.manifest.dim,
        )?;
        if text.is_some_and(|t| t.normalize) {
            l2_normalise(&mut pooled);
        }
        Ok(pooled)
    }

    /// Whether this backbone embeds images or texts.
    pub fn modality(&self) -> Modality {
        self.manifest.modality
    }
}

/// Takes output `name` from a run, pools it to one row per item and checks its width.
fn pool_output(
    outputs: &ort::session::SessionOutputs<'_>,
    name: &str,
    ctx: &str,
    mask: Option<&[i64]>,
    pooling: Pooling,
    path: &Path,
    want: usize,
) -> Result<Array2<f32>> {
    let value = outputs.get(name).ok_or_else(|| EmbedError::Ort {
        context: ctx.to_string(),
        message: format!("no output `{name}`"),
    })?;
    let (shape, values) = value.try_extract_tensor::<f32>().map_err(ort_err(ctx))?;
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(EmbedError::ModelMismatch {
            path: path.to_path_buf(),
            reason: format!(
                "output `{name}` holds {bad} ({ctx}): the model computes non-finite values, which are never written to a cache"
            ),
        });
    }
    let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    let pooled =
        pool(&dims, values, mask, pooling).map_err(|reason| EmbedError::ModelMismatch {
            path: path.to_path_buf(),
            reason,
        })?;
    check_dim(path, &pooled, want)?;
    Ok(pooled)
}

fn check_dim(path: &Path, pooled: &Array2<f32>, want: usize) -> Result<()> {
    if want != 0 && pooled.ncols() != want {
        return Err(EmbedError::ModelMismatch {
            path: path.to_path_buf(),
            reason: format!(
                "output has {} features per item, the manifest says dim = {want}",
                pooled.ncols()
            ),
        });
    }
    Ok(())
}

/// Reduces a model output to one row per item:
/// [n, d] as is; [n, t, d] by `pooling` over the mask (CLS for images);
/// [n, d, h, w] by global average pooling.
pub fn pool(
    dims: &[usize],
    values: &[f32],
    mask: Option<&[i64]>,
    pooling: Pooling,
) -> std::result::Result<Array2<f32>, String> {
    match *dims {
        [n, d] => Array2::from_shape_vec((n, d), values.to_vec()).map_err(|e| e.to_string()),
        [n, t, d] => {
            let mut out = Array2::<f32>::zeros((n, d));
            for i in 0..n {
                let item = &values[i * t * d..(i + 1) * t * d];
                match (pooling, mask) {
                    (Pooling::Mean, Some(mask)) => {
                        let m = &mask[i * t..(i + 1) * t];
                        let count = m.iter().filter(|&&v| v != 0).count().max(1) as f32;
                        let mut row = out.row_mut(i);
                        for (j, tok) in item.chunks_exact(d).enumerate() {
                            if m[j] != 0 {
                                row.iter_mut().zip(tok).for_each(|(o, v)| *o += v);
                            }
                        }
                        row.mapv_inplace(|v| v / count);
                    }
                    (Pooling::Mean, None) => {
                        let mut row = out.row_mut(i);
                        for tok in item.chunks_exact(d) {
                            row.iter_mut().zip(tok).for_each(|(o, v)| *o += v);
                        }
                        row.mapv_inplace(|v| v / t.max(1) as f32);
                    }
                    _ => out
                        .row_mut(i)
                        .iter_mut()
                        .zip(&item[..d])
                        .for_each(|(o, v)| *o = *v),
                }
            }
            Ok(out)
        }
        [n, c, h, w] => {
            let plane = h * w;
            let mut out = Array2::<f32>::zeros((n, c));
            for i in 0..n {
                for k in 0..c {
                    let start = (i * c + k) * plane;
                    out[[i, k]] =
                        values[start..start + plane].iter().sum::<f32>() / plane.max(1) as f32;
                }
            }
            Ok(out)
        }
        _ => Err(format!(
            "output shape {dims:?} is not [n, d], [n, t, d] or [n, c, h, w]"
        )),
    }
}

/// Scales every row to unit L2 norm (rows of zeros stay zero).
pub fn l2_normalise(m: &mut Array2<f32>) {
    for mut row in m.rows_mut() {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.mapv_inplace(|v| v / norm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_every_supported_shape() {
        let v: Vec<f32> = (0..8).map(|x| x as f32).collect();
        assert_eq!(pool(&[2, 4], &v, None, Pooling::Mean).unwrap()[[1, 0]], 4.0);
        // [1, 2 tokens, 4]: mean over the one unmasked token = the first token.
        let m = pool(&[1, 2, 4], &v, Some(&[1, 0]), Pooling::Mean).unwrap();
        assert_eq!(m.row(0).to_vec(), vec![0.0, 1.0, 2.0, 3.0]);
        let m = pool(&[1, 2, 4], &v, Some(&[1, 1]), Pooling::Mean).unwrap();
        assert_eq!(m.row(0).to_vec(), vec![2.0, 3.0, 4.0, 5.0]);
        // [1, 2 channels, 2, 2]: global average pooling.
        let m = pool(&[1, 2, 2, 2], &v, None, Pooling::Mean).unwrap();
        assert_eq!(m.row(0).to_vec(), vec![1.5, 5.5]);
        assert!(pool(&[8], &v, None, Pooling::Mean).is_err());
    }
}
