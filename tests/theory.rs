//! Validation against queueing theory: closed-form results for M/M/1, M/M/c, M/D/1, M/G/1,
//! M/M/1/K, M/M/c+M (Erlang A) and Little's law, checked by independent replications.
//!
//! Method (every check). A scenario is built from TOML text in this file and run once per seed
//! in `SEEDS` (n = 20 independent replications; the simulator derives every random stream from
//! the master seed). Each replication yields one estimate `x_i` of the quantity (taken over the
//! summary period, warm-up excluded). With `x̄` and `s` the sample mean and standard deviation of
//! the `x_i`, a check passes when
//!
//! ```text
//! |x̄ − theory| ≤ t_{0.9995, n−1} · s/√n  +  allowance
//! ```
//!
//! i.e. the theory value lies inside the two-sided 99.9 % Student-t confidence interval for the
//! mean, widened by a small allowance for systematic (non-random) bias that the replications
//! cannot see; each check states and justifies its allowance. Replication means are close to
//! normal here (each is an average over ~10⁵ requests), so the t interval is appropriate.
//!
//! Runs are deterministic functions of (scenario, seed): a check that passes once passes
//! always; the 0.1 % level only matters when a scenario or the simulator changes.
//!
//! Theory references: Kleinrock, *Queueing Systems* vol. 1 (1975) — M/M/1 §3.2, M/M/c §3.5
//! (Erlang C), M/M/1/K §3.6, M/G/1 Pollaczek–Khinchine §5.6; Little (1961) for L = λW;
//! M/M/c+M: Palm (1946), in the form of Garnett, Mandelbaum & Reiman, "Designing a call center
//! with impatient customers", MSOM 4(3), 2002 (birth–death chain, abandonment from the queue).
//!
//! To reproduce a failure: `cargo test --test theory <test_name> -- --nocapture`; each failure
//! message also prints the scenario text, which can be saved as `theory/<name>.toml` and run by
//! hand with `metastable run theory/<name>.toml --seed N`.

use metastable::run::metrics::Values;
use metastable::{Scenario, parse, run};

// ---------------------------------------------------------------------------------------------
// Statistics helpers
// ---------------------------------------------------------------------------------------------

/// Seeds of the independent replications (n = 20, so df = 19).
const SEEDS: std::ops::RangeInclusive<u64> = 1..=20;

/// Student-t quantile t_{0.9995, df} (two-sided 99.9 % interval).
///
/// Source: standard t tables (e.g. NIST/SEMATECH e-Handbook of Statistical Methods, §1.3.6.7.2,
/// column 0.9995: df 9 → 4.781, df 19 → 3.883, df 29 → 3.659, df 99 → 3.392), cross-checked
/// when writing this file by numerically integrating the t density (agreement to 4 decimals).
/// For a df between table rows the next *smaller* df is used, which gives a slightly larger,
/// i.e. conservative, quantile.
fn student_t_9995(df: usize) -> f64 {
    const TABLE: &[(usize, f64)] = &[
        (9, 4.781),
        (14, 4.140),
        (19, 3.883),
        (24, 3.745),
        (29, 3.659),
        (39, 3.558),
        (49, 3.500),
        (99, 3.392),
    ];
    assert!(
        df >= TABLE[0].0,
        "student_t_9995: df = {df} is below the table (min {})",
        TABLE[0].0
    );
    TABLE
        .iter()
        .rev()
        .find(|&&(d, _)| d <= df)
        .map(|&(_, t)| t)
        .unwrap()
}

/// Sample mean and standard deviation of per-replication estimates.
#[derive(Clone, Copy, Debug)]
struct Stats {
    n: usize,
    mean: f64,
    sd: f64,
}

impl Stats {
    fn of(xs: &[f64]) -> Stats {
        let n = xs.len();
        assert!(n >= 2, "Stats::of needs at least 2 replications, got {n}");
        assert!(
            xs.iter().all(|x| x.is_finite()),
            "non-finite replication estimate in {xs:?}"
        );
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        Stats {
            n,
            mean,
            sd: var.sqrt(),
        }
    }

