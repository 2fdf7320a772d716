//! Retrying with exponential backoff and full jitter, honouring the
//! platform's `Retry-After`; the one place the retry decision is made.

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
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_attempts: 10,
            max_elapsed: Some(Duration::from_secs(300)),
            jitter: true,
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
    /// jitter is on, and never shorter than the platform's `Retry-After`.
    pub fn delay(&self, failures: u32, error: &FetchError, unit: f64) -> Duration {
        let cap = self.backoff(failures);
        let wait = if self.jitter { cap.mul_f64(unit.clamp(0.0, 1.0)) } else { cap };
        match error.retry_after() {
            Some(asked) => wait.max(asked),
            None => wait,
        }
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
        if policy.max_elapsed.is_some_and(|max| started.elapsed() + delay > max) {
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
