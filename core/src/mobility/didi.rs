//! Reader for the Didi GAIA trajectory CSV (SPEC §5).
//!
//! Layout, as published by the processing repository the shared data comes from:
//!
//! ```text
//! ,vehicle_id,time,longitude,latitude
//! 0,0.0,0,1332.0,393.0
//! ```
//!
//! The first column is an unnamed row index (ignored). Despite their names, `longitude` and
//! `latitude` hold x and y in metres on a local map; `time` is in seconds. There is one row per
//! vehicle per second, but nothing here relies on that: rows of one vehicle may come in any order
//! and at any spacing, and each vehicle becomes a [`VehiclePath::Samples`] interpolated between
//! its rows. Times are shifted so that the earliest time in the file is t = 0 s, which makes the
//! trace's first second the episode's first second whatever clock the file uses.
//!
//! The reader is strict: a malformed row is an error naming its 1-based line (a silently skipped
//! row would be a vehicle teleporting), and so is a duplicate (vehicle, time) row, which would
//! make the vehicle's position ambiguous. No CSV crate is used: the format has no quoting.

use super::{Fleet, VehiclePath};
use crate::error::TraceError;
use crate::geometry::Point;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The header line the reader accepts (after removing a byte-order mark and a trailing `\r`).
pub const HEADER: &str = ",vehicle_id,time,longitude,latitude";

/// Column names, in order, used in error messages.
const COLUMNS: [&str; 5] = ["index", "vehicle_id", "time", "longitude", "latitude"];

/// One row of a vehicle: time (s, as in the file), x and y (m), and the 1-based line it came from.
struct Row {
    t_s: f64,
    x_m: f64,
    y_m: f64,
    line: usize,
}

/// Reads a Didi trace into a fleet whose ids follow the sorted (numeric) `vehicle_id`s,
/// refusing a file of more than `cap` bytes ([`crate::bounded`]).
pub fn read(path: &Path, cap: u64) -> Result<Fleet, TraceError> {
    let file = crate::bounded::open(path, cap).map_err(|e| TraceError::Io { path: path.to_path_buf(), source: e })?;
    read_from(BufReader::new(file), path)
}

/// Reads a Didi trace from any reader (a trace compiled into the program); `path` only labels
/// errors.
pub fn read_from<R: BufRead>(mut reader: R, path: &Path) -> Result<Fleet, TraceError> {
    // `read_line` fails with `InvalidData` on bytes that are not UTF-8: report the line it was on.
    let read_err = |line: usize, e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::InvalidData && !crate::bounded::is_over_cap(&e) {
            TraceError::Line { path: path.to_path_buf(), line, message: "not valid UTF-8 text".into() }
        } else {
            TraceError::Io { path: path.to_path_buf(), source: e }
        }
    };
    let line_err = |line: usize, message: String| TraceError::Line { path: path.to_path_buf(), line, message };

    let mut buf = String::new();
    let mut line_no = 0usize;

    // Header: the first non-blank line, which must be exact. A file with no such line is empty.
    loop {
        buf.clear();
        if reader.read_line(&mut buf).map_err(|e| read_err(line_no + 1, e))? == 0 {
            return Err(TraceError::Format {
                path: path.to_path_buf(),
                message: "empty file: no header and no rows".into(),
            });
        }
        line_no += 1;
        let text = buf.trim_start_matches('\u{feff}').trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        if text != HEADER {
            return Err(line_err(
                line_no,
                format!("expected the header `{HEADER}`, found `{}`", text.chars().take(80).collect::<String>()),
            ));
        }
        break;
    }

    // Rows grouped by vehicle; `order` keeps first-seen order only for deterministic iteration
    // before the final sort (HashMap order is not deterministic).
    let mut by_vehicle: HashMap<String, Vec<Row>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut t_min_s = f64::INFINITY;
    loop {
        buf.clear();
        if reader.read_line(&mut buf).map_err(|e| read_err(line_no + 1, e))? == 0 {
            break;
        }
        line_no += 1;
        let text = buf.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue; // blank lines (e.g. a trailing one) carry no data
        }
        let fields: Vec<&str> = text.split(',').collect();
        if fields.len() != COLUMNS.len() {
            return Err(line_err(
                line_no,
                format!(
                    "expected {} comma-separated columns ({}), found {}",
                    COLUMNS.len(),
                    COLUMNS.join(","),
                    fields.len()
                ),
            ));
        }
        let id = fields[1].trim();
        if id.is_empty() {
            return Err(line_err(line_no, "empty `vehicle_id`".into()));
        }
        let t_s = number(fields[2], COLUMNS[2]).map_err(|m| line_err(line_no, m))?;
        let x_m = number(fields[3], COLUMNS[3]).map_err(|m| line_err(line_no, m))?;
        let y_m = number(fields[4], COLUMNS[4]).map_err(|m| line_err(line_no, m))?;
        t_min_s = t_min_s.min(t_s);
        let rows = by_vehicle.entry(id.to_string()).or_insert_with(|| {
            order.push(id.to_string());
            Vec::new()
        });
        rows.push(Row { t_s, x_m, y_m, line: line_no });
    }
    if order.is_empty() {
        return Err(TraceError::Format { path: path.to_path_buf(), message: "no data rows after the header".into() });
    }

    let mut named = Vec::with_capacity(order.len());
    for id in order {
        let mut rows = by_vehicle.remove(&id).unwrap_or_default();
        // Stable sort: among equal times the earlier line comes first, so the error below names
        // the later (duplicate) line.
        rows.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        if let Some(w) = rows.windows(2).find(|w| w[0].t_s == w[1].t_s) {
            return Err(line_err(
                w[1].line,
                format!("duplicate row for vehicle `{id}` at time {} s (first given on line {})", w[1].t_s, w[0].line),
            ));
        }
        let times_s = rows.iter().map(|r| r.t_s - t_min_s).collect();
        let points = rows.iter().map(|r| Point::new(r.x_m, r.y_m)).collect();
        named.push((id, VehiclePath::Samples { times_s, points }));
    }
    Ok(Fleet::from_named(named))
}

