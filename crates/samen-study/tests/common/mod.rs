//! Shared helpers of the samen-study integration tests.
#![allow(dead_code)]

use samen_study::input::InputTable;

pub use samen_testkit::Rng;

/// The study used by most tests: First = "alpha" (table ta), Second = "beta" (table tb), and
/// "helper".
pub fn study_header(min_a: i64, max_a: i64, min_b: i64, max_b: i64) -> String {
    let head = samen_testkit::study_head(
        "test-study",
        None,
        [("alpha", 1), ("beta", 2)],
        ("helper", 3),
    );
    head + &format!(
        r#"
[tables.ta]
party = "alpha"
id = {{ column = "id", kind = "text" }}
columns.ca = {{ kind = "category", levels = ["a0", "a1", "a2"] }}
columns.cb = {{ kind = "category", levels = ["b0", "b1"] }}
columns.va = {{ kind = "integer", min = {min_a}, max = {max_a} }}

[tables.tb]
party = "beta"
id = {{ column = "id", kind = "text" }}
columns.cc = {{ kind = "category", levels = ["c0", "c1"] }}
columns.cd = {{ kind = "category", levels = ["d0", "d1", "d2"] }}
columns.vb = {{ kind = "integer", min = {min_b}, max = {max_b} }}
"#
    )
}

pub fn output(name: &str, stat: &str, of: Option<&str>, by: &[&str], min_cell: u64) -> String {
    let by: Vec<String> = by.iter().map(|b| format!("\"{b}\"")).collect();
    let of = of.map(|o| format!("of = \"{o}\"\n")).unwrap_or_default();
    format!(
        "\n[[outputs]]\nname = \"{name}\"\nstatistic = \"{stat}\"\n{of}by = [{}]\nmin_cell = {min_cell}\n",
        by.join(", ")
    )
}

/// Random tables: `na` rows for ta, `nb` for tb, `common` identifiers shared.
pub fn random_tables(
    rng: &mut Rng,
    na: usize,
    nb: usize,
    common: usize,
    (min_a, max_a): (i64, i64),
    (min_b, max_b): (i64, i64),
) -> (InputTable, InputTable) {
    let mut ta = InputTable::new(&["id", "ca", "cb", "va", "extra"]);
    let mut tb = InputTable::new(&["extra", "id", "cc", "cd", "vb"]);
    for i in 0..na {
        let id = if i < common {
            format!("u{i}")
        } else {
            format!("a{i}")
        };
        ta.push(vec![
            id,
            format!("a{}", rng.below(3)),
            format!("b{}", rng.below(2)),
            rng.range(min_a, max_a).to_string(),
            "zzz".into(),
        ]);
    }
    // Second's rows in a different order.
    let mut ids: Vec<String> = (0..nb)
        .map(|i| {
            if i < common {
                format!("u{i}")
            } else {
                format!("b{i}")
            }
        })
        .collect();
    for i in (1..ids.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        ids.swap(i, j);
    }
    for id in ids {
        tb.push(vec![
            "x".into(),
            id,
            format!("c{}", rng.below(2)),
            format!("d{}", rng.below(3)),
            rng.range(min_b, max_b).to_string(),
        ]);
    }
    (ta, tb)
}

/// The study text with `join = "<method>"` in its `[study]` section.
pub fn with_join(text: &str, method: &str) -> String {
    text.replacen("[study]\n", &format!("[study]\njoin = \"{method}\"\n"), 1)
}

/// Both join methods' versions of a study text.
pub const JOIN_METHODS: [&str; 2] = ["helper", "two-party"];
