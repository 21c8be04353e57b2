//! A small Prometheus registry: counters, gauges (set directly or computed at scrape time) and
//! histograms, rendered in the Prometheus text exposition format (version 0.0.4) at `/metrics`.
//!
//! Hand-written rather than a crate: the server needs a few dozen series, atomics on the hot path
//! and one text renderer, which is less code than adapting a general library. Any part of the
//! process can add its own series through [`global`], e.g. a background worker:
//!
//! ```
//! let lag = dynamo_pg::metrics::global().gauge(
//!     "dynamo_pg_stream_lag_records",
//!     "Stream records not yet read by the trimmer.",
//!     &[("table", "Music")],
//! );
//! lag.set(12.0);
//! ```
//!
//! Asking again for the same name and labels returns the same series, so callers may either keep
//! the handle (cheapest: one atomic operation per update) or look it up each time. Keep label
//! values to a bounded set (operation names, outcomes): every distinct value is a new series
//! that lives for the life of the process.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// Latency buckets in seconds, from half a millisecond (a cached point read) to ten seconds (a
/// request stuck behind an unavailable database).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide registry that `/metrics` renders.
pub fn global() -> &'static Registry {
    static GLOBAL: OnceLock<Registry> = OnceLock::new();
    GLOBAL.get_or_init(Registry::default)
}

/// A monotonically increasing count (requests served, errors seen). Cloning shares the count.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (connections open, records behind). Cloning shares the value.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicF64>);

impl Gauge {
    /// Replaces the value.
    pub fn set(&self, v: f64) {
        self.0.store(v);
    }

    /// Adds `d` (negative to subtract).
    pub fn add(&self, d: f64) {
        self.0.add(d);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.0.load()
    }
}

/// A distribution of observations (latencies) over fixed buckets. Cloning shares the data.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<HistogramCore>);

#[derive(Debug)]
struct HistogramCore {
    /// Upper bounds, ascending; `+Inf` is implied.
    bounds: Vec<f64>,
    /// Observations per bucket (not cumulative; one more than `bounds` for `+Inf`).
    counts: Vec<AtomicU64>,
    sum: AtomicF64,
}

impl Histogram {
    fn new(bounds: &[f64]) -> Histogram {
        let mut bounds: Vec<f64> = bounds.iter().copied().filter(|b| b.is_finite()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(HistogramCore {
            bounds,
            counts,
            sum: AtomicF64::default(),
        }))
    }

    /// Records one observation.
    pub fn observe(&self, v: f64) {
        let core = &self.0;
        let i = core.bounds.partition_point(|b| *b < v);
        core.counts[i].fetch_add(1, Ordering::Relaxed);
        core.sum.add(v);
    }

    /// How many observations were recorded.
    pub fn count(&self) -> u64 {
        self.0
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// An f64 in an atomic, updated with compare-and-swap.
#[derive(Debug, Default)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn load(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    fn store(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    fn add(&self, d: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + d).to_bits())
            });
    }
}

type GaugeFn = Arc<dyn Fn() -> f64 + Send + Sync>;

enum Series {
    Counter(Counter),
    Gauge(Gauge),
    GaugeFn(GaugeFn),
    Histogram(Histogram),
}

