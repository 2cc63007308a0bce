//! Where a prediction sits among repeated real runs.
//!
//! A validation row compares one prediction with the median of a few real
//! runs. When the real runs disagree with each other by more than the
//! error bound (many TCP flows through one bottleneck: whether a flow
//! leaves slow start a round early changes the whole download), the
//! median of three is itself a draw, and the |log error| alone cannot say
//! whether the model or the draw is off. A [`Spread`] says both: how wide
//! the real runs are, and how far the prediction lies outside them.
//!
//! With `n` runs, a prediction of the real median falls outside the runs'
//! range with probability 2 × 2⁻ⁿ (both ends are below, or above, it):
//! 25 % with three runs, 0.4 % with nine — "outside" with three runs is a
//! hint, not a verdict.

use serde::Serialize;

/// The real runs' range and the prediction's place in it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// The fastest real run, s.
    pub fastest_s: f64,
    /// The slowest real run, s.
    pub slowest_s: f64,
    /// ln(slowest / fastest) / 2: how far the real runs alone stray from
    /// their range's log-centre; above an error bound, no single
    /// prediction can be that close to every run.
    pub half_width: f64,
    /// The prediction's log distance to the nearest real run outside
    /// [fastest, slowest]: ln(predicted / fastest) < 0 below the range,
    /// ln(predicted / slowest) > 0 above it, 0 inside.
    pub outside: f64,
}

impl Spread {
    /// The spread of `runs_s` (at least one, all > 0) around `predicted_s`.
    pub fn of(runs_s: &[f64], predicted_s: f64) -> Spread {
        let fastest = runs_s.iter().copied().fold(f64::INFINITY, f64::min);
        let slowest = runs_s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(fastest > 0.0 && slowest.is_finite(), "at least one real run, all with a positive time");
        let ln = |x: f64| x.max(1e-9).ln();
        let outside = if predicted_s < fastest {
            ln(predicted_s) - ln(fastest)
        } else if predicted_s > slowest {
            ln(predicted_s) - ln(slowest)
        } else {
            0.0
        };
        Spread { fastest_s: fastest, slowest_s: slowest, half_width: (ln(slowest) - ln(fastest)) / 2.0, outside }
    }

    pub fn inside(&self) -> bool {
        self.outside == 0.0
    }
}

/// A matrix's spreads in summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SpreadSummary {
    /// Rows whose prediction lies within the real runs' range.
    pub inside_rows: u32,
    pub rows: u32,
    /// The largest |outside| and its row ("" when every row is inside).
    pub max_outside: f64,
    pub max_outside_row: String,
    /// The widest real runs (largest half-width) and its row.
    pub max_half_width: f64,
    pub max_half_width_row: String,
}

impl SpreadSummary {
    pub fn of<'a>(rows: impl IntoIterator<Item = (&'a str, Spread)>) -> SpreadSummary {
        let mut s = SpreadSummary::default();
        for (name, x) in rows {
            s.rows += 1;
            s.inside_rows += u32::from(x.inside());
            if x.outside.abs() > s.max_outside {
                s.max_outside = x.outside.abs();
                s.max_outside_row = name.to_string();
            }
            if x.half_width > s.max_half_width || s.max_half_width_row.is_empty() {
                s.max_half_width = x.half_width;
                s.max_half_width_row = name.to_string();
            }
        }
        s
    }

    /// One line for a report: inside K of N, the largest distance outside,
    /// the widest real runs.
    pub fn line(&self) -> String {
        let beyond = if self.max_outside_row.is_empty() {
            String::new()
        } else {
            format!("; outside by at most {:.4} ({})", self.max_outside, self.max_outside_row)
        };
        format!(
            "prediction within the real runs' range in {} of {} row(s){beyond}; real runs alone spread up to ±{:.4} \
             around their log-centre ({})",
            self.inside_rows, self.rows, self.max_half_width, self.max_half_width_row
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prediction_is_placed_against_the_fastest_and_slowest_run() {
        let runs = [3.0, 2.0, 4.0];
        let inside = Spread::of(&runs, 2.5);
        assert_eq!((inside.fastest_s, inside.slowest_s, inside.outside), (2.0, 4.0, 0.0));
        assert!((inside.half_width - 2f64.ln() / 2.0).abs() < 1e-15);
        assert!(inside.inside());
        // Below the range: the distance to the fastest run, negative.
        let below = Spread::of(&runs, 1.0);
        assert!((below.outside - 0.5f64.ln()).abs() < 1e-15 && !below.inside());
        // Above: to the slowest, positive. The ends belong to the range.
        assert!((Spread::of(&runs, 8.0).outside - 2f64.ln()).abs() < 1e-15);
        assert!(Spread::of(&runs, 4.0).inside() && Spread::of(&runs, 2.0).inside());
        // One run: a range of width 0.
        let one = Spread::of(&[2.0], 3.0);
        assert_eq!(one.half_width, 0.0);
        assert!((one.outside - 1.5f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn the_summary_counts_rows_inside_and_names_the_extremes() {
        let a = Spread::of(&[1.0, 1.1], 1.05);
        let b = Spread::of(&[2.0, 4.0], 1.0);
        let c = Spread::of(&[1.0, 9.0], 10.0);
        let s = SpreadSummary::of([("a", a), ("b", b), ("c", c)]);
        assert_eq!((s.inside_rows, s.rows), (1, 3));
        assert_eq!(s.max_outside_row, "b");
        assert!((s.max_outside - 2f64.ln()).abs() < 1e-15);
        assert_eq!(s.max_half_width_row, "c");
        assert!((s.max_half_width - 3f64.ln()).abs() < 1e-15);
        assert!(s.line().contains("in 1 of 3 row(s); outside by at most 0.6931 (b)"), "{}", s.line());
        let all_inside = SpreadSummary::of([("a", a)]);
        assert!(!all_inside.line().contains("outside by"), "{}", all_inside.line());
    }
}
