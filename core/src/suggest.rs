//! "Did you mean …?": the closest known name to a misspelt one, for error messages.
//!
//! Names here are short identifiers (`paper-noon`, `fed-maddpg`), so the rule is simple and
//! predictable: compare case-insensitively with `_` read as `-`, and suggest the candidate at the
//! smallest edit distance (Levenshtein: insertions, deletions, substitutions) when that distance
//! is at most a third of the longer name (at least 1, at most 3); ties go to the earlier
//! candidate. A typo gets a hint; an unrelated word gets none.

/// The candidate closest to `input`, if one is close enough to be what the user meant.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let norm =
        |s: &str| -> Vec<char> { s.chars().map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() }).collect() };
    let a = norm(input);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let b = norm(c);
        let limit = (a.len().max(b.len()) / 3).clamp(1, 3);
        let d = distance(&a, &b);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `" (did you mean `NAME`?)"` for the closest candidate, or an empty string.
pub fn hint<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(input, candidates).map_or_else(String::new, |c| format!(" (did you mean `{c}`?)"))
}

/// Levenshtein distance, one row at a time (O(|a|·|b|) time, O(|b|) memory).
fn distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != cb)).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_by_hand() {
        let d = |a: &str, b: &str| distance(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>());
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", "abc"), 0);
        assert_eq!(d("paper-non", "paper-noon"), 1);
    }

    #[test]
    fn typos_get_a_hint_unrelated_words_none() {
        let presets = ["paper-morning", "paper-noon", "paper-evening", "large-10k"];
        assert_eq!(closest("paper-non", presets), Some("paper-noon"));
        assert_eq!(closest("Paper_Evening", presets), Some("paper-evening"));
        assert_eq!(closest("large-10K", presets), Some("large-10k"));
        assert_eq!(closest("banana", presets), None);
        assert_eq!(closest("fed_maddpg", ["orl", "maddpg", "fed-maddpg"]), Some("fed-maddpg"));
        assert_eq!(closest("masc", ["orl", "maddpg", "masac"]), Some("masac"));
        assert_eq!(hint("xyz", ["orl"]), "");
        assert_eq!(hint("or", ["orl", "orm"]), " (did you mean `orl`?)");
    }
}
