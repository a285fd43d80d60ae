//! The dependency figure (`dependencies.{png,svg}`, written beside `blast_radius.csv`): the
//! user-facing flows and the services in columns by call depth, the calls as lines, each
//! service labelled with its provider; the parts a scoped trigger took down in vermillion,
//! the degraded ones (slowdown, error rate below 1) in orange, the calls on each hit flow's
//! path drawn thick, and each flow with the share of its demand it lost. Embedded fonts only
//! ([`crate::report::draw`]); same run, same bytes.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::analysis::blast::BlastRadius;
use crate::report::draw::{
    DrawResult, INK, MUTED, PlotError, draw_header, e2s, fit, font, render_both,
};
use crate::report::palette::{AXIS, ORANGE, VERMILLION};
use crate::run::RunReport;
use crate::scenario::common::ActionKind;

const BOX_W: i32 = 260;
const BOX_H: i32 = 52;
const COL_W: i32 = 330;
const ROW_H: i32 = 78;
const HEALTHY: RGBColor = RGBColor(235, 238, 241);

/// How a node fared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Healthy,
    Degraded,
    Failed,
}

struct Node {
    label: String,
    sub: String,
    state: State,
    col: usize,
    row: usize,
}

/// Writes the figure of run `r` with its blast radius `b`.
pub fn write_dependencies(
    r: &RunReport,
    b: &BlastRadius,
    png: &Path,
    svg: &Path,
) -> Result<(), PlotError> {
    let (nodes, edges) = layout(r, b);
    let cols = nodes.iter().map(|n| n.col + 1).max().unwrap_or(1) as i32;
    let rows = nodes.iter().map(|n| n.row + 1).max().unwrap_or(1) as i32;
    let size = (
        (60 + cols * COL_W).max(900) as u32,
        (170 + rows * ROW_H + 40) as u32,
    );
    let title = format!("Dependencies · {} · seed {}", b.variant, b.seed);
    let subtitle = format!(
        "trigger [{:.0} s, {:.0} s] · vermillion = down, orange = degraded, thick = the path that carried the failure",
        b.trigger.0, b.trigger.1
    );
    render_both(
        png,
        svg,
        size,
        |root| draw_graph(root, &title, &subtitle, &nodes, &edges),
        |root| draw_graph(root, &title, &subtitle, &nodes, &edges),
    )
}

