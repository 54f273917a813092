//! The hello: the first frame in each direction of every connection.
//!
//! Both parties send a [`Hello`] as soon as the TLS handshake is done and check the one they
//! receive against their own. Any difference in protocol version, study name or study hash
//! (the SHA-256 of the study file) stops the connection on both sides, with an error that says
//! what differs, before any protocol data is exchanged.

use samen_core::channel::sanitize_peer_text;
use samen_core::codec::{self, CodecError, Decode, Encode, Reader};
use thiserror::Error;

/// Version of the samen transport and protocol suite (the layouts of the transport hello and of
/// every control message the protocols send over it). Parties with different versions refuse
/// to talk to each other.
pub const PROTOCOL_VERSION: u32 = 4;

/// Longest study name or party name a hello may carry, in bytes.
pub const MAX_HELLO_TEXT: usize = 1024;

/// The first message on every connection (encoded with [`samen_core::codec`]).
///
/// Layout: version `u32` ‖ study hash (32 bytes) ‖ study name ‖ sender ‖ receiver, each name a
/// `u32` length and at most [`MAX_HELLO_TEXT`] bytes of UTF-8; integers little endian. The
/// version comes first so that every release can read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u32,
    /// Name of the study the sender runs.
    pub study_name: String,
    /// SHA-256 of the sender's study file.
    pub study_hash: [u8; 32],
    /// The sender's party name.
    pub sender: String,
    /// The party the sender believes it talks to.
    pub receiver: String,
}

/// The peer's hello does not match this party's.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HelloError {
    /// Different protocol versions.
    #[error(
        "party '{peer}' speaks samen protocol version {theirs} but this party speaks version \
         {ours}: install the same samen release at every party"
    )]
    Version {
        /// The peer's party name.
        peer: String,
        /// The peer's version.
        theirs: u32,
        /// This party's version.
        ours: u32,
    },
    /// Different study names.
    #[error(
        "party '{peer}' runs study '{theirs}' but this party runs study '{ours}': every party \
         must use the same study file"
    )]
    StudyName {
        /// The peer's party name.
        peer: String,
        /// The peer's study name.
        theirs: String,
        /// This party's study name.
        ours: String,
    },
    /// Same study name, different study file contents.
    #[error(
        "party '{peer}' runs study '{study}' with configuration hash {theirs}.. but this party \
         has {ours}..: the study files differ"
    )]
    StudyHash {
        /// The peer's party name.
        peer: String,
        /// The study name.
        study: String,
        /// Start of the peer's hash, in hex.
        theirs: String,
        /// Start of this party's hash, in hex.
        ours: String,
    },
    /// The peer calls itself by another name than its certificate says.
    #[error("the party with the certificate of '{peer}' introduces itself as '{claimed}'")]
    Sender {
        /// The name in the peer's certificate.
        peer: String,
        /// The name in its hello.
        claimed: String,
    },
    /// The peer wanted to reach another party (wrong address in a study file).
    #[error(
        "party '{peer}' wanted to reach party '{intended}' but reached this party '{me}': check \
         the party addresses in the study file"
    )]
    Receiver {
        /// The peer's party name.
        peer: String,
        /// Whom the peer wanted to reach.
        intended: String,
        /// This party's name.
        me: String,
    },
    /// The hello could not be decoded.
    #[error("party '{peer}' sent a malformed hello ({detail}); it may run an incompatible samen version")]
    Malformed {
        /// The peer's party name.
        peer: String,
        /// What was wrong.
        detail: String,
    },
}

impl Encode for Hello {
    fn encode(&self, out: &mut Vec<u8>) {
        self.version.encode(out);
        self.study_hash.encode(out);
        codec::put_str(out, &self.study_name);
        codec::put_str(out, &self.sender);
        codec::put_str(out, &self.receiver);
    }

    fn encoded_len(&self) -> Option<usize> {
        Some(4 + 32 + 12 + self.study_name.len() + self.sender.len() + self.receiver.len())
    }
}

impl Decode for Hello {
    const WHAT: &'static str = "transport hello";

    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Hello {
            version: r.u32()?,
            study_hash: r.array()?,
            study_name: r.string("study name", MAX_HELLO_TEXT)?,
            sender: r.string("sender", MAX_HELLO_TEXT)?,
            receiver: r.string("receiver", MAX_HELLO_TEXT)?,
        })
    }
}

