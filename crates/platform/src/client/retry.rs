//! Retrying with exponential backoff and full jitter, honouring the
//! platform's `Retry-After` up to a configured maximum; the one place the
//! retry decision is made. Every sum of times is checked: no delay the
//! platform names can overflow it.

use super::error::FetchError;
use rand::Rng;
use std::future::Future;
use std::time::{Duration, Instant};

/// How to retry a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Backoff before the first retry (before jitter).
    pub initial_backoff: Duration,
    /// Largest backoff (before jitter); doubles from `initial_backoff` up to it.
    pub max_backoff: Duration,
    /// Most attempts in all, the first included; 0 means no limit.
    pub max_attempts: u32,
    /// Give up when the next retry would start after this much time since the first attempt.
    pub max_elapsed: Option<Duration>,
    /// Full jitter: wait a uniform random part of the backoff instead of all of it.
    pub jitter: bool,
    /// Longest wait a `Retry-After` is honoured for; a longer one is cut to it.
    pub max_retry_after: Duration,
}

/// The default [`RetryPolicy::max_retry_after`]: five minutes.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_attempts: 10,
            max_elapsed: Some(Duration::from_secs(300)),
            jitter: true,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

impl RetryPolicy {
    /// The backoff cap for the retry after `failures` failed attempts (1 for the first retry).
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        self.initial_backoff.saturating_mul(1u32 << exp).min(self.max_backoff)
    }

    /// The wait before the next attempt: the backoff, jittered by `unit` (in 0–1) when
    /// jitter is on, and never shorter than the platform's `Retry-After` cut to
    /// [`RetryPolicy::max_retry_after`].
    pub fn delay(&self, failures: u32, error: &FetchError, unit: f64) -> Duration {
        let cap = self.backoff(failures);
        let unit = if unit.is_finite() { unit.clamp(0.0, 1.0) } else { 1.0 };
        let wait = if self.jitter { cap.mul_f64(unit) } else { cap };
        match error.retry_after() {
            Some(asked) => wait.max(asked.min(self.max_retry_after)),
            None => wait,
        }
    }

    /// Whether a retry after `delay`, `elapsed` after the first attempt, would start past
    /// [`RetryPolicy::max_elapsed`]; a sum past what a `Duration` holds is past it.
    pub fn out_of_time(&self, elapsed: Duration, delay: Duration) -> bool {
        self.max_elapsed.is_some_and(|max| elapsed.checked_add(delay).is_none_or(|at| at > max))
    }
}

