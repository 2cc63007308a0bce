//! Progress on stderr for long commands (`validate`, `validate --wan`,
//! sweeps estimated to take more than a few seconds), drawn with
//! indicatif — only when stderr is a terminal, so nothing of it reaches a
//! pipe, a log file or a report.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Sweeps estimated to run at least this long show progress, s of wall time.
pub const MIN_SWEEP_S: f64 = 3.0;
/// Simulator events per second of wall time the estimate assumes (README, "Budgets").
pub const EVENTS_PER_S: f64 = 1e6;

/// A progress display, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
}

/// Is stderr a terminal?
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

impl Progress {
    /// Nothing is shown.
    pub fn hidden() -> Progress {
        Progress { bar: None }
    }

    /// A bar over `points` sweep points, shown when `tty` and the sweep's
    /// estimated `events` take at least [`MIN_SWEEP_S`].
    pub fn points(tty: bool, points: u64, events: u64) -> Progress {
        if !tty || (events as f64) < MIN_SWEEP_S * EVENTS_PER_S {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(points), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} simulating [{bar:30}] {pos}/{len} points, {elapsed} ({eta} left)")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    /// A spinner with a message and the elapsed time, shown when `tty`.
    pub fn spinner(tty: bool) -> Progress {
        if !tty {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("a valid template"));
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    pub fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// One more point done.
    pub fn inc(&self) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    /// What is being done now.
    pub fn message(&self, text: &str) {
        if let Some(b) = &self.bar {
            b.set_message(text.to_string());
        }
    }

    /// Run `f` (which prints) with the display hidden meanwhile.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// Remove the display (before the command prints its results).
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_shown_off_a_terminal_or_for_short_sweeps() {
        assert!(!Progress::points(false, 100, u64::MAX).is_shown());
        assert!(!Progress::spinner(false).is_shown());
        let short = (MIN_SWEEP_S * EVENTS_PER_S) as u64 - 1;
        assert!(!Progress::points(true, 100, short).is_shown());
        let long = Progress::points(true, 100, short + 1);
        assert!(long.is_shown());
        long.inc();
        long.finish();
    }
}
