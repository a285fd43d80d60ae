//! Exact continuous-time Markov chains of small instances, to check the simulator against
//! numbers that carry no modelling error (docs/analytic.md §6).
//!
//! A chain is a sparse generator (per state, its outgoing rates). Stationary distributions
//! and expected hitting times are solved directly (Gaussian elimination with partial pivoting
//! on the dense system, for at most [`MAX_DIRECT`] states) and the solution's residual is
//! returned, so a caller can state the tolerance it got (`‖πQ‖∞`, `‖(Qh)_i + 1‖∞`).
//!
//! Two builders: M/M/c/K (checked against the Erlang formulas), and a small retrying system —
//! `c` servers, a FIFO queue of `K` places, Poisson calls, exponential service, an exponential
//! per-attempt patience with abandonment from the queue, and one immediate retry per call —
//! whose state is the queue's sequence of attempt kinds (first try or retry) and the servers'
//! work (a first try, a retry, or work whose caller has gone: wasted).

use std::collections::BTreeMap;

/// Most states solved by the dense direct method.
pub const MAX_DIRECT: usize = 3000;

/// A finite CTMC: `out[i]` lists `(j, rate)` for `j ≠ i`.
#[derive(Clone, Debug, Default)]
pub struct Ctmc {
    pub out: Vec<Vec<(usize, f64)>>,
}

impl Ctmc {
    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    fn exit(&self, i: usize) -> f64 {
        self.out[i].iter().map(|e| e.1).sum()
    }

    /// The stationary distribution `π Q = 0, Σ π = 1` and the residual `‖πQ‖∞`; `None` above
    /// [`MAX_DIRECT`] states or for a singular system (a reducible chain).
    pub fn stationary(&self) -> Option<(Vec<f64>, f64)> {
        let n = self.len();
        if n == 0 || n > MAX_DIRECT {
            return None;
        }
        // Qᵀ πᵀ = 0 with the last equation replaced by Σ π = 1.
        let mut a = vec![vec![0.0; n]; n];
        for (i, row) in self.out.iter().enumerate() {
            for &(j, r) in row {
                a[j][i] += r;
                a[i][i] -= r;
            }
        }
        let mut b = vec![0.0; n];
        for x in a[n - 1].iter_mut() {
            *x = 1.0;
        }
        b[n - 1] = 1.0;
        let pi = solve(a, b)?;
        let mut flow = vec![0.0; n];
        for (i, row) in self.out.iter().enumerate() {
            for &(j, r) in row {
                flow[j] += pi[i] * r;
                flow[i] -= pi[i] * r;
            }
        }
        let res = flow.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        Some((pi, res))
    }

    /// Expected time to reach a state in `target` from each state (0 inside it), and the
    /// residual; `None` if some state cannot reach the target (singular system).
    pub fn hitting_times(&self, target: &[bool]) -> Option<(Vec<f64>, f64)> {
        let n = self.len();
        if n == 0 || n > MAX_DIRECT || target.len() != n {
            return None;
        }
        // For i ∉ target: Σ_j q_ij (h_j − h_i) = −1; for i ∈ target: h_i = 0.
        let mut a = vec![vec![0.0; n]; n];
        let mut b = vec![0.0; n];
        for i in 0..n {
            if target[i] {
                a[i][i] = 1.0;
                continue;
            }
            for &(j, r) in &self.out[i] {
                a[i][j] += r;
                a[i][i] -= r;
            }
            b[i] = -1.0;
        }
        let h = solve(a, b)?;
        let mut res = 0.0_f64;
        for i in (0..n).filter(|&i| !target[i]) {
            let s: f64 = self.out[i].iter().map(|&(j, r)| r * (h[j] - h[i])).sum();
            res = res.max((s + 1.0).abs());
        }
        Some((h, res))
    }

    /// `E[f(X_τ)]` from each state, `τ` the first time the chain is in `target` (the value at
    /// the entrance state: e.g. the expected time to leave a region, averaged over where the
    /// chain enters it), and the residual; `None` if some state cannot reach the target.
    pub fn at_entrance(&self, target: &[bool], f: &[f64]) -> Option<(Vec<f64>, f64)> {
        let n = self.len();
        if n == 0 || n > MAX_DIRECT || target.len() != n || f.len() != n {
            return None;
        }
        let mut a = vec![vec![0.0; n]; n];
        let mut b = vec![0.0; n];
        for i in 0..n {
            if target[i] {
                a[i][i] = 1.0;
                b[i] = f[i];
                continue;
            }
            for &(j, r) in &self.out[i] {
                a[i][j] += r;
                a[i][i] -= r;
            }
        }
        let v = solve(a, b)?;
        let mut res = 0.0_f64;
        for i in (0..n).filter(|&i| !target[i]) {
            let s: f64 = self.out[i].iter().map(|&(j, r)| r * (v[j] - v[i])).sum();
            res = res.max(s.abs());
        }
        Some((v, res))
    }

