//! Tests of the input reader: the parallel reader against a row-by-row reference.

use super::check::*;
use super::read::*;
use super::*;
use crate::spec::{Statistic, StudyBuilder};
use proptest::prelude::*;

fn study() -> Study {
    let many: Vec<String> = (0..20).map(|i| format!("l{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    StudyBuilder::new("t")
        .data_party("a", "x:1")
        .data_party("b", "x:2")
        .helper("h", "x:3")
        .table("ta", "a", "id", norm::IdKind::Bsn)
        .category("ta", "c", &["a", "b", "é", "c d", "long-level-name"])
        .integer("ta", "v", -5, 1000)
        .table("tb", "b", "key", norm::IdKind::Text)
        .category("tb", "m", &many)
        .integer("tb", "w", 0, 9)
        .output("n", Statistic::Count, None, &["ta.c"], 0)
        .build()
        .unwrap()
}

/// The reference: every row as a vector of text fields, checked in row order with a map
/// from identifier to its first line; every problem of every row recorded, a row with one left
/// out; a malformed record ends the reading.
fn reference(spec: &TableSpec, bytes: &[u8]) -> Result<PartyTable, InputError> {
    let source_name = "src";
    let mut rdr = PhysicalLineReader::new(bytes, spec.delimiter);
    let header = read_header(&mut rdr, source_name)?;
    let mut record = csv::ByteRecord::new();
    let mut missing = Vec::new();
    let mut find = |col: &str| {
        column_position(spec, source_name, &header, col).unwrap_or_else(|e| {
            missing.push(e);
            0
        })
    };
    let id_pos = find(&spec.id.column);
    let mut cols = Vec::new();
    for (name, kind) in &spec.columns {
        let out = match kind {
            ColumnKind::Category { .. } => ColumnData::Category(Vec::new()),
            ColumnKind::Integer { .. } => ColumnData::Integer(Vec::new()),
        };
        cols.push((name, find(name), kind, out));
    }
    if let Some(e) = InputError::from_problems(source_name, missing.len() as u64, missing) {
        return Err(e);
    }
    let mut ids = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut problems: Vec<InputError> = Vec::new();
    let mut stopped = None;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                stopped = Some(csv_err(source_name, e));
                break;
            }
        }
        let (line, fields) = match utf8_fields(source_name, &record) {
            Ok(f) => f,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let get = |pos: usize| fields.get(pos).copied().unwrap_or("");
        let mut row_problems = Vec::new();
        let id = norm::normalise(spec.id.kind, get(id_pos))
            .map_err(|reason| InputError::InvalidId {
                source_name: source_name.to_string(),
                line,
                column: spec.id.column.clone(),
                reason,
            })
            .map_err(|e| row_problems.push(e))
            .ok();
        let mut values = Vec::new();
        for (name, pos, kind, _) in &cols {
            let field = get(*pos).trim();
            let column = name.to_string();
            let source_name = source_name.to_string();
            let value: Result<i64, InputError> = match kind {
                ColumnKind::Category { levels } => levels
                    .iter()
                    .position(|l| l == field)
                    .map(|i| i as i64)
                    .ok_or(InputError::UnknownLevel {
                        source_name,
                        line,
                        column,
                        levels: levels.len(),
                    }),
                ColumnKind::Integer { min, max } => match field.parse::<i64>() {
                    Err(_) => Err(InputError::NotInteger {
                        source_name,
                        line,
                        column,
                    }),
                    Ok(v) if v < *min || v > *max => Err(InputError::OutOfRange {
                        source_name,
                        line,
                        column,
                        min: *min,
                        max: *max,
                    }),
                    Ok(v) => Ok(v),
                },
            };
            match value {
                Ok(v) => values.push(v),
                Err(e) => row_problems.push(e),
            }
        }
        let Some(id) = id.filter(|_| row_problems.is_empty()) else {
            problems.extend(row_problems);
            continue;
        };
        if let Some(&first_line) = seen.get(&id) {
            problems.push(InputError::DuplicateId {
                source_name: source_name.to_string(),
                line,
                column: spec.id.column.clone(),
                first_line,
            });
            continue;
        }
        for ((_, _, _, out), v) in cols.iter_mut().zip(values) {
            match out {
                ColumnData::Category(out) => out.push(v as u32),
                ColumnData::Integer(out) => out.push(v),
            }
        }
        seen.insert(id.clone(), line);
        ids.push(id);
    }
    let mut total = problems.len() as u64;
    problems.truncate(MAX_REPORTED_ERRORS);
    if let Some(e) = stopped {
        total += 1;
        problems.push(e);
    }
    if let Some(e) = InputError::from_problems(source_name, total, problems) {
        return Err(e);
    }
    Ok(PartyTable {
        table: spec.name.clone(),
        ids,
        columns: cols
            .into_iter()
            .map(|(name, _, _, out)| (name.clone(), out))
            .collect(),
    })
}

