//! SGD and AdamW with one parameter group per block and state that can be checkpointed.
//!
//! The update rules are PyTorch's (`torch.optim.SGD` with dampening 0, `torch.optim.AdamW`).
//! Parameters without a gradient (frozen blocks) are skipped entirely, weight decay included.
//! The state lives in plain tensors so a trial can be resumed bit-for-bit from a checkpoint.

use crate::spec::Optimizer;
use anyhow::{bail, Result};
use std::collections::HashMap;
#[cfg(test)]
use tch::Kind;
use tch::Tensor;

/// Adam's ε.
const ADAM_EPS: f64 = 1e-8;

/// Per-parameter optimizer state.
#[derive(Debug)]
struct ParamState {
    /// SGD momentum buffer, or AdamW's first moment.
    first: Option<Tensor>,
    /// AdamW's second moment.
    second: Option<Tensor>,
    /// Updates applied to this parameter (AdamW bias correction).
    steps: i64,
}

/// An optimizer over parameter groups, each with its own learning rate.
#[derive(Debug)]
pub struct Optim {
    config: Optimizer,
    groups: Vec<Vec<Tensor>>,
    lrs: Vec<f64>,
    state: Vec<Vec<ParamState>>,
}

impl Optim {
    /// An optimizer over `groups` (each a list of parameters) with the given hyperparameters.
    pub fn new(config: &Optimizer, groups: Vec<Vec<Tensor>>) -> Optim {
        let state = groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|_| ParamState {
                        first: None,
                        second: None,
                        steps: 0,
                    })
                    .collect()
            })
            .collect();
        Optim {
            config: config.clone(),
            lrs: vec![0.0; groups.len()],
            groups,
            state,
        }
    }

    /// Sets the learning rate of group `group`.
    pub fn set_lr(&mut self, group: usize, lr: f64) {
        self.lrs[group] = lr;
    }

    /// Zeroes every gradient.
    pub fn zero_grad(&mut self) {
        for p in self.groups.iter_mut().flatten() {
            p.zero_grad();
        }
    }

    /// Applies one update to every parameter that has a gradient.
    pub fn step(&mut self) {
        tch::no_grad(|| {
            for ((params, states), &lr) in
                self.groups.iter_mut().zip(&mut self.state).zip(&self.lrs)
            {
                for (p, st) in params.iter_mut().zip(states) {
                    if !p.requires_grad() {
                        continue;
                    }
                    let grad = p.grad();
                    if !grad.defined() {
                        continue;
                    }
                    update(&self.config, p, &grad, st, lr);
                }
            }
        });
    }

    /// The state as named tensors, for a checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (g, states) in self.state.iter().enumerate() {
            for (i, st) in states.iter().enumerate() {
                let name = format!("optim.{g}.{i}");
                if let Some(t) = &st.first {
                    out.push((format!("{name}.first"), t.shallow_clone()));
                }
                if let Some(t) = &st.second {
                    out.push((format!("{name}.second"), t.shallow_clone()));
                }
                out.push((format!("{name}.steps"), Tensor::from(st.steps)));
            }
        }
        out
    }

    /// Restores the state written by [`Optim::state_tensors`].
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        for (g, (states, params)) in self.state.iter_mut().zip(&self.groups).enumerate() {
            for (i, (st, p)) in states.iter_mut().zip(params).enumerate() {
                let name = format!("optim.{g}.{i}");
                let Some(steps) = tensors.get(&format!("{name}.steps")) else {
                    bail!("the checkpoint has no optimizer state for parameter {name}");
                };
                st.steps = i64::try_from(steps)?;
                let restore = |suffix: &str| {
                    tensors
                        .get(&format!("{name}.{suffix}"))
                        .map(|t| t.to_device(p.device()).to_kind(p.kind()))
                };
                st.first = restore("first");
                st.second = restore("second");
            }
        }
        Ok(())
    }
}