impl Hello {
    /// Encode for the wire; a name longer than [`MAX_HELLO_TEXT`] is an error.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode_checked(self)
    }

    /// Decode a hello received from `peer`. A hello that does not decode but starts with
    /// another protocol version is reported as [`HelloError::Version`]: a release whose hello
    /// layout differs is told that the versions differ.
    pub fn decode(peer: &str, bytes: &[u8]) -> Result<Hello, HelloError> {
        codec::decode_exact(bytes).map_err(|e| {
            match bytes.first_chunk::<4>().map(|v| u32::from_le_bytes(*v)) {
                Some(theirs) if theirs != PROTOCOL_VERSION => HelloError::Version {
                    peer: peer.to_string(),
                    theirs,
                    ours: PROTOCOL_VERSION,
                },
                _ => HelloError::Malformed {
                    peer: peer.to_string(),
                    detail: e.to_string(),
                },
            }
        })
    }

    /// Check `received` (from the peer) against `self` (the hello this party sent to it). Names
    /// the peer sent appear in the error passed through [`sanitize_peer_text`].
    ///
    /// ```
    /// use samen_net::hello::{Hello, HelloError, PROTOCOL_VERSION};
    /// let ours = Hello { version: PROTOCOL_VERSION, study_name: "s".into(), study_hash: [1; 32],
    ///                    sender: "cbs".into(), receiver: "portal".into() };
    /// let mut theirs = Hello { sender: "portal".into(), receiver: "cbs".into(), ..ours.clone() };
    /// assert!(ours.check(&theirs).is_ok());
    /// theirs.study_hash = [2; 32];
    /// let err = ours.check(&theirs).unwrap_err();
    /// assert!(matches!(err, HelloError::StudyHash { .. }));
    /// assert!(err.to_string().contains("the study files differ"));
    /// ```
    pub fn check(&self, received: &Hello) -> Result<(), HelloError> {
        let peer = self.receiver.clone();
        if received.version != self.version {
            return Err(HelloError::Version {
                peer,
                theirs: received.version,
                ours: self.version,
            });
        }
        if received.sender != self.receiver {
            return Err(HelloError::Sender {
                peer,
                claimed: sanitize_peer_text(&received.sender),
            });
        }
        if received.receiver != self.sender {
            return Err(HelloError::Receiver {
                peer,
                intended: sanitize_peer_text(&received.receiver),
                me: self.sender.clone(),
            });
        }
        if received.study_name != self.study_name {
            return Err(HelloError::StudyName {
                peer,
                theirs: sanitize_peer_text(&received.study_name),
                ours: self.study_name.clone(),
            });
        }
        if received.study_hash != self.study_hash {
            return Err(HelloError::StudyHash {
                peer,
                study: self.study_name.clone(),
                theirs: hex::encode(&received.study_hash[..8]),
                ours: hex::encode(&self.study_hash[..8]),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pair() -> (Hello, Hello) {
        let a = Hello {
            version: PROTOCOL_VERSION,
            study_name: "visits".into(),
            study_hash: [0xab; 32],
            sender: "cbs".into(),
            receiver: "portal".into(),
        };
        let b = Hello {
            sender: "portal".into(),
            receiver: "cbs".into(),
            ..a.clone()
        };
        (a, b)
    }

    #[test]
    fn each_mismatch_has_its_own_error() {
        let (a, b) = pair();
        assert!(a.check(&b).is_ok() && b.check(&a).is_ok());
        let v = Hello {
            version: 9,
            ..b.clone()
        };
        assert!(a
            .check(&v)
            .unwrap_err()
            .to_string()
            .contains("protocol version 9"));
        let n = Hello {
            study_name: "other".into(),
            ..b.clone()
        };
        assert!(matches!(a.check(&n), Err(HelloError::StudyName { .. })));
        let h = Hello {
            study_hash: [0xcd; 32],
            ..b.clone()
        };
        assert_eq!(
            a.check(&h).unwrap_err().to_string(),
            "party 'portal' runs study 'visits' with configuration hash cdcdcdcdcdcdcdcd.. but \
             this party has abababababababab..: the study files differ"
        );
        let r = Hello {
            receiver: "helper".into(),
            ..b.clone()
        };
        assert!(matches!(a.check(&r), Err(HelloError::Receiver { .. })));
        let s = Hello {
            sender: "mallory".into(),
            ..b
        };
        assert!(matches!(a.check(&s), Err(HelloError::Sender { .. })));
    }

    #[test]
    fn golden_hello() {
        let (a, _) = pair();
        samen_core::codec::golden::check(
            &a,
            "04000000\
             abababababababababababababababababababababababababababababababab\
             06000000766973697473\
             03000000636273\
             06000000706f7274616c",
        );
        let long = Hello {
            study_name: "x".repeat(MAX_HELLO_TEXT + 1),
            ..a
        };
        assert!(matches!(
            long.encode(),
            Err(CodecError::LengthOverLimit {
                field: "study name",
                ..
            })
        ));
    }

    #[test]
    fn codec_round_trip_and_garbage() {
        let (a, _) = pair();
        let bytes = a.encode().unwrap();
        assert_eq!(Hello::decode("x", &bytes).unwrap(), a);
        assert!(matches!(
            Hello::decode("x", &bytes[..bytes.len() - 1]),
            Err(HelloError::Malformed { .. })
        ));
        assert!(Hello::decode("x", &[0xff; 3]).is_err());
    }

    #[test]
    fn another_version_with_another_layout_is_a_version_error() {
        // A later release's hello: another version, then fields this release cannot decode.
        let mut later = (PROTOCOL_VERSION + 1).to_le_bytes().to_vec();
        later.extend_from_slice(&[0x07; 50]);
        assert!(matches!(
            Hello::decode("portal", &later),
            Err(HelloError::Version {
                theirs,
                ours: PROTOCOL_VERSION,
                ..
            }) if theirs == PROTOCOL_VERSION + 1
        ));
        // The same bytes with this release's version are malformed, not a version mismatch.
        later[..4].copy_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        assert!(matches!(
            Hello::decode("portal", &later),
            Err(HelloError::Malformed { .. })
        ));
    }

    #[test]
    fn names_from_the_peer_are_printed_sanitised() {
        let (a, b) = pair();
        let evil = format!("\x1b[2Jvisits\n{}", "x".repeat(60_000));
        let n = Hello {
            study_name: evil.clone(),
            ..b.clone()
        };
        let msg = a.check(&n).unwrap_err().to_string();
        assert!(!msg.contains('\x1b') && !msg.contains('\n'), "{msg}");
        assert!(msg.len() < 1024, "{}", msg.len());
        let s = Hello {
            sender: evil.clone(),
            ..b.clone()
        };
        assert!(!a.check(&s).unwrap_err().to_string().contains('\x1b'));
        let r = Hello {
            receiver: evil,
            ..b
        };
        assert!(!a.check(&r).unwrap_err().to_string().contains('\x1b'));
    }

    /// Decode `bytes` as a hello from a peer: an error, or a hello that re-encodes to itself
    /// and whose mismatch errors print as short single lines.
    fn check_decode(bytes: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(h) = Hello::decode("peer", bytes) {
            let again = h.encode().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&again, &bytes.to_vec());
            prop_assert_eq!(Hello::decode("peer", &again).ok(), Some(h.clone()));
            let (a, _) = pair();
            if let Err(e) = a.check(&h) {
                let msg = e.to_string();
                prop_assert!(msg.len() < 2048 && msg.chars().all(|c| !c.is_control()));
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(15_000))]

        #[test]
        fn decoding_random_bytes_never_panics(bytes in samen_core::fuzzing::bytes(200)) {
            check_decode(&bytes)?;
        }

        #[test]
        fn valid_hellos_round_trip(
            version in any::<u32>(),
            study_hash in any::<[u8; 32]>(),
            names in proptest::collection::vec("\\PC{0,40}", 3),
        ) {
            let h = Hello {
                version,
                study_hash,
                study_name: names[0].clone(),
                sender: names[1].clone(),
                receiver: names[2].clone(),
            };
            let bytes = h.encode().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(Hello::decode("peer", &bytes), Ok(h));
        }

        #[test]
        fn decoding_mutated_hellos_never_panics(
            bytes in samen_core::fuzzing::mutated(pair().1.encode().unwrap_or_default())
        ) {
            check_decode(&bytes)?;
        }
    }
}