/// Nodes (flows in column 0, services by breadth-first call depth) and edges (from, to, on a
/// hit flow's path).
fn layout(r: &RunReport, b: &BlastRadius) -> (Vec<Node>, Vec<(usize, usize, bool)>) {
    let w = &r.scenario.world;
    let topo = &r.scenario.topology;
    let mut state: BTreeMap<u32, State> = BTreeMap::new();
    for t in &topo.scoped_triggers {
        let s = match t.action {
            ActionKind::Outage | ActionKind::Partition => State::Failed,
            ActionKind::ErrorRate if t.value.is_some_and(|v| v >= 1.0) => State::Failed,
            _ => State::Degraded,
        };
        for &m in &t.members {
            let e = state.entry(m).or_insert(State::Healthy);
            if s == State::Failed || *e == State::Healthy {
                *e = s;
            }
        }
    }
    let mut nodes = Vec::new();
    let mut service_node: BTreeMap<u32, usize> = BTreeMap::new();
    let mut depth: BTreeMap<u32, usize> = BTreeMap::new();
    let flows: Vec<usize> = (0..w.clients.len())
        .filter(|&c| !matches!(w.clients[c].mode, models::Mode::Downstream))
        .collect();
    let mut queue = std::collections::VecDeque::new();
    for &c in &flows {
        let t = w.clients[c].target;
        if let std::collections::btree_map::Entry::Vacant(e) = depth.entry(t) {
            e.insert(1);
            queue.push_back(t);
        }
    }
    while let Some(s) = queue.pop_front() {
        let d = depth[&s];
        for &e in &w.services[s as usize].calls {
            let t = w.clients[e as usize].target;
            if let std::collections::btree_map::Entry::Vacant(v) = depth.entry(t) {
                v.insert(d + 1);
                queue.push_back(t);
            }
        }
    }
    let mut rows_used: BTreeMap<usize, usize> = BTreeMap::new();
    for (row, &c) in flows.iter().enumerate() {
        let name = &w.clients[c].name;
        let lost = b
            .flows
            .iter()
            .find(|f| f.flow == *name)
            .and_then(|f| f.lost_fraction)
            .unwrap_or(0.0);
        nodes.push(Node {
            label: name.clone(),
            sub: format!("flow · lost {:.1} %", 100.0 * lost),
            state: if lost >= 0.05 {
                State::Failed
            } else if lost >= 0.01 {
                State::Degraded
            } else {
                State::Healthy
            },
            col: 0,
            row,
        });
        rows_used.insert(0, row + 1);
    }
    for (s, &d) in &depth {
        let row = *rows_used.get(&d).unwrap_or(&0);
        rows_used.insert(d, row + 1);
        let pl = topo
            .placements
            .get(*s as usize)
            .cloned()
            .unwrap_or_default();
        let mut sub: Vec<String> = Vec::new();
        if let Some(p) = &pl.provider {
            let behind: Vec<String> = topo.depends_on(p).into_iter().collect();
            sub.push(if behind.is_empty() {
                p.clone()
            } else {
                format!("{p} (behind {})", behind.join(", "))
            });
        }
        sub.extend(pl.region.iter().cloned());
        sub.extend(pl.zone.iter().cloned());
        service_node.insert(*s, nodes.len());
        nodes.push(Node {
            label: w.services[*s as usize].name.clone(),
            sub: sub.join(" · "),
            state: state.get(s).copied().unwrap_or(State::Healthy),
            col: d,
            row,
        });
    }
    // Edges on a hit flow's path.
    let mut hot: Vec<(usize, usize)> = Vec::new();
    for (i, &c) in flows.iter().enumerate() {
        let name = &w.clients[c].name;
        let Some(f) = b
            .flows
            .iter()
            .find(|f| f.flow == *name && f.failed.is_some())
        else {
            continue;
        };
        let mut prev = i;
        for h in &f.hops {
            if let Some(s) = w.services.iter().position(|s| s.name == h.service)
                && let Some(&n) = service_node.get(&(s as u32))
            {
                hot.push((prev, n));
                prev = n;
            }
        }
    }
    let mut edges = Vec::new();
    for (i, &c) in flows.iter().enumerate() {
        if let Some(&n) = service_node.get(&w.clients[c].target) {
            edges.push((i, n, hot.contains(&(i, n))));
        }
    }
    for (s, &from) in &service_node {
        for &e in &w.services[*s as usize].calls {
            if let Some(&to) = service_node.get(&w.clients[e as usize].target) {
                edges.push((from, to, hot.contains(&(from, to))));
            }
        }
    }
    (nodes, edges)
}

fn origin(n: &Node) -> (i32, i32) {
    (30 + n.col as i32 * COL_W, 150 + n.row as i32 * ROW_H)
}

fn draw_graph<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    nodes: &[Node],
    edges: &[(usize, usize, bool)],
) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    draw_header(root, title, subtitle)?;
    for &(a, b, hot) in edges {
        let (Some(na), Some(nb)) = (nodes.get(a), nodes.get(b)) else {
            continue;
        };
        let (xa, ya) = origin(na);
        let (xb, yb) = origin(nb);
        let from = (xa + BOX_W, ya + BOX_H / 2);
        let to = (xb, yb + BOX_H / 2);
        let style = if hot {
            VERMILLION.stroke_width(4)
        } else {
            AXIS.stroke_width(2)
        };
        root.draw(&PathElement::new(vec![from, to], style))
            .map_err(e2s)?;
        root.draw(&Circle::new(to, 4, style.filled()))
            .map_err(e2s)?;
    }
    for n in nodes {
        let (x, y) = origin(n);
        let (fill, text) = match n.state {
            State::Failed => (VERMILLION, WHITE),
            State::Degraded => (ORANGE, INK),
            State::Healthy => (HEALTHY, INK),
        };
        root.draw(&Rectangle::new(
            [(x, y), (x + BOX_W, y + BOX_H)],
            fill.filled(),
        ))
        .map_err(e2s)?;
        root.draw(&Rectangle::new(
            [(x, y), (x + BOX_W, y + BOX_H)],
            INK.stroke_width(1),
        ))
        .map_err(e2s)?;
        let bold = font(17.0, true, text);
        let small = font(
            13.0,
            false,
            if n.state == State::Failed {
                WHITE
            } else {
                MUTED
            },
        );
        let label = fit(root, &n.label, &bold, BOX_W - 12);
        let sub = fit(root, &n.sub, &small, BOX_W - 12);
        root.draw(&Text::new(label, (x + 6, y + 6), bold))
            .map_err(e2s)?;
        root.draw(&Text::new(sub, (x + 6, y + 30), small))
            .map_err(e2s)?;
    }
    Ok(())
}
