//! Graft's home: runtime libraries, models, downloads, demo data and runs.
//!
//! `GRAFT_HOME` if set, else `$XDG_CACHE_HOME/graft`, else `~/.cache/graft`.

use std::path::{Path, PathBuf};

/// The root of everything Graft fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraftHome {
    root: PathBuf,
}

impl GraftHome {
    /// Resolves the home from `GRAFT_HOME`, else `$XDG_CACHE_HOME/graft`, else
    /// `~/.cache/graft` (made absolute).
    pub fn from_env() -> Self {
        let root = std::env::var_os("GRAFT_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("graft")))
            .unwrap_or_else(|| PathBuf::from(".graft"));
        // Absolute, so that child processes started elsewhere see the same home.
        let root = match std::env::current_dir() {
            Ok(cwd) if root.is_relative() => cwd.join(root),
            _ => root,
        };
        GraftHome { root }
    }

    /// A home at an explicit path.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        GraftHome { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where ONNX Runtime builds are unpacked: `runtime/<flavour>-<version>/`.
    pub fn runtime_dir(&self, flavour: &str, version: &str) -> PathBuf {
        self.root
            .join("runtime")
            .join(format!("{flavour}-{version}"))
    }

    /// Where a model's files live: `models/<name>/`.
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join("models").join(name)
    }

    /// Where downloaded archives are kept: `downloads/`.
    pub fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }

    /// The Python environment used by export recipes: `venv/`.
    pub fn venv(&self) -> PathBuf {
        self.root.join("venv")
    }

    /// Demo and test data: `data/`.
    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Results of demo and bench runs: `runs/`.
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }
}
