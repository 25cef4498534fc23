//! Reader for SUMO Floating Car Data XML (`sumo --fcd-output`, SPEC §5).
//!
//! ```text
//! <fcd-export>
//!     <timestep time="0.00">
//!         <vehicle id="veh0" x="5.10" y="-1.60" angle="90.00" type="car" speed="13.89" .../>
//!     </timestep>
//! </fcd-export>
//! ```
//!
//! Only `timestep/@time` and `vehicle/@id,@x,@y` matter; every other attribute, the other
//! elements SUMO writes into FCD output (`person`, `container`, `param`), comments, the `<?xml?>`
//! prolog and a DOCTYPE are skipped. Any other element is an error naming its line: a misspelled
//! `<vehicel>` must not silently drop a vehicle. A file whose first bytes are the gzip magic
//! (`sumo --fcd-output trace.xml.gz` writes it natively) is decompressed on the fly. FCD files of
//! large simulations run to gigabytes, so this is a small streaming parser over a buffered reader
//! rather than a DOM: memory is the fleet plus one tag. It is hand-rolled because the core has no
//! XML dependency and FCD uses a tiny, regular subset of XML.
//!
//! Times are shifted so that the first (earliest) timestep is t = 0 s, as for the Didi reader.
//! Positions are SUMO network coordinates in metres (a trace written with `--fcd-output.geo`
//! holds degrees instead and is not meaningful here). Errors name the 1-based line where the
//! offending tag starts.

use super::{Fleet, VehiclePath};
use crate::error::TraceError;
use crate::geometry::Point;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Elements of SUMO FCD output besides `fcd-export`, `timestep` and `vehicle`; skipped.
const SKIPPED_ELEMENTS: [&str; 3] = ["person", "container", "param"];

/// Longest vehicle id accepted, bytes: SUMO's ids are short names; a longer one is a damaged or
/// hostile file (each id is held once per vehicle).
pub const MAX_ID_BYTES: usize = 256;

/// Reads an FCD trace (plain or gzip-compressed XML) into a fleet whose ids follow the sorted
/// vehicle ids, refusing more than `cap` bytes of XML (decompressed bytes for a gzip file:
/// [`crate::bounded::Capped`] counts what the decoder yields).
pub fn read(path: &Path, cap: u64) -> Result<Fleet, TraceError> {
    use std::io::Read as _;
    let io_err = |e| TraceError::Io { path: path.to_path_buf(), source: e };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]).map_err(io_err)? {
            0 => break,
            n => got += n,
        }
    }
    let file = std::io::Read::chain(std::io::Cursor::new(magic[..got].to_vec()), file);
    if magic[..got] == [0x1f, 0x8b] {
        // Both sides capped: the text parsed, and the compressed bytes (a stream of empty gzip
        // members would otherwise never end).
        let gz =
            crate::bounded::Capped::new(flate2::read::MultiGzDecoder::new(crate::bounded::Capped::new(file, cap)), cap);
        parse(BufReader::with_capacity(1 << 16, gz), path)
    } else {
        parse(BufReader::with_capacity(1 << 16, crate::bounded::Capped::new(file, cap)), path)
    }
}

/// Reads an FCD trace from any reader (a trace compiled into the program); `path` only labels
/// errors.
pub fn read_from<R: BufRead>(reader: R, path: &Path) -> Result<Fleet, TraceError> {
    parse(reader, path)
}

/// One vehicle sample: time (s, as in the file), position (m), and the line of its tag.
struct Sample {
    t_s: f64,
    p: Point,
    line: usize,
}

/// The parser's semantic state between tags.
struct Builder<'a> {
    path: &'a Path,
    /// Names of the open elements, with the line each was opened on (well-formedness check).
    stack: Vec<(String, usize)>,
    /// Time of the open `<timestep>` (s), if any.
    current_s: Option<f64>,
    first_s: f64,
    any_timestep: bool,
    any_element: bool,
    by_vehicle: HashMap<String, Vec<Sample>>,
    /// First-seen order of vehicle ids (HashMap iteration order is not deterministic).
    order: Vec<String>,
}

