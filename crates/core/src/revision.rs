//! Revision ordering: which of two revisions of one record stands.

/// What a newly arrived revision means against the standing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// First revision seen of this record.
    First,
    /// Higher than the standing revision: it replaces it.
    Replaces,
    /// The same revision again: a duplicate, it changes nothing.
    Duplicate,
    /// Lower than the standing revision: it arrived late and changes nothing.
    Stale,
}

/// Decides between the standing revision (if any) and a new one.
pub fn decide(standing: Option<u32>, arriving: u32) -> Decision {
    match standing {
        None => Decision::First,
        Some(s) if arriving > s => Decision::Replaces,
        Some(s) if arriving == s => Decision::Duplicate,
        Some(_) => Decision::Stale,
    }
}