/// Both readers on `bytes` give the same table or the same error (compared in full by
/// their debug form).
fn same(table: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    let study = study();
    let spec = study.table(table).unwrap();
    let want = format!("{:?}", reference(spec, bytes));
    let got = read_csv_from(spec, "src", bytes);
    prop_assert_eq!(&format!("{got:?}"), &want);
    // Small windows and batches: rows joined across batches and windows, errors in any.
    for (batch, window) in [(1, 1), (2, 5), (3, 7), (4, 4)] {
        let got = read_csv_chunked(spec, "src", bytes, Chunking { batch, window });
        prop_assert_eq!(
            &format!("{got:?}"),
            &want,
            "batch {}, window {}",
            batch,
            window
        );
    }
    Ok(())
}

fn bsn() -> impl Strategy<Value = String> {
    prop_oneof![
        // A pool of valid BSNs, so that repeats are frequent; 8-digit and padded forms.
        4 => prop_oneof![
            Just("111222333"),
            Just("123456782"),
            Just("012345672"),
            Just("12345672"),
            Just(" 12345672\t"),
            Just("100000010"),
        ]
        .prop_map(str::to_string),
        1 => prop_oneof![
            Just("123456789"),
            Just("000000000"),
            Just("1234567"),
            Just("12a456782"),
            Just(""),
            Just("\u{a0}111222333"),
        ]
        .prop_map(str::to_string),
    ]
}

fn text_id() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-c]{1,2}",
        1 => " [a-c]{1,2} ",
        1 => Just("\u{b}a".to_string()),
        1 => Just("é".to_string()),
        1 => Just(" ".to_string()),
    ]
}

fn category(levels: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(levels).prop_map(str::to_string),
        1 => proptest::sample::select(levels).prop_map(|l| format!(" {l}\u{a0}")),
        1 => proptest::sample::select(levels).prop_map(|l| format!("\u{b}{l}")),
        1 => Just("zz".to_string()),
        1 => Just(String::new()),
    ]
}

fn integer() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (-8i64..1003).prop_map(|v| v.to_string()),
        1 => (0i64..10).prop_map(|v| format!(" +{v} ")),
        1 => prop_oneof![
            Just("-"),
            Just("+"),
            Just(""),
            Just("1.5"),
            Just("99999999999999999999"),
            Just("-9223372036854775808"),
            Just("\u{2003}7"),
            Just("007"),
        ]
        .prop_map(str::to_string),
    ]
}

const LEVELS_C: &[&str] = &["a", "b", "é", "c d", "long-level-name"];
const LEVELS_M: &[&str] = &[
    "l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9", "l10", "l11", "l12", "l13", "l14",
    "l15", "l16", "l17", "l18", "l19",
];

