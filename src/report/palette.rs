//! The colours of every figure: the Okabe–Ito palette (Okabe & Ito 2008, "Color Universal
//! Design"), yellow left out (unreadable on white), plus greys for ink, grids and references.
//!
//! Each colour stays distinguishable for readers with the three common colour-vision
//! deficiencies: the test simulates deuteranopia, protanopia and tritanopia (Machado, Oliveira
//! & Fernandes 2009, severity 1, in linear RGB) and requires a CIE76 ΔE of at least
//! [`MIN_DELTA_E`] between every pair of [`SERIES`] colours under each.

use plotters::style::RGBColor;

pub const BLUE: RGBColor = RGBColor(0, 114, 178);
pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const SKY: RGBColor = RGBColor(86, 180, 233);
pub const BLACK: RGBColor = RGBColor(0, 0, 0);

/// Colours for series, in order of use (cycled; reuse is drawn dashed).
pub const SERIES: [RGBColor; 7] = [BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY, BLACK];

/// The least CIE76 ΔE between two [`SERIES`] colours, for normal vision and under each
/// simulated deficiency.
pub const MIN_DELTA_E: f64 = 15.0;

pub const INK: RGBColor = RGBColor(33, 37, 41);
pub const MUTED: RGBColor = RGBColor(96, 100, 106);
pub const AXIS: RGBColor = RGBColor(150, 150, 150);
pub const GRID: RGBColor = RGBColor(226, 226, 226);
/// The measured trigger's band: a light vermillion.
pub const TRIGGER_FILL: RGBColor = RGBColor(250, 222, 200);
pub const TRIGGER_TEXT: RGBColor = RGBColor(160, 70, 0);
/// Reference lines (baseline, recovery threshold).
pub const REFERENCE: RGBColor = RGBColor(70, 70, 70);

/// The i-th series colour and whether it is a reuse (to be dashed).
pub fn series(i: usize) -> (RGBColor, bool) {
    (SERIES[i % SERIES.len()], i >= SERIES.len())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn linear(c: u8) -> f64 {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    }

    /// CIE L*a*b* (D65) of linear RGB.
    fn lab([r, g, b]: [f64; 3]) -> [f64; 3] {
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f64| {
            if t > 0.008856 {
                t.cbrt()
            } else {
                7.787 * t + 16.0 / 116.0
            }
        };
        [
            116.0 * f(y) - 16.0,
            500.0 * (f(x) - f(y)),
            200.0 * (f(y) - f(z)),
        ]
    }

    type Matrix = [[f64; 3]; 3];
    const DEUTAN: Matrix = [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ];
    const PROTAN: Matrix = [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ];
    const TRITAN: Matrix = [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ];
    const NORMAL: Matrix = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

    pub(crate) fn seen(c: RGBColor, m: &Matrix) -> [f64; 3] {
        let v = [linear(c.0), linear(c.1), linear(c.2)];
        let row = |i: usize| (m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2]).clamp(0.0, 1.0);
        lab([row(0), row(1), row(2)])
    }

    fn delta_e(a: RGBColor, b: RGBColor, m: &Matrix) -> f64 {
        let (a, b) = (seen(a, m), seen(b, m));
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }

    #[test]
    fn series_colours_stay_apart_for_colour_blind_readers() {
        for (name, m) in [
            ("normal", NORMAL),
            ("deuteranopia", DEUTAN),
            ("protanopia", PROTAN),
            ("tritanopia", TRITAN),
        ] {
            for (i, a) in SERIES.iter().enumerate() {
                for (j, b) in SERIES.iter().enumerate().skip(i + 1) {
                    let d = delta_e(*a, *b, &m);
                    assert!(
                        d >= MIN_DELTA_E,
                        "{name}: colours {i} {a:?} and {j} {b:?} are ΔE {d:.1} apart"
                    );
                }
            }
        }
    }

    #[test]
    fn the_check_rejects_a_red_green_pair() {
        // What the palette replaced: a red and a green a deuteranope cannot tell apart.
        let (red, green) = (RGBColor(220, 50, 32), RGBColor(40, 160, 40));
        assert!(delta_e(red, green, &NORMAL) > 50.0);
        assert!(delta_e(red, green, &DEUTAN) < MIN_DELTA_E);
    }

    #[test]
    fn reused_colours_are_dashed() {
        assert_eq!(series(0), (BLUE, false));
        assert_eq!(series(SERIES.len()), (BLUE, true));
    }
}
