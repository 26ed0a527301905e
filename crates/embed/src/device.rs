//! Execution providers: where a backbone runs.
//!
//! `--device auto|cpu|cuda[:N]|tensorrt[:N]`. An explicit GPU request that
//! cannot be met is an error naming what is missing, never a silent CPU run;
//! `auto` tries TensorRT, then CUDA, then CPU, and reports which one loaded.
//! Options are kept as provider key/value pairs (ONNX Runtime's own names), so
//! what reaches the session builder is plain data that tests can inspect.

use std::path::PathBuf;
use std::str::FromStr;

use ort::ep::{ArbitrarilyConfigurableExecutionProvider, ExecutionProvider};

use crate::error::{EmbedError, Result};
use crate::manifest::ModelManifest;

/// Where to run a backbone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The best provider that loads: TensorRT, then CUDA, then CPU.
    #[default]
    Auto,
    /// ONNX Runtime's CPU provider.
    Cpu,
    /// The CUDA provider on GPU `N`.
    Cuda(i32),
    /// The TensorRT provider on GPU `N` (CUDA for what TensorRT cannot run).
    TensorRt(i32),
}

impl FromStr for Device {
    type Err = EmbedError;

    fn from_str(s: &str) -> Result<Self> {
        let (kind, id) = match s.split_once(':') {
            Some((k, n)) => {
                let id = n.parse::<i32>().ok().filter(|i| *i >= 0).ok_or_else(|| {
                    EmbedError::Invalid(format!(
                        "--device {s}: `{n}` is not a GPU index (expected e.g. cuda:0)"
                    ))
                })?;
                (k, Some(id))
            }
            None => (s, None),
        };
        match (kind.to_ascii_lowercase().as_str(), id) {
            ("auto", None) => Ok(Device::Auto),
            ("cpu", None) => Ok(Device::Cpu),
            ("cuda" | "gpu", id) => Ok(Device::Cuda(id.unwrap_or(0))),
            ("tensorrt" | "trt", id) => Ok(Device::TensorRt(id.unwrap_or(0))),
            _ => Err(EmbedError::Invalid(format!(
                "--device {s}: expected auto, cpu, cuda[:N] or tensorrt[:N]"
            ))),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Auto => write!(f, "auto"),
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
            Device::TensorRt(i) => write!(f, "tensorrt:{i}"),
        }
    }
}

impl Device {
    /// Whether this device wants a GPU build of ONNX Runtime.
    pub fn wants_gpu(&self) -> bool {
        !matches!(self, Device::Cpu)
    }
}

/// GPU tuning options from the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuOptions {
    /// CUDA arena limit in bytes.
    pub memory_limit: Option<usize>,
    /// TensorRT fp16 kernels.
    pub fp16: bool,
    /// TensorRT engine cache directory (a second run skips the engine build).
    pub engine_cache: Option<PathBuf>,
    /// TensorRT optimisation profile: (input name, min, opt, max) shapes.
    pub profiles: Vec<ShapeProfile>,
    /// TensorRT: the largest batch of the profiles (default: the run's batch size).
    pub max_batch: Option<usize>,
}

impl GpuOptions {
    /// TensorRT optimisation profiles for `manifest`'s inputs: images at its size with
    /// batches of 1 to `max_batch`; token inputs of 1 to `max_batch` rows and 1 to the
    /// manifest's `max_length` tokens (optimised for half of it).
    pub fn with_profiles_for(mut self, manifest: &ModelManifest, max_batch: usize) -> Self {
        let max = max_batch.max(1) as i64;
        if let (Some(prep), Some(input)) = (&manifest.image, &manifest.onnx.inputs.pixels) {
            let [h, w] = prep.size.map(i64::from);
            self.profiles.push(ShapeProfile {
                input: input.clone(),
                min: vec![1, 3, h, w],
                opt: vec![max, 3, h, w],
                max: vec![max, 3, h, w],
            });
        }
        if let Some(text) = &manifest.text {
            let len = text.max_length as i64;
            let names = &manifest.onnx.inputs;
            for name in [
                &names.input_ids,
                &names.attention_mask,
                &names.token_type_ids,
            ]
            .into_iter()
            .flatten()
            {
                self.profiles.push(ShapeProfile {
                    input: name.clone(),
                    min: vec![1, 1],
                    opt: vec![max, len / 2],
                    max: vec![max, len],
                });
            }
        }
        self
    }
}

/// Shapes of one input for a TensorRT optimisation profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeProfile {
    /// Input tensor name.
    pub input: String,
    /// Smallest shape.
    pub min: Vec<i64>,
    /// Shape to optimise for.
    pub opt: Vec<i64>,
    /// Largest shape.
    pub max: Vec<i64>,
}

/// An ONNX Runtime execution provider Graft can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// The CPU provider (always there).
    Cpu,
    /// NVIDIA CUDA.
    Cuda,
    /// NVIDIA TensorRT (falls back to CUDA for unsupported nodes).
    TensorRt,
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
            Provider::TensorRt => "tensorrt",
        })
    }
}

/// One provider to try, with its options.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderPlan {
    /// Which provider.
    pub kind: Provider,
    /// ONNX Runtime option keys and values.
    pub options: Vec<(String, String)>,
}

