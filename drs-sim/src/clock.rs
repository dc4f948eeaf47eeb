//! Simulated time: real time since start, multiplied by a speed factor, so a 5-minute
//! DRS launch takes half a second of test time at speed 600.

use std::time::{Instant, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone)]
pub struct Clock {
    started: Instant,
    started_ms: i64,
    speed: f64,
}

/// Milliseconds since the Unix epoch, in simulated time.
pub type SimMillis = i64;

impl Clock {
    pub fn new(speed: f64) -> Self {
        let started_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Self {
            started: Instant::now(),
            started_ms,
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn now(&self) -> SimMillis {
        self.started_ms + (self.started.elapsed().as_secs_f64() * 1_000.0 * self.speed) as i64
    }

    /// Real milliseconds since the simulator started (for the call log).
    pub fn real_elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Simulated seconds → simulated milliseconds.
    pub fn secs(seconds: f64) -> SimMillis {
        (seconds * 1_000.0) as i64
    }
}

/// ISO 8601 in UTC with milliseconds, as DRS writes dates.
pub fn iso(ms: SimMillis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses an ISO 8601 date as DRS filters take them; `None` when malformed.
pub fn parse_iso(text: &str) -> Option<SimMillis> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips() {
        let ms = 1_700_000_000_123;
        assert_eq!(parse_iso(&iso(ms)), Some(ms));
        assert!(iso(ms).starts_with("2023-11-14T22:13:20.123"));
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn speed_scales_time() {
        let clock = Clock::new(1_000.0);
        let a = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(clock.now() - a >= 15_000);
    }
}
