//! Client-side rate limit: a token bucket like client-go's (`--qps`,
//! `--burst`), so a large cluster is read gently instead of in a burst of
//! thousands of requests.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Token bucket state; pure, so its arithmetic is tested without a clock.
#[derive(Debug, Clone)]
pub struct Bucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket: the first `burst` requests go at once, then `qps` per
    /// second. A `qps` of zero or less disables limiting.
    pub fn new(qps: f64, burst: u32, now: Instant) -> Bucket {
        let burst = f64::from(burst.max(1));
        Bucket {
            qps,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token at `now`; returns how long the caller must wait before
    /// sending. Tokens may go negative: each waiter reserves its slot, so
    /// concurrent callers are spaced `1/qps` apart rather than all waking at
    /// once.
    pub fn take(&mut self, now: Instant) -> Duration {
        if self.qps <= 0.0 || !self.qps.is_finite() {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

/// A shared limiter.
#[derive(Debug)]
pub struct RateLimiter {
    bucket: Mutex<Bucket>,
}

impl RateLimiter {
    /// A limiter allowing `qps` requests per second with bursts of `burst`.
    pub fn new(qps: f64, burst: u32) -> RateLimiter {
        RateLimiter {
            bucket: Mutex::new(Bucket::new(qps, burst, Instant::now())),
        }
    }

    /// Waits until one more request may be sent.
    pub async fn acquire(&self) {
        let wait = self.bucket.lock().await.take(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_spaced_by_qps() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10.0, 3, t0);
        // The first three go at once.
        for _ in 0..3 {
            assert_eq!(b.take(t0), Duration::ZERO);
        }
        // Then each waiter is 100ms behind the previous one.
        let w1 = b.take(t0);
        let w2 = b.take(t0);
        assert!((w1.as_secs_f64() - 0.1).abs() < 1e-9, "{w1:?}");
        assert!((w2.as_secs_f64() - 0.2).abs() < 1e-9, "{w2:?}");
    }

    #[test]
    fn refills_over_time_up_to_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(2.0, 2, t0);
        b.take(t0);
        b.take(t0);
        // After 10s the bucket holds at most `burst` tokens again.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(b.take(t1), Duration::ZERO);
        assert_eq!(b.take(t1), Duration::ZERO);
        assert!(b.take(t1) > Duration::ZERO);
        // Half a second later one token is back.
        let t2 = t1 + Duration::from_millis(1000);
        assert_eq!(b.take(t2), Duration::ZERO);
    }

    #[test]
    fn zero_qps_is_unlimited() {
        let t0 = Instant::now();
        let mut b = Bucket::new(0.0, 1, t0);
        for _ in 0..100 {
            assert_eq!(b.take(t0), Duration::ZERO);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_spaces_requests() {
        let rl = RateLimiter::new(5.0, 1);
        let start = Instant::now();
        for _ in 0..3 {
            rl.acquire().await;
        }
        // One immediate, then two at 200ms intervals (paused clock: exact).
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }
}