    /// `P(reach target by time t)` from `start`, by uniformisation of the chain with the target
    /// made absorbing; the Poisson sum is cut when its remaining mass is below `1e-12`.
    pub fn hit_probability(&self, start: usize, target: &[bool], t: f64) -> f64 {
        let n = self.len();
        if target[start] {
            return 1.0;
        }
        let q = (0..n)
            .filter(|&i| !target[i])
            .map(|i| self.exit(i))
            .fold(0.0, f64::max)
            .max(1e-12);
        let mut v = vec![0.0; n];
        v[start] = 1.0;
        let lt = q * t;
        // Poisson weights e^{−qt}(qt)^k/k! in log space.
        let mut absorbed = 0.0;
        let mut cum_weight = 0.0;
        let kmax = (lt + 10.0 * lt.sqrt() + 50.0) as usize;
        for k in 0..=kmax {
            let logw = -lt + k as f64 * lt.max(1e-300).ln() - ln_factorial(k);
            let w = logw.exp();
            let mass_in_target: f64 = (0..n).filter(|&i| target[i]).map(|i| v[i]).sum();
            absorbed += w * mass_in_target;
            cum_weight += w;
            if 1.0 - cum_weight < 1e-12 && k as f64 > lt {
                break;
            }
            let mut next = vec![0.0; n];
            for i in 0..n {
                if v[i] == 0.0 {
                    continue;
                }
                if target[i] {
                    next[i] += v[i];
                    continue;
                }
                let mut stay = v[i];
                for &(j, r) in &self.out[i] {
                    next[j] += v[i] * r / q;
                    stay -= v[i] * r / q;
                }
                next[i] += stay;
            }
            v = next;
        }
        absorbed.clamp(0.0, 1.0)
    }
}

fn ln_factorial(k: usize) -> f64 {
    (1..=k).map(|i| (i as f64).ln()).sum()
}

/// Solves `A x = b` by Gaussian elimination with partial pivoting; `None` if singular.
pub fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let (top, rest) = a.split_at_mut(col + 1);
        let prow = &top[col];
        for (r, row) in rest.iter_mut().enumerate() {
            let f = row[col] / prow[col];
            if f == 0.0 {
                continue;
            }
            for k in col..n {
                row[k] -= f * prow[k];
            }
            b[col + 1 + r] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i][k] * x[k]).sum();
        x[i] = (b[i] - s) / a[i][i];
    }
    Some(x)
}

/// M/M/c/K: state = requests in the system, `0..=c+K`.
pub fn mmck(lambda: f64, mu: f64, c: usize, k: usize) -> Ctmc {
    let n = c + k + 1;
    let mut out = vec![Vec::new(); n];
    for (i, row) in out.iter_mut().enumerate() {
        if i + 1 < n {
            row.push((i + 1, lambda));
        }
        if i > 0 {
            row.push((i - 1, mu * i.min(c) as f64));
        }
    }
    Ctmc { out }
}

/// The Erlang figures of M/M/c/K from the product form: (P(block), mean waiting `Lq`).
pub fn mmck_closed_form(lambda: f64, mu: f64, c: usize, k: usize) -> (f64, f64) {
    let a = lambda / mu;
    let mut p = vec![1.0];
    for i in 1..=c + k {
        let prev = p[i - 1];
        p.push(prev * a / i.min(c) as f64);
    }
    let z: f64 = p.iter().sum();
    let lq: f64 = p
        .iter()
        .enumerate()
        .map(|(i, x)| i.saturating_sub(c) as f64 * x)
        .sum::<f64>()
        / z;
    (p[c + k] / z, lq)
}

/// A state of the retrying system: the queue's attempt kinds front to back (`1` first try,
/// `2` retry) and the servers' work (first tries, retries, wasted).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RetryState {
    pub queue: Vec<u8>,
    pub b1: u8,
    pub b2: u8,
    pub wasted: u8,
}

impl RetryState {
    fn busy(&self) -> u8 {
        self.b1 + self.b2 + self.wasted
    }
}

