//! Simulated time. The only notion of time in the model: slot `t` covers
//! `[t·Δ, (t+1)·Δ)` seconds from the episode start. Nothing in vecsim's numbers ever reads the
//! wall clock; engines and actors ask this type.

use crate::scenario::Scenario;

/// Slot arithmetic for an episode of `slots` slots of `slot_s` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlotClock {
    /// Slot length `Δ`, seconds.
    pub slot_s: f64,
    /// Number of slots `T`.
    pub slots: u32,
}

impl SlotClock {
    /// A clock of `slots` slots of `slot_s` seconds each.
    pub fn new(slot_s: f64, slots: u32) -> SlotClock {
        SlotClock { slot_s, slots }
    }

    /// The clock of a scenario's `[time]` section (`Δ` seconds, `T` slots).
    pub fn from_scenario(s: &Scenario) -> SlotClock {
        SlotClock::new(s.time.slot_s, s.time.slots)
    }

    /// Start of slot `t`, seconds.
    pub fn start_s(&self, t: u32) -> f64 {
        t as f64 * self.slot_s
    }

    /// The slots whose start instant lies in `[from_s, to_s]`, clipped to the episode, or
    /// `None` if there are none. Entities exist in a slot when they exist at its start.
    pub fn slot_span(&self, from_s: f64, to_s: f64) -> Option<(u32, u32)> {
        if from_s.is_nan() || to_s.is_nan() || from_s > to_s || self.slots == 0 {
            return None;
        }
        let first = (from_s / self.slot_s).ceil().max(0.0);
        let last = (to_s / self.slot_s).floor().min((self.slots - 1) as f64);
        (first <= last).then_some((first as u32, last as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        let c = SlotClock::new(1.0, 10);
        assert_eq!(c.slot_span(0.0, 3.0), Some((0, 3)));
        assert_eq!(c.slot_span(0.5, 3.5), Some((1, 3)));
        assert_eq!(c.slot_span(0.2, 0.8), None);
        assert_eq!(c.slot_span(8.0, 50.0), Some((8, 9)));
        assert_eq!(c.slot_span(-5.0, 0.0), Some((0, 0)));
        assert_eq!(c.slot_span(11.0, 12.0), None);
        assert_eq!(c.start_s(3), 3.0);
    }
}
