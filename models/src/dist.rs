//! Service-time (and other duration) distributions, sampled in nanoseconds.

use rand::RngExt;
use rand_distr::{Distribution, Exp1, StandardNormal};
use sim_core::{SimDuration, SimRng};

/// A distribution of non-negative durations. Parameters are validated by the scenario layer
/// (finite, positive where required) before one of these is built.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    Exponential {
        mean_ns: f64,
    },
    Constant {
        ns: u64,
    },
    Uniform {
        lo_ns: f64,
        hi_ns: f64,
    },
    /// `exp(N(mu, sigma²))` nanoseconds.
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    /// Pareto type I: `scale / U^(1/shape)`, support `[scale, ∞)`.
    Pareto {
        scale_ns: f64,
        shape: f64,
    },
    /// Uniform choice from a list of observed values.
    Empirical {
        values_ns: Box<[u64]>,
    },
}

impl Dist {
    /// A lognormal with the given mean and coefficient of variation (σ/μ of the variable itself).
    pub fn lognormal_from_mean_cv(mean_ns: f64, cv: f64) -> Dist {
        let sigma2 = (1.0 + cv * cv).ln();
        Dist::LogNormal {
            mu: mean_ns.ln() - sigma2 / 2.0,
            sigma: sigma2.sqrt(),
        }
    }

    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        let ns = match self {
            Dist::Exponential { mean_ns } => {
                let e: f64 = Exp1.sample(rng);
                e * mean_ns
            }
            Dist::Constant { ns } => return SimDuration(*ns),
            Dist::Uniform { lo_ns, hi_ns } => {
                let u: f64 = rng.random();
                lo_ns + (hi_ns - lo_ns) * u
            }
            Dist::LogNormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Dist::Pareto { scale_ns, shape } => {
                // 1 - U lies in (0, 1], so the power is finite.
                let u: f64 = 1.0 - rng.random::<f64>();
                scale_ns / u.powf(1.0 / shape)
            }
            Dist::Empirical { values_ns } => {
                let i = rng.random_range(0..values_ns.len());
                return SimDuration(values_ns[i]);
            }
        };
        SimDuration::from_nanos_f64(ns)
    }

    /// The distribution's mean in nanoseconds (`∞` for Pareto with shape ≤ 1).
    pub fn mean_ns(&self) -> f64 {
        match self {
            Dist::Exponential { mean_ns } => *mean_ns,
            Dist::Constant { ns } => *ns as f64,
            Dist::Uniform { lo_ns, hi_ns } => (lo_ns + hi_ns) / 2.0,
            Dist::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Pareto { scale_ns, shape } => {
                if *shape <= 1.0 {
                    f64::INFINITY
                } else {
                    shape * scale_ns / (shape - 1.0)
                }
            }
            Dist::Empirical { values_ns } => {
                values_ns.iter().map(|&v| v as f64).sum::<f64>() / values_ns.len() as f64
            }
        }
    }

    /// The second moment `E[S²]` in ns² (`∞` for Pareto with shape ≤ 2).
    pub fn second_moment_ns2(&self) -> f64 {
        match self {
            Dist::Exponential { mean_ns } => 2.0 * mean_ns * mean_ns,
            Dist::Constant { ns } => (*ns as f64).powi(2),
            Dist::Uniform { lo_ns, hi_ns } => (lo_ns * lo_ns + lo_ns * hi_ns + hi_ns * hi_ns) / 3.0,
            Dist::LogNormal { mu, sigma } => (2.0 * mu + 2.0 * sigma * sigma).exp(),
            Dist::Pareto { scale_ns, shape } => {
                if *shape <= 2.0 {
                    f64::INFINITY
                } else {
                    shape * scale_ns * scale_ns / (shape - 2.0)
                }
            }
            Dist::Empirical { values_ns } => {
                values_ns.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / values_ns.len() as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::stream;

    /// Sample means agree with the closed-form means within 5 standard errors.
    #[test]
    fn sample_means_match_closed_forms() {
        let dists = [
            Dist::Exponential { mean_ns: 1e7 },
            Dist::Constant { ns: 5_000_000 },
            Dist::Uniform {
                lo_ns: 1e6,
                hi_ns: 3e6,
            },
            Dist::lognormal_from_mean_cv(1e7, 1.5),
            Dist::Pareto {
                scale_ns: 1e6,
                shape: 5.0,
            },
            Dist::Empirical {
                values_ns: vec![1_000, 2_000, 9_000].into_boxed_slice(),
            },
        ];
        for (k, d) in dists.iter().enumerate() {
            let mut rng = stream(k as u64, "test/dist");
            let n = 400_000;
            let xs: Vec<f64> = (0..n)
                .map(|_| d.sample(&mut rng).as_nanos() as f64)
                .collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let se = (var / n as f64).sqrt().max(1.0);
            let m = d.mean_ns();
            assert!(
                (mean - m).abs() <= 5.0 * se + 1.0,
                "{d:?}: sample mean {mean}, theory {m}, se {se}"
            );
            let m2 = xs.iter().map(|x| x * x).sum::<f64>() / n as f64;
            let rel = (m2 - d.second_moment_ns2()).abs() / d.second_moment_ns2();
            assert!(
                rel < 0.1,
                "{d:?}: second moment {m2} vs {}",
                d.second_moment_ns2()
            );
        }
    }
}
