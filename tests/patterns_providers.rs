//! Issue 17, providers part: providers and their `behind` links, scoped triggers, the
//! blast-radius report, DNS failover, static stability (a control plane as a call edge with
//! a cache), serve-stale and client-side endpoint failover, on the shipped `patterns/` files
//! over several seeds (seeds 1..=5, never picked for the figure), and their input errors.

mod common;
use std::path::PathBuf;
use std::process::Command;

use metastable::analysis::blast::BlastRadius;
use metastable::analysis::failover;

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

fn pattern_text(name: &str) -> String {
    let path = PathBuf::from(format!("{}/patterns/{name}", env!("CARGO_MANIFEST_DIR")));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with each `(from, to)` replaced once (the test fails if a line is not there).
fn edited(text: &str, edits: &[(&str, &str)]) -> String {
    let mut t = text.to_string();
    for (from, to) in edits {
        assert!(t.contains(from), "pattern no longer has {from:?}");
        t = t.replacen(from, to, 1);
    }
    t
}

fn variant<'a>(sc: &'a metastable::Scenario, name: &str) -> &'a metastable::Scenario {
    sc.variant_named(name)
        .unwrap_or_else(|| panic!("no variant {name}"))
}

fn flow<'a>(b: &'a BlastRadius, name: &str) -> &'a metastable::analysis::blast::FlowImpact {
    b.flows
        .iter()
        .find(|f| f.flow == name)
        .unwrap_or_else(|| panic!("no flow {name}"))
}

/// The transitive dependency, shortened to a 10-minute outage in a 20-minute run (the
/// mechanism does not depend on the length). With `outage` every call into paas (directly or
/// through partner-api) times out, so the flows that reach it lose all their calls while it
/// lasts (lost fraction 1 up to the Poisson noise of which calls end in the impact windows:
/// above 0.95), and the flow that never reaches paas loses nothing (< 1 %: only window-edge
/// effects). In the operator's map (paas behind nothing) the same trigger reaches no service.
#[test]
fn transitive_dependency_exposes_the_hidden_path() {
    let text = edited(
        &pattern_text("transitive-dependency.toml"),
        &[
            ("duration_s = 3600.0", "duration_s = 1200.0"),
            ("from_s = 600.0", "from_s = 300.0"),
            ("to_s = 2400.0", "to_s = 900.0"),
        ],
    );
    let sc = metastable::parse(&text, "transitive-dependency.toml").expect("valid");
    for seed in SEEDS {
        let r = metastable::run(&sc, seed);
        let b = BlastRadius::of(&r).expect("scoped trigger");
        let shoppers = flow(&b, "shoppers");
        assert_eq!(
            shoppers.failed.as_ref().map(|f| f.0.as_str()),
            Some("storefront"),
            "seed {seed}"
        );
        assert!(
            shoppers.path().contains("provider paas behind cdnco"),
            "seed {seed}: {}",
            shoppers.path()
        );
        assert!(shoppers.confirmed, "seed {seed}");
        assert!(
            shoppers.lost_fraction.is_some_and(|x| x > 0.95),
            "seed {seed}: {:?}",
            shoppers.lost_fraction
        );
        let partners = flow(&b, "partners");
        assert_eq!(
            partners.path(),
            "partners > partner-api > catalog [provider paas behind cdnco]",
            "seed {seed}"
        );
        assert!(partners.confirmed, "seed {seed}");
        // The confirming hop is the call edge into paas, whose failures rose from none.
        let last = partners.hops.last().expect("hops");
        assert_eq!(last.client, "partner-api->catalog", "seed {seed}");
        assert!(
            last.failed_before_per_s == 0.0 && last.failed_during_per_s > 5.0,
            "seed {seed}: {last:?}"
        );
        let admins = flow(&b, "admins");
        assert!(admins.failed.is_none(), "seed {seed}");
        assert!(
            admins.lost_fraction.is_some_and(|x| x < 0.01),
            "seed {seed}: {:?}",
            admins.lost_fraction
        );

        let m = metastable::run(variant(&sc, "operators-map"), seed);
        let b = BlastRadius::of(&m).expect("scoped trigger");
        for f in &b.flows {
            assert!(f.failed.is_none(), "seed {seed}: {}", f.flow);
            assert!(
                f.lost_fraction.is_some_and(|x| x < 0.01),
                "seed {seed}: {} {:?}",
                f.flow,
                f.lost_fraction
            );
        }
    }
}