impl Series {
    /// Another handle on the same data.
    fn share(&self) -> Series {
        match self {
            Series::Counter(c) => Series::Counter(c.clone()),
            Series::Gauge(g) => Series::Gauge(g.clone()),
            Series::GaugeFn(f) => Series::GaugeFn(f.clone()),
            Series::Histogram(h) => Series::Histogram(h.clone()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Label pairs, sorted by name so that the same set in any order is the same series.
type Labels = Vec<(String, String)>;

struct Family {
    help: String,
    kind: Kind,
    series: BTreeMap<Labels, Series>,
}

/// Named metric families and their labelled series.
#[derive(Default)]
pub struct Registry {
    families: RwLock<BTreeMap<String, Family>>,
}

impl Registry {
    /// The counter `name{labels}`, created on first use. A name already registered as another
    /// kind, or an invalid name, gives a working counter that is not exported (and a warning).
    pub fn counter(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Counter {
        match self.get_or_insert(name, help, Kind::Counter, labels, || {
            Series::Counter(Counter::default())
        }) {
            Some(Series::Counter(c)) => c,
            _ => Counter::default(),
        }
    }

    /// The gauge `name{labels}`, created on first use (see [`Registry::counter`] for conflicts).
    pub fn gauge(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Gauge {
        match self.get_or_insert(name, help, Kind::Gauge, labels, || {
            Series::Gauge(Gauge::default())
        }) {
            Some(Series::Gauge(g)) => g,
            _ => Gauge::default(),
        }
    }

    /// A gauge computed by `f` at each scrape (pool sizes, queue lengths): nothing to keep up to
    /// date between scrapes. Registering the same name and labels again replaces the function.
    pub fn gauge_fn(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        f: impl Fn() -> f64 + Send + Sync + 'static,
    ) {
        let f: GaugeFn = Arc::new(f);
        let Some(labels) = checked_labels(name, labels) else {
            return;
        };
        let Ok(mut families) = self.families.write() else {
            return;
        };
        let family = families.entry(name.to_string()).or_insert_with(|| Family {
            help: help.to_string(),
            kind: Kind::Gauge,
            series: BTreeMap::new(),
        });
        if family.kind != Kind::Gauge {
            tracing::warn!(
                metric = name,
                "metric already registered as a {}",
                family.kind.name()
            );
            return;
        }
        family.series.insert(labels, Series::GaugeFn(f));
    }

    /// The histogram `name{labels}` with `buckets` (upper bounds in ascending order), created on
    /// first use; later calls return the existing one whatever buckets they pass.
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        buckets: &[f64],
    ) -> Histogram {
        match self.get_or_insert(name, help, Kind::Histogram, labels, || {
            Series::Histogram(Histogram::new(buckets))
        }) {
            Some(Series::Histogram(h)) => h,
            _ => Histogram::new(buckets),
        }
    }

    /// Finds or creates a series; `None` when the name is taken by another kind or invalid.
    fn get_or_insert(
        &self,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[(&str, &str)],
        make: impl FnOnce() -> Series,
    ) -> Option<Series> {
        let labels = checked_labels(name, labels)?;
        if let Ok(families) = self.families.read() {
            if let Some(family) = families.get(name) {
                if family.kind != kind {
                    tracing::warn!(
                        metric = name,
                        "metric already registered as a {}",
                        family.kind.name()
                    );
                    return None;
                }
                if let Some(s) = family.series.get(&labels) {
                    return Some(s.share());
                }
            }
        }
        let mut families = self.families.write().ok()?;
        let family = families.entry(name.to_string()).or_insert_with(|| Family {
            help: help.to_string(),
            kind,
            series: BTreeMap::new(),
        });
        if family.kind != kind {
            tracing::warn!(
                metric = name,
                "metric already registered as a {}",
                family.kind.name()
            );
            return None;
        }
        Some(family.series.entry(labels).or_insert_with(make).share())
    }

    /// Every family in the Prometheus text format, sorted by name.
    pub fn render(&self) -> String {
        // Gauge functions run outside the lock: they may take other locks of their own.
        struct Snapshot {
            name: String,
            help: String,
            kind: Kind,
            series: Vec<(Labels, Series)>,
        }
        let mut snapshot = Vec::new();
        if let Ok(families) = self.families.read() {
            for (name, family) in families.iter() {
                let series = family
                    .series
                    .iter()
                    .map(|(labels, s)| (labels.clone(), s.share()))
                    .collect();
                snapshot.push(Snapshot {
                    name: name.clone(),
                    help: family.help.clone(),
                    kind: family.kind,
                    series,
                });
            }
        }
        let mut out = String::with_capacity(4096);
        for Snapshot {
            name,
            help,
            kind,
            series,
        } in snapshot
        {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&help));
            let _ = writeln!(out, "# TYPE {name} {}", kind.name());
            for (labels, s) in series {
                match s {
                    Series::Counter(c) => {
                        let _ = writeln!(out, "{name}{} {}", label_text(&labels, None), c.get());
                    }
                    Series::Gauge(g) => {
                        let _ = writeln!(
                            out,
                            "{name}{} {}",
                            label_text(&labels, None),
                            number(g.get())
                        );
                    }
                    Series::GaugeFn(f) => {
                        let _ =
                            writeln!(out, "{name}{} {}", label_text(&labels, None), number(f()));
                    }
                    Series::Histogram(h) => render_histogram(&mut out, &name, &labels, &h),
                }
            }
        }
        out
    }
}

fn render_histogram(out: &mut String, name: &str, labels: &Labels, h: &Histogram) {
    let core = &h.0;
    let mut cumulative = 0u64;
    for (i, bound) in core.bounds.iter().enumerate() {
        cumulative += core.counts[i].load(Ordering::Relaxed);
        let le = number(*bound);
        let _ = writeln!(
            out,
            "{name}_bucket{} {cumulative}",
            label_text(labels, Some(&le))
        );
    }
    cumulative += core.counts[core.bounds.len()].load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "{name}_bucket{} {cumulative}",
        label_text(labels, Some("+Inf"))
    );
    let _ = writeln!(
        out,
        "{name}_sum{} {}",
        label_text(labels, None),
        number(core.sum.load())
    );
    let _ = writeln!(out, "{name}_count{} {cumulative}", label_text(labels, None));
}

/// `{a="x",b="y"}` (with `le` last for histogram buckets), or nothing without labels.
fn label_text(labels: &Labels, le: Option<&str>) -> String {
    if labels.is_empty() && le.is_none() {
        return String::new();
    }
    let mut s = String::from("{");
    let mut first = true;
    for (k, v) in labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(le.map(|le| ("le", le)))
    {
        if !first {
            s.push(',');
        }
        first = false;
        s.push_str(k);
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Prometheus writes it (`+Inf`, `-Inf`, `NaN`, shortest round-trip decimal).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Validates the metric and label names and sorts the labels; `None` (with a warning) if invalid.
fn checked_labels(name: &str, labels: &[(&str, &str)]) -> Option<Labels> {
    let valid = |s: &str, colon: bool| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    };
    if !valid(name, true) {
        tracing::warn!(metric = name, "invalid metric name; not exported");
        return None;
    }
    let mut out: Labels = Vec::with_capacity(labels.len());
    for (k, v) in labels {
        if !valid(k, false) || k.starts_with("__") || *k == "le" {
            tracing::warn!(metric = name, label = k, "invalid label name; not exported");
            return None;
        }
        out.push((k.to_string(), v.to_string()));
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let r = Registry::default();
        let c = r.counter(
            "t_requests_total",
            "Requests.",
            &[("operation", "PutItem"), ("outcome", "ok")],
        );
        c.inc();
        c.add(2);
        // Same series whatever the label order.
        r.counter(
            "t_requests_total",
            "Requests.",
            &[("outcome", "ok"), ("operation", "PutItem")],
        )
        .inc();
        r.gauge("t_open", "Open things.", &[]).set(2.5);
        r.gauge_fn("t_pool", "Pool.", &[("kind", "a\"b")], || 7.0);
        let h = r.histogram("t_latency_seconds", "Latency.", &[("op", "x")], &[0.1, 1.0]);
        h.observe(0.0625);
        h.observe(0.5);
        h.observe(3.0);
        let text = r.render();
        let expected = "\
# HELP t_latency_seconds Latency.
# TYPE t_latency_seconds histogram
t_latency_seconds_bucket{op=\"x\",le=\"0.1\"} 1
t_latency_seconds_bucket{op=\"x\",le=\"1\"} 2
t_latency_seconds_bucket{op=\"x\",le=\"+Inf\"} 3
t_latency_seconds_sum{op=\"x\"} 3.5625
t_latency_seconds_count{op=\"x\"} 3
# HELP t_open Open things.
# TYPE t_open gauge
t_open 2.5
# HELP t_pool Pool.
# TYPE t_pool gauge
t_pool{kind=\"a\\\"b\"} 7
# HELP t_requests_total Requests.
# TYPE t_requests_total counter
t_requests_total{operation=\"PutItem\",outcome=\"ok\"} 4
";
        assert_eq!(text, expected);
    }

    #[test]
    fn conflicting_or_invalid_names_are_not_exported() {
        let r = Registry::default();
        r.counter("t_x", "X.", &[]).inc();
        let g = r.gauge("t_x", "X as a gauge.", &[]);
        g.set(5.0);
        assert_eq!(g.get(), 5.0, "the detached handle still works");
        r.counter("9bad", "Bad.", &[]).inc();
        r.counter("t_y", "Y.", &[("le", "1")]).inc();
        let text = r.render();
        assert!(text.contains("t_x 1\n"));
        assert!(!text.contains("9bad") && !text.contains("t_y"));
    }
}