/// Runs `op` until it succeeds, fails with an error that is not retryable, or the
/// policy is spent; the last error is returned then. `on_retry` sees each error
/// that is retried and the wait before the retry.
pub async fn with_retry<T, F, Fut>(policy: &RetryPolicy, mut op: F, mut on_retry: impl FnMut(&FetchError, Duration)) -> Result<T, FetchError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, FetchError>>,
{
    let started = Instant::now();
    let mut failures = 0u32;
    loop {
        let error = match op().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        failures += 1;
        if !error.is_retryable() || (policy.max_attempts != 0 && failures >= policy.max_attempts) {
            return Err(error);
        }
        let delay = policy.delay(failures, &error, rand::rng().random::<f64>());
        if policy.out_of_time(started.elapsed(), delay) {
            return Err(error);
        }
        tracing::debug!(cause = error.cause(), failures, delay_ms = delay.as_millis() as u64, "retrying platform request");
        on_retry(&error, delay);
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1_000),
            max_attempts: 4,
            max_elapsed: None,
            jitter: true,
            max_retry_after: Duration::from_secs(3),
        }
    }

    #[test]
    fn backoff_doubles_to_the_cap_with_full_jitter() {
        let p = policy();
        let ms = |d: Duration| d.as_millis();
        assert_eq!([1, 2, 3, 4, 5, 40].map(|n| ms(p.backoff(n))), [100, 200, 400, 800, 1000, 1000]);
        let e = FetchError::Timeout;
        assert_eq!(ms(p.delay(3, &e, 0.5)), 200);
        assert_eq!(ms(p.delay(3, &e, 0.0)), 0);
        assert_eq!(ms(RetryPolicy { jitter: false, ..p.clone() }.delay(3, &e, 0.0)), 400);
        let limited = FetchError::RateLimited { retry_after: Some(Duration::from_secs(2)) };
        assert_eq!(ms(p.delay(1, &limited, 1.0)), 2000);
    }

    #[test]
    fn a_retry_after_is_cut_to_the_maximum_and_no_sum_overflows() {
        let p = RetryPolicy { max_elapsed: Some(Duration::from_secs(30)), ..policy() };
        for secs in [4_000_000_000, u64::MAX - 1, u64::MAX] {
            let e = FetchError::RateLimited { retry_after: Some(Duration::from_secs(secs)) };
            assert_eq!(p.delay(1, &e, 0.5), Duration::from_secs(3), "Retry-After {secs}");
            let e = FetchError::Server { status: 503, retry_after: Some(Duration::MAX) };
            assert_eq!(p.delay(40, &e, f64::NAN), Duration::from_secs(3));
        }
        let unbounded = RetryPolicy { max_retry_after: Duration::MAX, ..p.clone() };
        let e = FetchError::RateLimited { retry_after: Some(Duration::MAX) };
        assert_eq!(unbounded.delay(1, &e, 1.0), Duration::MAX);
        assert!(unbounded.out_of_time(Duration::from_secs(u64::MAX), Duration::MAX));
        assert!(unbounded.out_of_time(Duration::from_secs(1), Duration::from_secs(30)));
        assert!(!unbounded.out_of_time(Duration::from_secs(1), Duration::from_secs(29)));
        assert!(!RetryPolicy { max_elapsed: None, ..unbounded }.out_of_time(Duration::MAX, Duration::MAX));
    }

    #[tokio::test]
    async fn a_huge_retry_after_near_the_limits_neither_panics_nor_waits_past_the_maximum() {
        let p = RetryPolicy { initial_backoff: Duration::from_millis(1), max_retry_after: Duration::from_millis(20), max_elapsed: Some(Duration::from_secs(30)), ..policy() };
        for secs in [4_000_000_000, u64::MAX] {
            let mut calls = 0;
            let mut waits = Vec::new();
            let r: Result<u32, _> = with_retry(
                &p,
                || {
                    calls += 1;
                    let n = calls;
                    async move { if n == 1 { Err(FetchError::RateLimited { retry_after: Some(Duration::from_secs(secs)) }) } else { Ok(n) } }
                },
                |_, wait| waits.push(wait),
            )
            .await;
            assert_eq!(r.unwrap(), 2, "Retry-After {secs}");
            assert_eq!(waits, [Duration::from_millis(20)]);
        }
        // With no maximum the policy gives up at once rather than overflow or sleep for ever.
        let p = RetryPolicy { max_retry_after: Duration::MAX, ..p };
        let r: Result<(), _> = with_retry(&p, || async { Err(FetchError::RateLimited { retry_after: Some(Duration::MAX) }) }, |_, _| {}).await;
        assert!(matches!(r, Err(FetchError::RateLimited { .. })));
    }

    #[tokio::test]
    async fn retries_retryable_errors_only_and_stops_at_the_limit() {
        let p = RetryPolicy { initial_backoff: Duration::from_millis(1), ..policy() };
        let mut calls = 0;
        let mut causes = Vec::new();
        let r: Result<u32, _> = with_retry(
            &p,
            || {
                calls += 1;
                let n = calls;
                async move {
                    match n {
                        1 => Err(FetchError::Timeout),
                        2 => Err(FetchError::Server { status: 503, retry_after: None }),
                        _ => Ok(n),
                    }
                }
            },
            |e, _| causes.push(e.cause()),
        )
        .await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!(causes, ["timeout", "server_error"]);

        let mut calls = 0;
        let r: Result<(), _> = with_retry(
            &p,
            || {
                calls += 1;
                async { Err(FetchError::Unauthorized { status: 401 }) }
            },
            |_, _| {},
        )
        .await;
        assert!(matches!(r, Err(FetchError::Unauthorized { .. })));
        assert_eq!(calls, 1);

        let mut calls = 0;
        let r: Result<(), _> = with_retry(
            &p,
            || {
                calls += 1;
                async { Err(FetchError::Truncated("cut".into())) }
            },
            |_, _| {},
        )
        .await;
        assert!(matches!(r, Err(FetchError::Truncated(_))));
        assert_eq!(calls, 4);
    }
}
