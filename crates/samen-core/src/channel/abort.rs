//! The abort message: what a party tells its peers when it stops.

use crate::codec::{self, CodecError, Decode, Encode, Reader};
use crate::names::is_valid_party_name;

use super::{sanitize_peer_text, StopReason};

/// Largest reason of an abort message, in bytes (longer reasons are cut on a character
/// boundary before sending).
pub const MAX_ABORT_REASON: usize = 1024;

/// Largest party name in an abort message (party names have at most 63 bytes).
const MAX_ABORT_PARTY: usize = 63;

/// The abort message a party sends a peer when it stops (the payload of the transport's abort
/// frame, and of an in-process channel's abort). Encoded with [`crate::codec`]:
///
/// | bytes | field |
/// |---|---|
/// | 1 | kind: `01` the sender's own reason, `02` a party stopped |
/// | 4 + n | `02` only: the party that stopped (`u32` length, a valid party name) |
/// | 4 + n | the reason (`u32` length, at most [`MAX_ABORT_REASON`] bytes of UTF-8) |
///
/// A reason says what happened in words safe for every party — never a file path, a line
/// number, a row or a value. The receiver passes the reason through [`sanitize_peer_text`] and
/// accepts only a valid party name.
///
/// ```
/// use samen_core::channel::{Abort, StopReason};
/// use samen_core::codec;
/// let stop = StopReason::new("ttp", "its connection was lost");
/// let msg = Abort::from(&stop);
/// let bytes = codec::encode_to_vec(&msg);
/// let heard = Abort::receive(&bytes).stop_reason("cbs");
/// assert_eq!(heard.to_string(), "party 'ttp' stopped: its connection was lost (reported by party 'cbs')");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Abort {
    /// The sender stops for its own reason (it failed, or it refuses this connection).
    Own {
        /// What happened.
        reason: String,
    },
    /// `party` stopped for `reason`: the sender itself, or the party whose failure made the
    /// sender stop (relayed unchanged, so that every party learns the origin).
    Stopped {
        /// The party that stopped first.
        party: String,
        /// What happened to it.
        reason: String,
    },
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let end = (0..=text.len().min(max))
        .rev()
        .find(|&end| text.is_char_boundary(end))
        .unwrap_or(0);
    text.get(..end).unwrap_or_default()
}

impl Abort {
    /// The sender's own reason (cut to [`MAX_ABORT_REASON`] bytes).
    pub fn own(reason: &str) -> Abort {
        Abort::Own {
            reason: cut(reason, MAX_ABORT_REASON).to_string(),
        }
    }

    /// Read an abort received from a peer. Never fails: a payload that does not decode (or
    /// names no valid party) is reported as the sender's own, unreadable abort. Both texts are
    /// passed through [`sanitize_peer_text`].
    pub fn receive(payload: &[u8]) -> Abort {
        match codec::decode_exact::<Abort>(payload) {
            Ok(Abort::Own { reason }) => Abort::Own {
                reason: sanitize_peer_text(&reason),
            },
            Ok(Abort::Stopped { party, reason }) if is_valid_party_name(&party) => Abort::Stopped {
                party,
                reason: sanitize_peer_text(&reason),
            },
            Ok(Abort::Stopped { .. }) => Abort::Own {
                reason: "it sent an abort naming an invalid party".to_string(),
            },
            Err(e) => Abort::Own {
                reason: sanitize_peer_text(&format!(
                    "it sent an abort this party cannot read ({e}); it may run another samen \
                     version"
                )),
            },
        }
    }

    /// Who stopped and why, as heard from `sender`.
    pub fn stop_reason(&self, sender: &str) -> StopReason {
        let (party, reason) = match self {
            Abort::Own { reason } => (sender, reason),
            Abort::Stopped { party, reason } => (party.as_str(), reason),
        };
        StopReason {
            party: party.to_string(),
            reason: reason.clone(),
            via: Some(sender.to_string()),
        }
    }
}

impl From<&StopReason> for Abort {
    /// The report that `stop.party` stopped (the reason cut to [`MAX_ABORT_REASON`] bytes).
    fn from(stop: &StopReason) -> Abort {
        Abort::Stopped {
            party: stop.party.clone(),
            reason: cut(&stop.reason, MAX_ABORT_REASON).to_string(),
        }
    }
}

impl std::fmt::Display for Abort {
    /// The own reason as it is; a stop as `party '<party>' stopped: <reason>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Abort::Own { reason } => f.write_str(reason),
            Abort::Stopped { party, reason } => write!(f, "party '{party}' stopped: {reason}"),
        }
    }
}

const OWN: u8 = 1;
const STOPPED: u8 = 2;

/// Texts longer than the decoder accepts are cut before encoding (on a character boundary), so
/// that every abort is sent and decodes; a party name that is not valid is then refused by
/// the receiver ([`Abort::receive`]).
impl Encode for Abort {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Abort::Own { reason } => {
                OWN.encode(out);
                codec::put_str(out, cut(reason, MAX_ABORT_REASON));
            }
            Abort::Stopped { party, reason } => {
                STOPPED.encode(out);
                codec::put_str(out, cut(party, MAX_ABORT_PARTY));
                codec::put_str(out, cut(reason, MAX_ABORT_REASON));
            }
        }
    }

    fn encoded_len(&self) -> Option<usize> {
        let reason = |r: &str| 4 + cut(r, MAX_ABORT_REASON).len();
        Some(match self {
            Abort::Own { reason: r } => 1 + reason(r),
            Abort::Stopped { party, reason: r } => {
                1 + 4 + cut(party, MAX_ABORT_PARTY).len() + reason(r)
            }
        })
    }
}

impl Decode for Abort {
    const WHAT: &'static str = "abort message";

    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        match r.u8()? {
            OWN => Ok(Abort::Own {
                reason: r.string("reason", MAX_ABORT_REASON)?,
            }),
            STOPPED => Ok(Abort::Stopped {
                party: r.string("party", MAX_ABORT_PARTY)?,
                reason: r.string("reason", MAX_ABORT_REASON)?,
            }),
            kind => Err(r.bad_value("kind", u64::from(kind))),
        }
    }
}