/// The four-hour CDN outage, full length (seeds 1..=5). Bounds from the model's rules:
/// - one CDN: every call during the outage fails (`outage`: timeouts) → lost fraction ≥ 0.99;
/// - active–passive failover: the first failing check comes within one interval (30 s) of
///   the trigger, the decision two intervals later → detect ∈ (60, 90] s; the record changes
///   exactly `propagation_s` = 60 s later; a host keeps a cached answer ≤ TTL (300 s) and a
///   connection opened on it ≤ 120 s more → caching ≤ 420 s, and with 200 hosts each calling
///   every ≈ 10 s the last one is within the last 60 s of its cached answer's life → ≥ 240 s;
///   every call before the record change fails and none after the last old call does, so the
///   lost fraction is in [(60 + 60) / 14 400 × 0.9, (90 + 60 + 420) / 14 400] ≈ [0.75 %, 4 %];
/// - a 30 s TTL with 30 s connections: caching ≤ 60 s;
/// - active–active 50/50: half the hosts are on the second CDN already, so it loses about
///   half of what active–passive does (asserted ≤ 0.75 ×, per seed).
#[test]
#[ignore = "slow shape test: 5 seeds × 4 five-hour runs; runs in the release suite"]
fn multi_cdn_dns_failover_is_detection_plus_propagation_plus_caching() {
    let sc = metastable::load(std::path::Path::new(&format!(
        "{}/patterns/saas-cdn-outage.toml",
        env!("CARGO_MANIFEST_DIR")
    )))
    .expect("valid");
    let trigger_len = 14_400.0;
    for seed in SEEDS {
        let lost = |name: Option<&str>| {
            let s = name.map_or(&sc, |n| variant(&sc, n));
            let r = metastable::run(s, seed);
            let b = BlastRadius::of(&r).expect("scoped trigger");
            let f = flow(&b, "users").lost_fraction.expect("baseline");
            (f, failover::timings(&r), r)
        };
        let (single, t, _) = lost(None);
        assert!(single >= 0.99, "seed {seed}: {single}");
        assert!(t.is_empty(), "seed {seed}");

        let (ap, t, _) = lost(Some("dns-failover"));
        let fo = t
            .iter()
            .find(|t| t.direction == "failover")
            .expect("a failover");
        let detect = fo.detect_s().expect("trigger");
        assert!(detect > 60.0 && detect <= 90.0, "seed {seed}: {detect}");
        assert!((fo.record_s() - 60.0).abs() < 1e-6, "seed {seed}");
        let caching = fo.caching_s();
        assert!((240.0..=420.0).contains(&caching), "seed {seed}: {caching}");
        assert!(
            t.iter().any(|t| t.direction == "failback"),
            "seed {seed}: no failback"
        );
        assert!(
            ap >= 0.9 * 120.0 / trigger_len && ap <= 570.0 / trigger_len,
            "seed {seed}: {ap}"
        );

        let (_, t, _) = lost(Some("dns-failover-short-ttl"));
        let fo = t
            .iter()
            .find(|t| t.direction == "failover")
            .expect("a failover");
        assert!(fo.caching_s() <= 60.0, "seed {seed}: {}", fo.caching_s());

        let (aa, _, _) = lost(Some("active-active"));
        assert!(aa <= 0.75 * ap, "seed {seed}: active-active {aa} vs {ap}");
    }
}

fn n(x: Option<u64>) -> u64 {
    x.unwrap_or(0)
}

/// Sum of `f` over component `name`'s windows starting in `[from, to)`.
fn sum(
    r: &metastable::RunReport,
    name: &str,
    from: f64,
    to: f64,
    f: fn(&metastable::run::metrics::Values) -> Option<u64>,
) -> u64 {
    r.series_of(name)
        .unwrap_or_else(|| panic!("no component {name}"))
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, v)| n(f(v)))
        .sum()
}

/// Successes ÷ first tries of client `name` over the windows starting in `[from, to)`.
fn success_ratio(r: &metastable::RunReport, name: &str, from: f64, to: f64) -> f64 {
    let ok = sum(r, name, from, to, |v| v.successes);
    let tries = sum(r, name, from, to, |v| v.first_tries);
    ok as f64 / tries.max(1) as f64
}

