//! What each generated line is meant to be: an original record, a later
//! revision, an exact duplicate, or one of the malformed shapes together with
//! the reason code the pipeline must give it.

use subsidy_core::ReasonCode;

/// The ways a generated line is made bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MalformedKind {
    /// Not valid JSON text at all (cut short, a broken separator, an HTML error page).
    BrokenJson,
    /// A required field is absent.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// An amount or price that is negative, has three decimals, has a thousands separator, is
    /// more than a ledger holds for one record, or paid exceeds billed.
    BadAmount,
    /// A credit code failing the GB 32100-2015 check.
    BadCreditCode,
    /// Currency other than CNY.
    Currency,
    /// `usage_end` before `usage_start`.
    EndBeforeStart,
    /// A usage time no ledger store can hold (the years 1960, 2200, 9999).
    OutOfRange,
    /// A valid record whose user is in no registry.
    UnknownEntity,
    /// A valid record on a center in no registry.
    UnknownCenter,
}

impl MalformedKind {
    /// Every kind with its relative frequency.
    pub const WEIGHTED: [(MalformedKind, u32); 10] = [
        (MalformedKind::BrokenJson, 25),
        (MalformedKind::MissingField, 15),
        (MalformedKind::WrongType, 10),
        (MalformedKind::BadAmount, 15),
        (MalformedKind::BadCreditCode, 10),
        (MalformedKind::Currency, 8),
        (MalformedKind::EndBeforeStart, 7),
        (MalformedKind::OutOfRange, 5),
        (MalformedKind::UnknownEntity, 5),
        (MalformedKind::UnknownCenter, 5),
    ];

    /// The reason code the pipeline must give the line.
    pub fn expected_reason(self) -> ReasonCode {
        match self {
            MalformedKind::BrokenJson => ReasonCode::Malformed,
            MalformedKind::MissingField => ReasonCode::MissingField,
            MalformedKind::WrongType => ReasonCode::InvalidField,
            MalformedKind::BadAmount => ReasonCode::InvalidAmount,
            MalformedKind::BadCreditCode => ReasonCode::InvalidCreditCode,
            MalformedKind::Currency => ReasonCode::UnsupportedCurrency,
            MalformedKind::EndBeforeStart => ReasonCode::InvalidTimeRange,
            MalformedKind::OutOfRange => ReasonCode::OutOfRange,
            MalformedKind::UnknownEntity => ReasonCode::UnknownEntity,
            MalformedKind::UnknownCenter => ReasonCode::UnknownCenter,
        }
    }

    /// Whether `parse_record` alone refuses the line (unknown entities and centers need the registry).
    pub fn rejected_by_parser(self) -> bool {
        !matches!(self, MalformedKind::UnknownEntity | MalformedKind::UnknownCenter)
    }

    /// Whether the line is not valid JSON, so the platform serves it as a JSON string.
    pub fn is_invalid_json(self) -> bool {
        self == MalformedKind::BrokenJson
    }
}

/// What a generated line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// The first revision of a record.
    Original,
    /// A later revision: a payment, a refund or a correction.
    Revision,
    /// An exact repeat of the line before it.
    Duplicate,
    /// A bad line.
    Malformed(MalformedKind),
}

/// Line counts of a generated data set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Every line.
    pub lines: usize,
    /// First revisions.
    pub originals: usize,
    /// Later revisions.
    pub revisions: usize,
    /// Exact repeats.
    pub duplicates: usize,
    /// Bad lines of every kind.
    pub malformed: usize,
}

impl Summary {
    /// Counts the kinds.
    pub fn of(kinds: &[LineKind]) -> Summary {
        let mut s = Summary { lines: kinds.len(), ..Summary::default() };
        for k in kinds {
            match k {
                LineKind::Original => s.originals += 1,
                LineKind::Revision => s.revisions += 1,
                LineKind::Duplicate => s.duplicates += 1,
                LineKind::Malformed(_) => s.malformed += 1,
            }
        }
        s
    }
}
