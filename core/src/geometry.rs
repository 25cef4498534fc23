//! Positions on the simulation plane, in metres.

use serde::{Deserialize, Serialize};

/// A point in metres on the local map (x along the road for generated scenarios).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// metres
    pub x: f64,
    /// metres
    pub y: f64,
}

impl Point {
    /// The point `(x, y)`, both in metres.
    pub const fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }

    /// Euclidean distance in metres.
    pub fn distance(self, other: Point) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}
