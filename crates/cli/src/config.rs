//! Loading the shared inputs every command may need: the policy file and registry files.

use anyhow::{bail, Context, Result};
use std::path::Path;
use subsidy_core::registry::RefusedItem;
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

/// Loads entity and center files into a registry, reporting refused items on stderr.
/// Returns the registry and the number of refused items.
pub fn load_registry(entities: &Path, centers: &Path) -> Result<(Registry, usize)> {
    let mut registry = Registry::new();
    let text = std::fs::read_to_string(entities).with_context(|| format!("cannot read entities file {}", entities.display()))?;
    let refused_e = registry.load_entities(&text).with_context(|| format!("entities file {} is not a JSON array", entities.display()))?;
    report_refused("entities", entities, &refused_e);
    let text = std::fs::read_to_string(centers).with_context(|| format!("cannot read centers file {}", centers.display()))?;
    let refused_c = registry.load_centers(&text).with_context(|| format!("centers file {} is not a JSON array", centers.display()))?;
    report_refused("centers", centers, &refused_c);
    if registry.entity_count() == 0 && refused_e.is_empty() {
        bail!("entities file {} holds no entities", entities.display());
    }
    Ok((registry, refused_e.len() + refused_c.len()))
}

fn report_refused(what: &str, path: &Path, refused: &[RefusedItem]) {
    for r in refused {
        eprintln!("{what} {} item {}: refused: {}", path.display(), r.index, r.rejection);
    }
}
