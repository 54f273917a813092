//! Text received from a peer, made safe to print.

/// Most bytes of peer-supplied text (an abort reason, a name in a hello) kept for printing.
pub const MAX_PEER_TEXT: usize = 512;

/// Make text received from a peer safe to print: at most [`MAX_PEER_TEXT`] bytes (cut on a
/// character boundary, ending in `...` when cut), on one line, with every control character
/// (C0, DEL, C1: newlines, tabs, the escape of ANSI terminal sequences) and every invisible
/// formatting or direction-changing character (zero-width, bidi overrides, line and paragraph
/// separators, byte order mark) replaced by `?`. Idempotent.
///
/// A received abort is read with [`Abort::receive`](super::Abort::receive), which applies it to
/// the reason before the message enters
/// [`ChannelError::PeerAborted`](super::ChannelError::PeerAborted) or a stop reason; every
/// channel implementation must read aborts that way, so that a peer cannot flood logs or
/// rewrite a terminal.
///
/// ```
/// use samen_core::channel::{sanitize_peer_text, MAX_PEER_TEXT};
/// assert_eq!(sanitize_peer_text("bad input\n\x1b[2Jgone"), "bad input??[2Jgone");
/// let long = sanitize_peer_text(&"é".repeat(100_000));
/// assert!(long.len() <= MAX_PEER_TEXT && long.ends_with("..."));
/// ```
pub fn sanitize_peer_text(text: &str) -> String {
    const CUT: &str = "...";
    let mut out = String::with_capacity(text.len().min(MAX_PEER_TEXT));
    for (i, c) in text.char_indices() {
        let c = if is_printable(c) { c } else { '?' };
        if out.len() + c.len_utf8() > MAX_PEER_TEXT - CUT.len() {
            // Only cut if the rest does not fit as it is.
            let rest = text.get(i..).unwrap_or("");
            let rest_len: usize = rest
                .chars()
                .map(|c| if is_printable(c) { c.len_utf8() } else { 1 })
                .sum();
            if out.len() + rest_len > MAX_PEER_TEXT {
                out.push_str(CUT);
                return out;
            }
        }
        out.push(c);
    }
    out
}

/// Whether `c` shows as itself on one line: not a control character and not an invisible
/// formatting or direction-changing character.
pub(super) fn is_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(c,
            '\u{00AD}'                      // soft hyphen
            | '\u{061C}'                    // Arabic letter mark
            | '\u{180E}'                    // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'       // zero-width characters, LRM, RLM
            | '\u{2028}'..='\u{202E}'       // line/paragraph separators, bidi embeddings
            | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates
            | '\u{FEFF}'                    // byte order mark
            | '\u{FFF9}'..='\u{FFFB}')) // interlinear annotations
}
