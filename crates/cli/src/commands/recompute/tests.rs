//! In memory and spilled, `recompute` comes to the same: random line sets (revisions,
//! duplicates, same-revision conflicts, funding lists, blank and malformed lines) taken
//! both ways, with several bucket counts and group sizes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden").join(name)
}

/// The double-funding set's registry with its lists, and record templates from both golden sets.
struct Setup {
    registry: Registry,
    policy: PolicySet,
    templates: Vec<serde_json::Value>,
}

fn setup() -> Setup {
    let mut loaded = load_registry(&golden("funding/entities.json"), &golden("funding/centers.json")).unwrap();
    load_funding(&mut loaded.registry, Some(&golden("funding/funded_elsewhere.csv")), Some(&golden("funding/supplier_claims.json"))).unwrap();
    let templates = ["funding/records.jsonl", "records.jsonl"]
        .iter()
        .flat_map(|f| std::fs::read_to_string(golden(f)).unwrap().lines().filter_map(|l| serde_json::from_str(l).ok()).collect::<Vec<serde_json::Value>>())
        .collect();
    Setup { registry: loaded.registry, policy: PolicySet::builtin(), templates }
}

/// One generated line.
#[derive(Debug, Clone)]
enum Gen {
    Blank,
    Malformed(u8),
    Record { template: usize, id: usize, revision: u32, paid: usize, contract: usize },
}

const IDS: [&str; 9] = ["f2", "f4", "f5", "f7", "f99", "f404", "x1", "x2", "x3"];
const PAID: [&str; 3] = ["1000.00", "900.5", "10.12"];
const CONTRACTS: [Option<&str>; 3] = [None, Some("K-100"), Some("K-7")];

fn gen_line() -> impl Strategy<Value = Gen> {
    prop_oneof![
        1 => Just(Gen::Blank),
        1 => any::<u8>().prop_map(Gen::Malformed),
        12 => (0usize..64, 0..IDS.len(), 1u32..4, 0..PAID.len(), 0..CONTRACTS.len()).prop_map(|(template, id, revision, paid, contract)| Gen::Record { template, id, revision, paid, contract }),
    ]
}

fn text(setup: &Setup, lines: &[Gen]) -> String {
    let mut out = String::new();
    for l in lines {
        match l {
            Gen::Blank => out.push_str("  "),
            Gen::Malformed(b) => out.push_str(&format!("{{\"record_id\": \"m{b}\", \"revision\": ")),
            Gen::Record { template, id, revision, paid, contract } => {
                let mut v = setup.templates[template % setup.templates.len()].clone();
                v["record_id"] = IDS[*id].into();
                v["revision"] = (*revision).into();
                v["paid_amount"] = PAID[*paid].into();
                match CONTRACTS[*contract] {
                    Some(c) => v["contract_id"] = c.into(),
                    None => {
                        v.as_object_mut().unwrap().remove("contract_id");
                    }
                }
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    out
}

/// The exclusions written and everything else a run comes to.
fn outputs(setup: &Setup, input: &str, mode: &Mode) -> (String, Outcome) {
    let rules = Rules { registry: &setup.registry, policy: &setup.policy };
    let mut excl = Vec::new();
    let outcome = recompute(input.as_bytes(), Path::new("t"), rules, Some(&mut excl), mode).unwrap();
    (String::from_utf8(excl).unwrap(), outcome)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn spilled_gives_what_in_memory_gives(lines in proptest::collection::vec(gen_line(), 0..60)) {
        let setup = setup();
        let input = text(&setup, &lines);
        let (want_excl, want) = outputs(&setup, &input, &Mode::InMemory);
        let dir = tempfile::tempdir().unwrap();
        for (buckets, group_bytes) in [(1, u64::MAX), (3, 1), (17, 300), (17, u64::MAX)] {
            let mode = Mode::Spilled { dir: dir.path().to_path_buf(), buckets, group_bytes };
            let (excl, got) = outputs(&setup, &input, &mode);
            prop_assert_eq!(&excl, &want_excl, "exclusions, {} buckets, groups of {} bytes", buckets, group_bytes);
            prop_assert_eq!(&got, &want, "{} buckets, groups of {} bytes", buckets, group_bytes);
            prop_assert_eq!(settlements_csv(&got.settlements), settlements_csv(&want.settlements));
        }
        // Every spill folder is gone.
        prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

/// The generator reaches what the comparison is about: conflicts, revisions, funding notices.
#[test]
fn the_generated_lines_reach_every_kind_of_copy() {
    let setup = setup();
    let rec = |id, revision, paid| Gen::Record { template: 0, id, revision, paid, contract: 1 };
    let lines = [rec(3, 1, 0), rec(3, 1, 1), rec(3, 2, 0), rec(3, 1, 2), rec(3, 2, 0), Gen::Blank, Gen::Malformed(1), rec(6, 1, 0)];
    let (excl, outcome) = outputs(&setup, &text(&setup, &lines), &Mode::InMemory);
    let d = &outcome.tally.decisions;
    for kind in [Decision::First, Decision::Conflict, Decision::Replaces, Decision::Superseded, Decision::Duplicate] {
        assert!(d.get(&kind).is_some_and(|n| *n > 0), "{kind:?} in {d:?}");
    }
    assert_eq!((outcome.tally.blank, outcome.tally.rejected.values().sum::<u64>()), (1, 1));
    assert!(!outcome.notices.is_empty(), "the lists name records no line has");
    for reason in ["revision_conflict", "superseded", "duplicate"] {
        assert!(excl.contains(&format!("\"reason\":\"{reason}\"")), "{reason} in {excl}");
    }
}
