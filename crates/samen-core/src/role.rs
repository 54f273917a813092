//! The role a party plays in a samen protocol.

use std::fmt;

/// The three parties of every samen protocol: the data party whose name sorts first, the
/// other data party, and the helper.
///
/// The two data parties ([`Role::First`] and [`Role::Second`]) hold the tables, run the data
/// party's half of a private join and compute on additive shares; the helper
/// ([`Role::Helper`]) serves the helper-assisted join and deals correlated randomness, and
/// never holds data. A study decides the data roles from the party names: the data party
/// whose name sorts first is [`Role::First`].
///
/// APIs that only a data party can call (a [`Computer`](crate::mpc::Computer) session, a data
/// party's half of a join) take a `Role` and refuse [`Role::Helper`] with a typed error before
/// anything is sent; they never panic on it. One type for all three parties keeps a party's
/// role one value from the study file to the summary it writes, at the price of that one
/// runtime check at the entry of each data-party API.
///
/// ```
/// use samen_core::Role;
/// assert_eq!(Role::First.other(), Some(Role::Second));
/// assert_eq!(Role::Helper.other(), None);
/// assert!(Role::Second.is_data() && !Role::Helper.is_data());
/// assert_eq!(Role::Helper.to_string(), "helper");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The data party whose name sorts first.
    First,
    /// The other data party.
    Second,
    /// The helper: serves the helper-assisted join and deals correlated randomness; holds no
    /// data.
    Helper,
}

impl Role {
    /// All three roles, data parties first.
    pub const ALL: [Role; 3] = [Role::First, Role::Second, Role::Helper];

    /// The other data party's role, or `None` for the helper (which has no counterpart).
    pub fn other(self) -> Option<Role> {
        match self {
            Role::First => Some(Role::Second),
            Role::Second => Some(Role::First),
            Role::Helper => None,
        }
    }

    /// `true` for the two data parties, `false` for the helper.
    pub fn is_data(self) -> bool {
        matches!(self, Role::First | Role::Second)
    }

    /// The role's name in summaries, logs and messages: `"first"`, `"second"` or `"helper"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::First => "first",
            Role::Second => "second",
            Role::Helper => "helper",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_counterparts() {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["first", "second", "helper"]);
        for r in Role::ALL {
            assert_eq!(r.to_string(), r.as_str());
            assert_eq!(r.other().is_some(), r.is_data());
            assert_eq!(r.other().and_then(Role::other), r.is_data().then_some(r));
        }
    }
}
