//! Client-side rate limit: a token bucket like client-go's (`--qps`,
//! `--burst`), and the `auto` mode that decides from the server's first
//! answer whether a client-side limit is needed at all.
//!
//! Why `auto` is the default: an API server with API Priority and Fairness
//! (APF, on by default since Kubernetes 1.20) classifies, queues and, when
//! overloaded, rejects requests fairly per flow (429 with `Retry-After`). A
//! client-side token bucket on top only slows a read-only snapshot down (at
//! 20 qps, one log request per container takes minutes on a few thousand
//! pods) without protecting the server any better; controller-runtime and
//! Flux turn it off for the same reason (kubernetes/kubernetes#111880). APF
//! announces itself with the `X-Kubernetes-PF-FlowSchema-UID` and
//! `X-Kubernetes-PF-PriorityLevel-UID` headers on every answer. Without
//! them (APF disabled, or an old or proxied server) a fixed limit applies:
//! [`FALLBACK_QPS`]/[`FALLBACK_BURST`]. In every mode in-flight requests stay
//! bounded by `--concurrency`, and 429/503 answers are retried after the
//! server's `Retry-After` (see `retry.rs`).

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Sustained requests per second when the server shows no APF: the
/// kubelet's default API QPS since Kubernetes 1.27
/// (kubernetes/kubernetes#116121), a rate the project deems safe for one
/// node agent per node, so safe for one collector per cluster.
pub const FALLBACK_QPS: f64 = 50.0;
/// Burst allowed with [`FALLBACK_QPS`]: the kubelet's default burst (100),
/// so the first lists of every namespace go out without waiting.
pub const FALLBACK_BURST: u32 = 100;

/// Response headers that only an API server running APF sends.
pub const APF_HEADERS: [&str; 2] = [
    "X-Kubernetes-PF-FlowSchema-UID",
    "X-Kubernetes-PF-PriorityLevel-UID",
];

/// `--qps`: a fixed rate, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Qps {
    /// Decide from the server's first answer (APF → no client limit).
    Auto,
    /// This many requests per second; 0 disables the limit.
    Fixed(f64),
}

/// Parses `auto`, `0`, `20`, `12.5`.
pub fn parse_qps(s: &str) -> Result<Qps, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("auto") {
        return Ok(Qps::Auto);
    }
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() && (0.0..=100_000.0).contains(&n) => Ok(Qps::Fixed(n)),
        _ => Err(format!(
            "invalid --qps {s:?}: expected auto or a number of requests per second (0 disables the limit)"
        )),
    }
}

/// How requests are paced, as recorded in the manifest and the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// `auto`, before any answer arrived (the fallback bucket applies).
    Undecided,
    /// `auto`, the server runs APF: no client-side limit.
    Apf,
    /// `auto`, the server sent no APF headers: the fallback bucket.
    Fallback {
        /// Requests per second.
        qps: f64,
        /// Burst.
        burst: u32,
    },
    /// A fixed `--qps`.
    Fixed {
        /// Requests per second.
        qps: f64,
        /// Burst.
        burst: u32,
    },
    /// `--qps 0`.
    Off,
}

impl Mode {
    /// One line for the manifest and the summary.
    pub fn describe(&self) -> String {
        match self {
            Mode::Undecided => format!(
                "client rate limit: auto, undecided (no answer yet; {FALLBACK_QPS} qps, burst {FALLBACK_BURST} meanwhile)"
            ),
            Mode::Apf => "client rate limit: off (--qps auto: the server runs API Priority and Fairness, X-Kubernetes-PF-* headers present; in-flight requests bounded by --concurrency)".to_string(),
            Mode::Fallback { qps, burst } => format!(
                "client rate limit: {qps} qps, burst {burst} (--qps auto: the server sent no API Priority and Fairness headers)"
            ),
            Mode::Fixed { qps, burst } => {
                format!("client rate limit: {qps} qps, burst {burst} (--qps {qps})")
            }
            Mode::Off => "client rate limit: off (--qps 0)".to_string(),
        }
    }
}

/// Whether an answer's headers show API Priority and Fairness.
pub fn has_apf(headers: &http::HeaderMap) -> bool {
    APF_HEADERS.iter().any(|h| headers.contains_key(*h))
}

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
    /// `None`: no client-side limit at all.
    bucket: Option<Mutex<Bucket>>,
    /// `--qps auto`: set once, by the first answer (`true` = APF).
    auto: Option<OnceLock<bool>>,
    /// Limit of the bucket, for [`RateLimiter::mode`].
    qps: f64,
    burst: u32,
}

impl RateLimiter {
    /// A limiter for `--qps` and `--burst` (`None`: twice the rate, as
    /// client-go pairs 5/10, or [`FALLBACK_BURST`] in `auto` mode).
    pub fn new(qps: Qps, burst: Option<u32>) -> RateLimiter {
        let (rate, burst, auto) = match qps {
            Qps::Auto => (
                FALLBACK_QPS,
                burst.unwrap_or(FALLBACK_BURST),
                Some(OnceLock::new()),
            ),
            Qps::Fixed(q) => (q, burst.unwrap_or_else(|| default_burst(q)), None),
        };
        let bucket = (rate > 0.0).then(|| Mutex::new(Bucket::new(rate, burst, Instant::now())));
        RateLimiter {
            bucket,
            auto,
            qps: rate,
            burst,
        }
    }