/// Parses one numeric field; the error message names the column.
fn number(field: &str, column: &str) -> Result<f64, String> {
    let s = field.trim();
    let v: f64 = s.parse().map_err(|_| format!("column `{column}`: `{s}` is not a number"))?;
    if !v.is_finite() {
        return Err(format!("column `{column}`: `{s}` is not a finite number"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Writes `text` to a fresh file in the system temp directory (no tempfile crate in core).
    fn temp_csv(text: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "vecsim-didi-{}-{}.csv",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&p, text).expect("write temp trace");
        p
    }

    fn read_str(text: &str) -> Result<Fleet, TraceError> {
        let p = temp_csv(text);
        let r = read(&p, u64::MAX);
        let _ = std::fs::remove_file(&p);
        r
    }

    /// The line number and message of a `TraceError::Line`.
    fn line_of(e: TraceError) -> (usize, String) {
        match e {
            TraceError::Line { line, message, .. } => (line, message),
            other => panic!("expected a line error, got {other}"),
        }
    }

    #[test]
    fn reads_shifts_sorts_and_interpolates() {
        // Vehicle 10 rows out of order; times start at 100 s, so they shift to 0.
        let f = read_str(
            ",vehicle_id,time,longitude,latitude\n\
             0,10.0,102,20.0,0.0\n\
             1,2.0,100,5.0,6.0\n\
             2,10.0,100,0.0,0.0\n\
             3,2.0,101,7.0,10.0\n\
             4,10.0,101,10.0,0.0\n",
        )
        .unwrap();
        // Numeric id order: 2.0 before 10.0.
        assert_eq!(f.names, vec!["2.0", "10.0"]);
        assert_eq!(
            f.paths[1],
            VehiclePath::Samples {
                times_s: vec![0.0, 1.0, 2.0],
                points: vec![Point::new(0.0, 0.0), Point::new(10.0, 0.0), Point::new(20.0, 0.0)]
            }
        );
        assert_eq!(f.paths[0].position_at(0.5), Some(Point::new(6.0, 8.0)));
        assert_eq!(f.paths[0].position_at(1.5), None);
        assert_eq!(f.paths[1].position_at(1.25), Some(Point::new(12.5, 0.0)));
        assert_eq!(f.paths[0].lifetime_s(), (0.0, 1.0));
    }

    #[test]
    fn crlf_bom_blank_lines_and_single_sample() {
        let f = read_str("\u{feff},vehicle_id,time,longitude,latitude\r\n0,7,5,1.5,2.5\r\n\r\n1,8,3,0,0\r\n").unwrap();
        assert_eq!(f.names, vec!["7", "8"]);
        // Earliest time is 3 s: vehicle 7 exists only at t = 2 s.
        assert_eq!(f.paths[0].lifetime_s(), (2.0, 2.0));
        assert_eq!(f.paths[0].position_at(2.0), Some(Point::new(1.5, 2.5)));
        assert_eq!(f.paths[0].position_at(2.001), None);
        assert_eq!(f.paths[0].position_at(1.999), None);
    }

    #[test]
    fn wrong_header_is_line_1() {
        let (line, msg) = line_of(read_str("vehicle_id,time,x,y\n0,0,0,0\n").unwrap_err());
        assert_eq!(line, 1);
        assert!(msg.contains("header"), "{msg}");
    }

    #[test]
    fn wrong_column_count_names_line() {
        let (line, msg) = line_of(read_str(",vehicle_id,time,longitude,latitude\n0,1,0,1,1\n1,1,1,1\n").unwrap_err());
        assert_eq!(line, 3);
        assert!(msg.contains("found 4"), "{msg}");
    }

    #[test]
    fn bad_numbers_name_line_and_column() {
        let h = ",vehicle_id,time,longitude,latitude\n";
        let (line, msg) = line_of(read_str(&format!("{h}0,1,0,1,1\n1,1,1,abc,1\n")).unwrap_err());
        assert_eq!((line, msg.contains("`longitude`")), (3, true), "{msg}");
        let (line, msg) = line_of(read_str(&format!("{h}0,1,x,1,1\n")).unwrap_err());
        assert_eq!((line, msg.contains("`time`")), (2, true), "{msg}");
        let (line, msg) = line_of(read_str(&format!("{h}0,1,0,1,NaN\n")).unwrap_err());
        assert_eq!((line, msg.contains("`latitude`") && msg.contains("finite")), (2, true), "{msg}");
        let (line, msg) = line_of(read_str(&format!("{h}\n0,1,0,inf,1\n")).unwrap_err());
        assert_eq!((line, msg.contains("`longitude`")), (3, true), "{msg}");
        let (line, msg) = line_of(read_str(&format!("{h}0, ,0,1,1\n")).unwrap_err());
        assert_eq!((line, msg.contains("vehicle_id")), (2, true), "{msg}");
    }

    #[test]
    fn duplicate_vehicle_time_is_an_error() {
        let (line, msg) =
            line_of(read_str(",vehicle_id,time,longitude,latitude\n0,1,5,1,1\n1,2,5,1,1\n2,1,5,2,2\n").unwrap_err());
        assert_eq!(line, 4);
        assert!(msg.contains("duplicate") && msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn empty_file_and_header_only_are_format_errors() {
        assert!(matches!(read_str("").unwrap_err(), TraceError::Format { .. }));
        assert!(matches!(read_str(",vehicle_id,time,longitude,latitude\n").unwrap_err(), TraceError::Format { .. }));
        assert!(matches!(
            read_str(",vehicle_id,time,longitude,latitude\n\n\n").unwrap_err(),
            TraceError::Format { .. }
        ));
        assert!(matches!(read_str("\n \n").unwrap_err(), TraceError::Format { .. }));
    }

    #[test]
    fn invalid_utf8_names_line() {
        let p = temp_csv("");
        std::fs::write(&p, b",vehicle_id,time,longitude,latitude\n0,1,0,1,1\n1,\xff,1,1,1\n").unwrap();
        let r = read(&p, u64::MAX);
        let _ = std::fs::remove_file(&p);
        assert_eq!(line_of(r.unwrap_err()).0, 3);
    }

    #[test]
    fn missing_file_is_io_error() {
        let p = std::env::temp_dir().join("vecsim-didi-does-not-exist.csv");
        assert!(matches!(read(&p, u64::MAX).unwrap_err(), TraceError::Io { .. }));
    }

    #[test]
    fn shipped_sample() {
        let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/didi-sample.csv"));
        let f = read(p, u64::MAX).unwrap();
        assert_eq!(f.len(), 12);
        let names: Vec<String> = (0..12).map(|i| format!("{i}.0")).collect();
        assert_eq!(f.names, names);
        // Vehicles 4 and 9 enter late, 7 and 10 leave early (scripts/make-didi-sample.py).
        assert_eq!(f.paths[4].lifetime_s(), (15.0, 59.0));
        assert_eq!(f.paths[9].lifetime_s(), (32.0, 59.0));
        assert_eq!(f.paths[7].lifetime_s(), (0.0, 40.0));
        assert_eq!(f.paths[10].lifetime_s(), (5.0, 27.0));
        assert_eq!(f.paths[0].position_at(0.0), Some(Point::new(1472.0, 1352.0)));
        assert_eq!(f.paths[0].position_at(0.5), Some(Point::new(1476.5, 1352.0)));
        let present_at_0 = f.paths.iter().filter(|p| p.position_at(0.0).is_some()).count();
        assert_eq!(present_at_0, 9); // 4, 9 and 10 enter later
        for p in &f.paths {
            let VehiclePath::Samples { points, .. } = p else { panic!("samples expected") };
            for q in points {
                assert!((0.0..=1600.0).contains(&q.x) && (271.0..=2414.0).contains(&q.y), "{q:?}");
            }
        }
    }

    #[test]
    fn real_chengdu_trace() {
        let p =
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/didi-chengdu-20161116-0800-0805.csv"));
        if !p.exists() {
            eprintln!("skipping: {} not found", p.display());
            return;
        }
        let f = read(p, u64::MAX).unwrap();
        assert_eq!(f.len(), 360);
        assert_eq!(f.names.first().map(String::as_str), Some("0.0"));
        assert_eq!(f.names.last().map(String::as_str), Some("359.0"));
        let (mut t0, mut t1) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for path in &f.paths {
            let (a, b) = path.lifetime_s();
            t0 = t0.min(a);
            t1 = t1.max(b);
            let VehiclePath::Samples { points, .. } = path else { panic!("samples expected") };
            for q in points {
                x0 = x0.min(q.x);
                x1 = x1.max(q.x);
                y0 = y0.min(q.y);
                y1 = y1.max(q.y);
            }
        }
        assert_eq!((t0, t1), (0.0, 299.0));
        assert_eq!((x0, x1, y0, y1), (0.0, 1604.0, 271.0, 2414.0));
        // First row of the file: vehicle 0.0 at t = 0 at (1332, 393).
        assert_eq!(f.paths[0].position_at(0.0), Some(Point::new(1332.0, 393.0)));
    }
}
