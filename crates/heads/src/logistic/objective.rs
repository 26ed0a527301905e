//! The native solver's objective: mean-form weighted multinomial cross-entropy plus L2,
//! with its gradient, evaluated in `f32` or `f64` GEMMs over parallel row blocks.

use ndarray::{s, Array2, ArrayView2, Axis, NdFloat};
use rayon::prelude::*;

/// Element types the native objective can run its GEMMs in.
pub(super) trait Gemm: NdFloat + Send + Sync {
    fn from64(v: f64) -> Self;
    fn to64(self) -> f64;
}

impl Gemm for f32 {
    fn from64(v: f64) -> Self {
        v as f32
    }
    fn to64(self) -> f64 {
        self as f64
    }
}

impl Gemm for f64 {
    fn from64(v: f64) -> Self {
        v
    }
    fn to64(self) -> f64 {
        self
    }
}

/// Mean-form weighted multinomial cross-entropy plus L2, evaluated with its gradient.
pub(super) struct Objective<'a, 'b, F: Gemm> {
    x: ArrayView2<'a, F>,
    y: &'b [usize],
    /// Per-sample weights normalised to sum to 1 (`None`: uniform `1/n`).
    sw: Option<Vec<f64>>,
    k: usize,
    /// `1 / (C * S)`.
    l2: f64,
    /// Row blocks evaluated in parallel.
    blocks: Vec<std::ops::Range<usize>>,
}

impl<'a, 'b, F: Gemm> Objective<'a, 'b, F> {
    pub(super) fn new(
        x: ArrayView2<'a, F>,
        y: &'b [usize],
        k: usize,
        weights: Option<&[f64]>,
        c: f64,
    ) -> Self {
        let n = x.nrows();
        let total: f64 = weights.map_or(n as f64, |w| w.iter().sum());
        let sw = weights.map(|w| w.iter().map(|v| v / total).collect());
        // Parallel row blocks only pay off for large matrices.
        let threads = rayon::current_num_threads().max(1);
        let n_blocks = if n * x.ncols() >= 1 << 18 {
            threads.min(n / 128).max(1)
        } else {
            1
        };
        let step = n.div_ceil(n_blocks);
        let blocks = (0..n_blocks)
            .map(|b| b * step..((b + 1) * step).min(n))
            .filter(|r| !r.is_empty())
            .collect();
        Objective {
            x,
            y,
            sw,
            k,
            l2: 1.0 / (c * total),
            blocks,
        }
    }

    pub(super) fn dim(&self) -> usize {
        (self.x.ncols() + 1) * self.k
    }

    /// Returns the objective and writes its gradient (same layout as `theta`).
    pub(super) fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (d, k) = (self.x.ncols(), self.k);
        let w = Array2::from_shape_fn((d, k), |(j, c)| F::from64(theta[j * k + c]));
        let b = &theta[d * k..];
        let inv_n = 1.0 / self.x.nrows() as f64;
        let block_eval = |r: &std::ops::Range<usize>| {
            let xb = self.x.slice(s![r.clone(), ..]);
            let mut h = xb.dot(&w);
            let mut loss = 0.0f64;
            let mut gb = vec![0.0f64; k];
            let mut z = vec![0.0f64; k];
            for (i, mut row) in h.axis_iter_mut(Axis(0)).enumerate() {
                let gi = r.start + i;
                let yi = self.y[gi];
                let si = self.sw.as_ref().map_or(inv_n, |s| s[gi]);
                let mut m = f64::NEG_INFINITY;
                for c in 0..k {
                    z[c] = row[c].to64() + b[c];
                    m = m.max(z[c]);
                }
                let sum: f64 = z.iter().map(|v| (v - m).exp()).sum();
                let lse = m + sum.ln();
                loss += si * (lse - z[yi]);
                for c in 0..k {
                    let p = (z[c] - lse).exp();
                    let dv = si * (p - if c == yi { 1.0 } else { 0.0 });
                    row[c] = F::from64(dv);
                    gb[c] += dv;
                }
            }
            let gw = xb.t().dot(&h);
            (loss, gw, gb)
        };
        let parts: Vec<_> = if self.blocks.len() > 1 {
            self.blocks.par_iter().map(block_eval).collect()
        } else {
            self.blocks.iter().map(block_eval).collect()
        };
        let mut loss = 0.0;
        grad.iter_mut().for_each(|g| *g = 0.0);
        for (l, gw, gb) in parts {
            loss += l;
            for (g, v) in grad[..d * k].iter_mut().zip(gw.iter()) {
                *g += v.to64();
            }
            for (g, v) in grad[d * k..].iter_mut().zip(&gb) {
                *g += v;
            }
        }
        let mut sq = 0.0;
        for (g, t) in grad[..d * k].iter_mut().zip(&theta[..d * k]) {
            *g += self.l2 * t;
            sq += t * t;
        }
        loss + 0.5 * self.l2 * sq
    }
}