    /// Half-width of the two-sided 99.9 % Student-t confidence interval for the mean.
    fn half_width(&self) -> f64 {
        student_t_9995(self.n - 1) * self.sd / (self.n as f64).sqrt()
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios and replications
// ---------------------------------------------------------------------------------------------

/// Name of the service under test in every scenario built here.
const SERVICE: &str = "server";

/// One single-service open system: Poisson source → service → sink.
struct Model {
    /// The `#[test]` function that uses it (for the reproduce hint).
    test: &'static str,
    /// Scenario name; the pseudo-file is `theory/<name>.toml`.
    name: String,
    text: String,
    scenario: Scenario,
}

impl Model {
    /// `service_time` is a TOML inline table, e.g. `{ dist = "exponential", mean_ms = 10.0 }`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        test: &'static str,
        name: &str,
        rate_per_s: f64,
        servers: u32,
        queue_capacity: Option<u32>,
        service_time: &str,
        duration_s: f64,
        warmup_s: f64,
    ) -> Model {
        let capacity = queue_capacity.map_or(String::new(), |k| format!("queue_capacity = {k}\n"));
        let text = format!(
            r#"[scenario]
name = "{name}"
description = "theory check for tests/theory.rs::{test}"
duration_s = {duration_s:?}
warmup_s = {warmup_s:?}
window_ms = 10000.0

[[sources]]
name = "users"
target = "{SERVICE}"
sink = "done"
rate_per_s = {rate_per_s:?}

[[services]]
name = "{SERVICE}"
servers = {servers}
{capacity}service_time = {service_time}

[[sinks]]
name = "done"
"#
        );
        Model::from_text(test, name, text)
    }

    /// A model from its full scenario text (its service must be named [`SERVICE`]).
    fn from_text(test: &'static str, name: &str, text: String) -> Model {
        let file = format!("theory/{name}.toml");
        let scenario = parse(&text, &file)
            .unwrap_or_else(|e| panic!("{test}: scenario does not parse:\n{e}\n{text}"));
        Model {
            test,
            name: name.to_string(),
            text,
            scenario,
        }
    }

    /// Runs every seed and returns the service's summary values, in seed order.
    fn replicate(&self, seeds: &[u64]) -> Vec<Values> {
        seeds
            .iter()
            .map(|&seed| {
                let r = run(&self.scenario, seed);
                assert!(
                    r.stats.stop.is_complete(),
                    "{}: seed {seed} stopped early ({}){}",
                    self.test,
                    r.stats.stop.as_str(),
                    self.repro(seeds)
                );
                r.summary_of(SERVICE)
                    .unwrap_or_else(|| panic!("{}: no component {SERVICE:?}", self.test))
            })
            .collect()
    }

    /// The reproduce hint appended to every failure message.
    fn repro(&self, seeds: &[u64]) -> String {
        format!(
            "\n  reproduce: cargo test --test theory {test} -- --nocapture\n  \
             single replication: save the scenario below as theory/{name}.toml, then \
             `metastable run theory/{name}.toml --seed N` for N in {seeds:?}\n  \
             --- theory/{name}.toml ---\n{text}",
            test = self.test,
            name = self.name,
            text = self.text
        )
    }
}

fn seeds() -> Vec<u64> {
    SEEDS.collect()
}

/// Unwraps a metric that every service reports.
fn get<T>(x: Option<T>, what: &str, seed: u64) -> T {
    x.unwrap_or_else(|| panic!("metric {what} missing for seed {seed}"))
}

/// Mean sojourn time at the service (arrival → completion), in milliseconds.
fn sojourn_ms(v: &Values, seed: u64) -> f64 {
    get(get(v.sojourn, "sojourn", seed).mean, "sojourn.mean", seed) / 1e6
}

/// A per-replication estimate compared with a theory value.
struct Comparison<'a> {
    model: &'a Model,
    seeds: &'a [u64],
    what: &'a str,
    estimates: Vec<f64>,
    theory: f64,
    /// Allowance for systematic bias, in the estimate's units (justified at the call site).
    allowance: f64,
}

impl Comparison<'_> {
    fn report(&self, st: &Stats, verdict: &str) -> String {
        let hw = st.half_width();
        format!(
            "{test}: {what}: {verdict}\n  seeds {first}..={last} (n = {n}), estimate {mean:.6} (sd {sd:.6}), \
             99.9% CI half-width {hw:.6} (t = {t}), bias allowance {allow:.6}, tolerance {tol:.6}\n  \
             theory {theory:.6}, |estimate − theory| = {diff:.6} ({rel:+.3}% of theory)\n  \
             per-seed estimates: {est:?}{repro}",
            test = self.model.test,
            what = self.what,
            first = self.seeds[0],
            last = self.seeds[self.seeds.len() - 1],
            n = st.n,
            mean = st.mean,
            sd = st.sd,
            t = student_t_9995(st.n - 1),
            allow = self.allowance,
            tol = hw + self.allowance,
            theory = self.theory,
            diff = (st.mean - self.theory).abs(),
            rel = if self.theory != 0.0 {
                100.0 * (st.mean - self.theory) / self.theory
            } else {
                f64::NAN
            },
            est = self
                .estimates
                .iter()
                .map(|x| (x * 1e6).round() / 1e6)
                .collect::<Vec<_>>(),
            repro = self.model.repro(self.seeds),
        )
    }

    /// Asserts that the theory value lies within tolerance of the replication mean.
    #[track_caller]
    fn assert_agrees(&self) -> Stats {
        let st = Stats::of(&self.estimates);
        let ok = (st.mean - self.theory).abs() <= st.half_width() + self.allowance;
        assert!(ok, "{}", self.report(&st, "estimate DISAGREES with theory"));
        println!(
            "{:<52} {:<34} est {:>12.6} ± {:<10.6} theory {:>12.6}",
            self.model.test,
            self.what,
            st.mean,
            st.half_width() + self.allowance,
            self.theory
        );
        st
    }

    /// Asserts that the (deliberately wrong) theory value is rejected: power check.
    #[track_caller]
    fn assert_rejects(&self) -> Stats {
        let st = Stats::of(&self.estimates);
        let rejected = (st.mean - self.theory).abs() > st.half_width() + self.allowance;
        assert!(
            rejected,
            "{}",
            self.report(
                &st,
                "a WRONG theory value was accepted: the check has too little power"
            )
        );
        println!(
            "{:<52} {:<34} est {:>12.6} ± {:<10.6} wrong {:>12.6} (rejected)",
            self.model.test,
            self.what,
            st.mean,
            st.half_width() + self.allowance,
            self.theory
        );
        st
    }
}