    /// Feeds an answer's headers; the first answer decides `auto` mode.
    pub fn observe(&self, headers: &http::HeaderMap) {
        if let Some(decided) = &self.auto {
            let _ = decided.get_or_init(|| has_apf(headers));
        }
    }

    /// The pacing in force.
    pub fn mode(&self) -> Mode {
        let (qps, burst) = (self.qps, self.burst);
        match &self.auto {
            Some(decided) => match decided.get() {
                None => Mode::Undecided,
                Some(true) => Mode::Apf,
                Some(false) => Mode::Fallback { qps, burst },
            },
            None if self.bucket.is_none() => Mode::Off,
            None => Mode::Fixed { qps, burst },
        }
    }

    /// Waits until one more request may be sent.
    pub async fn acquire(&self) {
        if self.auto.as_ref().and_then(OnceLock::get) == Some(&true) {
            return;
        }
        let Some(bucket) = &self.bucket else {
            return;
        };
        let wait = bucket.lock().await.take(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Burst for a fixed rate when `--burst` is not given: twice the rate
/// (client-go's 5/10), at least 1.
fn default_burst(qps: f64) -> u32 {
    let b = (qps * 2.0).ceil();
    if b >= f64::from(u32::MAX) {
        u32::MAX
    } else if b < 1.0 {
        1
    } else {
        b as u32
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
        let rl = RateLimiter::new(Qps::Fixed(5.0), Some(1));
        let start = Instant::now();
        for _ in 0..3 {
            rl.acquire().await;
        }
        // One immediate, then two at 200ms intervals (paused clock: exact).
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }

    #[test]
    fn qps_values() {
        assert_eq!(parse_qps("auto"), Ok(Qps::Auto));
        assert_eq!(parse_qps("AUTO"), Ok(Qps::Auto));
        assert_eq!(parse_qps("0"), Ok(Qps::Fixed(0.0)));
        assert_eq!(parse_qps("12.5"), Ok(Qps::Fixed(12.5)));
        assert!(parse_qps("-1").is_err());
        assert!(parse_qps("fast").is_err());
        assert!(parse_qps("NaN").is_err());
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    /// Headers of a `GET /version` answered by kube-apiserver 1.33 with APF.
    fn apf_answer() -> http::HeaderMap {
        headers(&[
            ("audit-id", "2f6c1a8e-0c57-4f6b-b0b1-6a1c2d3e4f50"),
            ("cache-control", "no-cache, private"),
            ("content-type", "application/json"),
            (
                "x-kubernetes-pf-flowschema-uid",
                "9f0b4c5e-2a7d-4d1e-8f3a-6b5c4d3e2f10",
            ),
            (
                "x-kubernetes-pf-prioritylevel-uid",
                "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
            ),
        ])
    }

    #[tokio::test(start_paused = true)]
    async fn auto_with_apf_has_no_client_limit() {
        let rl = RateLimiter::new(Qps::Auto, None);
        assert_eq!(rl.mode(), Mode::Undecided);
        rl.observe(&apf_answer());
        assert_eq!(rl.mode(), Mode::Apf);
        // A later answer without the headers does not change the decision.
        rl.observe(&headers(&[("content-type", "application/json")]));
        assert_eq!(rl.mode(), Mode::Apf);
        let start = Instant::now();
        for _ in 0..1000 {
            rl.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(rl.mode().describe().contains("API Priority and Fairness"));
    }

    #[tokio::test(start_paused = true)]
    async fn auto_without_apf_falls_back_to_a_fixed_limit() {
        let rl = RateLimiter::new(Qps::Auto, None);
        rl.observe(&headers(&[("content-type", "application/json")]));
        assert_eq!(
            rl.mode(),
            Mode::Fallback {
                qps: FALLBACK_QPS,
                burst: FALLBACK_BURST
            }
        );
        let start = Instant::now();
        // The burst goes at once, then 50 more take one second at 50 qps.
        for _ in 0..(FALLBACK_BURST + 50) {
            rl.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[test]
    fn fixed_and_off_modes() {
        assert_eq!(RateLimiter::new(Qps::Fixed(0.0), None).mode(), Mode::Off);
        assert_eq!(
            RateLimiter::new(Qps::Fixed(20.0), None).mode(),
            Mode::Fixed {
                qps: 20.0,
                burst: 40
            }
        );
        let rl = RateLimiter::new(Qps::Fixed(20.0), Some(5));
        // A fixed limit ignores APF headers: the user asked for it.
        rl.observe(&apf_answer());
        assert_eq!(
            rl.mode(),
            Mode::Fixed {
                qps: 20.0,
                burst: 5
            }
        );
    }
}
