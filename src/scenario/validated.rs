//! The validated scenario: everything a run needs, units resolved, names turned into
//! indices, and its variants.

use std::fmt;

use models::{TimedAction, WorldSpec};
use sim_core::{SimDuration, SimTime};

use super::common::*;

/// Run limits, all finite.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// Most events one run may process (hitting it stops the run, reported).
    pub max_events: u64,
    /// Most requests alive at once (hitting it stops the run, reported).
    pub max_live_requests: u64,
    /// Most metric windows one run may store.
    pub max_windows: u64,
    /// Byte budget for the metric windows a run stores (hitting it stops the run).
    pub max_window_bytes: u64,
}

/// A validated scenario: everything a run needs, units resolved.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it came from, as given (for messages and reproduce commands).
    pub file: String,
    /// `[scenario] name`.
    pub name: String,
    /// `[scenario] description`.
    pub description: String,
    /// `[scenario] seed`: the default master seed (0 when not written).
    pub seed: u64,
    /// Simulated time a run covers.
    pub duration: SimDuration,
    /// Leading time excluded from the summary period.
    pub warmup: SimDuration,
    /// Length of one metric window (`windows.csv` rows).
    pub window: SimDuration,
    /// Run limits (events, live requests, windows, bytes).
    pub limits: RunLimits,
    /// The validated model the run builds: components, their parameters and the scheduled actions ([`models::WorldSpec`]).
    pub world: WorldSpec,
    /// Every component in report order (sources, clients, services, sinks; file order within
    /// each).
    pub components: Vec<(String, Kind)>,
    /// Trigger intervals `[from, to)` with labels, in file order.
    pub triggers: Vec<(SimTime, SimTime, String)>,
    /// Operator actions with labels.
    pub operator_actions: Vec<(SimTime, String)>,
    /// Times of the operator actions that remove the trigger (`removes_trigger = true`).
    pub trigger_removals: Vec<SimTime>,
    /// The operator actions that do not remove the trigger, as scheduled in `world.actions`:
    /// what [`Scenario::without_operator_actions`] takes out.
    pub mitigations: Vec<TimedAction>,
    /// `[[actions]]` with `historical = true`: (action, removes the trigger, label), applied
    /// only in [`OperatorMode::Historical`].
    pub historical: Vec<(TimedAction, bool, String)>,
    /// Who acts after the trigger: the `[[operators]]` policies or the published times.
    pub operator_mode: OperatorMode,
    /// The incident this scenario replays, if any.
    pub incident: Option<Incident>,
    /// Recovery: goodput must return to this fraction of its pre-trigger baseline ...
    pub recovery_fraction: f64,
    /// ... sustained over a sliding window of this length.
    pub sustain: SimDuration,
    /// The variant this is (`None` for the file as written, reported as `baseline`).
    pub variant: Option<String>,
    /// The file's design variants, each validated (empty inside a variant).
    pub variants: Vec<Variant>,
    /// Providers, placements and scoped triggers (`[[providers]]`): the blast-radius report's
    /// input.
    pub topology: super::providers::Topology,
}

/// A replayed incident's published figures (validated `[incident]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// `[incident] title`.
    pub title: String,
    /// `[incident] source`: where the published figures come from.
    pub source: String,
    /// `[incident] start_clock` (and `time_zone`): the clock time of simulated time 0.
    #[doc(hidden)]
    pub start_clock: Option<super::clock::StartClock>,
    /// Start of the trigger when no `[[triggers]]` entry gives it.
    pub trigger_from: Option<SimTime>,
    /// Published trigger length (min).
    pub trigger_min: Option<f64>,
    /// Published tail after the trigger (min).
    pub tail_min: Option<f64>,
    /// Whether the published record says the system healed without operator action.
    pub heals_by_itself: bool,
    /// What the published tail runs to (e.g. `full recovery`).
    pub tail_to: String,
    /// See `IncidentFile::counterfactual`.
    pub counterfactual: Option<String>,
    /// `[incident] inferred`: numeric fields of the file whose values were inferred, in order.
    pub inferred: Vec<InferredParam>,
}

/// One `[incident] inferred` entry: an override path to a numeric field of the file.
#[derive(Clone, Debug, PartialEq)]
pub struct InferredParam {
    /// As written, e.g. `lease_manager[dwfm].job_timeout_s`.
    pub path: String,
    /// The field's value in the file.
    pub value: f64,
    /// Written as a TOML integer (it may still be a float field: `rate_per_s = 80`).
    pub integer: bool,
    /// Where the entry is written in `inferred` (1-based line and column).
    pub line: usize,
    /// See `line`.
    pub column: usize,
}

/// Who acts on the system once the trigger has hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OperatorMode {
    /// The `[[operators]]` policies observe the simulated system and act (the default).
    #[default]
    Policy,
    /// The operators' actions at their published times (`[[actions]]` with `historical =
    /// true`) instead of the policies: for comparison with the record.
    Historical,
}

impl OperatorMode {
    /// `policy` or `historical`, as the CLI's `--operators` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorMode::Policy => "policy",
            OperatorMode::Historical => "historical",
        }
    }
}

