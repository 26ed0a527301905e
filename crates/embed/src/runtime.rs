//! Getting and loading the ONNX Runtime shared library.
//!
//! `ort` is built with `load-dynamic`, so nothing is downloaded at build time.
//! `graft setup` fetches the official `onnxruntime` wheel with pip, checks its
//! SHA-256, and unpacks the C library into `GRAFT_HOME/runtime/`. At run time the
//! library is taken from `--ort-lib`, then `ORT_DYLIB_PATH`, then the cache.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::device::Provider;
use crate::download::{pip_download, sha256_file, unzip_members};
use crate::error::{io_err, EmbedError, Result};
use crate::GraftHome;

/// The ONNX Runtime version Graft installs and is tested with.
pub const ORT_VERSION: &str = "1.31.1";

/// One installable ONNX Runtime build: a PyPI wheel holding the C library.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeBuild {
    /// `cpu` or `gpu`: the directory name under `runtime/`.
    pub flavour: &'static str,
    /// The PyPI package.
    pub package: &'static str,
    /// SHA-256 of the manylinux x86_64 wheel.
    pub wheel_sha256: &'static str,
    /// SHA-256 of `libonnxruntime.so.<version>` inside it.
    pub library_sha256: &'static str,
}

/// The CPU build (`onnxruntime` wheel).
pub const CPU_BUILD: RuntimeBuild = RuntimeBuild {
    flavour: "cpu",
    package: "onnxruntime",
    wheel_sha256: "1f3dea47f2f0e5117c2404cea7d21fd253ae7836a3bf167a501cdfbb2600d536",
    library_sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
};

/// The GPU build (`onnxruntime-gpu` wheel: CUDA 13, cuDNN 9 and TensorRT providers).
pub const GPU_BUILD: RuntimeBuild = RuntimeBuild {
    flavour: "gpu",
    package: "onnxruntime-gpu",
    wheel_sha256: GPU_WHEEL_SHA256,
    library_sha256: GPU_LIBRARY_SHA256,
};

const GPU_WHEEL_SHA256: &str = "05d548956197b9d01f59b625de740e0d6be3593f874e241a12dc0362650ecdf7";
const GPU_LIBRARY_SHA256: &str = "5104254339ecadae808da771bd0b63b240f0dbd466514234905e54372435c303";

/// File name of the C library inside a runtime directory.
pub fn library_name() -> String {
    format!("libonnxruntime.so.{ORT_VERSION}")
}

/// Installs `build` into the Graft home (idempotent) and returns the library path.
pub fn install(home: &GraftHome, build: &RuntimeBuild) -> Result<PathBuf> {
    let dir = home.runtime_dir(build.flavour, ORT_VERSION);
    let lib = dir.join(library_name());
    if lib.is_file() && sha256_file(&lib)? == build.library_sha256 {
        return Ok(lib);
    }
    let wheel = pip_download(home, build.package, ORT_VERSION, build.wheel_sha256, true)?;
    let staging = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
    unzip_members(&wheel, &staging, |name| {
        name.starts_with("onnxruntime/capi/lib") && name.contains(".so")
    })?;
    let staged = staging.join(library_name());
    let actual = sha256_file(&staged)?;
    if actual != build.library_sha256 {
        return Err(EmbedError::Integrity {
            path: staged,
            model: "onnxruntime".into(),
            check: "sha256".into(),
            detail: format!("expected {}, found {actual}", build.library_sha256),
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).map_err(io_err(&dir))?;
    Ok(lib)
}

/// Finds the library to load: `explicit` (`--ort-lib`), `ORT_DYLIB_PATH`, then
/// the cache (the GPU build first when `prefer_gpu`, else the CPU build first).
pub fn locate(explicit: Option<&Path>, home: &GraftHome, prefer_gpu: bool) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return existing(p, "--ort-lib");
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        return existing(Path::new(&p), "ORT_DYLIB_PATH");
    }
    let mut order = [CPU_BUILD.flavour, GPU_BUILD.flavour];
    if prefer_gpu {
        order.reverse();
    }
    let candidates: Vec<PathBuf> = order
        .iter()
        .map(|f| home.runtime_dir(f, ORT_VERSION).join(library_name()))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| EmbedError::RuntimeMissing {
            looked: format!(
                "--ort-lib, ORT_DYLIB_PATH, {}",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

fn existing(path: &Path, source: &str) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(EmbedError::RuntimeLoad {
            path: path.to_path_buf(),
            reason: format!("given by {source}, but no such file"),
        })
    }
}

static LOADED: OnceLock<(PathBuf, ort::environment::Environment)> = OnceLock::new();

/// Loads the library at `path` (once per process) and returns the ONNX Runtime environment.
pub fn environment(path: &Path) -> Result<ort::environment::Environment> {
    if let Some((loaded, env)) = LOADED.get() {
        if loaded != path {
            return Err(EmbedError::RuntimeLoad {
                path: path.to_path_buf(),
                reason: format!("{} is already loaded in this process", loaded.display()),
            });
        }
        return Ok(env.clone());
    }
    let load_err = |reason: String| EmbedError::RuntimeLoad {
        path: path.to_path_buf(),
        reason,
    };
    let builder = ort::init_from(path).map_err(|e| load_err(e.to_string()))?;
    let env = builder
        .with_name("graft")
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    let (_, env) = LOADED.get_or_init(|| (path.to_path_buf(), env));
    Ok(env.clone())
}

/// The version line of the loaded library (after [`environment`]).
pub fn build_info() -> String {
    ort::info().to_string()
}

/// The shared libraries the CUDA provider next to `lib` needs, each with where
/// it was found (`None` = missing), as the system's dynamic loader sees them.
pub fn gpu_library_report(lib: &Path) -> Vec<(String, Option<String>)> {
    let provider = lib.with_file_name("libonnxruntime_providers_cuda.so");
    let out = match std::process::Command::new("ldd").arg(&provider).output() {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => {
            return vec![(
                format!("ldd {}", provider.display()),
                Some(format!("could not run: {e}")),
            )]
        }
    };
    out.lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().split_once("=>")?;
            let name = name.trim();
            let wanted = [
                "libcudart",
                "libcublas",
                "libcudnn",
                "libcufft",
                "libcurand",
                "libnvrtc",
            ];
            if !wanted.iter().any(|w| name.starts_with(w)) {
                return None;
            }
            let rest = rest.trim();
            let found = (!rest.starts_with("not found"))
                .then(|| rest.split(" (").next().unwrap_or(rest).to_string());
            Some((name.to_string(), found))
        })
        .collect()
}

/// Whether each execution provider actually loads in this process:
/// `loads`, or why not.
pub fn provider_status(env: &ort::environment::Environment) -> Vec<(Provider, String)> {
    let mut out = vec![(Provider::Cpu, "loads".to_string())];
    for kind in [Provider::Cuda, Provider::TensorRt] {
        let plan = crate::device::ProviderPlan {
            kind,
            options: vec![("device_id".into(), "0".into())],
        };
        if !crate::device::compiled_in(kind) {
            out.push((
                kind,
                "not in this ONNX Runtime build (`graft setup --gpu`)".into(),
            ));
            continue;
        }
        let status = ort::session::Session::builder(env)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                b.with_execution_providers(crate::device::dispatches(std::slice::from_ref(&plan)))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        out.push((
            kind,
            status.map_or_else(|e| format!("does not load: {e}"), |_| "loads".into()),
        ));
    }
    out
}
