//! A seeded generator of a realistic province data set: entities across
//! Anhui's sixteen cities (and a few outside), compute centers with owners,
//! and a stream of usage-record lines with revisions, duplicates and bad
//! lines. Equal configurations give byte-identical output.
//!
//! Owns only the synthetic data; it never decides eligibility or money owed,
//! which is the core crate's job.

pub mod clock;
mod config;
mod kinds;
mod line;
mod malformed;
pub mod names;
mod province;
mod stream;

pub use config::{GenConfig, GenConfigError, MonthRange};
pub use kinds::{LineKind, MalformedKind, Summary};

use crate::dataset::Dataset;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A generated data set and, line for line, what each record line is.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Entities, centers and record lines.
    pub dataset: Dataset,
    /// `kinds[i]` says what `dataset.records[i]` is.
    pub kinds: Vec<LineKind>,
}

impl Generated {
    /// Line counts by kind.
    pub fn summary(&self) -> Summary {
        Summary::of(&self.kinds)
    }
}

/// Generates the data set of `config`.
///
/// The registry comes from the seed alone (ChaCha8 stream 0) and the records
/// from stream 1, so changing the record count keeps the same entities.
pub fn generate(config: &GenConfig) -> Result<Generated, GenConfigError> {
    config.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let province = province::Province::generate(&mut rng, config.entities, config.centers);
    let mut record_rng = ChaCha8Rng::seed_from_u64(config.seed);
    record_rng.set_stream(1);
    let (records, kinds) = stream::generate(&province, config, record_rng);
    let dataset = Dataset { entities: province.entities_json(), centers: province.centers_json(), records };
    Ok(Generated { dataset, kinds })
}

/// Generates the data set of `config`, without the line kinds.
pub fn build_dataset(config: &GenConfig) -> Result<Dataset, GenConfigError> {
    generate(config).map(|g| g.dataset)
}
