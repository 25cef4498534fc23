//! The one-line text of an error, as `vecsim` prints it after `error: ` (and as the Python
//! package raises it): the error and its sources, each once. A typed error often shows its
//! source's text in its own message already, so a source whose text is already there is not
//! repeated.

/// `err`'s message followed by each source's, `: `-separated, none repeated.
pub fn error_message(err: &dyn std::error::Error) -> String {
    let mut msg = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading {0}")]
    struct Outer(&'static str, #[source] std::io::Error);

    #[test]
    fn sources_follow_once() {
        let e = Outer("a.toml", std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"));
        assert_eq!(error_message(&e), "reading a.toml: no such file");
        // A source whose text the message already holds is not repeated.
        let e = Outer("a.toml: no such file", std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"));
        assert_eq!(error_message(&e), "reading a.toml: no such file");
    }
}
