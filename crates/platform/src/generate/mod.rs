//! A seeded generator of a realistic province data set: entities across
//! Anhui's sixteen cities (and a few outside), compute centers with owners,
//! and a stream of usage-record lines with revisions, duplicates and bad
//! lines. Equal configurations give byte-identical output.
//!
//! Owns only the synthetic data; it never decides eligibility or money owed,
//! which is the core crate's job.

pub mod clock;
mod config;
mod dated;
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
/// from stream 1, so changing the record count keeps the same entities. Dated
/// registry changes (moves to 阜阳市, center sales) come from stream 2 and are
/// listed after the entries they change.
pub fn generate(config: &GenConfig) -> Result<Generated, GenConfigError> {
    config.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let province = province::Province::generate(&mut rng, config.entities, config.centers);
    let mut record_rng = ChaCha8Rng::seed_from_u64(config.seed);
    record_rng.set_stream(1);
    let (records, kinds) = stream::generate(&province, config, record_rng);
    let (mut entities, mut centers) = (province.entities_json(), province.centers_json());
    let mut dated_rng = ChaCha8Rng::seed_from_u64(config.seed);
    dated_rng.set_stream(2);
    let (moves, sales) = dated::changes(&province, &entities, &centers, config.months, &mut dated_rng);
    entities.extend(moves);
    centers.extend(sales);
    let dataset = Dataset { entities, centers, records };
    Ok(Generated { dataset, kinds })
}

/// Generates the data set of `config`, without the line kinds.
pub fn build_dataset(config: &GenConfig) -> Result<Dataset, GenConfigError> {
    generate(config).map(|g| g.dataset)
}
