//! The nearest RSU to a position, without looking at every RSU: the coordinator homes every
//! vehicle every slot, and a city has hundreds of RSUs and hundreds of thousands of vehicles.
//!
//! A uniform grid over the RSUs (about one per cell) is searched in square rings around the
//! position's cell. Every RSU in a cell `k` rings out is at least `(k − 1)` cells away, so once
//! the best distance found is below `r` cells after ring `r`, no RSU further out can beat it.
//! Ties go to the lower RSU id, as in a scan of every RSU in id order (tested against one).

use vecsim_core::geometry::Point;
use vecsim_core::scenario::RsuSpec;

/// A grid of some of a scenario's RSUs.
#[derive(Debug)]
pub(super) struct NearestRsu {
    /// Lower-left corner of cell (0, 0), metres.
    origin: Point,
    /// Cell side, metres.
    cell_m: f64,
    cols: i64,
    rows: i64,
    /// RSU indices per cell (row-major), ascending.
    cells: Vec<Vec<u32>>,
    /// Every RSU's position, by index.
    pos: Vec<Point>,
}

impl NearestRsu {
    /// The RSUs `e` of `specs` for which `keep(e)`; `None` when there is none.
    pub(super) fn new(specs: &[RsuSpec], keep: impl Fn(usize) -> bool) -> Option<NearestRsu> {
        let kept: Vec<usize> = (0..specs.len()).filter(|&e| keep(e)).collect();
        let first = specs.get(*kept.first()?)?.pos;
        let (mut lo, mut hi) = (first, first);
        for &e in &kept {
            let p = specs[e].pos;
            lo = Point::new(lo.x.min(p.x), lo.y.min(p.y));
            hi = Point::new(hi.x.max(p.x), hi.y.max(p.y));
        }
        let (w, h, n) = (hi.x - lo.x, hi.y - lo.y, kept.len() as f64);
        // About one RSU per cell, for RSUs on a line as in a plane.
        let cell_m = ((w * h / n).sqrt()).max(w / n).max(h / n).max(1.0);
        let cols = (w / cell_m).floor() as i64 + 1;
        let rows = (h / cell_m).floor() as i64 + 1;
        let mut grid = NearestRsu {
            origin: lo,
            cell_m,
            cols,
            rows,
            cells: vec![Vec::new(); (cols * rows) as usize],
            pos: specs.iter().map(|r| r.pos).collect(),
        };
        for &e in &kept {
            let (i, j) = grid.cell_of(specs[e].pos);
            let k = (j * cols + i) as usize;
            grid.cells[k].push(e as u32);
        }
        Some(grid)
    }

    /// The (possibly virtual) cell of `p`.
    fn cell_of(&self, p: Point) -> (i64, i64) {
        let f = |v: f64, o: f64| ((v - o) / self.cell_m).floor().clamp(-1e15, 1e15) as i64;
        (f(p.x, self.origin.x), f(p.y, self.origin.y))
    }

    /// The index of the RSU nearest to `p` (ties to the lower index).
    pub(super) fn nearest(&self, p: Point) -> Option<usize> {
        let (cx, cy) = self.cell_of(p);
        let mut best: Option<(f64, u32)> = None;
        // Beyond this ring, every cell of the grid has been searched.
        let last = (cx.abs().max((cx - self.cols).abs())).max(cy.abs().max((cy - self.rows).abs())) + 1;
        let visit = |i: i64, j: i64, best: &mut Option<(f64, u32)>| {
            if i < 0 || j < 0 || i >= self.cols || j >= self.rows {
                return;
            }
            for &e in &self.cells[(j * self.cols + i) as usize] {
                let d = p.distance(self.pos[e as usize]);
                if best.is_none_or(|(b, be)| d < b || (d == b && e < be)) {
                    *best = Some((d, e));
                }
            }
        };
        for r in 0..=last {
            for j in (cy - r).max(0)..=(cy + r).min(self.rows - 1) {
                if j == cy - r || j == cy + r {
                    for i in (cx - r).max(0)..=(cx + r).min(self.cols - 1) {
                        visit(i, j, &mut best);
                    }
                } else {
                    visit(cx - r, j, &mut best);
                    if r > 0 {
                        visit(cx + r, j, &mut best);
                    }
                }
            }
            if best.is_some_and(|(d, _)| d < r as f64 * self.cell_m) {
                break;
            }
        }
        best.map(|(_, e)| e as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vecsim_core::ids::RsuId;

    /// The nearest kept RSU by scanning all of them in id order, keeping strictly closer ones.
    fn scan(specs: &[RsuSpec], keep: &[bool], p: Point) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        for (e, r) in specs.iter().enumerate() {
            let d = p.distance(r.pos);
            if keep[e] && best.is_none_or(|(b, _)| d < b) {
                best = Some((d, e));
            }
        }
        best.map(|(_, e)| e)
    }

    /// A small deterministic generator (xorshift), uniform in [0, 1).
    struct Draw(u64);

    impl Draw {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn spec(e: usize, x: f64, y: f64) -> RsuSpec {
        RsuSpec { id: RsuId(e as u32), pos: Point::new(x, y), cpu_hz: 1e9, bandwidth_bps: 1e6, range_m: 300.0 }
    }

    #[test]
    fn the_grid_finds_what_a_scan_of_every_rsu_finds() {
        let mut g = Draw(0x9E37_79B9_7F4A_7C15);
        for layout in 0..60 {
            let n = 1 + (g.next() * 120.0) as usize;
            let specs: Vec<RsuSpec> = (0..n)
                .map(|e| match layout % 5 {
                    // On a road, evenly spaced (ties half-way between two RSUs), ids ascending
                    // or descending along it.
                    0 => spec(e, 500.0 * e as f64, 0.0),
                    4 => spec(e, 500.0 * (n - e) as f64, 0.0),
                    // Scattered over a city.
                    1 => spec(e, g.next() * 8000.0, g.next() * 5000.0),
                    // On a coarse lattice, with RSUs sharing a position.
                    2 => spec(e, 400.0 * (g.next() * 6.0).floor(), 400.0 * (g.next() * 6.0).floor()),
                    // All in one place.
                    _ => spec(e, 10.0, -3.0),
                })
                .collect();
            let keep: Vec<bool> = (0..n).map(|e| layout % 3 != 0 || e % 3 != 1).collect();
            let grid = NearestRsu::new(&specs, |e| keep[e]);
            for _ in 0..300 {
                // Mostly over the RSUs, some far outside them, some exactly on lattice points.
                let p = match (g.next() * 4.0) as u32 {
                    0 => Point::new(g.next() * 1e5 - 5e4, g.next() * 1e5 - 5e4),
                    1 => Point::new(250.0 * (g.next() * 40.0).floor(), 200.0 * (g.next() * 30.0).floor()),
                    2 => Point::new(250.0 * (g.next() * 40.0).floor(), 0.0),
                    _ => Point::new(g.next() * 9000.0 - 500.0, g.next() * 6000.0 - 500.0),
                };
                let want = scan(&specs, &keep, p);
                assert_eq!(grid.as_ref().and_then(|gr| gr.nearest(p)), want, "layout {layout}, {p:?}");
            }
        }
        assert!(NearestRsu::new(&[spec(0, 0.0, 0.0)], |_| false).is_none());
    }
}