impl<'a> Builder<'a> {
    fn err(&self, line: usize, message: impl Into<String>) -> TraceError {
        TraceError::Line { path: self.path.to_path_buf(), line, message: message.into() }
    }

    /// Handles one complete tag; `body` is what lies between `<` and `>`.
    fn tag(&mut self, body: &str, line: usize) -> Result<(), TraceError> {
        if let Some(close) = body.strip_prefix('/') {
            let name = close.trim();
            match self.stack.pop() {
                Some((open, _)) if open == name => {}
                Some((open, open_line)) => {
                    return Err(self.err(line, format!("`</{name}>` closes `<{open}>` opened on line {open_line}")))
                }
                None => return Err(self.err(line, format!("`</{name}>` closes no open element"))),
            }
            if name == "timestep" {
                self.current_s = None;
            }
            return Ok(());
        }
        let (body, self_closing) = match body.strip_suffix('/') {
            Some(b) => (b, true),
            None => (body, false),
        };
        let name_end = body.find(|c: char| c.is_ascii_whitespace()).unwrap_or(body.len());
        let name = &body[..name_end];
        if name.is_empty() {
            return Err(self.err(line, "a tag with no element name"));
        }
        if !self.any_element {
            self.any_element = true;
            if name != "fcd-export" {
                return Err(self.err(
                    line,
                    format!("expected the root element `<fcd-export>` of a SUMO FCD file, found `<{name}>`"),
                ));
            }
        } else if self.stack.is_empty() {
            return Err(self.err(line, format!("`<{name}>` after the end of the root element")));
        }
        match name {
            "timestep" => {
                if let Some(open) = self.current_s {
                    return Err(self.err(line, format!("`<timestep>` inside the timestep of time {open} s")));
                }
                let attrs = Attributes::parse(&body[name_end..]).map_err(|m| self.err(line, m))?;
                let t_s = self.number(&attrs, "timestep", "time", line)?;
                self.first_s = if self.any_timestep { self.first_s.min(t_s) } else { t_s };
                self.any_timestep = true;
                if !self_closing {
                    self.current_s = Some(t_s);
                }
            }
            "vehicle" => {
                let Some(t_s) = self.current_s else {
                    return Err(self.err(line, "`<vehicle>` outside a `<timestep>`"));
                };
                let attrs = Attributes::parse(&body[name_end..]).map_err(|m| self.err(line, m))?;
                let id = attrs.get("id").ok_or_else(|| self.err(line, "`<vehicle>` without attribute `id`"))?;
                if id.is_empty() {
                    return Err(self.err(line, "`<vehicle>` with an empty `id`"));
                }
                if id.len() > MAX_ID_BYTES {
                    return Err(
                        self.err(line, format!("`<vehicle>` id of {} bytes (at most {MAX_ID_BYTES})", id.len()))
                    );
                }
                let x = self.number(&attrs, "vehicle", "x", line)?;
                let y = self.number(&attrs, "vehicle", "y", line)?;
                let sample = Sample { t_s, p: Point::new(x, y), line };
                match self.by_vehicle.get_mut(id) {
                    Some(v) => v.push(sample),
                    None => {
                        self.order.push(id.to_string());
                        self.by_vehicle.insert(id.to_string(), vec![sample]);
                    }
                }
            }
            "fcd-export" => {}
            other if SKIPPED_ELEMENTS.contains(&other) => {}
            other => {
                return Err(self.err(
                    line,
                    format!(
                        "unknown element `<{other}>` (an FCD file holds fcd-export, timestep, vehicle, {})",
                        SKIPPED_ELEMENTS.join(", ")
                    ),
                ))
            }
        }
        if !self_closing {
            self.stack.push((name.to_string(), line));
        }
        Ok(())
    }

