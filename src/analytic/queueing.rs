//! The queueing and probability formulas the fluid model is made of: the normal tail, Erlang C
//! and its waiting-time tail, survival functions of the service-time distributions, and the
//! probability that an attempt's response time (wait + service) exceeds its timeout.
//!
//! Every function is pure and total on validated parameters (finite, positive where the
//! scenario layer requires it).

use models::Dist;

/// `erfc(x)` to about 1.2e-7 relative accuracy (Numerical Recipes' Chebyshev fit, §6.2).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Standard normal CDF `Φ(x)`.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// `P(S > x)` for a service-time distribution, `x` in seconds.
pub fn survival(d: &Dist, x_s: f64) -> f64 {
    if x_s < 0.0 {
        return 1.0;
    }
    let x = x_s * 1e9;
    match d {
        Dist::Exponential { mean_ns } => (-x / mean_ns).exp(),
        Dist::Constant { ns } => {
            if (*ns as f64) > x {
                1.0
            } else {
                0.0
            }
        }
        Dist::Uniform { lo_ns, hi_ns } => {
            if x < *lo_ns {
                1.0
            } else if x >= *hi_ns {
                0.0
            } else {
                (hi_ns - x) / (hi_ns - lo_ns).max(f64::MIN_POSITIVE)
            }
        }
        Dist::LogNormal { mu, sigma } => {
            if x <= 0.0 {
                1.0
            } else {
                1.0 - normal_cdf((x.ln() - mu) / sigma.max(1e-12))
            }
        }
        Dist::Pareto { scale_ns, shape } => {
            if x <= *scale_ns {
                1.0
            } else {
                (scale_ns / x).powf(*shape)
            }
        }
        Dist::Empirical { values_ns } => {
            let above = values_ns.iter().filter(|&&v| v as f64 > x).count();
            above as f64 / values_ns.len().max(1) as f64
        }
    }
}

/// The distribution of `f · S` (a slowdown by factor `f`).
pub fn scaled(d: &Dist, f: f64) -> Dist {
    if f == 1.0 {
        return d.clone();
    }
    match d {
        Dist::Exponential { mean_ns } => Dist::Exponential {
            mean_ns: mean_ns * f,
        },
        Dist::Constant { ns } => Dist::Constant {
            ns: (*ns as f64 * f).round() as u64,
        },
        Dist::Uniform { lo_ns, hi_ns } => Dist::Uniform {
            lo_ns: lo_ns * f,
            hi_ns: hi_ns * f,
        },
        Dist::LogNormal { mu, sigma } => Dist::LogNormal {
            mu: mu + f.ln(),
            sigma: *sigma,
        },
        Dist::Pareto { scale_ns, shape } => Dist::Pareto {
            scale_ns: scale_ns * f,
            shape: *shape,
        },
        Dist::Empirical { values_ns } => Dist::Empirical {
            values_ns: values_ns
                .iter()
                .map(|&v| (v as f64 * f).round() as u64)
                .collect(),
        },
    }
}

/// Mean of a distribution in seconds.
pub fn mean_s(d: &Dist) -> f64 {
    d.mean_ns() / 1e9
}

/// Squared coefficient of variation `Var S / (E S)²` (∞ for an infinite second moment).
pub fn scv(d: &Dist) -> f64 {
    let m = d.mean_ns();
    (d.second_moment_ns2() / (m * m) - 1.0).max(0.0)
}

/// Erlang C: probability that an arrival waits in an M/M/c queue with offered load `a = λ/μ₁`
/// (`a < c`), computed by the stable Erlang B recursion.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    let cf = c as f64;
    if a >= cf {
        return 1.0;
    }
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    let rho = a / cf;
    b / (1.0 - rho + rho * b)
}

/// The stationary waiting time of the healthy queue: `0` with probability `1 − pw`, else
/// exponential with rate `theta` (M/M/c exactly; for other service times the Allen–Cunneen
/// correction scales the mean wait by `(1 + c_s²)/2`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Wait {
    pub pw: f64,
    pub theta: f64,
}

