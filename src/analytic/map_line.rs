//! The fluid model's boundary on a metastability map (`metastable map`): for each row, the
//! column value at which the model predicts the system tips. Predicted only when the column
//! axis is the end of the first trigger (`triggers[0].to_s`, the map's usual question: how
//! long a trigger tips it) and the row's scenario is inside the model's scope; otherwise
//! `None` for that row.

use super::report::instantaneous;
use super::scope::model_of;
use super::transient::critical_duration;
use crate::sweep::map::MapPlan;
use crate::sweep::plan::Sweep;

/// Per row, the predicted critical column value (an end time of the first trigger).
pub fn predicted_critical(sweep: &Sweep, plan: &MapPlan) -> Vec<Option<f64>> {
    let (Some(row_axis), Some(col_axis)) = (sweep.axes.first(), sweep.axes.get(1)) else {
        return Vec::new();
    };
    if plan.col_path.replace(' ', "") != "triggers[0].to_s" {
        return vec![None; row_axis.values.len()];
    }
    row_axis
        .values
        .iter()
        .map(|row| {
            let first_col = col_axis.values.first()?;
            let sc = sweep.scenario_at(&[row, first_col]).ok()?;
            let m = model_of(&sc).ok()?;
            let (from, _) = m.trigger?;
            if instantaneous(&m) {
                return None;
            }
            let max = plan.cols.last().copied().unwrap_or(from) - from;
            let settle = (20.0 * m.timeout_s.unwrap_or(1.0)).max(30.0);
            critical_duration(&m, max.max(0.0), settle).map(|d| from + d)
        })
        .collect()
}
