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
