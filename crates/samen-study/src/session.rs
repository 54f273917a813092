//! One party's run over a set of channels (any transport), with abort on error, and the
//! in-process runner of all three parties.

use std::collections::BTreeMap;

use samen_core::channel::{local_mesh, Abort, Channel, ChannelError, StopReason};
use samen_core::mpc::MpcError;
use samen_core::Role;
use samen_join::JoinError;

use crate::disclosure::Pattern;
use crate::engine::{run_data_party, run_helper, EngineError, Phases, Sizes};
use crate::input::PartyTable;
use crate::output::OutputTable;
use crate::spec::Study;
use crate::transcript::Transcript;

/// What a party ends with.
#[derive(Clone, Debug, PartialEq)]
pub enum PartyResult {
    /// A data party: the revealed tables and the sizes.
    Data {
        /// The revealed tables, in study order.
        tables: Vec<OutputTable>,
        /// |A|, |B|, N.
        sizes: Sizes,
        /// Which cells were suppressed, primary or secondary.
        pattern: Pattern,
    },
    /// The helper: the sizes it received.
    Helper {
        /// |A|, |B|, N.
        sizes: Sizes,
    },
}

impl PartyResult {
    /// The sizes learned in the run.
    pub fn sizes(&self) -> Sizes {
        match self {
            PartyResult::Data { sizes, .. } | PartyResult::Helper { sizes } => *sizes,
        }
    }
}

fn two_channels<'m, C: Channel>(
    channels: &'m mut BTreeMap<String, C>,
    x: &str,
    y: &str,
) -> Result<(&'m mut C, &'m mut C), EngineError> {
    let (mut cx, mut cy) = (None, None);
    for (name, ch) in channels.iter_mut() {
        if name == x {
            cx = Some(ch);
        } else if name == y {
            cy = Some(ch);
        }
    }
    match (cx, cy) {
        (Some(a), Some(b)) => Ok((a, b)),
        (None, _) => Err(EngineError::MissingChannel(x.to_string())),
        (_, None) => Err(EngineError::MissingChannel(y.to_string())),
    }
}

/// Run party `me` of `study` over `channels` (keyed by peer name). A data party passes its
/// validated table; the helper passes `None`. On any error every peer is sent an abort
/// ([`peer_reason`]: the party that stopped first and why, without local details) before the
/// error is returned.
pub fn run_party<C: Channel>(
    study: &Study,
    me: &str,
    input: Option<&PartyTable>,
    channels: &mut BTreeMap<String, C>,
    phases: &mut Phases,
) -> Result<PartyResult, EngineError> {
    let result = run_party_inner(study, me, input, channels, phases);
    if let Err(e) = &result {
        let message = Abort::from(&peer_reason(me, e));
        for ch in channels.values_mut() {
            ch.abort(&message);
        }
    }
    result
}

/// The channel error inside an engine error, if the failure came from a channel.
fn channel_error(e: &EngineError) -> Option<&ChannelError> {
    match e {
        EngineError::Channel(c)
        | EngineError::Mpc(MpcError::Channel(c))
        | EngineError::Join(JoinError::Channel(c)) => Some(c),
        _ => None,
    }
}

/// What party `me` tells its peers when it stops with `e`: the party whose failure started it
/// (`me`, or the peer whose abort, failure or silence `me` saw, so a relayed stop keeps its
/// origin) and a reason without file paths, line numbers, rows or data; the details stay in
/// the local error.
pub fn peer_reason(me: &str, e: &EngineError) -> StopReason {
    let mine = |reason: &str| StopReason::new(me, reason);
    if let Some(c) = channel_error(e) {
        if let Some(stop) = c.stopped_party() {
            return stop;
        }
        return match c {
            ChannelError::Transport { peer, .. } => {
                mine(&format!("its connection to party '{peer}' failed"))
            }
            ChannelError::Protocol { peer, .. } | ChannelError::FrameTooLarge { peer, .. } => {
                mine(&format!("party '{peer}' deviated from the protocol"))
            }
            _ => mine("the secure computation failed"),
        };
    }
    match e {
        EngineError::Join(JoinError::DuplicateId { .. }) => {
            mine("its input holds the same identifier twice")
        }
        EngineError::Join(JoinError::TooManyIds { .. }) => {
            mine("its input is larger than the join allows")
        }
        EngineError::Join(_) => mine("the private join failed"),
        EngineError::Spec(_) => mine("the study cannot be run with these table sizes"),
        EngineError::Sizes { .. } => mine("the data parties reported inconsistent table sizes"),
        EngineError::WrongTable { .. }
        | EngineError::UnknownParty(_)
        | EngineError::MissingChannel(_) => mine("it was started with the wrong party or table"),
        EngineError::BadBit => mine("a peer deviated from the protocol (invalid revealed bit)"),
        _ => mine("the secure computation failed"),
    }
}

