//! Turning raw inputs into model tensors, exactly as a manifest says.

pub mod image;
pub mod text;

pub use self::image::ImagePreprocessor;
pub use self::text::{TextBatch, TextPreprocessor};