/// A CSV field as written: plain, or quoted (with the quotes doubled inside).
fn write_field(out: &mut Vec<u8>, field: &str, quote: bool) {
    if quote || field.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

/// A file: header (the columns in a given order, with an extra column) and rows, with
/// mistakes: rows with a field too many or too few, bytes that are not UTF-8 (also split
/// across two fields), blank lines, CRLF line ends, quoted fields over two lines.
fn file(
    names: [&'static str; 4],
    rows: Vec<[String; 4]>,
    mistakes: Vec<(usize, u8)>,
    crlf: bool,
) -> Vec<u8> {
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut out = Vec::new();
    out.extend_from_slice(names.join(",").as_bytes());
    out.extend_from_slice(eol);
    for (i, row) in rows.iter().enumerate() {
        let mistake = mistakes.iter().find(|m| m.0 == i).map(|m| m.1);
        for (j, f) in row.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            match (mistake, j) {
                (Some(0), 1) => out.extend_from_slice(b"x\xff"),
                // "é" split over two fields: each field is invalid on its own.
                (Some(1), 1) => out.extend_from_slice(b"\xc3"),
                (Some(1), 2) => out.extend_from_slice(b"\xa9"),
                (Some(2), 3) => write_field(&mut out, &format!("{f}\nsecond"), false),
                (Some(3), 2) => write_field(&mut out, f, true),
                _ => write_field(&mut out, f, false),
            }
        }
        match mistake {
            Some(4) => out.extend_from_slice(b",extra"),
            Some(5) => {
                out.extend_from_slice(eol);
                out.extend_from_slice(eol);
            }
            Some(6) => out.extend_from_slice(b"\xe2\x82"),
            _ => {}
        }
        out.extend_from_slice(eol);
    }
    out
}

fn mistakes() -> impl Strategy<Value = Vec<(usize, u8)>> {
    proptest::collection::vec((0usize..40, 0u8..7), 0..3)
}

proptest! {
    #[test]
    fn bsn_table_reads_as_the_reference(
        rows in proptest::collection::vec(
            (bsn(), category(LEVELS_C), integer(), "[a-z,\"]{0,3}")
                .prop_map(|(a, b, c, d)| [a, b, c, d]),
            0..40,
        ),
        mistakes in mistakes(),
        crlf in any::<bool>(),
        short in 0usize..40,
    ) {
        // The header names id, c, v and an extra column, in a shuffled order below.
        let mut rows = rows;
        if let Some(r) = rows.get_mut(short) {
            // A row with a field too few.
            r[3] = String::new();
        }
        let bytes = file([" id", "c", "v\u{feff}", "x"], rows.clone(), mistakes.clone(), crlf);
        same("ta", &bytes)?;
        let reordered: Vec<[String; 4]> = rows
            .into_iter()
            .map(|[a, b, c, d]| [d, c, a, b])
            .collect();
        let bytes = file(["x", "v", "\u{feff}id", "c"], reordered, mistakes, crlf);
        same("ta", &bytes)?;
    }

    #[test]
    fn text_table_reads_as_the_reference(
        rows in proptest::collection::vec(
            (text_id(), category(LEVELS_M), integer(), "[a-z]{0,2}")
                .prop_map(|(a, b, c, d)| [a, b, c, d]),
            0..40,
        ),
        mistakes in mistakes(),
        crlf in any::<bool>(),
    ) {
        let bytes = file(["key", "m", "w", "x"], rows, mistakes, crlf);
        same("tb", &bytes)?;
    }

    #[test]
    fn any_bytes_read_as_the_reference(
        body in proptest::collection::vec(
            prop_oneof![
                Just(b'1'), Just(b'2'), Just(b'a'), Just(b','), Just(b'\n'), Just(b'"'),
                Just(b' '), Just(0xc3), Just(0xa9), Just(b'l'),
            ],
            0..200,
        ),
    ) {
        let mut bytes = b"key,m,w\nb,l1,3\n".to_vec();
        bytes.extend_from_slice(&body);
        same("tb", &bytes)?;
    }
}

proptest! {
    #[test]
    fn valid_tables_read_as_the_reference_and_in_memory(
        rows in proptest::collection::vec(
            (any::<bool>(), category(LEVELS_M), 0i64..10, "[a-z]{0,2}"),
            0..300,
        ),
        repeat in proptest::option::of((0usize..300, 0usize..300)),
        // Blank lines and quoted line breaks, which move the lines of the rows after them.
        breaks in proptest::collection::vec((0usize..300, prop_oneof![Just(2u8), Just(5u8)]), 0..20),
    ) {
        // Distinct identifiers (sometimes padded), unless `repeat` copies one to another row.
        let mut ids: Vec<String> = (0..rows.len())
            .map(|i| if rows[i].0 { format!(" u{i} ") } else { format!("u{i}") })
            .collect();
        if let Some((from, to)) = repeat {
            if from < ids.len() && to < ids.len() {
                ids[to] = format!("u{from}");
            }
        }
        let fields: Vec<[String; 4]> = rows
            .iter()
            .zip(&ids)
            .map(|((_, m, w, x), id)| [id.clone(), m.trim().to_string(), w.to_string(), x.clone()])
            .collect();
        let bytes = file(["key", "m", "w", "x"], fields.clone(), breaks, false);
        same("tb", &bytes)?;
        let study = study();
        let mut table = InputTable::new(&["key", "m", "w", "x"]);
        for f in &fields {
            table.push(f.to_vec());
        }
        let in_memory = table.validate(&study, "tb");
        let bytes = file(["key", "m", "w", "x"], fields, Vec::new(), false);
        let from_csv = read_csv_from(study.table("tb").unwrap(), "src", &bytes[..]);
        match (in_memory, from_csv) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => {
                let a = a.to_string().replace("<in-memory table tb>", "src");
                prop_assert_eq!(a, b.to_string());
            }
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
        }
    }
}

