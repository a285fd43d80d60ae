//! What a person or a program reads: the CSV tables and the human summary of a run
//! ([`tables`]), the figures, the self-contained HTML report ([`html`]), and atomic file
//! writes ([`output`]).
//!
//! Figures: [`panels`] decides what a run's dashboard shows (its incident timeline when it
//! replays one) and [`variants`] lays out the small multiples of a scenario's variants, both
//! as [`figure`] data that [`figure`] draws; [`ranking`] is the ranked chart of the variants;
//! [`plot_map`] the metastability heat map; [`clock`] the time axis (seconds or the
//! incident's clock); [`palette`] the colour-blind-safe colours; [`draw`] the plotters toolbox
//! they share (rendering, fonts, ranges, text).
//!
//! This folder presents runs and analyses; it decides nothing (verdicts come from
//! [`crate::analysis`]) and runs nothing.

#[doc(hidden)]
pub mod clock;
pub mod dependencies;
#[doc(hidden)]
pub mod draw;
#[doc(hidden)]
pub mod figure;
mod guards;
#[doc(hidden)]
pub mod html;
#[doc(hidden)]
pub mod output;
#[doc(hidden)]
pub mod palette;
#[doc(hidden)]
pub mod panels;
#[doc(hidden)]
pub mod plot_map;
#[doc(hidden)]
pub mod ranking;
pub mod tables;
#[doc(hidden)]
pub mod variants;
