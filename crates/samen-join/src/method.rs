//! Join methods behind one interface (placeholder until the helper-assisted join lands).

use samen_core::channel::Channel;

use crate::{private_join_with_progress, JoinError, JoinOutput, JoinProgress, JoinRole};

/// Sizes the helper learns in a helper-assisted join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinSizes {
    /// |A|.
    pub first: u64,
    /// |B|.
    pub second: u64,
    /// N.
    pub union: u64,
}

/// A private-join method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum JoinMethod {
    /// Helper-assisted join.
    #[default]
    Helper,
    /// Two-party Diffie–Hellman join.
    TwoParty,
}

impl JoinMethod {
    /// Name in the study file.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinMethod::Helper => "helper",
            JoinMethod::TwoParty => "two-party",
        }
    }
    /// Parse a name.
    pub fn parse(s: &str) -> Option<JoinMethod> {
        match s {
            "helper" => Some(JoinMethod::Helper),
            "two-party" => Some(JoinMethod::TwoParty),
            _ => None,
        }
    }
    /// Data party's half.
    pub fn run_data_party(
        self,
        role: JoinRole,
        ids: &[&[u8]],
        peer: &mut dyn Channel,
        _helper: &mut dyn Channel,
        progress: &(dyn Fn(JoinProgress) + Sync),
    ) -> Result<JoinOutput, JoinError> {
        private_join_with_progress(role, ids, peer, progress)
    }
    /// Helper's half.
    pub fn run_helper(
        self,
        _first: &mut dyn Channel,
        _second: &mut dyn Channel,
    ) -> Result<Option<JoinSizes>, JoinError> {
        Ok(None)
    }
}