impl Wait {
    /// The wait at arrival rate `lambda` (per s) into `c` servers of mean service `mean_s`;
    /// `None` if the load is at or above capacity.
    pub fn stationary(lambda: f64, c: u32, mean_s: f64, scv: f64) -> Option<Wait> {
        let mu = c as f64 / mean_s;
        if lambda >= mu || !lambda.is_finite() {
            return None;
        }
        let pw = erlang_c(c, lambda * mean_s);
        let ac = ((1.0 + scv.min(1e6)) / 2.0).max(1e-3);
        Some(Wait {
            pw,
            theta: (mu - lambda) / ac,
        })
    }

    pub fn mean_s(&self) -> f64 {
        self.pw / self.theta
    }
}

/// `P(W + S > t)` for the stationary wait `w` and service `s` (independent).
pub fn late_stationary(w: Wait, s: &Dist, t: f64) -> f64 {
    let no_wait = (1.0 - w.pw) * survival(s, t);
    let th = w.theta;
    let waited = match s {
        Dist::Exponential { mean_ns } => {
            let nu = 1e9 / mean_ns;
            if (th - nu).abs() < 1e-9 * nu {
                (1.0 + nu * t) * (-nu * t).exp()
            } else {
                (th * (-nu * t).exp() - nu * (-th * t).exp()) / (th - nu)
            }
        }
        _ => {
            // P(E + S > t) = e^{−θt} + ∫₀ᵗ θe^{−θx} P(S > t − x) dx, Simpson on 256 panels.
            let n = 256;
            let h = t / n as f64;
            let f = |x: f64| th * (-th * x).exp() * survival(s, t - x);
            let mut acc = f(0.0) + f(t);
            for i in 1..n {
                let x = i as f64 * h;
                acc += if i % 2 == 1 { 4.0 } else { 2.0 } * f(x);
            }
            (-th * t).exp() + acc * h / 3.0
        }
    };
    (no_wait + w.pw * waited).clamp(0.0, 1.0)
}

/// Gauss–Hermite nodes and weights (probabilists', normalised to sum 1) for `E f(Z)`,
/// `Z ~ N(0, 1)`, 10 points.
const GH: [(f64, f64); 10] = [
    (-4.859_462_828_332_312, 4.310_652_630_718_29e-6),
    (-3.581_823_483_551_927, 7.580_709_343_122_18e-4),
    (-2.484_325_841_638_955, 1.911_158_050_077_03e-2),
    (-1.465_989_094_391_158, 1.354_837_029_802_68e-1),
    (-0.484_935_707_515_498, 3.446_423_349_320_19e-1),
    (0.484_935_707_515_498, 3.446_423_349_320_19e-1),
    (1.465_989_094_391_158, 1.354_837_029_802_68e-1),
    (2.484_325_841_638_955, 1.911_158_050_077_03e-2),
    (3.581_823_483_551_927, 7.580_709_343_122_18e-4),
    (4.859_462_828_332_312, 4.310_652_630_718_29e-6),
];