    /// A required, finite numeric attribute.
    fn number(&self, attrs: &Attributes, element: &str, key: &str, line: usize) -> Result<f64, TraceError> {
        let raw = attrs.get(key).ok_or_else(|| self.err(line, format!("`<{element}>` without attribute `{key}`")))?;
        match raw.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.err(line, format!("`<{element}>` attribute `{key}`: `{raw}` is not a finite number"))),
        }
    }

    fn finish(mut self, last_line: usize) -> Result<Fleet, TraceError> {
        if let Some((open, open_line)) = self.stack.last() {
            return Err(self.err(*open_line, format!("`<{open}>` is never closed (file ends at line {last_line})")));
        }
        if !self.any_element {
            return Err(TraceError::Format {
                path: self.path.to_path_buf(),
                message: "empty file: no FCD elements".into(),
            });
        }
        if self.order.is_empty() {
            return Err(TraceError::Format {
                path: self.path.to_path_buf(),
                message: "no `<vehicle>` in any timestep".into(),
            });
        }
        let mut named = Vec::with_capacity(self.order.len());
        for id in std::mem::take(&mut self.order) {
            let mut samples = self.by_vehicle.remove(&id).unwrap_or_default();
            // Timesteps are normally in order already; a stable sort keeps file order on ties so
            // the duplicate reported is the later one.
            samples.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
            if let Some(w) = samples.windows(2).find(|w| w[0].t_s == w[1].t_s) {
                return Err(self.err(
                    w[1].line,
                    format!("vehicle `{id}` appears twice at time {} s (first on line {})", w[1].t_s, w[0].line),
                ));
            }
            let times_s = samples.iter().map(|s| s.t_s - self.first_s).collect();
            let points = samples.iter().map(|s| s.p).collect();
            named.push((id, VehiclePath::Samples { times_s, points }));
        }
        Ok(Fleet::from_named(named))
    }
}

/// The attributes of one tag, in order, with entities decoded. Borrowed from the tag text, so
/// that the common case (no entities) allocates nothing per attribute.
struct Attributes<'s>(Vec<(&'s str, Cow<'s, str>)>);

impl<'s> Attributes<'s> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_ref())
    }

    /// Parses `key="value" key='value' ...` (what follows the element name).
    fn parse(mut s: &'s str) -> Result<Attributes<'s>, String> {
        let mut out: Vec<(&'s str, Cow<'s, str>)> = Vec::with_capacity(12);
        loop {
            s = s.trim_start();
            if s.is_empty() {
                return Ok(Attributes(out));
            }
            let eq = s.find('=').ok_or_else(|| format!("malformed attribute near `{}`", excerpt(s)))?;
            let key = s[..eq].trim();
            if key.is_empty() || key.contains(|c: char| c.is_ascii_whitespace() || c == '"' || c == '\'') {
                return Err(format!("malformed attribute near `{}`", excerpt(s)));
            }
            let rest = s[eq + 1..].trim_start();
            let quote = rest.chars().next().filter(|&c| c == '"' || c == '\'');
            let Some(quote) = quote else {
                return Err(format!("attribute `{key}`: value is not quoted"));
            };
            let end = rest[1..].find(quote).ok_or_else(|| format!("attribute `{key}`: unterminated value"))?;
            let value = decode_entities(&rest[1..1 + end]).map_err(|m| format!("attribute `{key}`: {m}"))?;
            if out.iter().any(|(k, _)| *k == key) {
                return Err(format!("attribute `{key}` given twice"));
            }
            out.push((key, value));
            s = &rest[1 + end + 1..];
        }
    }
}

