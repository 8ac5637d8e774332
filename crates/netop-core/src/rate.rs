//! A token bucket for the expensive steps of an owner search.
//!
//! Some steps cost far more than the exact lookup that usually answers:
//! asking conntrack and every other network namespace about a flow, or
//! reading every process's descriptors. A flood of new flows (a port
//! scan, a SYN flood, forwarded traffic of many hosts) would make them
//! run for every flow; the bucket lets a burst through and then a steady
//! rate, so the cost of a flood is bounded and ordinary flows found later
//! still find their owners. Time comes from the caller.

use std::time::Instant;

/// Allows `per_second` on average and `burst` at once.
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
    denied: u64,
}

impl RateLimit {
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimit {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: None,
            denied: 0,
        }
    }

    /// Takes one token if there is one at `now`.
    pub fn allow(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.denied += 1;
            false
        }
    }

    /// Steps refused so far.
    pub fn denied(&self) -> u64 {
        self.denied
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let mut limit = RateLimit::new(100, 5);
        let t0 = Instant::now();
        let burst = (0..10).filter(|_| limit.allow(t0)).count();
        assert_eq!(burst, 5);
        assert_eq!(limit.denied(), 5);
        // 100 a second: one more every 10 ms.
        assert!(limit.allow(t0 + Duration::from_millis(10)));
        assert!(!limit.allow(t0 + Duration::from_millis(10)));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| limit.allow(later)).count(), 5);
    }
}