/// Start of the first window at or after `from` in which the origin's credential re-issue
/// call timed out: the window in which the token in hand expired.
fn token_expiry(r: &metastable::RunReport, from: f64) -> f64 {
    r.series_of("origin->cloud-iam")
        .expect("the credential call")
        .iter()
        .find(|(t, v)| *t >= from && n(v.timeouts) > 0)
        .map(|(t, _)| *t)
        .expect("the token expired during the outage")
}

/// Static stability and serve-stale in the four-hour CDN outage (seeds 1..=5). The cloud's
/// token service (cloud-iam) sits behind the failed CDN, so it is down for the whole outage;
/// all three variants fail users over to edge-b as `dns-failover` does. Bounds from the
/// model's rules (token lifetime L = 3600 s, outage D = 14 400 s from T = 1800 s):
/// - the token held at T was issued before T, so it expires in [T, T + L]; from then every
///   origin request's re-issue call times out;
/// - token-per-credential: no request succeeds after the expiry (< 1 %), every one does
///   between the failover's end (≤ T + 570 s) and the expiry (≥ 98 %), and the lost fraction
///   is at least (D − L) ÷ D (the latest possible expiry) less 1 % for window edges;
/// - static-stability: the last token answers every failed re-issue (stale-if-error), so the
///   users lose only what dns-failover loses (≤ 570 s of the outage, as in the test above)
///   and ≥ 99 % succeed after the expiry;
/// - serve-stale: after the expiry an attempt through edge-b succeeds iff its key is resident
///   in edge-b's LRU (no fill happens while the origin fails, so the set is frozen; when the
///   expiry comes ≥ 1 500 s after the trigger — checked — more than 15 000 requests have
///   passed through it since the failover, ≫ the ≈ 2 100 it takes to turn over, so it is in
///   its stationary law): probability m = Che's resident mass (20 000 Zipf(1) keys, 1 000
///   entries: 0.614); a user's two attempts draw independent keys, so the success ratio is
///   1 − (1 − m)² ≈ 0.851. ±0.03 covers Che's error (< 1 %) and the set's variation.
#[test]
#[ignore = "slow shape test: 5 seeds × 3 five-hour runs; runs in the release suite"]
fn static_stability_keeps_serving_through_the_control_plane_outage() {
    let sc = metastable::load(std::path::Path::new(&format!(
        "{}/patterns/saas-cdn-outage.toml",
        env!("CARGO_MANIFEST_DIR")
    )))
    .expect("valid");
    let (t0, t1, life) = (1800.0, 16_200.0, 3600.0);
    let d = t1 - t0;
    let m = common::che_hit_ratio(20_000, 1000, 1.0);
    let predicted = 1.0 - (1.0 - m) * (1.0 - m);
    for seed in SEEDS {
        let rerun = format!(
            "seed {seed}; reproduce: metastable run patterns/saas-cdn-outage.toml --seed {seed}"
        );
        let lost = |r: &metastable::RunReport| {
            let b = BlastRadius::of(r).expect("scoped trigger");
            flow(&b, "users").lost_fraction.expect("baseline")
        };

        let r = metastable::run(variant(&sc, "token-per-credential"), seed);
        let expiry = token_expiry(&r, t0);
        assert!(
            expiry <= t0 + life,
            "token-per-credential: expiry at {expiry} s ({rerun})"
        );
        let after = success_ratio(&r, "users", expiry + 60.0, t1);
        assert!(
            after < 0.01,
            "token-per-credential: {after:.4} after the expiry ({rerun})"
        );
        if expiry - 60.0 > t0 + 600.0 {
            let before = success_ratio(&r, "users", t0 + 600.0, expiry - 60.0);
            assert!(
                before >= 0.98,
                "token-per-credential: {before:.4} before the expiry ({rerun})"
            );
        }
        let per_cred = lost(&r);
        assert!(
            per_cred >= (d - life) / d - 0.01,
            "token-per-credential: lost {per_cred:.4} < (D − L)/D ({rerun})"
        );

        let r = metastable::run(variant(&sc, "static-stability"), seed);
        let expiry = token_expiry(&r, t0);
        let after = success_ratio(&r, "users", expiry + 60.0, t1);
        assert!(
            after >= 0.99,
            "static-stability: {after:.4} after the expiry ({rerun})"
        );
        let stale = sum(&r, "origin->cloud-iam", expiry + 60.0, t1, |v| {
            v.stale_answers
        });
        let served = sum(&r, "origin", expiry + 60.0, t1, |v| v.completions);
        assert!(
            stale > 0 && stale as f64 >= 0.99 * served as f64,
            "static-stability: {stale} stale credentials for {served} origin answers ({rerun})"
        );
        let st = lost(&r);
        assert!(st <= 570.0 / d, "static-stability: lost {st:.4} ({rerun})");

        // With a breaker (5 consecutive failures, 10 s open, one half-open probe of 300 ms)
        // the control plane sees one re-issue call per 10.3 s cycle instead of one per
        // request, and the users lose no more.
        let r = metastable::run(variant(&sc, "static-stability-breaker"), seed);
        let expiry = token_expiry(&r, t0);
        let after = success_ratio(&r, "users", expiry + 60.0, t1);
        assert!(
            after >= 0.99,
            "static-stability-breaker: {after:.4} ({rerun})"
        );
        let calls = sum(&r, "origin->cloud-iam", expiry, t1, |v| v.timeouts);
        let span = t1 - expiry;
        let (lo, hi) = ((span - 60.0) / 10.3, (span + 60.0) / 10.0 + 5.0);
        assert!(
            (lo..=hi).contains(&(calls as f64)),
            "static-stability-breaker: {calls} re-issue calls, expected {lo:.0}..={hi:.0} ({rerun})"
        );
        assert!(
            lost(&r) <= 570.0 / d,
            "static-stability-breaker: lost {:.4} ({rerun})",
            lost(&r)
        );

        let r = metastable::run(variant(&sc, "serve-stale"), seed);
        let expiry = token_expiry(&r, t0);
        assert!(
            expiry >= t0 + 1500.0,
            "serve-stale: expiry at {expiry} s, too early for a stationary cache ({rerun})"
        );
        let after = success_ratio(&r, "users", expiry + 120.0, t1);
        assert!(
            (after - predicted).abs() < 0.03,
            "serve-stale: {after:.4} after the expiry, 1 − (1 − Che {m:.4})² = {predicted:.4} ({rerun})"
        );
        let ss = lost(&r);
        assert!(
            ss < per_cred && ss > st,
            "serve-stale lost {ss:.4}: not between static {st:.4} and per-credential {per_cred:.4} ({rerun})"
        );
    }
}

