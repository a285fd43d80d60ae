//! Progress of `run` (one run, its variants, or `--replications`): what the person waiting
//! sees, and nothing else — the runs report their simulated time through
//! [`crate::run::run_observed`], whose observer cannot change a result.
//!
//! Three modes ([`Mode::choose`]):
//! - **bar** on a terminal (stderr is a TTY): an `indicatif` bar with percent, runs done,
//!   elapsed time and ETA, redrawn at most 5 times a second, cleared at the end;
//! - **plain** under a batch system (stderr not a terminal and `SLURM_JOB_ID` set), for a log
//!   a person follows with `tail -f`: one line on stderr each time another 10 % is done, and
//!   at least one a minute while anything moved ([`plain_due`]), then a last `done` line;
//! - **off** otherwise (piped, redirected, `--quiet`): nothing at all.
//!
//! `METASTABLE_PROGRESS=bar|plain|off` overrides the choice (not `--quiet`, which always wins).
//! Progress goes to stderr only, so stdout and every file are the same in every mode.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bar,
    Plain,
    Off,
}

/// A plain line is printed each time the done fraction passes another `PLAIN_STEP`.
pub const PLAIN_STEP: f64 = 0.10;
/// ... and at least this often while the fraction moved.
pub const PLAIN_EVERY_S: f64 = 60.0;
/// Parts per run in the shared counters (a run's fraction is stored as an integer).
const SCALE: f64 = 1_000_000.0;

impl Mode {
    /// The mode for this process: `quiet` → off; `METASTABLE_PROGRESS` if set to a known
    /// value; a terminal on stderr → bar; `SLURM_JOB_ID` set → plain; else off.
    pub fn choose(quiet: bool) -> Mode {
        Mode::decide(
            quiet,
            std::env::var("METASTABLE_PROGRESS").ok().as_deref(),
            std::io::stderr().is_terminal(),
            std::env::var_os("SLURM_JOB_ID").is_some(),
        )
    }

    /// [`Mode::choose`] as a pure function of its inputs.
    pub fn decide(quiet: bool, forced: Option<&str>, tty: bool, batch: bool) -> Mode {
        if quiet {
            return Mode::Off;
        }
        match forced {
            Some("bar") => return Mode::Bar,
            Some("plain") => return Mode::Plain,
            Some("off") => return Mode::Off,
            _ => {}
        }
        if tty {
            Mode::Bar
        } else if batch {
            Mode::Plain
        } else {
            Mode::Off
        }
    }
}

/// Whether a plain line is due: the fraction `done` passed the next [`PLAIN_STEP`] boundary
/// after `last_done`, or [`PLAIN_EVERY_S`] passed since the last line and the fraction moved.
pub fn plain_due(last_done: f64, last_s: f64, done: f64, now_s: f64) -> bool {
    let step = |f: f64| (f / PLAIN_STEP + 1e-9).floor();
    step(done) > step(last_done) || (now_s - last_s >= PLAIN_EVERY_S && done > last_done)
}

/// `"37 % · 3/12 runs · elapsed 45 s · ETA 1 min 16 s"`.
pub fn plain_line(what: &str, done: f64, runs_done: usize, runs: usize, elapsed_s: f64) -> String {
    let eta = if done > 0.0 && done < 1.0 {
        format!(" · ETA {}", human_s(elapsed_s * (1.0 - done) / done))
    } else {
        String::new()
    };
    format!(
        "progress: {what}: {:.0} % · {runs_done}/{runs} runs · elapsed {}{eta}",
        (done * 100.0).floor(),
        human_s(elapsed_s)
    )
}

/// `"45 s"`, `"3 min 05 s"`, `"2 h 07 min"`.
pub fn human_s(s: f64) -> String {
    let s = if s.is_finite() {
        s.max(0.0).round()
    } else {
        0.0
    } as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}

struct Shared {
    /// Each run's done fraction × [`SCALE`].
    parts: Vec<AtomicU32>,
    stop: AtomicBool,
}

impl Shared {
    fn done(&self) -> (f64, usize) {
        let mut sum = 0.0;
        let mut complete = 0;
        for p in &self.parts {
            let v = p.load(Ordering::Relaxed);
            sum += f64::from(v) / SCALE;
            complete += usize::from(f64::from(v) >= SCALE);
        }
        (sum / self.parts.len().max(1) as f64, complete)
    }
}

/// Progress of `runs` runs, drawn by a thread of its own until [`Progress::finish`].
pub struct Progress {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    mode: Mode,
}

impl Progress {
    /// Starts showing the progress of `runs` runs of `what` (a scenario name) in `mode`.
    #[allow(clippy::disallowed_methods)] // wall time for the ETA, never simulated
    pub fn start(mode: Mode, what: &str, runs: usize) -> Progress {
        let shared = Arc::new(Shared {
            parts: (0..runs).map(|_| AtomicU32::new(0)).collect(),
            stop: AtomicBool::new(false),
        });
        let thread = match mode {
            Mode::Off => None,
            Mode::Bar | Mode::Plain => {
                let s = Arc::clone(&shared);
                let what = what.to_string();
                let started = Instant::now();
                Some(std::thread::spawn(move || {
                    draw(mode, &s, &what, runs, started)
                }))
            }
        };
        Progress {
            shared,
            thread,
            mode,
        }
    }

