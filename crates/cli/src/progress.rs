//! Progress for long commands: an `indicatif` bar when stderr is a terminal,
//! and a plain line every few seconds (plus one at the end) when it is not, so
//! logs of scheduled runs show how far a job got.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain progress line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// One phase of a command (`listing`, `checking`, ...), counted in `unit`s.
pub struct Progress {
    what: String,
    unit: &'static str,
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
}

struct Plain {
    done: u64,
    total: u64,
    last: Instant,
}

impl Progress {
    /// `what` names the phase (`"reconcile: checking the vault"`); `total` may grow later.
    pub fn new(what: impl Into<String>, unit: &'static str, total: u64) -> Self {
        let what = what.into();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} {unit} ({elapsed}, eta {eta})",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.with_key(
                "unit",
                move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(unit);
                },
            ));
            bar.set_message(what.clone());
            bar
        });
        Self {
            what,
            unit,
            bar,
            plain: Mutex::new(Plain {
                done: 0,
                total,
                last: Instant::now(),
            }),
        }
    }

    /// Set the count done (and the total, which can change while listing).
    pub fn set(&self, done: u64, total: u64) {
        let mut p = self.plain.lock().unwrap_or_else(|e| e.into_inner());
        p.done = done;
        p.total = total;
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
        } else if p.last.elapsed() >= PLAIN_EVERY {
            p.last = Instant::now();
            eprintln!("{}: {done}/{total} {}", self.what, self.unit);
        }
    }

    /// One more done.
    pub fn inc(&self) {
        let (done, total) = {
            let p = self.plain.lock().unwrap_or_else(|e| e.into_inner());
            (p.done + 1, p.total)
        };
        self.set(done, total);
    }

    /// The phase is over: clear the bar, or write the last plain line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            return;
        }
        let p = self.plain.lock().unwrap_or_else(|e| e.into_inner());
        eprintln!("{}: {}/{} {}, done", self.what, p.done, p.total, self.unit);
    }
}