/// Relative bias allowance for steady-state means of M/M/1-like runs.
///
/// - Initial transient: warm-up ≥ 100 s while the relaxation time of the queues here is at most
///   1/(μ(1−√ρ)²) ≈ 0.9 s (M/M/1, ρ = 0.8), so the residual start-up bias is ~e^{−100}: nil.
/// - Time rounding: every sampled duration is rounded to the nearest ns; ≤ 0.5 ns on ≥ 5 ms
///   means, zero-mean, i.e. < 1e-7 relative. The latency/wait means are exact (sum/count), not
///   bucketed, so histogram resolution does not enter.
/// - Ratio/edge effects: per-request means over a finite window (requests still in the system
///   at the end are not counted) are biased by O(W/T) ≈ 0.05 s / 1900 s ≈ 3e-5.
///
/// 1e-3 covers all of these with a wide margin and is still far below the CI half-widths.
const REL_BIAS: f64 = 1e-3;

// ---------------------------------------------------------------------------------------------
// M/M/1
// ---------------------------------------------------------------------------------------------

/// M/M/1 with μ = 100/s (mean service 10 ms) and the given λ; 2000 s, 100 s warm-up.
fn mm1(test: &'static str, lambda: f64) -> Model {
    Model::new(
        test,
        &format!("mm1-lambda{lambda}"),
        lambda,
        1,
        None,
        r#"{ dist = "exponential", mean_ms = 10.0 }"#,
        2000.0,
        100.0,
    )
}

#[test]
fn mm1_mean_sojourn_matches_theory() {
    let seeds = seeds();
    let mu = 100.0;
    for lambda in [50.0, 80.0] {
        let m = mm1("mm1_mean_sojourn_matches_theory", lambda);
        let vals = m.replicate(&seeds);
        // W = 1/(μ − λ), in ms.
        let w = 1e3 / (mu - lambda);
        Comparison {
            model: &m,
            seeds: &seeds,
            what: &format!("W (ms), rho = {}", lambda / mu),
            estimates: vals
                .iter()
                .zip(&seeds)
                .map(|(v, &s)| sojourn_ms(v, s))
                .collect(),
            theory: w,
            allowance: REL_BIAS * w,
        }
        .assert_agrees();
        // Wq = ρ/(μ − λ), in ms: the waiting part of the same sojourns.
        let wq = (lambda / mu) * w;
        Comparison {
            model: &m,
            seeds: &seeds,
            what: &format!("Wq (ms), rho = {}", lambda / mu),
            estimates: vals
                .iter()
                .zip(&seeds)
                .map(|(v, &s)| get(v.wait_ms_mean, "wait_ms_mean", s))
                .collect(),
            theory: wq,
            // Same sources as REL_BIAS, taken relative to W (ns rounding scales with service
            // times, not with the wait).
            allowance: REL_BIAS * w,
        }
        .assert_agrees();
    }
}

#[test]
fn mm1_mean_queue_length_matches_theory() {
    let seeds = seeds();
    let (lambda, mu) = (80.0, 100.0);
    let rho: f64 = lambda / mu;
    let m = mm1("mm1_mean_queue_length_matches_theory", lambda);
    let vals = m.replicate(&seeds);

    // Lq = ρ²/(1−ρ): time-average number waiting (not in service).
    let lq = rho * rho / (1.0 - rho);
    Comparison {
        model: &m,
        seeds: &seeds,
        what: "Lq (time-avg waiting), rho = 0.8",
        estimates: vals
            .iter()
            .zip(&seeds)
            .map(|(v, &s)| get(v.queue_len_mean, "queue_len_mean", s))
            .collect(),
        theory: lq,
        allowance: REL_BIAS * lq,
    }
    .assert_agrees();

    // L = ρ/(1−ρ): time-average number in the system = waiting + in service.
    let l = rho / (1.0 - rho);
    Comparison {
        model: &m,
        seeds: &seeds,
        what: "L = Lq + busy, rho = 0.8",
        estimates: vals
            .iter()
            .zip(&seeds)
            .map(|(v, &s)| {
                get(v.queue_len_mean, "queue_len_mean", s) + get(v.busy_mean, "busy_mean", s)
            })
            .collect(),
        theory: l,
        allowance: REL_BIAS * l,
    }
    .assert_agrees();

    // Server utilisation = ρ (fraction of time the single server is busy).
    Comparison {
        model: &m,
        seeds: &seeds,
        what: "utilisation, rho = 0.8",
        estimates: vals
            .iter()
            .zip(&seeds)
            .map(|(v, &s)| get(v.utilisation, "utilisation", s))
            .collect(),
        theory: rho,
        allowance: REL_BIAS * rho,
    }
    .assert_agrees();
}