    /// The observer of run `i`: give it to [`crate::run::run_observed`].
    pub fn observer(&self, i: usize) -> impl FnMut(f64) + Send + use<> {
        let shared = Arc::clone(&self.shared);
        let off = self.mode == Mode::Off;
        move |f: f64| {
            if off {
                return;
            }
            if let Some(p) = shared.parts.get(i) {
                p.store((f.clamp(0.0, 1.0) * SCALE) as u32, Ordering::Relaxed);
            }
        }
    }

    /// Stops drawing (the bar is cleared; a plain log gets its last line).
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

fn draw(mode: Mode, s: &Shared, what: &str, runs: usize, started: Instant) {
    let tick = Duration::from_millis(200);
    match mode {
        Mode::Off => {}
        Mode::Bar => {
            let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix} {wide_bar:.cyan/blue} {percent:>3}% · {msg} · {elapsed} · ETA {eta}",
            ) {
                bar.set_style(style);
            }
            bar.set_prefix(what.to_string());
            loop {
                let stop = s.stop.load(Ordering::Relaxed);
                let (done, complete) = s.done();
                bar.set_position((done * 1000.0) as u64);
                bar.set_message(format!("{complete}/{runs} runs"));
                if stop {
                    break;
                }
                std::thread::sleep(tick);
            }
            bar.finish_and_clear();
        }
        Mode::Plain => {
            let mut err = std::io::stderr();
            let (mut last_done, mut last_s) = (0.0, 0.0);
            loop {
                let stop = s.stop.load(Ordering::Relaxed);
                let (done, complete) = s.done();
                let now_s = started.elapsed().as_secs_f64();
                if stop {
                    let _ = writeln!(
                        err,
                        "progress: {what}: done · {complete}/{runs} runs · {}",
                        human_s(now_s)
                    );
                    break;
                }
                if plain_due(last_done, last_s, done, now_s) {
                    let _ = writeln!(err, "{}", plain_line(what, done, complete, runs, now_s));
                    (last_done, last_s) = (done, now_s);
                }
                std::thread::sleep(tick);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_and_pipes_are_silent_a_terminal_gets_a_bar_a_batch_log_lines() {
        assert_eq!(Mode::decide(true, Some("bar"), true, true), Mode::Off);
        assert_eq!(Mode::decide(false, None, false, false), Mode::Off);
        assert_eq!(Mode::decide(false, None, true, false), Mode::Bar);
        assert_eq!(Mode::decide(false, None, true, true), Mode::Bar);
        assert_eq!(Mode::decide(false, None, false, true), Mode::Plain);
        assert_eq!(Mode::decide(false, Some("plain"), true, false), Mode::Plain);
        assert_eq!(Mode::decide(false, Some("off"), true, true), Mode::Off);
        assert_eq!(
            Mode::decide(false, Some("nonsense"), false, false),
            Mode::Off
        );
    }

    #[test]
    fn plain_lines_come_every_tenth_or_every_minute() {
        assert!(!plain_due(0.0, 0.0, 0.05, 5.0));
        assert!(plain_due(0.0, 0.0, 0.10, 5.0));
        assert!(!plain_due(0.12, 5.0, 0.19, 30.0));
        assert!(plain_due(0.12, 5.0, 0.13, 65.0));
        // Nothing moved: no line, however long.
        assert!(!plain_due(0.13, 5.0, 0.13, 600.0));
        assert!(plain_due(0.95, 0.0, 1.0, 1.0));
    }

    #[test]
    fn plain_line_says_percent_runs_and_eta() {
        assert_eq!(
            plain_line("aws", 0.25, 1, 4, 30.0),
            "progress: aws: 25 % · 1/4 runs · elapsed 30 s · ETA 1 min 30 s"
        );
        assert_eq!(
            plain_line("x", 1.0, 4, 4, 7200.4),
            "progress: x: 100 % · 4/4 runs · elapsed 2 h 00 min"
        );
        assert_eq!(human_s(f64::NAN), "0 s");
    }

    #[test]
    fn observers_add_up_to_the_done_fraction() {
        let p = Progress::start(Mode::Off, "t", 2);
        // Off: observers do nothing.
        p.observer(0)(1.0);
        assert_eq!(p.shared.done(), (0.0, 0));
        let shared = Arc::new(Shared {
            parts: (0..4).map(|_| AtomicU32::new(0)).collect(),
            stop: AtomicBool::new(false),
        });
        let q = Progress {
            shared: Arc::clone(&shared),
            thread: None,
            mode: Mode::Plain,
        };
        q.observer(0)(1.0);
        q.observer(1)(0.5);
        q.observer(9)(1.0); // out of range: ignored
        assert_eq!(shared.done(), (0.375, 1));
    }
}