/// Client-side endpoint failover in the four-hour CDN outage (seeds 1..=5): the users' client
/// library switches to edge-b after 5 consecutive failed calls and probes edge-a every 60 s.
/// Bounds from the model's rules (a call to a dark endpoint fails after two 3 s timeouts and a
/// backoff ≤ 200 ms, so 6.0–6.2 s after it started; 20 calls/s):
/// - away: the fifth failed call ends 6.0–6.2 s after a call started at (or was in flight
///   within its p99 of 0.25 s before) the trigger, plus the arrival of four more (≪ 1 s):
///   in [T + 5.5, T + 8.5];
/// - each probe cycle is the 60 s wait, the next arrival and the probe's own 6.0–6.2 s:
///   failed probes in [⌊(D − 8.5)/66.5⌋, ⌈D/66⌉];
/// - back: the first probe after the trigger's end succeeds: within 66.5 s of it;
/// - failed calls: those started before the switch (≤ 20/s × (away − T + 0.3 s), × 1.5 for
///   the Poisson spread) plus one per failed probe; far below dns-failover's (≥ 120 s of
///   detection and record change at 20/s = 2 400).
#[test]
#[ignore = "slow shape test: 5 seeds × 2 five-hour runs; runs in the release suite"]
fn client_side_endpoint_failover_switches_on_its_own_failures() {
    let sc = metastable::load(std::path::Path::new(&format!(
        "{}/patterns/saas-cdn-outage.toml",
        env!("CARGO_MANIFEST_DIR")
    )))
    .expect("valid");
    let (t0, t1) = (1800.0, 16_200.0);
    let d = t1 - t0;
    for seed in SEEDS {
        let rerun = format!(
            "seed {seed}; reproduce: metastable run patterns/saas-cdn-outage.toml --seed {seed}"
        );
        let r = metastable::run(variant(&sc, "client-failover"), seed);
        let (name, log) = &r.endpoint_failover[0];
        assert_eq!(name, "users");
        let sw: Vec<(f64, bool)> = log
            .switches
            .iter()
            .map(|s| (s.at.as_secs_f64(), s.to_secondary))
            .collect();
        assert_eq!(sw.len(), 2, "one switch each way: {sw:?} ({rerun})");
        let (away, back) = (sw[0].0, sw[1].0);
        assert!(sw[0].1 && !sw[1].1, "{sw:?} ({rerun})");
        assert!(
            (t0 + 5.5..=t0 + 8.5).contains(&away),
            "away at {away} s ({rerun})"
        );
        assert!(
            (t1..=t1 + 66.5).contains(&back),
            "back at {back} s ({rerun})"
        );
        let lo = ((d - 8.5) / 66.5).floor() as u64;
        let hi = (d / 66.0).ceil() as u64;
        assert!(
            (lo..=hi).contains(&log.probes_failed) && log.probes == log.probes_failed + 1,
            "probes {} ({} failed), expected {lo}..={hi} failed ({rerun})",
            log.probes,
            log.probes_failed
        );
        let failed = sum(&r, "users", t0, t1 + 120.0, |v| v.give_ups);
        let bound = 1.5 * 20.0 * (away - t0 + 0.3) + log.probes_failed as f64;
        assert!(
            failed >= log.probes_failed && failed as f64 <= bound,
            "{failed} failed calls, bound {bound:.0} ({rerun})"
        );
        let dns = metastable::run(variant(&sc, "dns-failover"), seed);
        let dns_failed = sum(&dns, "users", t0, t1 + 120.0, |v| v.give_ups);
        assert!(
            dns_failed >= 2400 && failed * 4 < dns_failed,
            "client {failed} vs dns {dns_failed} failed calls ({rerun})"
        );
    }
}

