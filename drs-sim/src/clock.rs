//! Time in the simulator: events are stamped with the wall clock, so a job log reads
//! alongside the execution that caused it, and DRS's durations run `speed` times faster
//! (a 5-minute launch takes half a second at speed 600).

use std::time::{Instant, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone)]
pub struct Clock {
    started: Instant,
    speed: f64,
}

/// Milliseconds since the Unix epoch (wall clock).
pub type SimMillis = i64;

impl Clock {
    pub fn new(speed: f64) -> Self {
        Self {
            started: Instant::now(),
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
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// Real milliseconds since the simulator started (for the call log).
    pub fn real_elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// How long `seconds` of DRS's time take here, in milliseconds, at this speed.
    pub fn span(&self, seconds: f64) -> SimMillis {
        (seconds * 1_000.0 / self.speed) as i64
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
    fn speed_shortens_durations_and_stamps_stay_on_the_wall_clock() {
        let clock = Clock::new(600.0);
        assert_eq!(clock.span(300.0), 500);
        assert_eq!(Clock::new(1.0).span(2.5), 2_500);
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        assert!((clock.now() - wall).abs() < 1_000);
        assert_eq!(Clock::new(-3.0).speed(), 1.0);
    }
}
