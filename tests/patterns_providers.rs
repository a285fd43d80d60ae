//! Issue 17, providers part: providers and their `behind` links, scoped triggers, the
//! blast-radius report and DNS failover, on the shipped `patterns/` files over several seeds
//! (seeds 1..=5, never picked for the figure), and their input errors.

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

/// Che's approximation of an LRU cache's resident mass under Zipf(`s`) over `keys` keys with
/// `capacity` entries (Che, Tung, Wang 2002).
fn che_hit_ratio(keys: u32, capacity: u32, s: f64) -> f64 {
    let h: f64 = (1..=keys).map(|i| (i as f64).powf(-s)).sum();
    let p: Vec<f64> = (1..=keys).map(|i| (i as f64).powf(-s) / h).collect();
    let occupancy = |t: f64| p.iter().map(|&q| 1.0 - (-q * t).exp()).sum::<f64>();
    let (mut lo, mut hi) = (0.0f64, 1e12f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if occupancy(mid) < capacity as f64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    p.iter().map(|&q| q * (1.0 - (-q * lo).exp())).sum()
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
///   in edge-b's LRU (no fill happens while the origin fails, so the set is frozen; by then
///   > 15 000 requests have passed through it, ≫ the ≈ 2 100 it takes to turn over, so it is
///   in its stationary law): probability m = Che's resident mass (20 000 Zipf(1) keys, 1 000
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
    let m = che_hit_ratio(20_000, 1000, 1.0);
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

        let r = metastable::run(variant(&sc, "serve-stale"), seed);
        let expiry = token_expiry(&r, t0);
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