/// `P(X + S > t)` where `X ~ N(m, sd²)` (truncated at 0) is the wait behind a fluid backlog and
/// `S` the service time. Exact (exponentially modified Gaussian) for exponential service,
/// 10-point Gauss–Hermite otherwise.
pub fn late_behind(m: f64, sd: f64, s: &Dist, t: f64) -> f64 {
    if sd <= 1e-12 {
        return survival(s, t - m.max(0.0));
    }
    if let Dist::Exponential { mean_ns } = s {
        let nu = 1e9 / mean_ns;
        let z = (t - m) / sd;
        let tail = 1.0 - normal_cdf(z);
        let log_term = -nu * (t - m) + 0.5 * nu * nu * sd * sd;
        let body = if log_term > 700.0 {
            // The exponential tail dominates: the attempt is late.
            return 1.0;
        } else {
            log_term.exp() * normal_cdf(z - nu * sd)
        };
        return (tail + body).clamp(0.0, 1.0);
    }
    GH.iter()
        .map(|&(z, w)| w * survival(s, t - (m + sd * z).max(0.0)))
        .sum::<f64>()
        .clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        // erfc(0) = 1, erfc(1) = 0.157299207, erfc(-1) = 1.842700793, erfc(2) = 0.004677735.
        for (x, v) in [
            (0.0, 1.0),
            (1.0, 0.157_299_207),
            (-1.0, 1.842_700_793),
            (2.0, 0.004_677_735),
        ] {
            assert!((erfc(x) - v).abs() < 2e-7, "erfc({x}) = {} vs {v}", erfc(x));
        }
    }

    #[test]
    fn erlang_c_matches_the_textbook_m_m_4() {
        // M/M/4 at ρ = 0.75 (a = 3): C = 0.5094 (mean wait 5.094 ms at 10 ms service, as
        // tests/theory.rs pins against the simulator).
        let c = erlang_c(4, 3.0);
        assert!((c - 0.509_434).abs() < 1e-5, "C = {c}");
        let w = Wait::stationary(300.0, 4, 0.01, 1.0).expect("below capacity");
        assert!((w.mean_s() - 0.005_094_34).abs() < 1e-7, "{}", w.mean_s());
    }

    #[test]
    fn late_probability_is_exact_for_exponential_and_agrees_with_quadrature() {
        let w = Wait::stationary(250.0, 30, 0.1, 1.0).expect("below capacity");
        let exp = Dist::Exponential { mean_ns: 1e8 };
        let closed = late_stationary(w, &exp, 1.0);
        // The same through the quadrature path (an empirical-free lognormal with cv → the
        // exponential is not available; use the identity for a tiny-theta check instead):
        let n = 200_000;
        let mut acc = 0.0;
        // P(W+S>t) by the law of total probability over W, midpoint rule.
        let h = 1.0 / n as f64;
        for i in 0..n {
            let x = (i as f64 + 0.5) * h;
            acc += w.pw * w.theta * (-w.theta * x).exp() * (-(1.0 - x) / 0.1_f64).exp() * h;
        }
        let numeric = (1.0 - w.pw) * (-10.0_f64).exp() + acc + w.pw * (-w.theta).exp();
        assert!((closed - numeric).abs() < 1e-8, "{closed} vs {numeric}");
        // Behind a deterministic backlog of 0.736 s with 100 ms exponential service:
        // P(S > 0.264) = e^{-2.64}.
        let p = late_behind(0.736, 0.0, &exp, 1.0);
        assert!((p - (-2.64_f64).exp()).abs() < 1e-12);
        let noisy = late_behind(0.736, 0.05, &exp, 1.0);
        let gh: f64 = GH
            .iter()
            .map(|&(z, wt)| wt * survival(&exp, 1.0 - (0.736 + 0.05 * z)))
            .sum();
        assert!((noisy - gh).abs() < 1e-3, "{noisy} vs {gh}");
    }

    #[test]
    fn survival_functions_are_right_at_known_points() {
        let ln = Dist::lognormal_from_mean_cv(1e8, 1.0);
        // The median of a lognormal is e^mu: survival 1/2 there.
        if let Dist::LogNormal { mu, .. } = ln {
            assert!((survival(&ln, mu.exp() / 1e9) - 0.5).abs() < 1e-7);
        }
        let par = Dist::Pareto {
            scale_ns: 1e7,
            shape: 2.0,
        };
        assert!((survival(&par, 0.02) - 0.25).abs() < 1e-12);
        let u = Dist::Uniform {
            lo_ns: 0.0,
            hi_ns: 2e8,
        };
        assert!((survival(&u, 0.05) - 0.75).abs() < 1e-12);
    }
}
