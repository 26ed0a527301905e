//! Serde representation of dense `f32` matrices as `{ "rows", "cols", "data" }` (row-major).
//!
//! Used with `#[serde(with = "crate::matrix")]`; the shape is checked on load.

use ndarray::Array2;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
struct Repr {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

/// Serialises an `Array2<f32>` as rows, cols and row-major data.
pub fn serialize<S: Serializer>(m: &Array2<f32>, s: S) -> Result<S::Ok, S::Error> {
    Repr {
        rows: m.nrows(),
        cols: m.ncols(),
        data: m.iter().copied().collect(),
    }
    .serialize(s)
}

/// Deserialises and shape-checks an `Array2<f32>`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Array2<f32>, D::Error> {
    let r = Repr::deserialize(d)?;
    if r.data.iter().any(|v| !v.is_finite()) {
        return Err(serde::de::Error::custom(
            "matrix contains non-finite values",
        ));
    }
    Array2::from_shape_vec((r.rows, r.cols), r.data).map_err(|_| {
        serde::de::Error::custom(format!(
            "matrix data length does not match its shape {}x{}",
            r.rows, r.cols
        ))
    })
}