#[test]
fn every_problem_is_reported_in_line_order() {
    let study = study();
    let spec = study.table("tb").unwrap();
    // Line 4 repeats line 2; line 6 has a bad integer (a blank line shifts the numbers); line 7
    // has a bad level and a bad integer; line 8 repeats line 2 again.
    let bytes = b"key,m,w\na,l1,1\nb,l2,2\na,l3,3\n\nc,l4,x\nd,zz,10\na,l5,5\n";
    let e = read_csv_from(spec, "src", &bytes[..]).unwrap_err();
    let InputError::Many { total, errors, .. } = &e else {
        panic!("{e}");
    };
    assert_eq!(*total, 5);
    let got: Vec<(u64, &str)> = errors
        .iter()
        .map(|e| {
            let kind = match e {
                InputError::DuplicateId { first_line: 2, .. } => "repeat",
                InputError::NotInteger { .. } => "integer",
                InputError::UnknownLevel { .. } => "level",
                InputError::OutOfRange { .. } => "range",
                e => panic!("{e}"),
            };
            (e.line().unwrap(), kind)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (4, "repeat"),
            (6, "integer"),
            (7, "level"),
            (7, "range"),
            (8, "repeat")
        ]
    );
    let msg = e.to_string();
    assert!(msg.starts_with("src: 5 problems:"), "{msg}");
    // One problem is reported as itself.
    let bytes = b"key,m,w\na,l1,1\nc,l4,x\n";
    assert!(matches!(
        read_csv_from(spec, "src", &bytes[..]).unwrap_err(),
        InputError::NotInteger { line: 3, .. }
    ));
}

#[test]
fn problems_beyond_the_limit_are_counted_and_batches_merge_in_row_order() {
    let study = study();
    let spec = study.table("tb").unwrap();
    let mut text = String::from("key,m,w\n");
    for i in 0..1000 {
        // Every third row has a bad integer.
        let w = if i % 3 == 1 {
            "x".to_string()
        } else {
            (i % 10).to_string()
        };
        text.push_str(&format!("k{i},l1,{w}\n"));
    }
    let want: Vec<u64> = (0..1000u64).filter(|i| i % 3 == 1).map(|i| i + 2).collect();
    for chunking in [
        CHUNKING,
        Chunking {
            batch: 7,
            window: 50,
        },
        Chunking {
            batch: 1,
            window: 3,
        },
    ] {
        let e = read_csv_chunked(spec, "src", text.as_bytes(), chunking).unwrap_err();
        let InputError::Many { total, errors, .. } = &e else {
            panic!("{e}");
        };
        assert_eq!(*total, want.len() as u64);
        assert_eq!(errors.len(), MAX_REPORTED_ERRORS);
        let lines: Vec<u64> = errors.iter().map(|e| e.line().unwrap()).collect();
        assert_eq!(lines, want[..MAX_REPORTED_ERRORS]);
        assert!(e.to_string().contains("the first 100 listed"), "{e}");
    }
}

#[test]
fn all_missing_columns_are_reported() {
    let study = study();
    let spec = study.table("tb").unwrap();
    let e = read_csv_from(spec, "src", &b"m,other\n"[..]).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(&e, InputError::Many { total: 2, .. })
            && msg.contains("'key'")
            && msg.contains("'w'"),
        "{msg}"
    );
}

#[test]
fn lines_of_rows_follow_breaks() {
    let mut lines = Lines::default();
    for (row, line) in [(0, 2), (1, 3), (2, 5), (3, 6), (4, 9)] {
        lines.push(row, line);
    }
    assert_eq!(lines.breaks.len(), 3);
    let got: Vec<u64> = (0..5).map(|r| lines.line(r)).collect();
    assert_eq!(got, vec![2, 3, 5, 6, 9]);
}