/// One PyTorch-semantics update of `p` with gradient `grad`.
fn update(config: &Optimizer, p: &mut Tensor, grad: &Tensor, st: &mut ParamState, lr: f64) {
    match *config {
        Optimizer::Sgd {
            momentum,
            nesterov,
            weight_decay,
        } => {
            let mut d = if weight_decay != 0.0 {
                grad + &*p * weight_decay
            } else {
                grad.shallow_clone()
            };
            if momentum != 0.0 {
                let buf = match st.first.take() {
                    None => d.detach().copy(),
                    Some(mut buf) => {
                        let _ = buf.g_mul_scalar_(momentum).g_add_(&d);
                        buf
                    }
                };
                d = if nesterov {
                    d + &buf * momentum
                } else {
                    buf.shallow_clone()
                };
                st.first = Some(buf);
            }
            let _ = p.g_add_(&(d * -lr));
        }
        Optimizer::Adamw {
            beta1,
            beta2,
            weight_decay,
        } => {
            st.steps += 1;
            if weight_decay != 0.0 {
                let _ = p.g_mul_scalar_(1.0 - lr * weight_decay);
            }
            let m = st.first.get_or_insert_with(|| p.zeros_like());
            let _ = m.lerp_(grad, 1.0 - beta1);
            let v = st.second.get_or_insert_with(|| p.zeros_like());
            let _ = v
                .g_mul_scalar_(beta2)
                .addcmul_(&(grad * (1.0 - beta2)), grad);
            let bias1 = 1.0 - beta1.powi(st.steps as i32);
            let bias2 = 1.0 - beta2.powi(st.steps as i32);
            let denom = (&*v / bias2).sqrt() + ADAM_EPS;
            let _ = p.addcdiv_(&(&*m * (-lr / bias1)), &denom);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
    }

    /// Runs `steps` updates of a 3-element parameter on the loss sum(w²·c) and returns it.
    fn run(config: &Optimizer, lr: f64, steps: usize) -> Vec<f64> {
        let w = Tensor::from_slice(&[1.0f32, -2.0, 0.5]).set_requires_grad(true);
        let c = Tensor::from_slice(&[1.0f32, 0.5, 3.0]);
        let mut opt = Optim::new(config, vec![vec![w.shallow_clone()]]);
        opt.set_lr(0, lr);
        for _ in 0..steps {
            opt.zero_grad();
            (&w * &w * &c).sum(Kind::Float).backward();
            opt.step();
        }
        values(&w)
    }

    fn close(a: &[f64], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn sgd_with_momentum_matches_the_pytorch_recurrence() {
        // torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01), 3 steps, by hand:
        let (lr, m, wd) = (0.1, 0.9, 0.01);
        let mut w = [1.0f64, -2.0, 0.5];
        let c = [1.0, 0.5, 3.0];
        let mut buf = [0.0f64; 3];
        for step in 0..3 {
            for i in 0..3 {
                let g = 2.0 * w[i] * c[i] + wd * w[i];
                buf[i] = if step == 0 { g } else { m * buf[i] + g };
                w[i] -= lr * buf[i];
            }
        }
        let config = Optimizer::Sgd {
            momentum: m,
            nesterov: false,
            weight_decay: wd,
        };
        close(&run(&config, lr, 3), &w);
    }

    #[test]
    fn adamw_matches_the_pytorch_recurrence() {
        let (lr, b1, b2, wd) = (0.01, 0.9, 0.999, 0.1);
        let mut w = [1.0f64, -2.0, 0.5];
        let c = [1.0, 0.5, 3.0];
        let (mut m, mut v) = ([0.0f64; 3], [0.0f64; 3]);
        for t in 1..=4 {
            for i in 0..3 {
                let g = 2.0 * w[i] * c[i];
                w[i] *= 1.0 - lr * wd;
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                let mh = m[i] / (1.0 - b1.powi(t));
                let vh = v[i] / (1.0 - b2.powi(t));
                w[i] -= lr * mh / (vh.sqrt() + ADAM_EPS);
            }
        }
        let config = Optimizer::Adamw {
            beta1: b1,
            beta2: b2,
            weight_decay: wd,
        };
        close(&run(&config, lr, 4), &w);
    }

    #[test]
    fn parameters_without_gradient_are_not_touched_not_even_by_weight_decay() {
        let frozen = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(false);
        let live = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        let config = Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.5,
        };
        let mut opt = Optim::new(
            &config,
            vec![vec![frozen.shallow_clone()], vec![live.shallow_clone()]],
        );
        opt.set_lr(0, 0.1);
        opt.set_lr(1, 0.1);
        opt.zero_grad();
        (&live * 2.0).sum(Kind::Float).backward();
        opt.step();
        assert_eq!(values(&frozen), vec![1.0, 2.0]);
        assert_ne!(values(&live), vec![1.0, 2.0]);
    }

    #[test]
    fn state_round_trips_through_named_tensors() {
        let config = Optimizer::Adamw {
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 0.0,
        };
        let w = Tensor::from_slice(&[1.0f32, -1.0]).set_requires_grad(true);
        let mut a = Optim::new(&config, vec![vec![w.shallow_clone()]]);
        a.set_lr(0, 0.1);
        a.zero_grad();
        (&w * &w).sum(Kind::Float).backward();
        a.step();
        let saved: HashMap<_, _> = a.state_tensors().into_iter().collect();
        let mut b = Optim::new(&config, vec![vec![w.shallow_clone()]]);
        b.load_state(&saved).unwrap();
        assert_eq!(b.state[0][0].steps, 1);
        assert!(b.state[0][0]
            .first
            .as_ref()
            .unwrap()
            .equal(a.state[0][0].first.as_ref().unwrap()));
    }
}
