//! One interface over the two private-join methods.

use std::fmt;

use samen_core::channel::Channel;

use samen_core::Role;

use crate::helper::{helper_join_with_progress, serve_helper_join, JoinSizes};
use crate::{private_join_with_progress, JoinError, JoinOutput, JoinProgress};

/// How the data parties compute the private join. Both give the same [`JoinOutput`]; they
/// differ in speed and in what a coalition of the helper and one data party learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum JoinMethod {
    /// The helper-assisted join ([`crate::helper_join`]): one HMAC per row, fast. If the helper
    /// colludes with a data party they learn which of that party's rows matched and the other
    /// party's unmatched identifiers.
    #[default]
    Helper,
    /// The two-party Diffie–Hellman join ([`crate::private_join`]): the helper takes no part;
    /// no coalition learns more than the sizes and its own rows' positions.
    TwoParty,
}

impl JoinMethod {
    /// Both methods.
    pub const ALL: [JoinMethod; 2] = [JoinMethod::Helper, JoinMethod::TwoParty];

    /// The method's name in study files and on the command line: `"helper"` or `"two-party"`.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinMethod::Helper => "helper",
            JoinMethod::TwoParty => "two-party",
        }
    }

    /// The method named `s` (the inverse of [`JoinMethod::as_str`]), or `None`.
    ///
    /// ```
    /// use samen_join::JoinMethod;
    /// assert_eq!(JoinMethod::parse("two-party"), Some(JoinMethod::TwoParty));
    /// assert_eq!(JoinMethod::parse(JoinMethod::Helper.as_str()), Some(JoinMethod::Helper));
    /// assert_eq!(JoinMethod::parse("dh"), None);
    /// ```
    pub fn parse(s: &str) -> Option<JoinMethod> {
        JoinMethod::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Data party's half. `Helper` runs [`helper_join_with_progress`]; `TwoParty` runs
    /// [`private_join_with_progress`] over `peer` and does not touch `helper`. `role` is
    /// [`Role::First`] or [`Role::Second`]; [`Role::Helper`] is refused with
    /// [`JoinError::NotADataRole`] before anything is sent.
    pub fn run_data_party(
        self,
        role: Role,
        ids: &[&[u8]],
        peer: &mut dyn Channel,
        helper: &mut dyn Channel,
        progress: &dyn Fn(JoinProgress),
    ) -> Result<JoinOutput, JoinError> {
        match self {
            JoinMethod::Helper => helper_join_with_progress(role, ids, peer, helper, progress),
            JoinMethod::TwoParty => private_join_with_progress(role, ids, peer, progress),
        }
    }

    /// Helper's half: `Helper` serves the join ([`serve_helper_join`]) and returns
    /// `Some(sizes)`; `TwoParty` does nothing and returns `Ok(None)`.
    pub fn run_helper(
        self,
        first: &mut dyn Channel,
        second: &mut dyn Channel,
    ) -> Result<Option<JoinSizes>, JoinError> {
        match self {
            JoinMethod::Helper => serve_helper_join(first, second).map(Some),
            JoinMethod::TwoParty => Ok(None),
        }
    }
}

impl fmt::Display for JoinMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
