//! [`Registry`]: the one `metrics` recorder both runtimes install. It keeps
//! counters and histograms in memory; the Lambda turns them into one EMF line
//! per invocation ([`super::emf`]), the worker into the Prometheus text
//! format on `/metrics` ([`super::prometheus`]).
//!
//! Why not `metrics-exporter-prometheus`: without its default features it
//! still brings `metrics-util`, `evmap`, `quanta`, `indexmap` and a second
//! `base64`, and the Lambda would need a recorder of its own for EMF anyway
//! (one that starts again from zero after each line). One small registry that
//! both read keeps the Lambda binary and the build lean.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

/// Upper bounds of the histogram buckets, in seconds. One set for every
/// histogram: the ones we keep go from a fast archive (tens of milliseconds)
/// to a record that waited out SQS's 14 days.
pub const BUCKETS: [f64; 22] = [
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    14_400.0,
    43_200.0,
    86_400.0,
    345_600.0,
    1_209_600.0,
];

/// How many values of one histogram an EMF line carries at most: EMF allows
/// 100 values per metric in one document. Past that the line carries a
/// uniform sample of them (the counters stay exact).
pub const EMF_MAX_VALUES: usize = 100;

/// One histogram: cumulative buckets for Prometheus, and the values seen
/// since the last EMF line.
#[derive(Debug, Default)]
pub struct Hist {
    /// Counts per bucket of [`BUCKETS`], then one for values above the last.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// The sum of every value, as f64 bits.
    sum: AtomicU64,
    count: AtomicU64,
    window: Mutex<Window>,
}

/// The values since the last EMF line.
#[derive(Debug, Default)]
struct Window {
    seen: u64,
    sample: Vec<f64>,
    max: Option<f64>,
}