/// The mechanism on a call edge, exactly: api → db with `endpoint_failover` to db2; db is
/// dark over [10, 40) s. Calls switch after 3 failures, probe every 5 s, come back after
/// the outage; the users' success recovers while db is still down.
#[test]
fn endpoint_failover_on_a_call_edge_moves_the_calls() {
    let text = r#"
[scenario]
name = "edge-failover"
duration_s = 60.0
window_ms = 1000.0

[[clients]]
name = "users"
target = "api"
rate_per_s = 50.0
timeout_ms = 2000.0

[[services]]
name = "api"
servers = 200
service_time = { dist = "exponential", mean_ms = 1.0 }
calls = [{ target = "db", timeout_ms = 200.0, endpoint_failover = { secondary = "db2", after_failures = 3, probe_after_s = 5.0 } }]

[[services]]
name = "db"
servers = 20
service_time = { dist = "exponential", mean_ms = 5.0 }

[[services]]
name = "db2"
servers = 20
service_time = { dist = "exponential", mean_ms = 5.0 }

[[triggers]]
from_s = 10.0
to_s = 40.0
action = "outage"
target = "db"
"#;
    let sc = metastable::parse(text, "edge.toml").expect("valid");
    for seed in SEEDS {
        let r = metastable::run(&sc, seed);
        let (name, log) = &r.endpoint_failover[0];
        assert_eq!(name, "api->db", "seed {seed}");
        let sw: Vec<(f64, bool)> = log
            .switches
            .iter()
            .map(|s| (s.at.as_secs_f64(), s.to_secondary))
            .collect();
        // Away: the third failed call ends 0.2 s after it started (one attempt, 200 ms).
        assert_eq!(sw.len(), 2, "seed {seed}: {sw:?}");
        assert!(
            sw[0].1 && (10.0..10.5).contains(&sw[0].0),
            "seed {seed}: {sw:?}"
        );
        // Back: the first probe after 40 s succeeds, within 5 s + a probe's 0.2 s of it.
        assert!(
            !sw[1].1 && (40.0..45.5).contains(&sw[1].0),
            "seed {seed}: {sw:?}"
        );
        // Probes in between: one per 5.2 s cycle, all failed.
        assert!((5..=6).contains(&log.probes_failed), "seed {seed}: {log:?}");
        // Every call fails only as a probe; a window edge shifts a few calls (successes are
        // counted when they end, ≈ 6 ms after their first try: 50/s × 6 ms ≪ 1 expected).
        let ok = sum(&r, "users", 12.0, 40.0, |v| v.successes);
        let tries = sum(&r, "users", 12.0, 40.0, |v| v.first_tries);
        assert!(
            ok + log.probes_failed + 3 >= tries,
            "seed {seed}: {ok} of {tries} while db is down"
        );
        let db2 = sum(&r, "db2", 12.0, 40.0, |v| v.arrivals);
        assert!(db2 > 0, "seed {seed}");
    }
}

