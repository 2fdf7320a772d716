//! `platform-sim`: the scheduling platform's API, served from a generated
//! province or from fixed files, with fault switches.

use crate::cli::PlatformSimArgs;
use anyhow::{anyhow, Context, Result};
use subsidy_core::Period;
use subsidy_platform::dataset::Dataset;
use subsidy_platform::generate::{build_dataset, GenConfig, MonthRange};
use subsidy_platform::server::{Faults, Release, SimConfig, SimState};

/// The data set these flags describe: files when `--data-dir` is given, else generated.
pub fn dataset(args: &PlatformSimArgs) -> Result<Dataset> {
    if let Some(dir) = &args.data_dir {
        return Dataset::from_dir(dir).with_context(|| format!("cannot load the data set in {}", dir.display()));
    }
    let month = |s: &str| Period::parse(s).ok_or_else(|| anyhow!("{s:?} is not a YYYY-MM month"));
    let config = GenConfig {
        seed: args.seed,
        entities: args.entities,
        centers: args.centers,
        records: args.records,
        months: MonthRange { start: month(&args.first_month)?, end: month(&args.last_month)? },
        malformed_share: args.malformed_share,
        duplicate_share: args.duplicate_share,
        revision_share: args.revision_share,
    };
    build_dataset(&config).map_err(|e| anyhow!("cannot generate the data set: {e}"))
}

/// The simulator settings these flags describe.
pub fn sim_config(args: &PlatformSimArgs) -> SimConfig {
    SimConfig {
        token: args.token.clone(),
        release: if args.release_rate > 0.0 { Release::Rate { initial: 0, per_sec: args.release_rate } } else { Release::All },
        faults: Faults {
            error_rate: args.error_rate,
            rate_limit_rate: args.rate_limit_rate,
            retry_after_secs: args.retry_after_secs,
            slow_rate: args.slow_rate,
            slow_ms: args.slow_ms,
            truncate_rate: args.truncate_rate,
            malformed_rate: args.malformed_rate,
            repeat_rate: args.repeat_rate,
            rate_limit_first: args.rate_limit_first,
            oversized_registry_bytes: args.oversized_registry_bytes,
            redirect_to: args.redirect_to.clone(),
            withhold: None,
        },
        fault_seed: args.fault_seed,
    }
}

/// Runs `platform-sim` until Ctrl-C.
pub async fn run(args: &PlatformSimArgs) -> Result<()> {
    let data = dataset(args)?;
    if let Some(dir) = &args.write_files {
        crate::output::write_dataset(&data, dir, args.force)?;
        eprintln!("platform-sim: wrote {} record lines, {} entities, {} centers to {}", data.records.len(), data.entities.len(), data.centers.len(), dir.display());
        if args.write_only {
            return Ok(());
        }
    }
    let state = SimState::new(data, sim_config(args)).map_err(|e| anyhow!("invalid simulator settings: {e}"))?;
    if args.release_rate > 0.0 {
        // The release clock starts with the state: record line i appears at this instant + i / rate.
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        eprintln!("platform-sim: releasing {} records/s from unix ms {}", args.release_rate, since_epoch.as_millis());
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("platform-sim: serving {} record lines on http://{}", state.total(), listener.local_addr()?);
    subsidy_platform::server::serve(listener, state, crate::shutdown::ctrl_c()).await.context("the simulator stopped with an error")
}
