//! The one settlement step: a copy of a record arrives; given what stands for
//! its id, the registry and the policy, decide what it means and, when it
//! changes what stands, the new ledger line.
//!
//! `recompute`, the aggregator and the demo all take every copy through
//! [`step`]; nothing else decides revisions or classifies a record. The
//! outcome depends only on the set of copies seen, never on their order:
//! the highest revision stands; copies of one revision that differ in
//! content (by [`Fingerprint`]) make it a `revision_conflict`, represented by
//! the copy with the smallest fingerprint, until a higher revision arrives.

use crate::fingerprint::Fingerprint;
use crate::policy::PolicySet;
use crate::reason::ReasonCode;
use crate::record::UsageRecord;
use crate::registry::Registry;
use crate::standing::{Facts, Line, Standing};

/// What an arriving copy is, against what stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// The first copy of this record id.
    First,
    /// A higher revision than the one standing: it replaces it.
    Replaces,
    /// The revision standing, with the same content: changes nothing.
    Duplicate,
    /// A lower revision than the one standing: changes nothing.
    Superseded,
    /// The revision standing, with other content: the revision is in conflict.
    Conflict,
}

impl Decision {
    /// The stable snake_case name (metric label, API field).
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::First => "first",
            Decision::Replaces => "replaces",
            Decision::Duplicate => "duplicate",
            Decision::Superseded => "superseded",
            Decision::Conflict => "conflict",
        }
    }

    /// The reason a copy this decision leaves out (or the copy it displaces) is excluded for:
    /// a repeat is a `duplicate`, a copy of a revision in conflict a `revision_conflict`,
    /// anything else a higher revision replaced: `superseded`.
    pub const fn excludes_as(self) -> ReasonCode {
        match self {
            Decision::Duplicate => ReasonCode::Duplicate,
            Decision::Conflict => ReasonCode::RevisionConflict,
            Decision::First | Decision::Replaces | Decision::Superseded => ReasonCode::Superseded,
        }
    }
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the copy is.
    pub decision: Decision,
    /// The new line, when what stands changed.
    pub line: Option<Line>,
}

/// Takes one checked copy of a record (with its fingerprint) against what stands for its id.
pub fn step(standing: Option<&Standing>, record: &UsageRecord, fingerprint: Fingerprint, registry: &Registry, policy: &PolicySet) -> Step {
    step_with(standing, record.revision, fingerprint, || Facts::of(record), registry, policy)
}

/// [`step`] for a copy known by its revision, its fingerprint and its facts, made only
/// when the copy changes what stands (a copy kept in another form than a [`UsageRecord`]).
pub fn step_with(standing: Option<&Standing>, revision: u32, fingerprint: Fingerprint, facts: impl FnOnce() -> Facts, registry: &Registry, policy: &PolicySet) -> Step {
    let stands = |s: Standing| Some(Line::settle(s, registry, policy));
    let Some(current) = standing else {
        return Step { decision: Decision::First, line: stands(Standing { revision, fingerprint, conflict: false, facts: facts() }) };
    };
    if revision > current.revision {
        return Step { decision: Decision::Replaces, line: stands(Standing { revision, fingerprint, conflict: false, facts: facts() }) };
    }
    if revision < current.revision {
        return Step { decision: Decision::Superseded, line: None };
    }
    if fingerprint == current.fingerprint {
        return Step { decision: Decision::Duplicate, line: None };
    }
    let line = if fingerprint < current.fingerprint {
        // The arriving copy represents the revision from now on.
        stands(Standing { revision, fingerprint, conflict: true, facts: facts() })
    } else if !current.conflict {
        stands(Standing { conflict: true, ..current.clone() })
    } else {
        None
    };
    Step { decision: Decision::Conflict, line }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::record::parse_record;

    fn copy(revision: u32, paid: &str) -> (UsageRecord, Fingerprint) {
        let mut v = crate::record::tests::good_line();
        v["revision"] = revision.into();
        v["paid_amount"] = paid.into();
        let r = parse_record(v.to_string().as_bytes()).unwrap();
        let f = Fingerprint::of(&r);
        (r, f)
    }

    fn run(copies: &[&(UsageRecord, Fingerprint)]) -> (Vec<Decision>, Option<Line>) {
        let (registry, policy) = (Registry::new(), PolicySet::builtin());
        let mut standing: Option<Line> = None;
        let mut decisions = Vec::new();
        for (r, f) in copies {
            let s = step(standing.as_ref().map(|l| &l.standing), r, *f, &registry, &policy);
            decisions.push(s.decision);
            if let Some(l) = s.line {
                standing = Some(l);
            }
        }
        (decisions, standing)
    }

    #[test]
    fn each_decision_excludes_a_copy_for_one_reason() {
        let got: Vec<_> = [Decision::First, Decision::Replaces, Decision::Duplicate, Decision::Superseded, Decision::Conflict].map(Decision::excludes_as).into();
        assert_eq!(got, [ReasonCode::Superseded, ReasonCode::Superseded, ReasonCode::Duplicate, ReasonCode::Superseded, ReasonCode::RevisionConflict]);
    }

    #[test]
    fn revisions_duplicates_and_stale_copies() {
        let (a, b) = (copy(1, "100.00"), copy(2, "200.00"));
        let (d, line) = run(&[&a, &b, &a, &b]);
        assert_eq!(d, [Decision::First, Decision::Replaces, Decision::Superseded, Decision::Duplicate]);
        assert_eq!(line.unwrap().standing.facts.paid_amount.to_string(), "200.00");
    }

    #[test]
    fn a_conflict_stands_whichever_copy_came_first_until_a_higher_revision() {
        let (x, y, z) = (copy(1, "100.00"), copy(1, "90.00"), copy(2, "80.00"));
        let (d1, l1) = run(&[&x, &y]);
        let (d2, l2) = run(&[&y, &x, &y]);
        assert_eq!(d1, [Decision::First, Decision::Conflict]);
        assert_eq!(d2[..2], [Decision::First, Decision::Conflict]);
        let (l1, l2) = (l1.unwrap(), l2.unwrap());
        assert_eq!(l1, l2, "the same line whatever the order");
        assert!(l1.standing.conflict);
        assert_eq!(l1.assessment.reason, Some(ReasonCode::RevisionConflict));
        assert_eq!(l1.standing.fingerprint, x.1.min(y.1));
        let (d3, l3) = run(&[&x, &y, &z]);
        assert_eq!(d3[2], Decision::Replaces);
        assert!(!l3.unwrap().standing.conflict);
    }
}
