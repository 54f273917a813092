//! The study file of the synthetic data set.

use super::*;

/// A TOML string literal.
pub(super) fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A TOML array of string literals.
pub(super) fn string_array<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(quoted).collect();
    format!("[{}]", items.join(", "))
}

/// The study file of the synthetic data set with the given loopback ports and join method.
pub fn study_toml(ports: [u16; 3], join: Join) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Synthetic MijnOverheid-style study written by `samen synth mijnoverheid`.\n\
         # Every party uses this file byte for byte (its SHA-256 is checked when they connect).\n"
    );
    let _ = writeln!(
        s,
        "[study]\nname = {}\njoin = {}   # \"helper\" (helper-assisted) or \"two-party\" (Diffie–Hellman)\n",
        quoted(STUDY_NAME),
        quoted(join.as_str())
    );
    let _ = writeln!(
        s,
        "[parties.{}]         # holds the population register\naddress = \"127.0.0.1:{}\"\n",
        PARTIES[0], ports[0]
    );
    let _ = writeln!(
        s,
        "[parties.{}]         # holds the portal usage log\naddress = \"127.0.0.1:{}\"\n",
        PARTIES[1], ports[1]
    );
    let _ = writeln!(
        s,
        "[parties.{}]        # produces correlated randomness only, sees no data\naddress = \"127.0.0.1:{}\"\nrole = \"helper\"\n",
        PARTIES[2], ports[2]
    );
    let _ = writeln!(
        s,
        "[tables.register]\nparty = {}\nid = {{ column = \"bsn\", kind = \"bsn\" }}",
        quoted(PARTIES[0])
    );
    for (name, col) in [
        ("province", Column::Province),
        ("household", Column::Household),
        ("age_band", Column::AgeBand),
    ] {
        let _ = writeln!(
            s,
            "columns.{name} = {{ kind = \"category\", levels = {} }}",
            string_array(col.levels())
        );
    }
    let _ = writeln!(
        s,
        "columns.income = {{ kind = \"integer\", min = 0, max = {INCOME_MAX} }}\n"
    );
    let _ = writeln!(
        s,
        "[tables.usage]\nparty = {}\nid = {{ column = \"bsn\", kind = \"bsn\" }}",
        quoted(PARTIES[1])
    );
    let _ = writeln!(
        s,
        "columns.channel = {{ kind = \"category\", levels = {} }}",
        string_array(Column::Channel.levels())
    );
    let _ = writeln!(
        s,
        "columns.logins = {{ kind = \"integer\", min = 0, max = {LOGINS_MAX} }}"
    );
    for o in OUTPUTS {
        let _ = writeln!(s, "\n# {}", o.title);
        let _ = writeln!(s, "[[outputs]]\nname = {}", quoted(o.name));
        let _ = writeln!(s, "statistic = {}", quoted(o.statistic.as_str()));
        match o.of {
            [] => {}
            [one] => {
                let _ = writeln!(s, "of = {}", quoted(one.qualified()));
            }
            many => {
                let _ = writeln!(
                    s,
                    "of = {}",
                    string_array(many.iter().map(|c| c.qualified()))
                );
            }
        }
        if !o.x.is_empty() {
            let _ = writeln!(s, "x = {}", string_array(o.x.iter().map(|c| c.qualified())));
        }
        if !o.by.is_empty() {
            let by: Vec<String> =
                o.by.iter()
                    .map(|c| match (c, o.breaks) {
                        (Column::Income | Column::Logins, breaks) if !breaks.is_empty() => {
                            let b: Vec<String> = breaks.iter().map(ToString::to_string).collect();
                            format!(
                                "{{ column = {}, breaks = [{}] }}",
                                quoted(c.qualified()),
                                b.join(", ")
                            )
                        }
                        _ => quoted(c.qualified()),
                    })
                    .collect();
            let _ = writeln!(s, "by = [{}]", by.join(", "));
        }
        if !o.filters.is_empty() {
            let _ = writeln!(s, "where = {}", string_array(o.filters.iter().copied()));
        }
        let _ = writeln!(s, "min_cell = {}", o.min_cell);
        if let Some(e) = o.epsilon {
            let _ = writeln!(s, "epsilon = {e:?}");
        }
    }
    s
}