/// The per-connection recipe of docs/providers.md: api needs the control plane `cp` for each
/// of its 20 connections (a 20-key uniform cache, TTL = the 30 s connection lifetime); `cp`
/// is down from 60 s on. Every entry was filled before 60 s, so all have expired by 90 s:
/// from then on no request succeeds (< 1 %); before the outage every key had been drawn
/// (20 keys, 100 requests/s), so nearly every request succeeds (≥ 99 %). In between the share
/// falls as the entries expire.
#[test]
fn per_connection_control_plane_fails_within_one_connection_lifetime() {
    let text = r#"
[scenario]
name = "per-connection"
duration_s = 120.0
window_ms = 1000.0

[[clients]]
name = "users"
target = "api"
rate_per_s = 100.0
timeout_ms = 2000.0

[[services]]
name = "api"
servers = 100
service_time = { dist = "exponential", mean_ms = 1.0 }
calls = [{ target = "cp", timeout_ms = 100.0, cache = { keys = 20, capacity = 20, zipf_s = 0.0, ttl_s = 30.0, hit_ms = 0.0, fill = "look_aside", warm = false } }]

[[services]]
name = "cp"
servers = 10
service_time = { dist = "exponential", mean_ms = 2.0 }

[[triggers]]
from_s = 60.0
to_s = 120.0
action = "outage"
target = "cp"
"#;
    let sc = metastable::parse(text, "conn.toml").expect("valid");
    let stale = metastable::parse(
        &text.replace(
            "warm = false }",
            "warm = false, stale_if_error_s = 3600.0 }",
        ),
        "conn.toml",
    )
    .expect("valid");
    for seed in SEEDS {
        let r = metastable::run(&sc, seed);
        let before = success_ratio(&r, "users", 10.0, 60.0);
        assert!(before >= 0.99, "seed {seed}: {before:.4} before the outage");
        let after = success_ratio(&r, "users", 91.0, 120.0);
        assert!(after < 0.01, "seed {seed}: {after:.4} after one lifetime");
        // Static: the last connection setup keeps answering.
        let s = metastable::run(&stale, seed);
        let after = success_ratio(&s, "users", 91.0, 120.0);
        assert!(
            after >= 0.99,
            "seed {seed}: static {after:.4} after one lifetime"
        );
    }
}

/// A primary whose name resolves to nothing (`dns_empty` over [10, 40) s): each call that
/// resolves it fails at once and counts as a failed call, so the client switches once every
/// host's kept connection (5 s) and cached answer (5 s) has run out — by 20 s; on the
/// secondary it no longer resolves the primary's name; it comes back on the first probe that
/// resolves after 40 s (a host may still hold the empty answer for its 5 s negative TTL, a
/// failed probe waits 5 s more): by 51 s.
#[test]
fn endpoint_failover_counts_an_empty_dns_answer_as_a_failure() {
    let text = BASE
        .replace(
            "timeout_ms = 1000.0",
            "timeout_ms = 1000.0\ndns = { hosts = 10, ttl_s = 5.0, negative_ttl_s = 5.0, connection_lifetime_s = 5.0 }\nendpoint_failover = { secondary = \"api-b\", after_failures = 3, probe_after_s = 5.0 }",
        )
        .replace("duration_s = 100.0", "duration_s = 60.0")
        .replace("rate_per_s = 10.0", "rate_per_s = 50.0")
        .replace(
            "from_s = 10.0\nto_s = 20.0\naction = \"outage\"\nscope = \"provider\"\ntarget = \"cdn\"",
            "from_s = 10.0\nto_s = 40.0\naction = \"dns_empty\"\ntarget = \"api\"",
        );
    let sc = metastable::parse(&text, "t.toml").expect("valid");
    for seed in SEEDS {
        let r = metastable::run(&sc, seed);
        let log = &r.endpoint_failover[0].1;
        let sw: Vec<(f64, bool)> = log
            .switches
            .iter()
            .map(|s| (s.at.as_secs_f64(), s.to_secondary))
            .collect();
        assert_eq!(sw.len(), 2, "seed {seed}: {sw:?}");
        assert!(
            sw[0].1 && (10.0..=20.5).contains(&sw[0].0),
            "seed {seed}: {sw:?}"
        );
        assert!(
            !sw[1].1 && (40.0..=51.0).contains(&sw[1].0),
            "seed {seed}: {sw:?}"
        );
        // On the secondary only failed probes fail (at once, one per 5 s cycle).
        let ok = sum(&r, "users", 21.0, 40.0, |v| v.successes);
        let tries = sum(&r, "users", 21.0, 40.0, |v| v.first_tries);
        assert!(ok + 5 >= tries, "seed {seed}: {ok} of {tries}");
        assert!(
            sum(&r, "api-b", 21.0, 40.0, |v| v.arrivals) > 0,
            "seed {seed}"
        );
    }
}