/// The providers a session should be given for `device`, in priority order.
///
/// For an explicit device this is that provider alone (TensorRT keeps CUDA as its
/// fallback for unsupported nodes). For `auto` it is the list of candidates
/// tried one after another by [`crate::Backbone::load`].
pub fn plan(device: Device, opts: &GpuOptions) -> Vec<Vec<ProviderPlan>> {
    let cuda = |id: i32| {
        let mut o = vec![("device_id".to_string(), id.to_string())];
        if let Some(limit) = opts.memory_limit {
            o.push(("gpu_mem_limit".into(), limit.to_string()));
        }
        ProviderPlan {
            kind: Provider::Cuda,
            options: o,
        }
    };
    let trt = |id: i32| {
        let mut o = vec![("device_id".to_string(), id.to_string())];
        if opts.fp16 {
            o.push(("trt_fp16_enable".into(), "1".into()));
        }
        if let Some(dir) = &opts.engine_cache {
            o.push(("trt_engine_cache_enable".into(), "1".into()));
            o.push(("trt_engine_cache_path".into(), dir.display().to_string()));
            o.push(("trt_timing_cache_enable".into(), "1".into()));
            o.push(("trt_timing_cache_path".into(), dir.display().to_string()));
        }
        if !opts.profiles.is_empty() {
            let shapes = |pick: fn(&ShapeProfile) -> &Vec<i64>| {
                opts.profiles
                    .iter()
                    .map(|p| {
                        let dims: Vec<String> = pick(p).iter().map(|d| d.to_string()).collect();
                        format!("{}:{}", p.input, dims.join("x"))
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            o.push(("trt_profile_min_shapes".into(), shapes(|p| &p.min)));
            o.push(("trt_profile_opt_shapes".into(), shapes(|p| &p.opt)));
            o.push(("trt_profile_max_shapes".into(), shapes(|p| &p.max)));
        }
        ProviderPlan {
            kind: Provider::TensorRt,
            options: o,
        }
    };
    let cpu = ProviderPlan {
        kind: Provider::Cpu,
        options: Vec::new(),
    };
    match device {
        Device::Cpu => vec![vec![cpu]],
        Device::Cuda(id) => vec![vec![cuda(id)]],
        Device::TensorRt(id) => vec![vec![trt(id), cuda(id)]],
        Device::Auto => vec![vec![trt(0), cuda(0)], vec![cuda(0)], vec![cpu]],
    }
}

/// Whether the loaded ONNX Runtime build includes a provider (`cuda`, `tensorrt`, `cpu`).
pub fn compiled_in(kind: Provider) -> bool {
    match kind {
        Provider::Cuda => ort::ep::CUDA::is_available().unwrap_or(false),
        Provider::TensorRt => ort::ep::TensorRT::is_available().unwrap_or(false),
        Provider::Cpu => true,
    }
}

/// Turns plans into `ort` dispatches that fail loudly when they cannot register.
pub(crate) fn dispatches(plans: &[ProviderPlan]) -> Vec<ort::ep::ExecutionProviderDispatch> {
    plans
        .iter()
        .filter(|p| p.kind != Provider::Cpu)
        .map(|p| {
            let d = match p.kind {
                Provider::TensorRt => {
                    let mut ep = ort::ep::TensorRT::default();
                    for (k, v) in &p.options {
                        ep = ep.with_arbitrary_config(k, v);
                    }
                    ep.build()
                }
                _ => {
                    let mut ep = ort::ep::CUDA::default();
                    for (k, v) in &p.options {
                        ep = ep.with_arbitrary_config(k, v);
                    }
                    ep.build()
                }
            };
            d.error_on_failure()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_specs() {
        assert_eq!("auto".parse::<Device>().unwrap(), Device::Auto);
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        assert_eq!("tensorrt:1".parse::<Device>().unwrap(), Device::TensorRt(1));
        for bad in ["cuda:x", "cuda:-1", "tpu", "cpu:0", ""] {
            assert!(bad.parse::<Device>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn options_reach_the_provider_plan() {
        let opts = GpuOptions {
            memory_limit: Some(1 << 30),
            fp16: true,
            engine_cache: Some(PathBuf::from("/tmp/trt")),
            profiles: vec![ShapeProfile {
                input: "input".into(),
                min: vec![1, 3, 224, 224],
                opt: vec![64, 3, 224, 224],
                max: vec![128, 3, 224, 224],
            }],
            max_batch: None,
        };
        let plans = plan(Device::TensorRt(2), &opts);
        assert_eq!(plans.len(), 1);
        let trt = &plans[0][0];
        assert_eq!(trt.kind, Provider::TensorRt);
        let get = |k: &str| {
            trt.options
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("device_id"), Some("2"));
        assert_eq!(get("trt_fp16_enable"), Some("1"));
        assert_eq!(get("trt_engine_cache_path"), Some("/tmp/trt"));
        assert_eq!(get("trt_profile_opt_shapes"), Some("input:64x3x224x224"));
        let cuda = &plans[0][1];
        assert_eq!(cuda.kind, Provider::Cuda);
        assert!(cuda
            .options
            .contains(&("gpu_mem_limit".into(), (1u64 << 30).to_string())));
        let auto = plan(Device::Auto, &GpuOptions::default());
        // Profiles follow the manifest: images at its size, tokens up to max_length.
        let image = ModelManifest::builtin("efficientnet-lite0").unwrap();
        let p = GpuOptions::default().with_profiles_for(&image, 16).profiles;
        assert_eq!(
            (p[0].min.clone(), p[0].max.clone()),
            (vec![1, 3, 224, 224], vec![16, 3, 224, 224])
        );
        let text = ModelManifest::builtin("all-minilm-l6-v2").unwrap();
        let p = GpuOptions::default().with_profiles_for(&text, 8).profiles;
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].max, vec![8, 256]);
        let kinds: Vec<Provider> = auto.iter().map(|c| c[0].kind).collect();
        assert_eq!(kinds, [Provider::TensorRt, Provider::Cuda, Provider::Cpu]);
    }
}
