//! Limited-memory BFGS, the native backend's optimiser.

use std::collections::VecDeque;

use super::FitInfo;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(super) fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Limited-memory BFGS with an Armijo backtracking line search (quadratic interpolation).
///
/// Stops when `max |g| <= tol`, when the relative decrease of `f` drops below `64 * eps`
/// (scikit-learn's `ftol`), when the line search cannot decrease `f` even along the steepest
/// descent direction (precision limit), or after `max_iter` iterations.
pub(super) fn lbfgs(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    mut x: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> (Vec<f64>, FitInfo) {
    const M: usize = 10;
    const C1: f64 = 1e-4;
    const MAX_LS: usize = 30;
    let ftol = 64.0 * f64::EPSILON;
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut evaluations = 1;
    let mut mem: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(M);
    let mut iterations = 0;
    let mut converged = max_abs(&g) <= tol;
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = [0.0; M];
    while !converged && iterations < max_iter {
        // Two-loop recursion: d = -H g.
        d.copy_from_slice(&g);
        for (i, (s, y, rho)) in mem.iter().enumerate().rev() {
            alpha[i] = rho * dot(s, &d);
            d.iter_mut().zip(y).for_each(|(q, yv)| *q -= alpha[i] * yv);
        }
        if let Some((s, y, _)) = mem.back() {
            let gamma = dot(s, y) / dot(y, y);
            d.iter_mut().for_each(|q| *q *= gamma);
        }
        for (i, (s, y, rho)) in mem.iter().enumerate() {
            let beta = rho * dot(y, &d);
            d.iter_mut()
                .zip(s)
                .for_each(|(r, sv)| *r += (alpha[i] - beta) * sv);
        }
        d.iter_mut().for_each(|v| *v = -*v);
        let mut gd = dot(&g, &d);
        if gd >= 0.0 || !gd.is_finite() {
            mem.clear();
            d.iter_mut().zip(&g).for_each(|(dv, gv)| *dv = -gv);
            gd = -dot(&g, &g);
        }
        let mut t = if mem.is_empty() {
            (1.0 / dot(&g, &g).sqrt()).min(1.0)
        } else {
            1.0
        };
        let mut accepted = false;
        for _ in 0..MAX_LS {
            x_new
                .iter_mut()
                .zip(&x)
                .zip(&d)
                .for_each(|((xn, xv), dv)| *xn = xv + t * dv);
            let f_new = f(&x_new, &mut g_new);
            evaluations += 1;
            if f_new.is_finite() && f_new <= fx + C1 * t * gd {
                accepted = true;
                iterations += 1;
                let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
                let yv: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
                let sy = dot(&s, &yv);
                if sy > 1e-12 * dot(&yv, &yv) && sy > 0.0 {
                    if mem.len() == M {
                        mem.pop_front();
                    }
                    mem.push_back((s, yv, 1.0 / sy));
                }
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                let f_prev = fx;
                fx = f_new;
                if max_abs(&g) <= tol || (f_prev - fx) <= ftol * f_prev.abs().max(fx.abs()).max(1.0)
                {
                    converged = true;
                }
                break;
            }
            // Minimiser of the quadratic through f(0), f'(0) and f(t), kept in [0.1t, 0.5t].
            let denom = 2.0 * (f_new - fx - gd * t);
            let t_q = -gd * t * t / denom;
            t = if t_q.is_finite() && denom > 0.0 {
                t_q.clamp(0.1 * t, 0.5 * t)
            } else {
                0.5 * t
            };
        }
        if !accepted {
            if mem.is_empty() {
                break; // no decrease even along -g: precision limit
            }
            mem.clear();
        }
    }
    let grad_max = max_abs(&g);
    (
        x,
        FitInfo {
            iterations,
            evaluations,
            converged: converged || grad_max <= tol,
            grad_max,
            objective: fx,
            seconds: 0.0,
        },
    )
}