/// Power: the same replications must reject a theory that is 10 % off in either direction,
/// otherwise the tolerance is too loose for the checks above to mean anything.
#[test]
fn mm1_check_rejects_a_wrong_theory() {
    let seeds = seeds();
    let (lambda, mu) = (80.0, 100.0);
    let m = mm1("mm1_check_rejects_a_wrong_theory", lambda);
    let vals = m.replicate(&seeds);
    let w = 1e3 / (mu - lambda);
    let estimates: Vec<f64> = vals
        .iter()
        .zip(&seeds)
        .map(|(v, &s)| sojourn_ms(v, s))
        .collect();
    for factor in [1.1, 0.9] {
        let wrong = factor * w;
        let st = Comparison {
            model: &m,
            seeds: &seeds,
            what: &format!("W (ms) vs {factor} x 1/(mu-lambda)"),
            estimates: estimates.clone(),
            theory: wrong,
            allowance: REL_BIAS * wrong,
        }
        .assert_rejects();
        // And not just barely: the tolerance should be well under the 10 % shift.
        let tol = st.half_width() + REL_BIAS * wrong;
        assert!(
            tol < 0.05 * w,
            "mm1_check_rejects_a_wrong_theory: tolerance {tol:.4} ms is not < 5 % of W = {w} ms{}",
            m.repro(&seeds)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// M/M/c (Erlang C)
// ---------------------------------------------------------------------------------------------

/// Erlang C: probability that an arrival waits in M/M/c with offered load `a` = λ/μ (< c).
///
/// C(c, a) = [aᶜ/c! · c/(c−a)] / [Σ_{k=0}^{c−1} aᵏ/k! + aᶜ/c! · c/(c−a)].
fn erlang_c(c: u32, a: f64) -> f64 {
    assert!(a < c as f64, "erlang_c: unstable, a = {a} ≥ c = {c}");
    let mut term = 1.0; // aᵏ/k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    // term = aᶜ/c!
    let tail = term * c as f64 / (c as f64 - a);
    tail / (sum + tail)
}

#[test]
fn erlang_c_formula_sanity() {
    // M/M/1: C(1, ρ) = ρ.
    assert!((erlang_c(1, 0.8) - 0.8).abs() < 1e-12);
    // c = 2, a = 1: (1/2 · 2) / (1 + 1 + 1) = 1/3.
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    // c = 4, a = 3: 13.5 / 26.5.
    assert!((erlang_c(4, 3.0) - 13.5 / 26.5).abs() < 1e-12);
}

#[test]
fn mmc_mean_wait_matches_erlang_c() {
    let seeds = seeds();
    // c = 4 servers, μ = 100/s each, λ = 300/s: a = 3, ρ = a/c = 0.75.
    let (c, lambda, mu) = (4u32, 300.0, 100.0);
    let m = Model::new(
        "mmc_mean_wait_matches_erlang_c",
        "mm4",
        lambda,
        c,
        None,
        r#"{ dist = "exponential", mean_ms = 10.0 }"#,
        1000.0,
        100.0,
    );
    let vals = m.replicate(&seeds);
    let pw = erlang_c(c, lambda / mu);
    // Wq = C(c, a)/(cμ − λ), in ms.
    let wq = 1e3 * pw / (c as f64 * mu - lambda);
    Comparison {
        model: &m,
        seeds: &seeds,
        what: "Wq (ms), c = 4, rho = 0.75",
        estimates: vals
            .iter()
            .zip(&seeds)
            .map(|(v, &s)| get(v.wait_ms_mean, "wait_ms_mean", s))
            .collect(),
        theory: wq,
        // Same sources of bias as REL_BIAS; the relaxation time of M/M/4 at ρ = 0.75 is shorter
        // than that of M/M/1 at 0.8, and ns rounding is relative to the 10 ms service time, so
        // REL_BIAS of W = Wq + 1/μ bounds it (the wait mean itself can be small).
        allowance: REL_BIAS * (wq + 1e3 / mu),
    }
    .assert_agrees();
    // W = Wq + 1/μ from the sojourn histogram.
    let w = wq + 1e3 / mu;
    Comparison {
        model: &m,
        seeds: &seeds,
        what: "W (ms), c = 4, rho = 0.75",
        estimates: vals
            .iter()
            .zip(&seeds)
            .map(|(v, &s)| sojourn_ms(v, s))
            .collect(),
        theory: w,
        allowance: REL_BIAS * w,
    }
    .assert_agrees();
}

// ---------------------------------------------------------------------------------------------
// M/G/1 (Pollaczek–Khinchine)
// ---------------------------------------------------------------------------------------------

#[test]
fn md1_mean_wait_matches_pollaczek_khinchine() {
    let seeds = seeds();
    // Constant 10 ms service (μ = 100/s), λ = 75/s: ρ = 0.75.
    let (lambda, mu) = (75.0, 100.0);
    let rho: f64 = lambda / mu;
    let m = Model::new(
        "md1_mean_wait_matches_pollaczek_khinchine",
        "md1",
        lambda,
        1,
        None,
        r#"{ dist = "constant", value_ms = 10.0 }"#,
        2000.0,
        100.0,
    );
    let vals = m.replicate(&seeds);
    // Wq = ρ/(2μ(1−ρ)), in ms (P-K with E[S²] = 1/μ²).
    let wq = 1e3 * rho / (2.0 * mu * (1.0 - rho));
    Comparison {
        model: &m,
        seeds: &seeds,
        what: "Wq (ms), M/D/1, rho = 0.75",
        estimates: vals
            .iter()
            .zip(&seeds)
            .map(|(v, &s)| get(v.wait_ms_mean, "wait_ms_mean", s))
            .collect(),
        theory: wq,
        // REL_BIAS reasoning applies (constant service is exactly 10 ms, no rounding at all).
        allowance: REL_BIAS * wq,
    }
    .assert_agrees();
}

/// Extra: P-K with a non-degenerate general service distribution.
#[test]
fn mg1_uniform_mean_wait_matches_pollaczek_khinchine() {
    let seeds = seeds();
    // Uniform[5, 15] ms service: E[S] = 10 ms, E[S²] = (5² + 5·15 + 15²)/3 ms². λ = 70/s.
    let (lambda, lo, hi) = (70.0, 5.0, 15.0);
    let es_ms = (lo + hi) / 2.0;
    let es2_ms2 = (lo * lo + lo * hi + hi * hi) / 3.0;
    let lambda_per_ms = lambda / 1e3;
    let rho = lambda_per_ms * es_ms;
    let m = Model::new(
        "mg1_uniform_mean_wait_matches_pollaczek_khinchine",
        "mg1-uniform",
        lambda,
        1,
        None,
        &format!(r#"{{ dist = "uniform", min_ms = {lo:?}, max_ms = {hi:?} }}"#),
        2000.0,
        100.0,
    );
    let vals = m.replicate(&seeds);
    // Wq = λ E[S²] / (2(1 − ρ)).
    let wq = lambda_per_ms * es2_ms2 / (2.0 * (1.0 - rho));
    Comparison {
        model: &m,
        seeds: &seeds,
        what: "Wq (ms), M/U/1, rho = 0.7",
        estimates: vals
            .iter()
            .zip(&seeds)
            .map(|(v, &s)| get(v.wait_ms_mean, "wait_ms_mean", s))
            .collect(),
        theory: wq,
        allowance: REL_BIAS * wq,
    }
    .assert_agrees();
}

// ---------------------------------------------------------------------------------------------
// M/M/1/K
// ---------------------------------------------------------------------------------------------

/// Blocking probability of M/M/1/K (K = system capacity, including the one in service):
/// P_K = (1−ρ)ρᴷ/(1−ρᴷ⁺¹) for ρ ≠ 1, and 1/(K+1) for ρ = 1.
fn mm1k_blocking(rho: f64, k: u32) -> f64 {
    if (rho - 1.0).abs() < 1e-12 {
        1.0 / (k + 1) as f64
    } else {
        (1.0 - rho) * rho.powi(k as i32) / (1.0 - rho.powi(k as i32 + 1))
    }
}

#[test]
fn mm1k_blocking_probability_matches_theory() {
    let seeds = seeds();
    let mu = 100.0;
    let k = 5u32; // system capacity: 1 in service + queue_capacity = K − 1 waiting
    for lambda in [80.0, 150.0] {
        let rho = lambda / mu;
        let m = Model::new(
            "mm1k_blocking_probability_matches_theory",
            &format!("mm1k-K{k}-lambda{lambda}"),
            lambda,
            1,
            Some(k - 1),
            r#"{ dist = "exponential", mean_ms = 10.0 }"#,
            1000.0,
            100.0,
        );
        let vals = m.replicate(&seeds);
        let pk = mm1k_blocking(rho, k);
        // Poisson arrivals see time averages (PASTA), so the fraction of arrivals rejected
        // estimates P_K. Allowance: REL_BIAS (a K = 5 queue relaxes in well under 1 s, and the
        // ratio-estimator bias rejected/arrivals is O(1/arrivals) ≈ 1e-5).
        Comparison {
            model: &m,
            seeds: &seeds,
            what: &format!("P_K, K = {k}, rho = {rho}"),
            estimates: vals
                .iter()
                .zip(&seeds)
                .map(|(v, &s)| {
                    get(v.rejected, "rejected", s) as f64 / get(v.arrivals, "arrivals", s) as f64
                })
                .collect(),
            theory: pk,
            allowance: REL_BIAS * pk,
        }
        .assert_agrees();
    }
}

// ---------------------------------------------------------------------------------------------
// Little's law
// ---------------------------------------------------------------------------------------------

#[test]
fn littles_law_holds_for_mg2_lognormal() {
    let seeds = seeds();
    // M/G/2: lognormal service, mean 10 ms, cv 2; λ = 140/s: ρ = 0.7.
    let m = Model::new(
        "littles_law_holds_for_mg2_lognormal",
        "mg2-lognormal",
        140.0,
        2,
        None,
        r#"{ dist = "lognormal", mean_ms = 10.0, cv = 2.0 }"#,
        2000.0,
        100.0,
    );
    let vals = m.replicate(&seeds);
    // Per replication: d = L − λW, with L = time-average number at the service (waiting + in
    // service), λ = measured departure rate (completions / summary span) and W = mean sojourn
    // of those completions. Then λW = Σ sojourns / span exactly, and in steady state both L and
    // λW have expectation λ·E[sojourn], so E[d] = 0; d is only the edge effect of requests that
    // straddle the start or end of the summary period.
    let mut diffs = Vec::new();
    let mut ls = Vec::new();
    for (v, &s) in vals.iter().zip(&seeds) {
        let l = get(v.queue_len_mean, "queue_len_mean", s) + get(v.busy_mean, "busy_mean", s);
        let lambda = get(v.throughput_per_s, "throughput_per_s", s);
        let w_s = sojourn_ms(v, s) / 1e3;
        diffs.push(l - lambda * w_s);
        ls.push(l);
    }
    let l_mean = Stats::of(&ls).mean;
    Comparison {
        model: &m,
        seeds: &seeds,
        what: "L - lambda*W (Little), M/G/2 lognormal cv 2",
        estimates: diffs,
        theory: 0.0,
        // Little's law holds exactly here up to the zero-mean edge effect that the CI already
        // covers; the allowance only absorbs floating-point error in the gauge integrals
        // (f64 sums of ~10⁶ terms: < 1e-9 relative), stated generously as 1e-6 · L.
        allowance: 1e-6 * l_mean,
    }
    .assert_agrees();
}

// ---------------------------------------------------------------------------------------------
// M/M/c+M (Erlang A): exponential patience, abandonment from the queue
// ---------------------------------------------------------------------------------------------

/// Stationary figures of M/M/c+M.
#[derive(Clone, Copy, Debug)]
struct ErlangA {
    /// Mean number waiting, E[(N − c)⁺].
    lq: f64,
    /// P(an arrival waits) = P(N ≥ c) (PASTA), less P(block) with a waiting room (a blocked
    /// arrival does not wait).
    p_wait: f64,
    /// P(an arrival abandons) = θ·Lq/λ (abandonments per unit time ÷ arrivals).
    p_abandon: f64,
    /// P(an arrival finds the waiting room full) = P(N = c + K) (PASTA; 0 if unbounded).
    p_block: f64,
    /// Served per unit time, λ(1 − P(block) − P(abandon)).
    throughput: f64,
    /// Mean busy servers, E[min(N, c)].
    busy: f64,
}

/// M/M/c+M with arrival rate λ, service rate μ per server, c servers and abandonment rate θ
/// (patience exponential with mean 1/θ) — a birth–death chain with birth rate λ and death
/// rate min(n, c)·μ + (n − c)⁺·θ, so p_n ∝ aⁿ/n! for n ≤ c (a = λ/μ) and
/// p_n = p_c · Π_{k=1}^{n−c} λ/(cμ + kθ) for n > c. The tail is summed until its terms fall
/// below 1e-17 of the total (they decrease faster than geometrically once cμ + kθ > λ).
fn erlang_a(lambda: f64, mu: f64, c: u32, theta: f64) -> ErlangA {
    erlang_a_k(lambda, mu, c, theta, None)
}

/// [`erlang_a`] with a waiting room of `queue_capacity` places (M/M/c/c+K+M): the same chain
/// cut at n = c + K; an arrival that finds it there is rejected.
fn erlang_a_k(lambda: f64, mu: f64, c: u32, theta: f64, queue_capacity: Option<u32>) -> ErlangA {
    assert!(lambda > 0.0 && mu > 0.0 && c >= 1 && theta > 0.0);
    // Unnormalised p_n, starting from p_0 = 1.
    let (mut total, mut lq, mut p_wait, mut busy) = (0.0, 0.0, 0.0, 0.0);
    let mut p = 1.0;
    for n in 0..c {
        total += p;
        busy += n as f64 * p;
        p *= lambda / (mu * (n + 1) as f64);
    }
    // p = p_c
    let mut k = 0u64;
    loop {
        total += p;
        p_wait += p;
        lq += k as f64 * p;
        busy += c as f64 * p;
        if queue_capacity.is_some_and(|cap| k == cap as u64) {
            break; // p = p_{c+K}
        }
        k += 1;
        p *= lambda / (c as f64 * mu + k as f64 * theta);
        if (p < 1e-17 * total && c as f64 * mu + k as f64 * theta > lambda) || k > 10_000_000 {
            break;
        }
    }
    let lq = lq / total;
    let p_abandon = theta * lq / lambda;
    let p_block = if queue_capacity.is_some() {
        p / total
    } else {
        0.0
    };
    ErlangA {
        lq,
        p_wait: p_wait / total - p_block,
        p_abandon,
        p_block,
        throughput: lambda * (1.0 - p_block - p_abandon),
        busy: busy / total,
    }
}

#[test]
fn erlang_a_formula_sanity() {
    // θ = μ: every customer leaves at rate μ whether served or waiting, so N is M/M/∞:
    // Poisson(a), and Lq = E[(N − c)⁺] of that Poisson law.
    let (lambda, mu, c) = (12.0f64, 1.0f64, 10u32);
    let a = lambda / mu;
    let mut pn = (-a).exp();
    let (mut lq, mut pw) = (0.0, 0.0);
    for n in 0..400u32 {
        if n >= c {
            lq += (n - c) as f64 * pn;
            pw += pn;
        }
        pn *= a / (n + 1) as f64;
    }
    let e = erlang_a(lambda, mu, c, mu);
    assert!((e.lq - lq).abs() < 1e-10, "{e:?} vs Lq {lq}");
    assert!((e.p_wait - pw).abs() < 1e-10, "{e:?} vs P(wait) {pw}");
    // Flow balance: served per unit time = μ · mean busy servers.
    for (l, m, cc, th) in [
        (12.0, 1.0, 10, 0.5),
        (300.0, 100.0, 4, 20.0),
        (5.0, 1.0, 1, 3.0),
    ] {
        let e = erlang_a(l, m, cc, th);
        assert!(
            (e.throughput - m * e.busy).abs() < 1e-9 * l,
            "flow balance: {e:?} for ({l}, {m}, {cc}, {th})"
        );
    }
    // A bounded waiting room: flow balance still holds, and K = 0 is Erlang B.
    let e = erlang_a_k(12.0, 1.0, 10, 0.5, Some(3));
    assert!((e.throughput - e.busy).abs() < 1e-9 * 12.0, "{e:?}");
    let e = erlang_a_k(3.0, 1.0, 4, 0.5, Some(0));
    let erlang_b = (81.0 / 24.0) / (1.0 + 3.0 + 4.5 + 4.5 + 81.0 / 24.0);
    assert!(
        (e.p_block - erlang_b).abs() < 1e-12,
        "{e:?} vs Erlang B {erlang_b}"
    );
    // θ → 0 with a < c: Erlang C.
    let e = erlang_a(300.0, 100.0, 4, 1e-9);
    assert!((e.p_wait - erlang_c(4, 3.0)).abs() < 1e-6, "{e:?}");
}

/// Source with exponential patience (mean 1/θ) → `servers` exponential servers with
/// `queue_abandonment` → sink.
fn erlang_a_model(
    test: &'static str,
    name: &str,
    (lambda, mu, c, theta): (f64, f64, u32, f64),
    queue_capacity: Option<u32>,
    (limits, service_extra): (&str, &str),
    duration_s: f64,
    warmup_s: f64,
) -> Model {
    let capacity = queue_capacity.map_or(String::new(), |k| format!("queue_capacity = {k}\n"));
    let service_ms = 1e3 / mu;
    let patience_ms = 1e3 / theta;
    let text = format!(
        r#"[scenario]
name = "{name}"
description = "theory check for tests/theory.rs::{test}"
duration_s = {duration_s:?}
warmup_s = {warmup_s:?}
window_ms = 10000.0
{limits}
[[sources]]
name = "users"
target = "{SERVICE}"
sink = "done"
rate_per_s = {lambda:?}
patience = {{ dist = "exponential", mean_ms = {patience_ms:?} }}

[[services]]
name = "{SERVICE}"
servers = {c}
{capacity}queue_abandonment = true
{service_extra}service_time = {{ dist = "exponential", mean_ms = {service_ms:?} }}

[[sinks]]
name = "done"
"#
    );
    Model::from_text(test, name, text)
}

/// Checks the simulated M/M/c+M against [`erlang_a`]: P(abandon) (the service's `expired` ÷
/// `arrivals`), P(wait > 0) (`queued` ÷ `arrivals`), Lq (`queue_len_mean`, which counts only
/// requests still waiting), throughput and busy servers; with a waiting room, also
/// P(block) (`rejected` ÷ `arrivals`), which shows that an abandonment frees its place at
/// once. Returns the model and its replications.
///
/// Allowance: REL_BIAS of each figure. Its reasoning carries over: the chains here relax
/// within tens of seconds (rates μ, θ ≥ 0.5/s, queues of a few requests) against ≥ 100 s of
/// warm-up; durations are rounded to 1 ns on means of ≥ 10 ms; a patience draw is raised to
/// 1 ns at least (probability < 1e-8 per draw here); and the ratio estimators
/// (expired/arrivals, queued/arrivals) have O(1/arrivals) ≈ 1e-5 bias.
fn check_erlang_a(
    test: &'static str,
    name: &str,
    params: (f64, f64, u32, f64),
    queue_capacity: Option<u32>,
    extra: (&str, &str),
    duration_s: f64,
    warmup_s: f64,
) -> (Model, Vec<Values>, ErlangA) {
    let seeds = seeds();
    let (lambda, mu, c, theta) = params;
    let m = erlang_a_model(
        test,
        name,
        params,
        queue_capacity,
        extra,
        duration_s,
        warmup_s,
    );
    let vals = m.replicate(&seeds);
    let e = erlang_a_k(lambda, mu, c, theta, queue_capacity);
    let tag = format!(
        "c = {c}, a = {}, theta = {theta}, K = {queue_capacity:?}",
        lambda / mu
    );
    let ratio = |num: fn(&Values) -> Option<u64>, what: &'static str| -> Vec<f64> {
        vals.iter()
            .zip(&seeds)
            .map(|(v, &s)| get(num(v), what, s) as f64 / get(v.arrivals, "arrivals", s) as f64)
            .collect()
    };
    let mut checks: Vec<(&str, Vec<f64>, f64)> = vec![
        ("P(abandon)", ratio(|v| v.expired, "expired"), e.p_abandon),
        ("P(wait > 0)", ratio(|v| v.queued, "queued"), e.p_wait),
        (
            "Lq",
            vals.iter()
                .zip(&seeds)
                .map(|(v, &s)| get(v.queue_len_mean, "queue_len_mean", s))
                .collect(),
            e.lq,
        ),
        (
            "throughput (/s)",
            vals.iter()
                .zip(&seeds)
                .map(|(v, &s)| get(v.throughput_per_s, "throughput_per_s", s))
                .collect(),
            e.throughput,
        ),
        (
            "busy servers",
            vals.iter()
                .zip(&seeds)
                .map(|(v, &s)| get(v.busy_mean, "busy_mean", s))
                .collect(),
            e.busy,
        ),
    ];
    if queue_capacity.is_some() {
        checks.push(("P(block)", ratio(|v| v.rejected, "rejected"), e.p_block));
    }
    for (what, estimates, theory) in checks {
        Comparison {
            model: &m,
            seeds: &seeds,
            what: &format!("{what}, {tag}"),
            estimates,
            theory,
            allowance: REL_BIAS * theory,
        }
        .assert_agrees();
    }
    (m, vals, e)
}

#[test]
fn mmc_abandonment_matches_erlang_a_overloaded() {
    // c = 10, λ = 12/s, μ = 1/s (a = 12 > c: overloaded; only abandonment keeps it stable),
    // θ = 0.5/s (mean patience 2 s).
    check_erlang_a(
        "mmc_abandonment_matches_erlang_a_overloaded",
        "mmc-erlang-a-overloaded",
        (12.0, 1.0, 10, 0.5),
        None,
        ("", ""),
        20_000.0,
        200.0,
    );
}

#[test]
fn lifo_abandonment_matches_erlang_a_and_stays_bounded() {
    // With exponential patience the number waiting is the same birth–death chain whatever the
    // order of service, so LIFO must match Erlang A too. c = 10, λ = 50/s, μ = 1/s, θ = 0.5/s:
    // about 80 wait at all times and the stack never empties, so without compaction the dead
    // entries at its bottom would pile up by ≈ 40 per second; the live-request limit of 1 000
    // (≈ 90 held, at most twice the waiting plus 64 stored with compaction) would stop the run
    // within half a minute.
    check_erlang_a(
        "lifo_abandonment_matches_erlang_a_and_stays_bounded",
        "mmc-erlang-a-lifo",
        (50.0, 1.0, 10, 0.5),
        None,
        (
            "\n[limits]\nmax_live_requests = 1000\n",
            "discipline = \"lifo\"\n",
        ),
        5_000.0,
        200.0,
    );
}

#[test]
fn mmc_abandonment_matches_erlang_a_underloaded() {
    // c = 4, λ = 300/s, μ = 100/s (ρ = 0.75, the Erlang C case above), θ = 20/s (mean
    // patience 50 ms, ten times the Erlang C mean wait).
    let params = (300.0, 100.0, 4, 20.0);
    let test = "mmc_abandonment_matches_erlang_a_underloaded";
    let (m, vals, e) = check_erlang_a(
        test,
        "mmc-erlang-a-underloaded",
        params,
        None,
        ("", ""),
        1000.0,
        100.0,
    );
    // Power: the same replications reject the queue without abandonment (Erlang C's
    // Lq = C(c, a)·ρ/(1 − ρ)) and Erlang A with a 20 % different patience.
    let seeds = seeds();
    let lq: Vec<f64> = vals
        .iter()
        .zip(&seeds)
        .map(|(v, &s)| get(v.queue_len_mean, "queue_len_mean", s))
        .collect();
    let erlang_c_lq = erlang_c(4, 3.0) * 0.75 / 0.25;
    for (what, wrong) in [
        ("Lq vs Erlang C (no abandonment)", erlang_c_lq),
        (
            "Lq vs Erlang A, theta x 1.2",
            erlang_a(300.0, 100.0, 4, 24.0).lq,
        ),
        (
            "Lq vs Erlang A, theta x 0.8",
            erlang_a(300.0, 100.0, 4, 16.0).lq,
        ),
    ] {
        Comparison {
            model: &m,
            seeds: &seeds,
            what,
            estimates: lq.clone(),
            theory: wrong,
            allowance: REL_BIAS * wrong,
        }
        .assert_rejects();
    }
    assert!(e.lq < erlang_c_lq, "abandonment shortens the queue: {e:?}");
}

#[test]
fn bounded_queue_abandonment_frees_the_place_at_once() {
    // c = 2, λ = 4/s, μ = 1/s (a = 4: overloaded), θ = 1/s, a waiting room of 3. If an
    // abandoned request kept its place until a server reached it, arrivals would be rejected
    // more often than P(N = c + K) of the chain in which the place frees at once.
    check_erlang_a(
        "bounded_queue_abandonment_frees_the_place_at_once",
        "mmc-erlang-a-bounded",
        (4.0, 1.0, 2, 1.0),
        Some(3),
        ("", ""),
        20_000.0,
        200.0,
    );
}