/// The retrying system's parameters (rates per second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetrySystem {
    pub lambda: f64,
    pub mu: f64,
    /// Patience rate per attempt (1 / mean patience).
    pub theta: f64,
    pub servers: u8,
    pub queue: u8,
}

/// Long-run rates of the retrying system, per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryRates {
    pub successes: f64,
    pub wasted: f64,
    /// Attempts turned away by the full system (a first try and its retry both count).
    pub rejected: f64,
    /// Queued attempts abandoned by their callers.
    pub expired: f64,
    pub retries: f64,
    pub mean_queue: f64,
    pub mean_busy: f64,
}

/// The retrying system's chain, its states (index order) and a rate function for metrics.
pub fn retry_system(p: RetrySystem) -> (Ctmc, Vec<RetryState>) {
    let start = RetryState {
        queue: Vec::new(),
        b1: 0,
        b2: 0,
        wasted: 0,
    };
    let mut index: BTreeMap<RetryState, usize> = BTreeMap::new();
    let mut states = vec![start.clone()];
    index.insert(start, 0);
    let mut out: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut i = 0;
    while i < states.len() {
        let s = states[i].clone();
        let mut edges: Vec<(RetryState, f64)> = Vec::new();
        for (next, rate, _) in transitions(&p, &s) {
            edges.push((next, rate));
        }
        let mut row = Vec::new();
        for (next, rate) in edges {
            if next == s || rate <= 0.0 {
                continue;
            }
            let j = match index.get(&next) {
                Some(&j) => j,
                None => {
                    states.push(next.clone());
                    index.insert(next, states.len() - 1);
                    states.len() - 1
                }
            };
            row.push((j, rate));
        }
        out.push(row);
        i += 1;
    }
    (Ctmc { out }, states)
}

/// What a transition counts, for the long-run rates.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    success: f64,
    wasted: f64,
    rejected: f64,
    expired: f64,
    retry: f64,
}

/// An attempt (kind 1 or 2) arrives: a free server, a queue place, or rejected (a rejected
/// first try retries at once and is rejected again: the call gives up).
fn arrive(p: &RetrySystem, s: &mut RetryState, kind: u8, c: &mut Counts) {
    if s.busy() < p.servers {
        if kind == 1 {
            s.b1 += 1;
        } else {
            s.b2 += 1;
        }
    } else if s.queue.len() < p.queue as usize {
        s.queue.push(kind);
    } else {
        c.rejected += if kind == 1 { 2.0 } else { 1.0 };
        if kind == 1 {
            c.retry += 1.0;
        }
    }
}

fn start_next(s: &mut RetryState) {
    if !s.queue.is_empty() {
        let k = s.queue.remove(0);
        if k == 1 {
            s.b1 += 1;
        } else {
            s.b2 += 1;
        }
    }
}

fn transitions(p: &RetrySystem, s: &RetryState) -> Vec<(RetryState, f64, Counts)> {
    let mut v = Vec::new();
    // A call's first try.
    let mut x = s.clone();
    let mut c = Counts::default();
    arrive(p, &mut x, 1, &mut c);
    v.push((x, p.lambda, c));
    // Completions.
    for (kind, n) in [(1u8, s.b1), (2, s.b2), (0, s.wasted)] {
        if n == 0 {
            continue;
        }
        let mut x = s.clone();
        let mut c = Counts::default();
        match kind {
            1 => {
                x.b1 -= 1;
                c.success = 1.0;
            }
            2 => {
                x.b2 -= 1;
                c.success = 1.0;
            }
            _ => {
                x.wasted -= 1;
                c.wasted = 1.0;
            }
        }
        start_next(&mut x);
        v.push((x, p.mu * n as f64, c));
    }
    // Patience runs out in service: the work goes on, wasted; a first try is retried.
    for (kind, n) in [(1u8, s.b1), (2, s.b2)] {
        if n == 0 {
            continue;
        }
        let mut x = s.clone();
        let mut c = Counts::default();
        if kind == 1 {
            x.b1 -= 1;
        } else {
            x.b2 -= 1;
        }
        x.wasted += 1;
        if kind == 1 {
            c.retry = 1.0;
            arrive(p, &mut x, 2, &mut c);
        }
        v.push((x, p.theta * n as f64, c));
    }
    // Patience runs out in the queue: the attempt leaves; a first try is retried.
    for pos in 0..s.queue.len() {
        let mut x = s.clone();
        let kind = x.queue.remove(pos);
        let mut c = Counts {
            expired: 1.0,
            ..Counts::default()
        };
        if kind == 1 {
            c.retry = 1.0;
            arrive(p, &mut x, 2, &mut c);
        }
        v.push((x, p.theta, c));
    }
    v
}

