//! Series read when scraped: the open connections, the database pool, the bus. Keeping them costs
//! nothing between scrapes, because their owners already know the numbers.

use prometheus::core::{Collector, Desc, Describer};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, Opts};

pub type Reader = Box<dyn Fn() -> f64 + Send + Sync>;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    /// A total kept elsewhere that only grows (a bus's failures).
    Counter,
}

/// One series (name and constant labels) whose value comes from `read` at every scrape.
pub struct Sampled {
    desc: Desc,
    opts: Opts,
    kind: Kind,
    read: Reader,
}

impl Sampled {
    /// # Errors
    /// When the name or a label is not a valid Prometheus name.
    pub fn new(kind: Kind, opts: Opts, read: Reader) -> prometheus::Result<Self> {
        Ok(Self { desc: opts.describe()?, opts, kind, read })
    }
}

impl Collector for Sampled {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let value = (self.read)();
        let collected = match self.kind {
            Kind::Gauge => Gauge::with_opts(self.opts.clone()).map(|gauge| {
                gauge.set(value);
                gauge.collect()
            }),
            Kind::Counter => Counter::with_opts(self.opts.clone()).map(|counter| {
                counter.inc_by(value.max(0.0));
                counter.collect()
            }),
        };
        collected.unwrap_or_default()
    }
}
