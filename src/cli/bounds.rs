//! Range checks of numeric flags, applied where clap parses them: a value outside its range is
//! refused before anything runs (clap's usage error, exit 2, naming the flag), so no accepted
//! value can overflow a `Duration`, size an allocation past memory, or loop for ever.
//! The ranges are listed in docs/limits.md.

/// `--pace`: slots per wall-clock second. Below 1e-3 (one slot per 17 minutes) a run is not
/// "watched live" any more, and `1 / pace` must stay a representable `Duration`.
pub(crate) const PACE: (f64, f64) = (1e-3, 1e6);
/// `--serve-after`: seconds, at most a week (a longer linger is a mistake, not a wish).
pub(crate) const SERVE_AFTER_MAX_S: f64 = 7.0 * 24.0 * 3600.0;
/// `plot --sigma`: episodes. The kernel has `8σ + 1` taps; 10⁵ episodes is beyond any curve.
pub(crate) const SIGMA_MAX: f64 = 1e5;
/// Widths of a hidden layer (`--actor-hidden`, `--critic-hidden`): 1 to 4096 units.
pub(crate) const MAX_WIDTH: usize = 4096;
/// Hidden layers of one network: 1 to 8.
pub(crate) const MAX_LAYERS: usize = 8;

/// A finite number in `[lo, hi]`, or the message clap shows after "invalid value for --FLAG".
pub(crate) fn real_in(s: &str, lo: f64, hi: f64, what: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(v),
        Ok(v) if v.is_finite() => Err(format!("{v} is out of range: {what} from {lo} to {hi}")),
        _ => Err(format!("`{s}` is not a number ({what} from {lo} to {hi})")),
    }
}

/// `--pace`.
pub(crate) fn parse_pace(s: &str) -> Result<f64, String> {
    real_in(s, PACE.0, PACE.1, "slots per second")
}

/// `--serve-after`.
pub(crate) fn parse_serve_after(s: &str) -> Result<f64, String> {
    real_in(s, 0.0, SERVE_AFTER_MAX_S, "seconds")
}

/// `plot --sigma`.
pub(crate) fn parse_sigma(s: &str) -> Result<f64, String> {
    real_in(s, 0.0, SIGMA_MAX, "episodes")
}

/// One list of layer widths, `256,256,256`: 1 to [`MAX_LAYERS`] widths of 1 to [`MAX_WIDTH`].
pub(crate) fn widths(s: &str) -> Result<Vec<usize>, String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|w| match w.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_WIDTH).contains(&n) => Ok(n),
            _ => Err(format!("`{}` is not a layer width (1 to {MAX_WIDTH})", w.trim())),
        })
        .collect::<Result<_, _>>()?;
    if v.is_empty() || v.len() > MAX_LAYERS {
        return Err(format!("{} layers: expected 1 to {MAX_LAYERS} widths, e.g. 256,256,256", v.len()));
    }
    Ok(v)
}

/// Hidden layer widths of the actor (a type of its own: clap reads an `Option<Vec<_>>` field as
/// repeated values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ActorWidths(pub Vec<usize>);

/// Widths of the critic's embedding, then of its head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CriticWidths {
    pub embed: Vec<usize>,
    pub head: Vec<usize>,
}

/// `--actor-hidden 256,256,256`.
pub(crate) fn parse_actor_hidden(s: &str) -> Result<ActorWidths, String> {
    widths(s).map(ActorWidths)
}

/// `--critic-hidden EMBED/HEAD`, e.g. `512,512/256`.
pub(crate) fn parse_critic_hidden(s: &str) -> Result<CriticWidths, String> {
    let (e, h) = s.split_once('/').ok_or_else(|| format!("`{s}`: expected EMBED/HEAD widths like 512,512/256"))?;
    Ok(CriticWidths { embed: widths(e)?, head: widths(h)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_outside_their_range_are_refused() {
        assert_eq!(parse_pace("2"), Ok(2.0));
        assert!(parse_pace("1e-300").is_err());
        assert!(parse_pace("0").is_err());
        assert!(parse_pace("inf").is_err());
        assert_eq!(parse_serve_after("0"), Ok(0.0));
        assert!(parse_serve_after("1e30").is_err());
        assert!(parse_serve_after("-1").is_err());
        assert_eq!(parse_sigma("3.5"), Ok(3.5));
        assert!(parse_sigma("1e9").is_err());
        assert!(parse_sigma("NaN").is_err());
    }

    #[test]
    fn widths_are_bounded() {
        assert_eq!(parse_actor_hidden("256, 256,256"), Ok(ActorWidths(vec![256, 256, 256])));
        assert!(parse_actor_hidden("100000,100000").is_err());
        assert!(parse_actor_hidden("0").is_err());
        assert!(parse_actor_hidden("1,1,1,1,1,1,1,1,1").is_err());
        assert_eq!(parse_critic_hidden("512,512/256"), Ok(CriticWidths { embed: vec![512, 512], head: vec![256] }));
        assert!(parse_critic_hidden("512").is_err());
        assert!(parse_critic_hidden("512/5000").is_err());
    }
}