/// Name of the counterfactual run of an incident without its operator actions.
pub const WITHOUT_OPERATORS: &str = "without-operator-actions";

/// A named design variant of a scenario.
#[derive(Clone, Debug)]
pub struct Variant {
    /// `[[variants]] name`.
    pub name: String,
    /// `[[variants]] description`.
    pub description: String,
    /// The scenario with the variant's overrides applied, validated.
    pub scenario: Scenario,
}

/// Name of the file as written, among variants.
pub const BASELINE: &str = "baseline";
/// Most variants in one file.
pub const MAX_VARIANTS: usize = 64;

impl Scenario {
    /// `"baseline"` or the variant's name.
    pub fn variant_name(&self) -> &str {
        self.variant.as_deref().unwrap_or(BASELINE)
    }

    /// The file as written (`"baseline"`) or one of its variants, by name.
    pub fn variant_named(&self, name: &str) -> Option<&Scenario> {
        if name == BASELINE {
            return Some(self);
        }
        self.variants
            .iter()
            .find(|v| v.name == name)
            .map(|v| &v.scenario)
    }

    /// The file as written followed by each variant.
    pub fn with_variants(&self) -> Vec<&Scenario> {
        let mut all = vec![self];
        all.extend(self.variants.iter().map(|v| &v.scenario));
        all
    }
}

impl Scenario {
    /// `[first trigger start, trigger end]`, if the scenario has triggers. The trigger starts at
    /// `[incident] trigger_from_s` if given, else the earliest trigger start, and ends at the last
    /// operator action that removes the trigger (`removes_trigger = true`) if there is one,
    /// else at the last trigger end.
    pub fn trigger_window(&self) -> Option<(SimTime, SimTime)> {
        let declared = self.incident.as_ref().and_then(|i| i.trigger_from);
        let from = declared.or_else(|| self.triggers.iter().map(|t| t.0).min())?;
        let to = match self.trigger_removals.iter().max() {
            Some(&t) => t,
            None => self.triggers.iter().map(|t| t.1).max()?,
        };
        (to > from).then_some((from, to))
    }

    /// The counterfactual: the same scenario without the operator actions that do not remove
    /// the trigger (does the system heal by itself once the trigger is gone?). `None` if it has
    /// none.
    pub fn without_operator_actions(&self) -> Option<Scenario> {
        let recovering_operators = self.world.operators.iter().any(|o| !o.removes_trigger);
        if self.mitigations.is_empty() && !recovering_operators {
            return None;
        }
        let mut sc = self.clone();
        // Operators that remove the trigger stay (the trigger still ends); the others go, and
        // those waiting for them (`after`) are re-pointed (indices shift).
        let keep: Vec<bool> = sc
            .world
            .operators
            .iter()
            .map(|o| o.removes_trigger)
            .collect();
        sc.world.operators = models::control::operator::keep_operators(&sc.world.operators, &keep);
        for m in &self.mitigations {
            if let Some(i) = sc.world.actions.iter().position(|a| a == m) {
                sc.world.actions.remove(i);
            }
        }
        sc.mitigations.clear();
        sc.variants.clear();
        sc.variant = Some(WITHOUT_OPERATORS.to_string());
        Some(sc)
    }
}

impl Scenario {
    /// The scenario (and each variant) with `mode`'s operators: in
    /// [`OperatorMode::Historical`] the `[[operators]]` are removed and the `historical`
    /// actions scheduled at their published times.
    pub fn with_operator_mode(&self, mode: OperatorMode) -> Scenario {
        let mut sc = self.clone();
        sc.operator_mode = mode;
        if mode == OperatorMode::Historical {
            sc.world.operators.clear();
            for (a, removes, label) in &self.historical {
                if *removes {
                    sc.trigger_removals.push(a.at);
                } else {
                    sc.mitigations.push(a.clone());
                }
                sc.operator_actions.push((a.at, label.clone()));
                sc.world.actions.push(a.clone());
            }
            sc.historical.clear();
            sc.world.actions.sort_by_key(|a| a.at);
            sc.operator_actions.sort_by_key(|a| a.0);
        }
        for v in &mut sc.variants {
            v.scenario = v.scenario.with_operator_mode(mode);
        }
        sc
    }

    /// Number of metric windows a full run produces.
    pub fn n_windows(&self) -> u64 {
        self.duration
            .as_nanos()
            .div_ceil(self.window.as_nanos().max(1))
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} clients, {} services, {} sinks, {} triggers, {} operator actions, {} operator policies; {:.0} s simulated, {} windows of {} ms)",
            self.name,
            self.world.clients.len(),
            self.world.services.len(),
            self.world.sinks.len(),
            self.triggers.len(),
            self.operator_actions.len(),
            self.world.operators.len(),
            self.duration.as_secs_f64(),
            self.n_windows(),
            self.window.as_millis_f64()
        )?;
        if !self.variants.is_empty() {
            let names: Vec<&str> = self.variants.iter().map(|v| v.name.as_str()).collect();
            write!(f, "; variants: {}", names.join(", "))?;
        }
        Ok(())
    }
}