#[test]
fn endpoint_failover_errors_name_the_field() {
    let with = |f: &str| {
        BASE.replace(
            "timeout_ms = 1000.0",
            &format!("timeout_ms = 1000.0\nendpoint_failover = {f}"),
        )
    };
    metastable::parse(
        &with("{ secondary = \"api-b\", after_failures = 3, probe_after_s = 30.0 }"),
        "t.toml",
    )
    .expect("valid");
    let e = error_of(&with(
        "{ secondary = \"api\", after_failures = 0, probe_after_s = -1.0 }",
    ));
    for words in [
        "clients[0].endpoint_failover.secondary",
        "must differ from the target",
        "clients[0].endpoint_failover.after_failures",
        "clients[0].endpoint_failover.probe_after_s",
    ] {
        assert!(e.contains(words), "{words}: {e}");
    }
    let e = error_of(&with(
        "{ secondary = \"nope\", after_failures = 3, probe_after_s = 1.0 }",
    ));
    assert!(
        e.contains("clients[0].endpoint_failover.secondary") && e.contains("nope"),
        "{e}"
    );
    let both = BASE.replace(
        "timeout_ms = 1000.0",
        "timeout_ms = 1000.0\nendpoint_failover = { secondary = \"api-b\", after_failures = 3, probe_after_s = 1.0 }\ndns = { hosts = 10, ttl_s = 60.0, negative_ttl_s = 5.0, connection_lifetime_s = 30.0, failover = { secondary = \"api-b\", check_interval_s = 10.0, unhealthy_after = 3, healthy_after = 2, propagation_s = 30.0 } }",
    );
    let e = error_of(&both);
    assert!(e.contains("not both"), "{e}");
    let e = error_of(
        &with("{ secondary = \"api-b\", after_failures = 3, probe_after_s = 1.0 }")
            .replace("timeout_ms = 1000.0\n", ""),
    );
    assert!(
        e.contains("clients[0].endpoint_failover") && e.contains("needs timeout_ms"),
        "{e}"
    );
}

const BASE: &str = r#"
[scenario]
name = "t"
duration_s = 100.0

[[providers]]
name = "cdn"

[[providers]]
name = "paas"
behind = ["cdn"]

[[clients]]
name = "users"
target = "api"
rate_per_s = 10.0
timeout_ms = 1000.0

[[services]]
name = "api"
servers = 10
service_time = { dist = "exponential", mean_ms = 10.0 }
provider = "paas"
region = "eu"

[[services]]
name = "api-b"
servers = 10
service_time = { dist = "exponential", mean_ms = 10.0 }

[[triggers]]
from_s = 10.0
to_s = 20.0
action = "outage"
scope = "provider"
target = "cdn"
"#;

