//! The scheduling-platform side of the compute-subsidy meter.
//!
//! Owns a seeded generator of a realistic Anhui data set ([`generate`]), the
//! data-set files ([`dataset`]), the platform HTTP simulator with fault
//! switches ([`server`]) and the collector's retrying client for its API
//! ([`client`]). It must not settle anything: eligibility, money and reason
//! codes belong to `subsidy-core`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod client;
pub mod dataset;
pub mod generate;
pub mod server;

pub use client::{FetchError, Page, PageRecord, PlatformClient, RetryPolicy};
pub use dataset::{Dataset, DatasetError};
pub use generate::{build_dataset, generate, GenConfig, Generated, LineKind, MalformedKind, MonthRange};
pub use server::{serve, spawn, Faults, Release, RunningSim, SimConfig, SimState};
