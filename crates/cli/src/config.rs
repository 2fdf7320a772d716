//! Loading the shared inputs every command may need: the policy file and registry files.

use anyhow::{bail, Context, Result};
use std::path::Path;
use subsidy_core::registry::{Finding, LoadReport};
use subsidy_core::{PolicySet, Registry};

/// The policy from a TOML file, or the built-in default of RULES.md.
pub fn load_policy(path: Option<&Path>) -> Result<PolicySet> {
    match path {
        None => Ok(PolicySet::builtin()),
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read policy file {}", p.display()))?;
            PolicySet::from_toml(&text).with_context(|| format!("policy file {} is not usable", p.display()))
        }
    }
}

/// A registry loaded from files, with what loading it found.
#[derive(Debug)]
pub struct LoadedRegistry {
    /// The entities and centers.
    pub registry: Registry,
    /// Items refused.
    pub refused: usize,
    /// Repeated entries (the later stands) and registrations the credit code contradicts.
    pub findings: Vec<Finding>,
}

/// Loads entity and center files into a registry, reporting refused items on stderr.
pub fn load_registry(entities: &Path, centers: &Path) -> Result<LoadedRegistry> {
    let mut registry = Registry::new();
    let text = std::fs::read_to_string(entities).with_context(|| format!("cannot read entities file {}", entities.display()))?;
    let from_entities = registry.load_entities(&text).with_context(|| format!("entities file {} is not a JSON array", entities.display()))?;
    report_refused("entities", entities, &from_entities);
    let text = std::fs::read_to_string(centers).with_context(|| format!("cannot read centers file {}", centers.display()))?;
    let from_centers = registry.load_centers(&text).with_context(|| format!("centers file {} is not a JSON array", centers.display()))?;
    report_refused("centers", centers, &from_centers);
    if registry.entity_count() == 0 && from_entities.refused.is_empty() {
        bail!("entities file {} holds no entities", entities.display());
    }
    let mut findings: Vec<Finding> = from_entities.repeated.into_iter().chain(from_centers.repeated).collect();
    findings.extend(registry.findings());
    Ok(LoadedRegistry { registry, refused: from_entities.refused.len() + from_centers.refused.len(), findings })
}

fn report_refused(what: &str, path: &Path, report: &LoadReport) {
    for r in &report.refused {
        eprintln!("{what} {} item {}: refused: {}", path.display(), r.index, r.rejection);
    }
}

/// The funded-elsewhere list and the supplier claims read from files, with what reading found.
#[derive(Debug, Default)]
pub struct LoadedFunding {
    /// Distinct funded-elsewhere entries, in file order.
    pub funded: Vec<subsidy_core::FundedEntry>,
    /// Distinct supplier claims, in file order.
    pub claims: Vec<subsidy_core::SupplierClaim>,
    /// Entries given more than once (kept once): a sentence each.
    pub repeated: Vec<String>,
}

/// Reads one list file through `parse`. Any refused item makes the whole file an error that
/// names every refused item and why: an entry left out would fund the usage twice.
fn load_list_file<T: Clone + Ord>(what: &str, path: &Path, parse: fn(&serde_json::Value) -> Result<T, subsidy_core::Rejection>, repeated: &mut Vec<String>) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {what} file {}", path.display()))?;
    let load = subsidy_core::funding::load_list(&text, parse).map_err(|e| anyhow::anyhow!("{what} file {} is not usable: {e}", path.display()))?;
    if !load.refused.is_empty() {
        let items: Vec<String> = load.refused.iter().map(|r| format!("item {}: {}", r.index, r.rejection)).collect();
        bail!("{what} file {} has {} refused item(s), nothing was settled: {}", path.display(), items.len(), items.join("; "));
    }
    repeated.extend(load.repeated.iter().map(|(i, first)| format!("{what} file {} item {i} repeats item {first}; it counts once", path.display())));
    Ok(load.items)
}

/// Reads the funded-elsewhere list (CSV or JSON: scheme, record_id or contract_id) and the
/// supplier claims (record_id, supplier_credit_code) and adds them to `registry`.
pub fn load_funding(registry: &mut Registry, funded: Option<&Path>, claims: Option<&Path>) -> Result<LoadedFunding> {
    let mut loaded = LoadedFunding::default();
    if let Some(path) = funded {
        loaded.funded = load_list_file("funded-elsewhere", path, subsidy_core::funding::parse_funded_item, &mut loaded.repeated)?;
    }
    if let Some(path) = claims {
        loaded.claims = load_list_file("supplier-claims", path, subsidy_core::funding::parse_claim_item, &mut loaded.repeated)?;
    }
    for e in &loaded.funded {
        registry.upsert_funded(e.clone());
    }
    for c in &loaded.claims {
        registry.upsert_claim(c.clone());
    }
    Ok(loaded)
}