impl HistogramFn for Hist {
    fn record(&self, value: f64) {
        // A value from outside may be NaN or infinite: it is not a duration.
        if !value.is_finite() || value < 0.0 {
            return;
        }
        let slot = BUCKETS
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(b) = self.buckets.get(slot) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        w.seen = w.seen.saturating_add(1);
        w.max = Some(w.max.map_or(value, |m| m.max(value)));
        if w.sample.len() < EMF_MAX_VALUES {
            w.sample.push(value);
        } else {
            // Reservoir sampling (Algorithm R) with a cheap deterministic
            // hash of the count: every value has the same chance to be kept.
            let slot = splitmix(w.seen) % w.seen;
            if let Some(kept) = usize::try_from(slot).ok().and_then(|s| w.sample.get_mut(s)) {
                *kept = value;
            }
        }
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A histogram as read at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistSnapshot {
    /// Cumulative counts at each bound of [`BUCKETS`].
    pub cumulative: Vec<u64>,
    pub count: u64,
    pub sum: f64,
}

impl Hist {
    pub fn snapshot(&self) -> HistSnapshot {
        let mut running = 0u64;
        let cumulative = self
            .buckets
            .iter()
            .take(BUCKETS.len())
            .map(|b| {
                running = running.saturating_add(b.load(Ordering::Relaxed));
                running
            })
            .collect();
        HistSnapshot {
            cumulative,
            count: self.count.load(Ordering::Relaxed),
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
        }
    }

    /// The values since the last call (a sample of at most
    /// [`EMF_MAX_VALUES`]) and their maximum; starts a new window.
    pub fn take_window(&self) -> (Vec<f64>, Option<f64>) {
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = std::mem::take(&mut *w);
        (taken.sample, taken.max)
    }
}

#[derive(Debug, Default)]
struct Maps {
    counters: BTreeMap<Key, Arc<AtomicU64>>,
    histograms: BTreeMap<Key, Arc<Hist>>,
}

/// Counters and histograms by name and labels. Install an `Arc<Registry>`
/// with `metrics::set_global_recorder`; gauges are accepted and dropped
/// (the router keeps none).
#[derive(Debug, Default)]
pub struct Registry {
    maps: Mutex<Maps>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        // Plain maps of handles: one a panic left behind is still whole.
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every counter now, by key.
    pub fn counters(&self) -> Vec<(Key, u64)> {
        self.maps()
            .counters
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect()
    }

    /// Every counter, by key, each set back to zero (the Lambda's line per
    /// invocation counts only that invocation).
    pub fn take_counters(&self) -> Vec<(Key, u64)> {
        self.maps()
            .counters
            .iter()
            .map(|(k, v)| (k.clone(), v.swap(0, Ordering::Relaxed)))
            .collect()
    }

    /// The counter `name` with exactly `labels`, 0 if never counted.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.maps()
            .counters
            .iter()
            .find(|(k, _)| same_key(k, name, labels))
            .map_or(0, |(_, v)| v.load(Ordering::Relaxed))
    }

    /// Every histogram, by key.
    pub fn histograms(&self) -> Vec<(Key, Arc<Hist>)> {
        self.maps()
            .histograms
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The histogram `name` (no labels), if anything was recorded in it.
    pub fn histogram(&self, name: &str) -> Option<Arc<Hist>> {
        self.maps()
            .histograms
            .iter()
            .find(|(k, _)| same_key(k, name, &[]))
            .map(|(_, v)| v.clone())
    }
}

fn same_key(k: &Key, name: &str, labels: &[(&str, &str)]) -> bool {
    k.name() == name
        && k.labels().count() == labels.len()
        && k.labels()
            .all(|l| labels.iter().any(|(n, v)| l.key() == *n && l.value() == *v))
}

impl Recorder for Registry {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let c = self.maps().counters.entry(key.clone()).or_default().clone();
        Counter::from_arc(c)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let h = self
            .maps()
            .histograms
            .entry(key.clone())
            .or_default()
            .clone();
        Histogram::from_arc(h)
    }
}

/// Install a new registry as the process's recorder and return it, for the
/// binary to publish (EMF lines, `/metrics`). `None` when a recorder was
/// already installed (a second call): the counters go to that one.
pub fn install() -> Option<Arc<Registry>> {
    let registry = Arc::new(Registry::new());
    metrics::set_global_recorder(Installed(registry.clone())).ok()?;
    Some(registry)
}

/// The facade takes its recorder by value; this shares the registry with
/// the code that reads it.
struct Installed(Arc<Registry>);

impl Recorder for Installed {
    fn describe_counter(&self, k: KeyName, u: Option<Unit>, d: SharedString) {
        self.0.describe_counter(k, u, d);
    }
    fn describe_gauge(&self, k: KeyName, u: Option<Unit>, d: SharedString) {
        self.0.describe_gauge(k, u, d);
    }
    fn describe_histogram(&self, k: KeyName, u: Option<Unit>, d: SharedString) {
        self.0.describe_histogram(k, u, d);
    }
    fn register_counter(&self, key: &Key, m: &Metadata<'_>) -> Counter {
        self.0.register_counter(key, m)
    }
    fn register_gauge(&self, key: &Key, m: &Metadata<'_>) -> Gauge {
        self.0.register_gauge(key, m)
    }
    fn register_histogram(&self, key: &Key, m: &Metadata<'_>) -> Histogram {
        self.0.register_histogram(key, m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_are_kept_by_name_and_labels() {
        let r = Registry::new();
        metrics::with_local_recorder(&r, || {
            metrics::counter!("c_total", "outcome" => "a").increment(2);
            metrics::counter!("c_total", "outcome" => "b").increment(1);
            metrics::counter!("c_total", "outcome" => "a").increment(3);
            metrics::histogram!("h_seconds").record(0.3);
            metrics::histogram!("h_seconds").record(f64::NAN);
            metrics::histogram!("h_seconds").record(1e30);
        });
        assert_eq!(r.counter("c_total", &[("outcome", "a")]), 5);
        assert_eq!(r.counter("c_total", &[("outcome", "b")]), 1);
        assert_eq!(r.counter("c_total", &[]), 0);
        let h = r.histogram("h_seconds").unwrap().snapshot();
        assert_eq!(h.count, 2, "NaN is not a value");
        assert_eq!(
            h.cumulative[BUCKETS.iter().position(|b| *b == 0.5).unwrap()],
            1
        );
        assert_eq!(
            *h.cumulative.last().unwrap(),
            1,
            "1e30 is above every bound"
        );
    }

    #[test]
    fn a_window_keeps_at_most_the_emf_limit_and_its_maximum() {
        let h = Hist::default();
        for i in 0..1000 {
            h.record(f64::from(i));
        }
        let (sample, max) = h.take_window();
        assert_eq!(sample.len(), EMF_MAX_VALUES);
        assert!(
            sample.iter().any(|v| *v >= 100.0),
            "later values are sampled too"
        );
        assert_eq!(max, Some(999.0));
        assert_eq!(h.take_window(), (Vec::new(), None), "a new window");
        assert_eq!(h.snapshot().count, 1000, "Prometheus keeps counting");
    }
}