fn error_of(text: &str) -> String {
    match metastable::parse(text, "t.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_base_file_is_valid_and_its_trigger_reaches_through_behind() {
    let sc = metastable::parse(BASE, "t.toml").expect("valid");
    let t = &sc.topology.scoped_triggers[0];
    assert_eq!(t.members, vec![0]);
    assert_eq!(t.reasons, vec!["provider paas behind cdn".to_string()]);
    // The expansion is the ordinary per-service outage and restore.
    assert!(
        sc.world
            .actions
            .iter()
            .any(|a| a.action == models::Action::Outage { service: 0 })
    );
    assert!(
        sc.world
            .actions
            .iter()
            .any(|a| a.action == models::Action::Restore { service: 0 })
    );
}

#[test]
fn provider_errors_name_file_line_and_field() {
    let e = error_of(&BASE.replace("behind = [\"cdn\"]", "behind = [\"cdnn\"]"));
    assert!(
        e.contains("t.toml:11:")
            && e.contains("providers[1].behind[0]")
            && e.contains("no provider named \"cdnn\""),
        "{e}"
    );
    let e = error_of(&BASE.replace("provider = \"paas\"", "provider = \"pass\""));
    assert!(
        e.contains("services[0].provider") && e.contains("\"pass\""),
        "{e}"
    );
    let e = error_of(&BASE.replace(
        "[[providers]]\nname = \"cdn\"",
        "[[providers]]\nname = \"cdn\"\nbehind = [\"paas\"]",
    ));
    assert!(e.contains("cycle"), "{e}");
    let e = error_of(&BASE.replace(
        "scope = \"provider\"\ntarget = \"cdn\"",
        "scope = \"region\"\ntarget = \"us\"",
    ));
    assert!(
        e.contains("triggers[0].target") && e.contains("no service is in region \"us\""),
        "{e}"
    );
    let e = error_of(&BASE.replace("action = \"outage\"", "action = \"servers\"\nvalue = 0.0"));
    assert!(
        e.contains("triggers[0].action") && e.contains("takes outage, error_rate"),
        "{e}"
    );
    let e = error_of(&BASE.replace("scope = \"provider\"", "scope = \"planet\""));
    assert!(e.contains("planet"), "{e}");
}

#[test]
fn failover_errors_name_the_field() {
    let with = |f: &str| {
        BASE.replace(
            "timeout_ms = 1000.0",
            &format!("timeout_ms = 1000.0\ndns = {{ hosts = 10, ttl_s = 60.0, negative_ttl_s = 5.0, connection_lifetime_s = 30.0, failover = {f} }}"),
        )
    };
    let ok = with(
        "{ secondary = \"api-b\", check_interval_s = 10.0, unhealthy_after = 3, healthy_after = 2, propagation_s = 30.0 }",
    );
    metastable::parse(&ok, "t.toml").expect("valid");
    let e = error_of(&with(
        "{ secondary = \"nope\", check_interval_s = 10.0, unhealthy_after = 3, healthy_after = 2, propagation_s = 30.0 }",
    ));
    assert!(e.contains("clients[0].dns.failover.secondary"), "{e}");
    let e = error_of(&with(
        "{ secondary = \"api\", check_interval_s = 10.0, unhealthy_after = 3, healthy_after = 2, propagation_s = 30.0 }",
    ));
    assert!(e.contains("must differ from the client's target"), "{e}");
    let e = error_of(&with(
        "{ secondary = \"api-b\", check_interval_s = 0.0, unhealthy_after = 0, healthy_after = 2, propagation_s = -1.0, weight_secondary = 2.0 }",
    ));
    for field in [
        "check_interval_s",
        "unhealthy_after",
        "propagation_s",
        "weight_secondary",
    ] {
        assert!(
            e.contains(&format!("clients[0].dns.failover.{field}")),
            "{field}: {e}"
        );
    }
}

#[test]
fn check_exits_2_on_a_bad_provider_and_0_on_the_patterns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, BASE.replace("target = \"cdn\"", "target = \"cdx\"")).expect("write");
    let bin = env!("CARGO_BIN_EXE_metastable");
    let o = Command::new(bin)
        .arg("check")
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:") && err.contains("triggers[0].target"),
        "{err}"
    );
    for p in ["saas-cdn-outage.toml", "transitive-dependency.toml"] {
        let path = format!("{}/patterns/{p}", env!("CARGO_MANIFEST_DIR"));
        let o = Command::new(bin)
            .arg("check")
            .arg(&path)
            .output()
            .expect("run");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{p}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
