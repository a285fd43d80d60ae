//! What a person or a program reads: the CSV tables and the human summary of a run
//! ([`tables`]), the figures' data ([`dashboard`]) and their drawing ([`plot`],
//! [`plot_map`]), the self-contained HTML report ([`html`]), and atomic file writes
//! ([`output`]).
//!
//! This folder presents runs and analyses; it decides nothing (verdicts come from
//! [`crate::analysis`]) and runs nothing.

pub mod dashboard;
pub mod html;
pub mod output;
pub mod plot;
pub mod plot_map;
pub mod tables;
