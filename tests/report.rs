//! `metastable report DIR` through the real binary: a page from a real run with variants and
//! recorded state, hostile names escaped everywhere, the data safe inside its script element,
//! offline (no URL to fetch), atomic, and exit 2 with nothing written for a missing, empty or
//! broken directory. (The page's behaviour in a browser is tests/browser/run.sh's.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_metastable");
const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny-incident.toml");

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("metastable-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn bin(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run the binary")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The JSON inside `<script id="data" …>…</script>`.
fn data_of(page: &str) -> &str {
    let start = page
        .find("<script id=\"data\" type=\"application/json\">")
        .expect("data script");
    let rest = &page[start..];
    let body = &rest[rest.find('>').unwrap() + 1..];
    &body[..body.find("</script>").expect("data script closed")]
}

#[test]
fn report_of_a_run_with_variants_and_recorded_state() {
    let dir = tmp("variants");
    let out = bin(&[
        "run",
        TINY,
        "--out",
        s(&dir),
        "--record-state",
        "--quiet",
        "--seed",
        "3",
    ]);
    assert!(out.status.success(), "seed 3: {out:?}");
    assert!(dir.join("incident.csv").is_file() && dir.join("comparison.csv").is_file());
    assert!(dir.join("baseline/state.csv").is_file());
    let out = bin(&["report", s(&dir)]);
    assert!(out.status.success(), "{out:?}");
    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    // Verdicts, the incident and variant tables, and the data of every run and its state.
    assert!(page.contains("Incident: measured next to published"));
    assert!(page.contains("<h2>Variants</h2>"));
    assert!(page.contains("class=\"badge v-"));
    let data = data_of(&page);
    assert!(
        data.starts_with("{\"kind\":\"variants\""),
        "{}",
        &data[..80]
    );
    assert!(data.contains("\"variant\":\"baseline\""));
    assert!(data.contains("\"outage\":[\"up\""), "state.csv embedded");
    assert!(data.contains("\"goodput_per_s\":["));
    // Offline: nothing to fetch.
    for needle in ["http://", "https://", "src=", "<link", "@import"] {
        let hits: Vec<_> = page.match_indices(needle).collect();
        // The only URL allowed is the SVG namespace, which is a name, not a fetch.
        assert!(
            hits.iter()
                .all(|(i, _)| page[*i..].starts_with("http://www.w3.org/2000/svg")),
            "{needle} in the page"
        );
    }
    assert!(page.len() < 300 * 1024, "{} bytes", page.len());
    // Atomic: no temporary file left.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // --out elsewhere, same bytes.
    let other = dir.join("elsewhere/r.html");
    assert!(
        bin(&["report", s(&dir), "--out", s(&other), "-q"])
            .status
            .success()
    );
    assert_eq!(std::fs::read(&other).unwrap().len(), page.len());
    let _ = std::fs::remove_dir_all(&dir);
}

const HOSTILE: &str = "</script><script>alert(1)</script><!--<img src=x onerror=alert(2)>";

#[test]
fn hostile_names_are_escaped_in_html_and_json() {
    let dir = tmp("hostile");
    // A hand-made run directory whose scenario, component and reason are hostile.
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let h = q(HOSTILE);
    std::fs::write(
        dir.join("windows.csv"),
        format!(
            "variant,seed,component,kind,window_start_s,window_end_s,queue_len_end,goodput_per_s\n\
             {h},1,{h},service,0,1,3,10\n{h},1,{h},service,1,2,5,0\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("summary.csv"),
        format!(
            "scenario,variant,seed,component,kind,verdict,verdict_reason,loop,loop_evidence,trigger_start_s,trigger_end_s\n\
             {h},{h},1,{h},service,metastable,{h},{h},{h},0.5,\n"
        ),
    )
    .unwrap();
    let out = bin(&["report", s(&dir)]);
    assert!(out.status.success(), "{out:?}");
    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!page.contains(HOSTILE));
    assert!(!page.contains("<img"));
    // Exactly the page's own three script elements.
    assert_eq!(page.matches("<script").count(), 3, "scripts");
    assert_eq!(page.matches("</script>").count(), 3);
    // The data holds the name, escaped: no `<`, `>` or `&` at all.
    let data = data_of(&page);
    assert!(!data.contains(['<', '>', '&']));
    assert!(data.contains("\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"));
    // In HTML, the name shows escaped in the title, heading and verdict.
    assert!(page.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--&lt;img"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_directories_exit_2_and_write_nothing() {
    let base = tmp("bad");
    let check = |dir: &Path, want: &str| {
        let out_file = base.join("never.html");
        let out = bin(&["report", s(dir), "--out", s(&out_file)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", dir.display());
        assert!(err.contains(want), "{}: {err}", dir.display());
        assert!(
            !out_file.exists(),
            "a page was written for {}",
            dir.display()
        );
        assert!(!dir.join("report.html").exists());
    };
    check(&base.join("missing"), "no such directory");
    let empty = base.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    check(&empty, "not a metastable output directory");
    // comparison.csv naming a variant whose directory is missing.
    let broken = base.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("comparison.csv"), "scenario,variant\ns,gone\n").unwrap();
    check(&broken, "windows.csv");
    // A variant name that escapes the directory.
    let escape = base.join("escape");
    std::fs::create_dir_all(&escape).unwrap();
    std::fs::write(escape.join("comparison.csv"), "scenario,variant\ns,../x\n").unwrap();
    check(&escape, "not a plain directory name");
    // A ragged CSV names the file and the line.
    let ragged = base.join("ragged");
    std::fs::create_dir_all(&ragged).unwrap();
    std::fs::write(ragged.join("points.csv"), "point,x\n0,1\n1\n").unwrap();
    check(&ragged, "points.csv: line 3");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn recording_state_changes_no_other_output_and_is_deterministic() {
    let dir = tmp("record");
    let retry_storm = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/retry-storm.toml");
    let run = |name: &str, record: bool| {
        let out = dir.join(name);
        let mut args = vec![
            "run",
            retry_storm,
            "--variant",
            "circuit-breaker",
            "--seed",
            "5",
            "--quiet",
            "--out",
            s(&out),
        ];
        if record {
            args.push("--record-state");
        }
        assert!(bin(&args).status.success(), "seed 5");
        out
    };
    let (plain, a, b) = (run("plain", false), run("a", true), run("b", true));
    for f in ["windows.csv", "summary.csv"] {
        assert_eq!(
            std::fs::read(plain.join(f)).unwrap(),
            std::fs::read(a.join(f)).unwrap(),
            "{f} changed by --record-state (seed 5)"
        );
    }
    assert!(!plain.join("state.csv").exists());
    let state = std::fs::read_to_string(a.join("state.csv")).unwrap();
    assert_eq!(state, std::fs::read_to_string(b.join("state.csv")).unwrap());
    assert!(state.starts_with("variant,seed,time_s,component,field,value\n"));
    // The breaker opens during the retry storm and closes again (seed 5).
    assert!(state.contains(",users,breaker,open\n") && state.contains(",users,breaker,closed\n"));
    // One sample per window end: 300 s of 1 s windows.
    assert_eq!(state.matches(",users,breaker,").count(), 300);
    let _ = std::fs::remove_dir_all(&dir);
}