/// At most 40 characters of `s`, for error messages.
fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Replaces the five predefined XML entities and numeric character references.
fn decode_entities(s: &str) -> Result<Cow<'_, str>, String> {
    if !s.contains('&') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').ok_or_else(|| format!("unterminated entity `&{}`", excerpt(after)))?;
        let ent = &after[..semi];
        let c = match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = ent.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32).ok_or_else(|| format!("unknown entity `&{ent};`"))?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// What the byte scanner is inside of.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Character data between tags (ignored).
    Text,
    /// Inside `<...>`; `quote` is the open attribute-value quote, if any.
    Tag { quote: Option<u8> },
    /// `<!-- ... -->`
    Comment,
    /// `<? ... ?>`
    Instruction,
    /// `<![CDATA[ ... ]]>`
    CData,
    /// `<!DOCTYPE ...>` and other declarations; `depth` counts open `[`.
    Declaration { depth: u32 },
}

/// The streaming scanner: splits the byte stream into tags, tracking line numbers, and hands
/// each element tag to the builder.
fn parse<R: BufRead>(mut reader: R, path: &Path) -> Result<Fleet, TraceError> {
    let mut b = Builder {
        path,
        stack: Vec::new(),
        current_s: None,
        first_s: 0.0,
        any_timestep: false,
        any_element: false,
        by_vehicle: HashMap::new(),
        order: Vec::new(),
    };
    let mut state = State::Text;
    let mut line = 1usize;
    // Where the construct being scanned started (for "unterminated" errors and tag errors).
    let mut start_line = 1usize;
    let mut tag: Vec<u8> = Vec::with_capacity(256);
    // The last two bytes seen, to find `-->`, `?>` and `]]>` across buffer refills.
    let mut tail = [0u8; 2];
    loop {
        let chunk = reader.fill_buf().map_err(|e| TraceError::Io { path: path.to_path_buf(), source: e })?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        for &c in chunk {
            if c == b'\n' {
                line += 1;
            }
            match state {
                State::Text => {
                    if c == b'<' {
                        state = State::Tag { quote: None };
                        start_line = line;
                        tag.clear();
                    }
                }
                State::Tag { quote } => {
                    match quote {
                        Some(q) if c == q => state = State::Tag { quote: None },
                        Some(_) => {}
                        None if c == b'"' || c == b'\'' => state = State::Tag { quote: Some(c) },
                        None if c == b'>' => {
                            if tag.first() == Some(&b'!') {
                                // `<!>` or `<!X>`: an (empty) declaration, nothing to do.
                            } else {
                                let body = std::str::from_utf8(&tag)
                                    .map_err(|_| b.err(start_line, "tag is not valid UTF-8 text"))?;
                                b.tag(body.trim_end(), start_line)?;
                            }
                            state = State::Text;
                            continue;
                        }
                        None if c == b'<' => return Err(b.err(start_line, "unterminated tag: `<` inside a tag")),
                        None => {}
                    }
                    tag.push(c);
                    // Switch to the special constructs as soon as they are recognisable.
                    if tag.len() == 1 && c == b'?' {
                        state = State::Instruction;
                        tail = [0; 2];
                    } else if tag[0] == b'!' {
                        if tag.as_slice() == b"!--" {
                            state = State::Comment;
                            tail = [0; 2];
                        } else if tag.as_slice() == b"![CDATA[" {
                            state = State::CData;
                            tail = [0; 2];
                        } else if !b"!--".starts_with(&tag) && !b"![CDATA[".starts_with(&tag) {
                            let depth = tag.iter().filter(|&&x| x == b'[').count() as u32;
                            state = State::Declaration { depth };
                        }
                    }
                }
                State::Comment | State::Instruction | State::CData => {
                    let done = match state {
                        State::Comment => tail == *b"--" && c == b'>',
                        State::Instruction => tail[1] == b'?' && c == b'>',
                        _ => tail == *b"]]" && c == b'>',
                    };
                    if done {
                        state = State::Text;
                    }
                    tail = [tail[1], c];
                }
                State::Declaration { depth } => match c {
                    b'[' => state = State::Declaration { depth: depth + 1 },
                    b']' => state = State::Declaration { depth: depth.saturating_sub(1) },
                    b'>' if depth == 0 => state = State::Text,
                    _ => {}
                },
            }
        }
        reader.consume(n);
    }
    match state {
        State::Text => b.finish(line),
        State::Tag { .. } => Err(b.err(start_line, "unterminated tag: the file ends before its `>`")),
        State::Comment => Err(b.err(start_line, "unterminated comment: the file ends before `-->`")),
        State::Instruction => Err(b.err(start_line, "unterminated processing instruction: no `?>`")),
        State::CData => Err(b.err(start_line, "unterminated CDATA section: no `]]>`")),
        State::Declaration { .. } => Err(b.err(start_line, "unterminated declaration: no `>`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn temp_xml(bytes: &[u8]) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "vecsim-fcd-{}-{}.xml",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&p, bytes).expect("write temp trace");
        p
    }

    fn read_str(text: &str) -> Result<Fleet, TraceError> {
        let p = temp_xml(text.as_bytes());
        let r = read(&p, u64::MAX);
        let _ = std::fs::remove_file(&p);
        r
    }

    fn line_of(e: TraceError) -> (usize, String) {
        match e {
            TraceError::Line { line, message, .. } => (line, message),
            other => panic!("expected a line error, got {other}"),
        }
    }

    /// A SUMO-like file: prolog, a comment holding markup, persons, attributes in any order,
    /// timesteps starting at 10 s.
    const GOOD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>

<!-- generated by Eclipse SUMO
<sumoConfiguration> <input> <net-file value="x > y"/> </input> </sumoConfiguration>
-->

<fcd-export xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
    <timestep time="10.00">
        <vehicle id="veh1" x="5.10" y="-1.60" angle="90.00" type="DEFAULT_VEHTYPE" speed="0.00" pos="5.10" lane="e_0" slope="0.00"/>
        <person id="p0" x="1.00" y="1.00" angle="0.00" speed="1.0" pos="0" edge="e" slope="0.00"/>
    </timestep>
    <timestep time="11.00">
        <vehicle y='-1.60' id="veh1" x="15.10"/>
        <vehicle id="veh10" x="0.00" y="1.60" note="a &lt;b&gt; &amp; &#65;"/>
    </timestep>
    <timestep time="12.00"/>
    <timestep time="13.00">
        <vehicle id="veh1" x="35.10" y="-1.60"></vehicle>
        <vehicle id="veh10" x="20.00" y="1.60"/>
    </timestep>
</fcd-export>
"#;

    #[test]
    fn reads_shifts_and_interpolates() {
        let f = read_str(GOOD).unwrap();
        assert_eq!(f.names, vec!["veh1", "veh10"]);
        assert_eq!(
            f.paths[0],
            VehiclePath::Samples {
                times_s: vec![0.0, 1.0, 3.0],
                points: vec![Point::new(5.1, -1.6), Point::new(15.1, -1.6), Point::new(35.1, -1.6)]
            }
        );
        assert_eq!(f.paths[1].lifetime_s(), (1.0, 3.0));
        assert_eq!(f.paths[1].position_at(2.0), Some(Point::new(10.0, 1.6)));
        assert_eq!(f.paths[1].position_at(0.5), None);
        assert_eq!(f.paths[0].position_at(2.0), Some(Point::new(25.1, -1.6)));
    }

    #[test]
    fn entity_decoding() {
        assert_eq!(decode_entities("a&lt;b&gt;&amp;&quot;&apos;&#65;&#x42;").unwrap(), "a<b>&\"'AB");
        assert!(decode_entities("&nbsp;").is_err());
        assert!(decode_entities("&amp").is_err());
        let f =
            read_str(r#"<fcd-export><timestep time="0"><vehicle id="a&amp;b" x="1" y="2"/></timestep></fcd-export>"#)
                .unwrap();
        assert_eq!(f.names, vec!["a&b"]);
    }

    fn err_line(text: &str) -> (usize, String) {
        line_of(read_str(text).unwrap_err())
    }

    #[test]
    fn missing_attributes_name_line() {
        let (l, m) =
            err_line("<fcd-export>\n<timestep time=\"0\">\n<vehicle id=\"a\" x=\"1\"/>\n</timestep>\n</fcd-export>\n");
        assert_eq!(l, 3);
        assert!(m.contains("`y`"), "{m}");
        let (l, m) = err_line("<fcd-export>\n<timestep>\n</timestep></fcd-export>");
        assert_eq!(l, 2);
        assert!(m.contains("`time`"), "{m}");
        let (l, m) =
            err_line("<fcd-export>\n<timestep time=\"0\">\n\n<vehicle x=\"1\" y=\"1\"/></timestep></fcd-export>");
        assert_eq!(l, 4);
        assert!(m.contains("`id`"), "{m}");
    }

    #[test]
    fn bad_numbers_name_line_and_attribute() {
        let (l, m) = err_line(
            "<fcd-export>\n<timestep time=\"0\">\n<vehicle id=\"a\" x=\"1,5\" y=\"1\"/></timestep></fcd-export>",
        );
        assert_eq!(l, 3);
        assert!(m.contains("`x`") && m.contains("1,5"), "{m}");
        let (l, m) = err_line("<fcd-export>\n<timestep time=\"NaN\">\n</timestep></fcd-export>");
        assert_eq!(l, 2);
        assert!(m.contains("`time`"), "{m}");
        let (l, _) = err_line(
            "<fcd-export><timestep time=\"0\">\n<vehicle id=\"a\" x=\"1\" y=\"inf\"/></timestep></fcd-export>",
        );
        assert_eq!(l, 2);
    }

    #[test]
    fn vehicle_outside_timestep() {
        let (l, m) = err_line("<fcd-export>\n  <vehicle id=\"a\" x=\"1\" y=\"1\"/>\n</fcd-export>");
        assert_eq!(l, 2);
        assert!(m.contains("outside"), "{m}");
        // After a timestep closed, too.
        let (l, _) =
            err_line("<fcd-export>\n<timestep time=\"0\"/>\n<vehicle id=\"a\" x=\"1\" y=\"1\"/>\n</fcd-export>");
        assert_eq!(l, 3);
    }

    #[test]
    fn unterminated_constructs() {
        // A tag cut off by the end of the file (a killed simulation).
        let (l, m) = err_line("<fcd-export>\n<timestep time=\"0\">\n<vehicle id=\"a\" x=\"1\"\n y=\"1\"");
        assert_eq!(l, 3);
        assert!(m.contains("unterminated"), "{m}");
        // `<` inside a tag: the previous tag is missing its `>`.
        let (l, m) = err_line("<fcd-export>\n<timestep time=\"0\"\n<vehicle id=\"a\" x=\"1\" y=\"1\"/>");
        assert_eq!(l, 2);
        assert!(m.contains("unterminated"), "{m}");
        // Unterminated attribute value runs to the end of the file.
        let (l, _) = err_line("<fcd-export>\n<timestep time=\"0>\n</timestep>\n</fcd-export>\n");
        assert_eq!(l, 2);
        let (l, m) = err_line("<fcd-export>\n<!-- never closed\n");
        assert_eq!(l, 2);
        assert!(m.contains("comment"), "{m}");
        // Elements left open at the end of the file.
        let (l, m) = err_line("<fcd-export>\n<timestep time=\"0\">\n<vehicle id=\"a\" x=\"1\" y=\"1\"/>\n");
        assert_eq!(l, 2);
        assert!(m.contains("never closed"), "{m}");
    }

    #[test]
    fn structure_errors() {
        let (l, m) = err_line("<fcd-export>\n<timestep time=\"0\">\n</fcd-export>");
        assert_eq!(l, 3);
        assert!(m.contains("opened on line 2"), "{m}");
        let (l, m) = err_line("<?xml version=\"1.0\"?>\n<net>\n</net>");
        assert_eq!(l, 2);
        assert!(m.contains("fcd-export"), "{m}");
        let (l, _) =
            err_line("<fcd-export>\n<timestep time=\"0\">\n<timestep time=\"1\">\n</timestep></timestep></fcd-export>");
        assert_eq!(l, 3);
        let (l, m) =
            err_line("<fcd-export>\n<timestep time=\"0\">\n<vehicle id=\"a\" x=1 y=\"1\"/></timestep></fcd-export>");
        assert_eq!(l, 3);
        assert!(m.contains("quoted"), "{m}");
        let (l, m) = err_line(
            "<fcd-export>\n<timestep time=\"0\"><vehicle id=\"a\" x=\"1\" y=\"1\"/></timestep>\n<timestep time=\"0\">\n<vehicle id=\"a\" x=\"2\" y=\"1\"/></timestep></fcd-export>",
        );
        assert_eq!(l, 4);
        assert!(m.contains("twice"), "{m}");
        let (l, _) = err_line("<fcd-export></fcd-export>\n<fcd-export></fcd-export>");
        assert_eq!(l, 2);
    }

    #[test]
    fn invalid_utf8_in_tag() {
        let p = temp_xml(
            b"<fcd-export>\n<timestep time=\"0\">\n<vehicle id=\"\xff\" x=\"1\" y=\"1\"/></timestep></fcd-export>",
        );
        let r = read(&p, u64::MAX);
        let _ = std::fs::remove_file(&p);
        assert_eq!(line_of(r.unwrap_err()).0, 3);
    }

    #[test]
    fn empty_inputs_are_format_errors() {
        for text in [
            "",
            "  \n\n",
            "<?xml version=\"1.0\"?>\n<!-- nothing -->\n",
            "<fcd-export>\n</fcd-export>\n",
            "<fcd-export><timestep time=\"0\"/><timestep time=\"1\"></timestep></fcd-export>",
        ] {
            assert!(matches!(read_str(text).unwrap_err(), TraceError::Format { .. }), "{text:?}");
        }
    }

    #[test]
    fn tags_split_across_buffer_refills() {
        // A 7-byte buffer forces every construct (comment end, quotes, tags) across refills.
        let p = Path::new("inline.xml");
        let f = parse(std::io::BufReader::with_capacity(7, GOOD.as_bytes()), p).unwrap();
        let g = read_str(GOOD).unwrap();
        assert_eq!(f.paths, g.paths);
        assert_eq!(f.names, g.names);
    }

    #[test]
    fn shipped_sumo_trace() {
        let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/sumo-road.fcd.xml"));
        let f = read(p, u64::MAX).unwrap();
        // scripts/make-sumo-trace.sh: 120 steps of 1 s on a 3 km two-way road, 2 lanes each way.
        assert_eq!(f.len(), 53);
        let mut t_max = 0.0f64;
        let mut leave_early = 0;
        for path in &f.paths {
            let (a, b) = path.lifetime_s();
            assert!(a >= 0.0 && b <= 119.0 && a <= b);
            t_max = t_max.max(b);
            if b < 119.0 {
                leave_early += 1;
            }
            let VehiclePath::Samples { points, .. } = path else { panic!("samples expected") };
            for q in points {
                assert!((0.0..=3000.0).contains(&q.x), "{q:?}");
                assert!([-4.8, -1.6, 1.6, 4.8].contains(&q.y), "{q:?}");
            }
        }
        assert_eq!(t_max, 119.0);
        assert!(leave_early > 0, "some vehicles must cross the road and leave");
        assert!(f.paths.iter().filter(|p| p.position_at(0.0).is_some()).count() < f.len());
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_gzip_compressed_traces() {
        let plain_name = temp_xml(&gzip(GOOD.as_bytes()));
        let p = plain_name.with_extension("xml.gz");
        std::fs::rename(&plain_name, &p).unwrap();
        let f = read(&p, u64::MAX);
        let _ = std::fs::remove_file(&p);
        let (f, g) = (f.unwrap(), read_str(GOOD).unwrap());
        assert_eq!((f.names, f.paths), (g.names, g.paths));
        // Errors in a compressed file name the line of the decompressed text.
        let p = temp_xml(&gzip(
            b"<fcd-export>\n<timestep time=\"0\">\n<vehicle id=\"a\" x=\"1\"/>\n</timestep></fcd-export>",
        ));
        let r = read(&p, u64::MAX);
        let _ = std::fs::remove_file(&p);
        assert_eq!(line_of(r.unwrap_err()).0, 3);
        // A truncated gzip stream is an error about the file, not a panic.
        let mut cut = gzip(GOOD.as_bytes());
        cut.truncate(cut.len() / 2);
        let p = temp_xml(&cut);
        let r = read(&p, u64::MAX);
        let _ = std::fs::remove_file(&p);
        assert!(matches!(r.unwrap_err(), TraceError::Io { .. } | TraceError::Line { .. }));
        // A one-byte file is not mistaken for gzip.
        assert!(matches!(read_str("<").unwrap_err(), TraceError::Line { line: 1, .. }));
    }

    /// Issue 21, item 8: a small gzip file that inflates past the cap is refused by its
    /// decompressed size, and a megabyte vehicle id is refused by its line.
    #[test]
    fn a_gzip_bomb_and_huge_ids_are_refused() {
        let mut xml = String::from("<fcd-export><timestep time=\"0\">\n");
        for k in 0..20_000 {
            xml.push_str(&format!("<vehicle id=\"v{k}\" x=\"1\" y=\"2\"/>\n"));
        }
        xml.push_str("</timestep></fcd-export>\n");
        let packed = gzip(xml.as_bytes());
        let p = temp_xml(&packed);
        // The compressed file is far below the cap; the text it inflates to is not.
        assert!((packed.len() as u64) < 200_000 && xml.len() > 400_000, "{} {}", packed.len(), xml.len());
        let r = read(&p, 200_000);
        let whole = read(&p, u64::MAX);
        let _ = std::fs::remove_file(&p);
        match r.unwrap_err() {
            TraceError::Io { source, .. } => assert!(crate::bounded::is_over_cap(&source), "{source}"),
            other => panic!("expected the cap, got {other}"),
        }
        assert_eq!(whole.unwrap().paths.len(), 20_000);
        let id = "x".repeat(MAX_ID_BYTES + 1);
        let (l, m) = err_line(&format!(
            "<fcd-export>\n<timestep time=\"0\">\n<vehicle id=\"{id}\" x=\"1\" y=\"1\"/>\n</timestep></fcd-export>"
        ));
        assert_eq!(l, 3);
        assert!(m.contains("257 bytes"), "{m}");
    }

    #[test]
    fn misspelled_elements_are_errors_naming_the_line() {
        let (l, m) = err_line(
            "<fcd-export>\n<timestep time=\"0\">\n<vehicle id=\"a\" x=\"1\" y=\"1\"/>\n<vehicel id=\"b\" x=\"2\" y=\"1\"/>\n</timestep></fcd-export>",
        );
        assert_eq!(l, 4);
        assert!(m.contains("`<vehicel>`"), "{m}");
        let (l, m) = err_line("<fcd-export>\n<timestpe time=\"0\">\n</timestpe></fcd-export>");
        assert_eq!(l, 2);
        assert!(m.contains("timestpe"), "{m}");
        // What SUMO writes besides vehicles is still skipped.
        let f = read_str(
            "<fcd-export><timestep time=\"0\"><person id=\"p\" x=\"0\" y=\"0\"/><container id=\"c\" x=\"0\" y=\"0\"/><vehicle id=\"a\" x=\"1\" y=\"2\"><param key=\"k\" value=\"v\"/></vehicle></timestep></fcd-export>",
        )
        .unwrap();
        assert_eq!(f.names, vec!["a"]);
    }
}
