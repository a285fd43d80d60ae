//! Load a scenario, run it, read the report: the verdict, one component's summary, a metric
//! window by window, and the CSV tables `metastable run` writes.
//!
//! ```text
//! cargo run --release --example load_and_run [SCENARIO] [SEED]
//! ```
//!
//! Default: `scenarios/hotos-retry.toml` (HotOS 2021 §2.1: 280 QPS, one retry, a 10 s
//! partition) with the file's seed; about 0.3 s in release. Bad input (a missing file, a bad
//! field, a seed that is not an integer) prints the error and exits with code 2.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .map_or("scenarios/hotos-retry.toml", String::as_str);

    // Load and validate: an error names the file, the line and the field.
    let scenario = match metastable::load(Path::new(path)) {
        Ok(sc) => sc,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let seed = match args.get(1).map(|s| s.parse::<u64>()) {
        None => scenario.seed,
        Some(Ok(seed)) => seed,
        Some(Err(_)) => {
            eprintln!(
                "SEED must be an integer in 0..=18446744073709551615, got {:?}",
                args[1]
            );
            return ExitCode::from(2);
        }
    };

    // Run: a pure function of (scenario, seed).
    let report = metastable::run(&scenario, seed);
    print!("{}", report.human_summary());

    // The verdict and its reason, as values.
    let analysis = report.analysis();
    println!(
        "\nverdict of {} (seed {seed}): {}",
        scenario.name,
        analysis.verdict.as_str()
    );
    if let Some((from, to)) = analysis.trigger_start_s.zip(analysis.trigger_end_s) {
        println!("trigger: {from:.0} s → {to:.0} s");
    }
    match analysis.recovery_s {
        Some(s) => println!("recovered {s:.1} s after the trigger ended"),
        None => println!("did not recover: {}", analysis.verdict_reason),
    }

    // Every component over the summary period (warm-up excluded), as in summary.csv.
    for c in report.component_ids() {
        let v = report.summary_values(&c);
        println!(
            "{:<10} {:<8} goodput {:>8}/s  utilisation {:>6}",
            c.name,
            c.kind.as_str(),
            show(v.goodput_per_s),
            show(v.utilisation)
        );
    }

    // One component window by window, as in windows.csv: the first one's goodput every 20 s.
    if let Some(first) = report.component_ids().first()
        && let Some(series) = report.series_of(&first.name)
    {
        let line: Vec<String> = series
            .iter()
            .step_by(20)
            .map(|(t, v)| format!("{t:.0}s:{}", show(v.goodput_per_s)))
            .collect();
        println!(
            "{} goodput per second, every 20 s: {}",
            first.name,
            line.join(" ")
        );
    }

    // The CSV tables, as bytes (the same bytes for the same scenario and seed).
    match (report.windows_csv(), report.summary_csv()) {
        (Ok(w), Ok(s)) => println!(
            "windows.csv: {} rows, summary.csv: {} rows",
            w.split(|b| *b == b'\n').count() - 2,
            s.split(|b| *b == b'\n').count() - 2
        ),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("formatting the CSV tables: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// A value with two decimals, `-` where the metric does not apply.
fn show(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |v| format!("{v:.2}"))
}
