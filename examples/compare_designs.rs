//! Compare designs of one system over several seeds: HotOS 2021's retry example (280 QPS, 1 s
//! timeout, a 10 s partition) as written (one retry), with an AWS-style retry quota, and
//! without retries. Each design is the scenario file plus overrides, with the CLI's field paths;
//! every design runs with the same seeds (common random numbers), so the designs differ in
//! their design, not in their luck.
//!
//! ```text
//! cargo run --release --example compare_designs [SEEDS]
//! ```
//!
//! Default 5 seeds (1..=5): 15 runs, about 2 s in release on 2 cores. A scenario file can also
//! carry its designs as `[[variants]]` (`Scenario::with_variants`, `metastable run` compares
//! them); this builds them in code instead.

use std::process::ExitCode;

use metastable::analysis::compare;
use metastable::robust::replications::{Record, VariantSummary, run_all, seeds};
use metastable::{Override, Scenario, Verdict};

const FILE: &str = "scenarios/hotos-retry.toml";

fn main() -> ExitCode {
    let n: u64 = match std::env::args().nth(1).map(|s| s.parse()) {
        None => 5,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => {
            eprintln!("SEEDS must be an integer in 1..=1000");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(FILE) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{FILE}: {e}");
            return ExitCode::from(2);
        }
    };
    // A whole inline table is a TOML value too.
    let quota: metastable::toml::Value = match r#"{ kind = "aws_quota" }"#.parse() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let designs = [
        ("one-retry", vec![]),
        (
            "retry-quota",
            vec![Override::new("clients[web].retry.budget", quota)],
        ),
        (
            "no-retry",
            vec![Override::new("clients[web].retry.max_attempts", 1)],
        ),
    ];

    // Validate every design before running any (an error names the override that caused it).
    let mut scenarios: Vec<Scenario> = Vec::new();
    for (name, overrides) in designs {
        match metastable::parse_with(&text, FILE, &overrides) {
            Ok(mut sc) => {
                sc.variant = Some(name.to_string()); // its name in reports and tables
                scenarios.push(sc);
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }

    // Every (design, seed), in parallel; each run reduced to a small record at once. The
    // records come back in task order whatever the number of threads.
    let Some(seeds) = seeds(1, n) else {
        return ExitCode::from(2);
    };
    let tasks: Vec<(&Scenario, u64)> = scenarios
        .iter()
        .flat_map(|sc| seeds.iter().map(move |&s| (sc, s)))
        .collect();
    let records = run_all(&tasks);

    println!("{FILE}, seeds 1..={n}:");
    println!(
        "{:<12} {:>10} {:>10} {:>10}  median recovery",
        "design", "metastable", "recovered", "other"
    );
    for sc in &scenarios {
        let mine: Vec<&Record> = records
            .iter()
            .filter(|r| r.variant == sc.variant_name())
            .collect();
        let s = VariantSummary::of(sc.variant_name(), &mine);
        let (meta, rec) = (s.count(Verdict::Metastable), s.count(Verdict::Recovered));
        let median = s
            .tail_min
            .map_or("-".to_string(), |d| format!("{:.1} s", d.median * 60.0));
        println!(
            "{:<12} {:>10} {:>10} {:>10}  {median}",
            s.variant,
            format!("{meta}/{n}"),
            format!("{rec}/{n}"),
            s.runs - meta - rec
        );
    }

    // The first seed side by side, as `metastable run` prints it (comparison.csv as a table).
    let reports: Vec<_> = scenarios.iter().map(|sc| metastable::run(sc, 1)).collect();
    println!("\nseed 1:\n{}", compare::comparison_table(&reports));
    ExitCode::SUCCESS
}