fn run_party_inner<C: Channel>(
    study: &Study,
    me: &str,
    input: Option<&PartyTable>,
    channels: &mut BTreeMap<String, C>,
    phases: &mut Phases,
) -> Result<PartyResult, EngineError> {
    let party = study
        .party(me)
        .ok_or_else(|| EngineError::UnknownParty(me.to_string()))?;
    let [first, second] = study.data_parties();
    let helper = study.helper();
    match party.role {
        Role::Helper => {
            let (f, s) = two_channels(channels, &first.name, &second.name)?;
            let sizes = run_helper(study, f, s, phases)?;
            Ok(PartyResult::Helper { sizes })
        }
        Role::First | Role::Second => {
            let other = if party.role == Role::First {
                second
            } else {
                first
            };
            let table = match input {
                Some(t) => t,
                None => {
                    return Err(EngineError::WrongTable {
                        party: me.to_string(),
                        expected: study
                            .table_of(me)
                            .map(|t| t.name.clone())
                            .unwrap_or_default(),
                        given: "(none)".into(),
                    })
                }
            };
            let (p, h) = two_channels(channels, &other.name, &helper.name)?;
            let (tables, sizes, pattern) = run_data_party(study, me, table, p, h, phases)?;
            Ok(PartyResult::Data {
                tables,
                sizes,
                pattern,
            })
        }
    }
}

/// The result of an in-process run of all three parties.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalRun {
    /// The revealed tables (identical at both data parties; checked).
    pub tables: Vec<OutputTable>,
    /// |A|, |B|, N.
    pub sizes: Sizes,
    /// Which cells were suppressed, primary or secondary.
    pub pattern: Pattern,
    /// Per party, its transcript lines (empty unless requested).
    pub transcripts: BTreeMap<String, Vec<String>>,
}

/// True if `e` only reports another party's failure (its abort, its closed channel or the
/// shared stop), so that the in-process runner returns the root cause instead.
fn is_consequence(e: &EngineError) -> bool {
    matches!(
        channel_error(e),
        Some(
            ChannelError::PeerAborted { .. }
                | ChannelError::Closed { .. }
                | ChannelError::Stopped(_)
        )
    )
}

/// How long an in-process party waits for a peer (30 days: no timeout in practice).
pub const IN_PROCESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Run all three parties of `study` inside this process over in-process channels (one thread
/// per party) and return the revealed tables. `tables` are both data parties' validated tables
/// (any order). With `transcripts`, every party's frames are recorded (see
/// [`crate::transcript`]).
pub fn run_in_process(
    study: &Study,
    tables: [&PartyTable; 2],
    transcripts: bool,
) -> Result<LocalRun, EngineError> {
    let names: Vec<&str> = study.parties().iter().map(|p| p.name.as_str()).collect();
    let mut mesh = local_mesh(&names);
    // No timeout in practice: a party that fails aborts its channels and a party that panics
    // drops them, which its peers see at once; a slow phase (the join of 10^7 rows takes the
    // better part of an hour) must not be mistaken for a hung peer.
    for chans in &mut mesh {
        for c in chans.values_mut() {
            c.set_timeout(IN_PROCESS_TIMEOUT);
        }
    }
    let table_for = |party: &str| -> Option<&PartyTable> {
        let t = study.table_of(party)?;
        tables.iter().copied().find(|x| x.table == t.name)
    };
    let recorders: Vec<Transcript> = names.iter().map(|_| Transcript::in_memory()).collect();
    let results: Vec<Result<PartyResult, EngineError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = mesh
            .into_iter()
            .zip(&names)
            .zip(&recorders)
            .map(|((chans, &name), rec)| {
                let input = table_for(name);
                scope.spawn(move || {
                    let mut phases = Phases::new();
                    if transcripts {
                        let mut wrapped: BTreeMap<String, _> =
                            chans.into_iter().map(|(k, c)| (k, rec.wrap(c))).collect();
                        let r = run_party(study, name, input, &mut wrapped, &mut phases);
                        // Keep the channels open until the party is done, then close them.
                        drop(wrapped);
                        r
                    } else {
                        let mut chans = chans;
                        run_party(study, name, input, &mut chans, &mut phases)
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(EngineError::Channel(ChannelError::Closed {
                        peer: "(a party thread panicked)".into(),
                    }))
                })
            })
            .collect()
    });
    let mut errors = Vec::new();
    let mut data = Vec::new();
    let mut sizes = Sizes::default();
    let mut pattern = Pattern::default();
    for r in results {
        match r {
            Ok(PartyResult::Data {
                tables,
                sizes: s,
                pattern: p,
            }) => {
                sizes = s;
                pattern = p;
                data.push(tables);
            }
            Ok(PartyResult::Helper { .. }) => {}
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        let idx = errors.iter().position(|e| !is_consequence(e)).unwrap_or(0);
        return Err(errors.swap_remove(idx));
    }
    let tables = data.pop().unwrap_or_default();
    if data.first().is_some_and(|other| *other != tables) {
        return Err(EngineError::Sizes {
            detail: "the two data parties revealed different tables".into(),
        });
    }
    let transcripts = names
        .iter()
        .zip(&recorders)
        .map(|(n, r)| (n.to_string(), r.lines()))
        .collect();
    Ok(LocalRun {
        tables,
        sizes,
        pattern,
        transcripts,
    })
}