/// Long-run rates from the stationary distribution `pi` over `states`.
pub fn retry_rates(p: RetrySystem, states: &[RetryState], pi: &[f64]) -> RetryRates {
    let mut r = RetryRates {
        successes: 0.0,
        wasted: 0.0,
        rejected: 0.0,
        expired: 0.0,
        retries: 0.0,
        mean_queue: 0.0,
        mean_busy: 0.0,
    };
    for (s, &w) in states.iter().zip(pi) {
        r.mean_queue += w * s.queue.len() as f64;
        r.mean_busy += w * s.busy() as f64;
        for (_, rate, c) in transitions(&p, s) {
            r.successes += w * rate * c.success;
            r.wasted += w * rate * c.wasted;
            r.rejected += w * rate * c.rejected;
            r.expired += w * rate * c.expired;
            r.retries += w * rate * c.retry;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmck_stationary_matches_the_product_form() {
        for (lambda, mu, c, k) in [
            (80.0, 100.0, 1, 4),
            (150.0, 100.0, 1, 4),
            (30.0, 10.0, 4, 6),
        ] {
            let (pi, res) = mmck(lambda, mu, c, k).stationary().expect("solvable");
            assert!(res < 1e-12, "residual {res}");
            let (block, lq) = mmck_closed_form(lambda, mu, c, k);
            assert!(
                (pi[c + k] - block).abs() < 1e-12,
                "{} vs {block}",
                pi[c + k]
            );
            let lq_c: f64 = pi
                .iter()
                .enumerate()
                .map(|(i, x)| i.saturating_sub(c) as f64 * x)
                .sum();
            assert!((lq_c - lq).abs() < 1e-10);
        }
        // M/M/1/5 at ρ = 0.8: blocking 0.0888 (tests/theory.rs pins the simulator on it).
        let (b, _) = mmck_closed_form(80.0, 100.0, 1, 4);
        assert!((b - 0.088_8).abs() < 1e-4, "{b}");
    }

    #[test]
    fn hitting_times_match_the_birth_death_recursion() {
        // From 0 to the full state N of M/M/1/K: T(k→k+1) = (1 + μ T(k−1→k)) / λ.
        let (lambda, mu, k) = (8.0, 10.0, 6);
        let chain = mmck(lambda, mu, 1, k);
        let n = chain.len();
        let target: Vec<bool> = (0..n).map(|i| i == n - 1).collect();
        let (h, res) = chain.hitting_times(&target).expect("reachable");
        assert!(res < 1e-9, "{res}");
        let mut step = 1.0 / lambda;
        let mut total = step;
        for _ in 1..n - 1 {
            step = (1.0 + mu * step) / lambda;
            total += step;
        }
        assert!((h[0] - total).abs() < 1e-9 * total, "{} vs {total}", h[0]);
    }

    #[test]
    fn hit_probability_agrees_with_the_mean_and_the_exponential_limit() {
        // A single exponential step: P(hit by t) = 1 − e^{−λt}.
        let chain = Ctmc {
            out: vec![vec![(1, 2.0)], vec![(0, 1.0)]],
        };
        let p = chain.hit_probability(0, &[false, true], 0.7);
        assert!((p - (1.0 - (-1.4_f64).exp())).abs() < 1e-10, "{p}");
    }

    #[test]
    fn retry_system_conserves_flow() {
        let p = RetrySystem {
            lambda: 16.0,
            mu: 10.0,
            theta: 4.0,
            servers: 2,
            queue: 4,
        };
        let (chain, states) = retry_system(p);
        let (pi, res) = chain.stationary().expect("solvable");
        assert!(res < 1e-12);
        let r = retry_rates(p, &states, &pi);
        // Every attempt is served (success or wasted), rejected, or expires: attempts = λ +
        // retries; service completions = μ · E[busy].
        let attempts = p.lambda + r.retries;
        let ends = r.successes + r.wasted + r.rejected + r.expired;
        assert!((attempts - ends).abs() < 1e-9, "{attempts} vs {ends}");
        assert!((r.successes + r.wasted - p.mu * r.mean_busy).abs() < 1e-9);
    }
}
