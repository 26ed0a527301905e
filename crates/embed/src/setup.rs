//! What `graft setup`, `graft doctor` and `graft models list` report: the runtime
//! installed, which providers load, and the state of every built-in model.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::device::Provider;
use crate::error::Result;
use crate::manifest::{builtin_names, ModelManifest};
use crate::record::verify_recorded;
use crate::runtime::{self, CPU_BUILD, GPU_BUILD};
use crate::GraftHome;

/// Models the demo and the tests need; `graft doctor` fails without them.
pub const REQUIRED_MODELS: [&str; 2] = ["efficientnet-lite0", "all-minilm-l6-v2"];

/// What `graft setup` installed.
#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    /// The ONNX Runtime version.
    pub version: &'static str,
    /// The CPU library.
    pub cpu: PathBuf,
    /// The GPU build, when asked for.
    pub gpu: Option<GpuRuntime>,
    /// Graft's home.
    pub home: PathBuf,
}

/// The GPU build of ONNX Runtime and the CUDA libraries its providers need.
#[derive(Debug, Clone, Serialize)]
pub struct GpuRuntime {
    /// The library.
    pub library: PathBuf,
    /// Each CUDA library it needs, and where it was found (if at all).
    pub cuda_libraries: Vec<(String, Option<String>)>,
}

/// Installs ONNX Runtime (the CPU build, and with `gpu` the GPU build) into `home`.
pub fn install_runtime(home: &GraftHome, gpu: bool) -> Result<SetupReport> {
    let cpu = runtime::install(home, &CPU_BUILD)?;
    let gpu = if gpu {
        let library = runtime::install(home, &GPU_BUILD)?;
        let cuda_libraries = runtime::gpu_library_report(&library);
        Some(GpuRuntime {
            library,
            cuda_libraries,
        })
    } else {
        None
    };
    Ok(SetupReport {
        version: runtime::ORT_VERSION,
        cpu,
        gpu,
        home: home.root().to_path_buf(),
    })
}

/// The state of one built-in model in a home.
#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    /// Its manifest.
    #[serde(skip)]
    pub manifest: ModelManifest,
    /// Fetched (built-in) or added; its files check out unless `problem` says otherwise.
    pub fetched: bool,
    /// Why a fetched model is not usable.
    pub problem: Option<String>,
    /// The demo and tests need it.
    pub required: bool,
}

/// Every built-in model, then every model added to `home`, with whether it is fetched
/// and usable.
pub fn models_status(home: &GraftHome) -> Result<Vec<ModelStatus>> {
    let mut all = Vec::new();
    for name in builtin_names() {
        let manifest = ModelManifest::builtin(name)?;
        let fetched = manifest.model_dir(home).join("fetched.json").is_file();
        all.push((manifest, fetched, REQUIRED_MODELS.contains(&name)));
    }
    for manifest in ModelManifest::added(home)? {
        all.push((manifest, true, false));
    }
    Ok(all
        .into_iter()
        .map(|(manifest, fetched, required)| {
            let problem = fetched
                .then(|| verify_recorded(&manifest, &manifest.model_dir(home)).err())
                .flatten()
                .map(|e| e.to_string());
            ModelStatus {
                manifest,
                fetched,
                problem,
                required,
            }
        })
        .collect())
}

/// What `graft doctor` found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// Graft's home.
    pub home: PathBuf,
    /// The ONNX Runtime library loaded, with its build description.
    pub runtime: Option<(PathBuf, String)>,
    /// Each execution provider: `loads`, or why not.
    pub providers: Vec<(Provider, String)>,
    /// Every built-in model.
    pub models: Vec<ModelStatus>,
    /// What must be fixed (empty: all is well).
    pub problems: Vec<String>,
}

/// Checks the runtime (from `ort_lib`, `ORT_DYLIB_PATH` or the home), which providers
/// load, and every built-in model; required models that are missing are problems.
pub fn doctor(home: &GraftHome, ort_lib: Option<&Path>) -> Result<DoctorReport> {
    let mut report = DoctorReport {
        home: home.root().to_path_buf(),
        runtime: None,
        providers: Vec::new(),
        models: models_status(home)?,
        problems: Vec::new(),
    };
    match runtime::locate(ort_lib, home, true).and_then(|lib| {
        let env = runtime::environment(&lib)?;
        Ok((lib, env))
    }) {
        Ok((lib, env)) => {
            report.runtime = Some((lib, runtime::build_info()));
            report.providers = runtime::provider_status(&env);
        }
        Err(e) => report.problems.push(e.to_string()),
    }
    for m in &report.models {
        if let Some(p) = &m.problem {
            report.problems.push(p.clone());
        } else if m.required && !m.fetched {
            report.problems.push(format!(
                "required model {} is not fetched: run `graft models fetch {}`",
                m.manifest.name, m.manifest.name
            ));
        }
    }
    Ok(report)
}
