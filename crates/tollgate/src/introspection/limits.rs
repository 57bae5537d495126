//! The rate limit on lookups of opaque tokens tollgate has never seen: a token bucket.
//!
//! Any client can send a new random string in `Authorization: Bearer`, and each one would be a
//! question for the authorization server. The bucket bounds those questions to a steady rate
//! with a burst on top; beyond it the lookup is refused (503 with `Retry-After`) instead of
//! queued. Tokens already answered (cached) and sensitive-route JWT checks never take from it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A lock-free token bucket in the form of the generic cell rate algorithm: one atomic holds
/// the "theoretical arrival time" of the next lookup. A lookup is allowed while that time is at
/// most `burst - 1` intervals ahead of now, and pushes it one interval further.
pub(super) struct TokenBucket {
    /// Nanoseconds between two lookups at the steady rate.
    interval: u64,
    /// How far ahead of now the arrival time may run: `(burst - 1)` intervals.
    tolerance: u64,
    /// The theoretical arrival time, in nanoseconds since `origin`.
    arrival: AtomicU64,
    origin: Instant,
}

impl TokenBucket {
    /// `per_second` and `burst` are at least one (`Introspection::validate` refuses zero;
    /// clamped anyway).
    pub(super) fn new(per_second: u32, burst: u32) -> Self {
        let interval = 1_000_000_000 / u64::from(per_second.max(1));
        Self {
            interval,
            tolerance: interval.saturating_mul(u64::from(burst.max(1)) - 1),
            arrival: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    /// Takes one lookup from the bucket, if there is one.
    pub(super) fn try_take(&self) -> bool {
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.try_take_at(now)
    }

    /// [`try_take`](Self::try_take) at `now` nanoseconds since the bucket was made.
    pub(super) fn try_take_at(&self, now: u64) -> bool {
        let mut arrival = self.arrival.load(Ordering::Relaxed);
        loop {
            // An idle bucket does not save up more than its burst.
            let start = arrival.max(now);
            if start - now > self.tolerance {
                return false;
            }
            match self.arrival.compare_exchange_weak(
                arrival,
                start.saturating_add(self.interval),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => arrival = current,
            }
        }
    }

    /// The steady interval between two lookups.
    #[cfg(test)]
    pub(super) fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.interval)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn taken(bucket: &TokenBucket, at: u64, tries: usize) -> usize {
        (0..tries).filter(|_| bucket.try_take_at(at)).count()
    }

    #[test]
    fn a_burst_then_the_steady_rate() {
        let bucket = TokenBucket::new(100, 200);
        assert_eq!(bucket.interval(), Duration::from_millis(10));
        assert_eq!(taken(&bucket, 0, 1_000), 200);
        // A tenth of a second later: ten more.
        assert_eq!(taken(&bucket, SECOND / 10, 1_000), 10);
        // Idle for an hour: the burst again, not an hour's worth.
        assert_eq!(taken(&bucket, 3_600 * SECOND, 10_000), 200);
    }

    #[test]
    fn a_burst_of_one_is_the_steady_rate() {
        let bucket = TokenBucket::new(2, 1);
        assert_eq!(taken(&bucket, 0, 10), 1);
        assert_eq!(taken(&bucket, SECOND / 4, 10), 0);
        assert_eq!(taken(&bucket, SECOND / 2, 10), 1);
        assert_eq!(taken(&bucket, 10 * SECOND, 10), 1);
    }

    #[test]
    fn zero_is_clamped_not_a_panic() {
        let bucket = TokenBucket::new(0, 0);
        assert_eq!(taken(&bucket, 0, 10), 1);
    }

    #[test]
    fn concurrent_takers_never_get_more_than_the_burst() {
        let bucket = std::sync::Arc::new(TokenBucket::new(1, 500));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let bucket = std::sync::Arc::clone(&bucket);
                std::thread::spawn(move || taken(&bucket, 0, 1_000))
            })
            .collect();
        let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(total, 500);
    }
}
