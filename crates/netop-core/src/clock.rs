//! Time as the parts of the model that spend it see it.
//!
//! The engine counts time in frame timestamps, but two things in the core
//! are about real time: the owner-lookup queue works within a time budget
//! between capture batches, and the owner search rate-limits its
//! expensive steps. Both take a [`Clock`] instead of reading one, so their
//! tests run on a [`crate::testing::FakeClock`] without sleeping.

use std::time::Instant;

/// A source of monotonic time.
pub trait Clock {
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
