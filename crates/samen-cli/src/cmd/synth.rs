//! `samen synth`: reproducible synthetic data for trying samen out.
//!
//! The only data set so far is `mijnoverheid`, shaped like the case of Statistics Netherlands and
//! Logius (the operator of the MijnOverheid portal): a population register held by the bureau and
//! a usage log held by the portal, both keyed by the Dutch citizen service number (BSN).
//!
//! Everything is drawn from a ChaCha8 stream seeded by `--seed`, so the same arguments give the
//! same files byte for byte on every machine.
//!
//! * `register.csv` — `bsn,province,household,age_band,income`: distinct valid BSNs (11-test);
//!   every BSN that starts with `0` (about 10 %) is written with that zero dropped, as a
//!   spreadsheet would; province with realistic population weights; household type; age band;
//!   a right-skewed income in `0..=1_000_000`.
//! * `usage.csv` — `bsn,channel,logins`: about 90 % of the rows are distinct residents of the
//!   register, the rest valid BSNs that are not in it; half of the BSNs that start with `0` are
//!   written without it; the channel (`app`, `web` or the rare `machtiging`, logging in on
//!   someone else's behalf) and a skewed login count in `0..=10_000` depend on the age band.
//!   The rare channel makes small cells (and so suppression) visible in the smaller provinces.
//! * `study.toml` — the three parties on loopback, the join method (`--join`, helper-assisted
//!   by default), both tables with their declared levels and bounds, and the outputs of
//!   [`OUTPUTS`]: counts, sums, means and variances by category, a covariance of income and
//!   logins, a regression of logins on income, household type and channel, the correlation of
//!   income and logins, and one count released with differential privacy (ε = 1).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::CliError;

/// The data sets `samen synth` can generate.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataset {
    /// A population register and a portal usage log keyed by BSN (Statistics Netherlands and
    /// Logius, MijnOverheid).
    Mijnoverheid,
}

/// Arguments of `samen synth`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The data set to generate.
    #[arg(value_enum)]
    pub dataset: Dataset,
    /// Number of residents in the register (rows of register.csv).
    #[arg(long, default_value_t = DEFAULT_RESIDENTS)]
    pub residents: usize,
    /// Number of portal users (rows of usage.csv).
    #[arg(long, default_value_t = DEFAULT_USERS)]
    pub users: usize,
    /// Seed of the random generator: the same seed gives the same files.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Directory to write register.csv, usage.csv and study.toml to (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// The private-join method the study file asks for: `helper` (helper-assisted, seconds
    /// for 10^6 rows) or `two-party` (Diffie–Hellman between the data parties, minutes).
    #[arg(long, value_enum, default_value_t = Join::Helper)]
    pub join: Join,
}

/// The private-join method written into the study file (`[study] join`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Join {
    /// Helper-assisted join: the helper matches tags it cannot invert.
    #[default]
    Helper,
    /// Two-party Diffie–Hellman join between the data parties.
    TwoParty,
}

impl Join {
    /// The method's name in the study file.
    pub fn as_str(self) -> &'static str {
        match self {
            Join::Helper => "helper",
            Join::TwoParty => "two-party",
        }
    }
}

/// Default number of residents.
pub const DEFAULT_RESIDENTS: usize = 1_000_000;
/// Default number of portal users.
pub const DEFAULT_USERS: usize = 400_000;
/// Default seed.
pub const DEFAULT_SEED: u64 = 2026;
/// Most residents supported (the generator draws distinct 8-digit BSN prefixes).
pub const MAX_RESIDENTS: usize = 50_000_000;

/// Default loopback ports of bureau, portal and trustee in the study file `samen synth` writes.
pub const DEFAULT_PORTS: [u16; 3] = [7101, 7102, 7103];

/// Name of the study.
pub const STUDY_NAME: &str = "mijnoverheid-usage-synthetic";
/// Party names: register holder, usage holder, helper.
pub const PARTIES: [&str; 3] = ["bureau", "portal", "trustee"];

/// Provinces in the order Statistics Netherlands lists them, with population weights (percent).
pub const PROVINCES: [(&str, f64); 12] = [
    ("Groningen", 3.4),
    ("Friesland", 4.0),
    ("Drenthe", 2.8),
    ("Overijssel", 7.0),
    ("Flevoland", 2.5),
    ("Gelderland", 12.0),
    ("Utrecht", 8.0),
    ("Noord-Holland", 17.0),
    ("Zuid-Holland", 21.0),
    ("Zeeland", 2.2),
    ("Noord-Brabant", 15.0),
    ("Limburg", 6.0),
];

/// Household types of adults, with weights (percent).
pub const HOUSEHOLDS: [(&str, f64); 5] = [
    ("single", 24.0),
    ("couple", 30.0),
    ("couple_with_children", 33.0),
    ("single_parent", 7.0),
    ("other", 6.0),
];

/// Age bands of adults, with weights (percent).
pub const AGE_BANDS: [(&str, f64); 5] = [
    ("18-24", 11.0),
    ("25-44", 32.0),
    ("45-64", 33.0),
    ("65-74", 13.0),
    ("75+", 11.0),
];

/// Portal channels.
pub const CHANNELS: [&str; 3] = ["app", "web", "machtiging"];

/// Upper bound of `income`.
pub const INCOME_MAX: u32 = 1_000_000;
/// Upper bound of `logins`.
pub const LOGINS_MAX: u32 = 10_000;
/// The `min_cell` of every output.
pub const MIN_CELL: u64 = 10;

/// Share of usage rows whose BSN is a resident of the register.
const USERS_IN_REGISTER: f64 = 0.9;

/// The statistic of an output: the study file's own type.
pub use samen_study::spec::Statistic;

/// A column of the synthetic tables that outputs can refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// `register.province` (category).
    Province,
    /// `register.household` (category).
    Household,
    /// `register.age_band` (category).
    AgeBand,
    /// `register.income` (integer).
    Income,
    /// `usage.channel` (category).
    Channel,
    /// `usage.logins` (integer).
    Logins,
}

impl Column {
    /// `table.column` as in the study file and the output headers.
    pub fn qualified(self) -> &'static str {
        match self {
            Column::Province => "register.province",
            Column::Household => "register.household",
            Column::AgeBand => "register.age_band",
            Column::Income => "register.income",
            Column::Channel => "usage.channel",
            Column::Logins => "usage.logins",
        }
    }

    /// The declared levels of a category column (empty for integer columns).
    pub fn levels(self) -> Vec<&'static str> {
        match self {
            Column::Province => PROVINCES.iter().map(|p| p.0).collect(),
            Column::Household => HOUSEHOLDS.iter().map(|p| p.0).collect(),
            Column::AgeBand => AGE_BANDS.iter().map(|p| p.0).collect(),
            Column::Channel => CHANNELS.to_vec(),
            Column::Income | Column::Logins => Vec::new(),
        }
    }
}

/// One output of the synthetic study.
#[derive(Clone, Copy, Debug)]
pub struct OutputSpec {
    /// Output name (the runner writes `<name>.csv`, and companion files for some statistics).
    pub name: &'static str,
    /// What is computed per cell.
    pub statistic: Statistic,
    /// The value columns: one for sum, mean, variance and the response of a regression, two
    /// for a covariance, two or more for a correlation; none for a count.
    pub of: &'static [Column],
    /// The predictors of a regression, in order.
    pub x: &'static [Column],
    /// Grouping columns, first outermost.
    pub by: &'static [Column],
    /// Cells with fewer joined rows are suppressed.
    pub min_cell: u64,
    /// Differential privacy: ε of the discrete Laplace noise added inside MPC.
    pub epsilon: Option<f64>,
    /// One line saying what the table shows.
    pub title: &'static str,
}

impl OutputSpec {
    /// An output with no value columns, predictors, grouping or noise, and `min_cell` 10.
    const fn new(name: &'static str, statistic: Statistic, title: &'static str) -> OutputSpec {
        OutputSpec {
            name,
            statistic,
            of: &[],
            x: &[],
            by: &[],
            min_cell: MIN_CELL,
            epsilon: None,
            title,
        }
    }

    const fn of(mut self, of: &'static [Column]) -> OutputSpec {
        self.of = of;
        self
    }

    const fn by(mut self, by: &'static [Column]) -> OutputSpec {
        self.by = by;
        self
    }

    const fn x(mut self, x: &'static [Column]) -> OutputSpec {
        self.x = x;
        self
    }

    const fn epsilon(mut self, epsilon: f64) -> OutputSpec {
        self.epsilon = Some(epsilon);
        self
    }
}

/// ε of the differentially private output.
pub const EPSILON: f64 = 1.0;

/// The outputs of the synthetic study, in the order of the study file.
pub const OUTPUTS: [OutputSpec; 10] = [
    OutputSpec::new(
        "users_by_province_channel",
        Statistic::Count,
        "Portal users by province and channel",
    )
    .by(&[Column::Province, Column::Channel]),
    OutputSpec::new(
        "mean_logins_by_household",
        Statistic::Mean,
        "Mean logins per user by household type",
    )
    .of(&[Column::Logins])
    .by(&[Column::Household]),
    OutputSpec::new(
        "variance_logins_by_age_band",
        Statistic::Variance,
        "Mean and variance of logins by age band",
    )
    .of(&[Column::Logins])
    .by(&[Column::AgeBand]),
    OutputSpec::new(
        "logins_by_province",
        Statistic::Sum,
        "Total logins by province",
    )
    .of(&[Column::Logins])
    .by(&[Column::Province]),
    OutputSpec::new(
        "mean_income_by_channel",
        Statistic::Mean,
        "Mean income (register) by portal channel (usage)",
    )
    .of(&[Column::Income])
    .by(&[Column::Channel]),
    OutputSpec::new(
        "matched",
        Statistic::Count,
        "Residents who use the portal (size of the join)",
    ),
    OutputSpec::new(
        "covariance_income_logins_by_household",
        Statistic::Covariance,
        "Covariance of income (register) and logins (usage) by household type",
    )
    .of(&[Column::Income, Column::Logins])
    .by(&[Column::Household]),
    OutputSpec::new(
        "regression_logins",
        Statistic::Regression,
        "Logins regressed on income, household type and channel (OLS)",
    )
    .of(&[Column::Logins])
    .x(&[Column::Income, Column::Household, Column::Channel]),
    OutputSpec::new(
        "correlation_income_logins",
        Statistic::Correlation,
        "Correlation of income (register) and logins (usage)",
    )
    .of(&[Column::Income, Column::Logins]),
    OutputSpec::new(
        "users_by_province_dp",
        Statistic::Count,
        "Portal users by province, differentially private (ε = 1)",
    )
    .by(&[Column::Province])
    .epsilon(EPSILON),
];

/// Errors of `samen synth`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// The requested sizes cannot be generated.
    #[error("{0}")]
    Size(String),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// What was generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthSummary {
    /// Rows of register.csv.
    pub residents: usize,
    /// Rows of usage.csv.
    pub users: usize,
    /// Usage rows whose BSN is in the register.
    pub users_in_register: usize,
    /// Register rows written with 8 digits.
    pub register_eight_digit: usize,
    /// Path of register.csv.
    pub register: PathBuf,
    /// Path of usage.csv.
    pub usage: PathBuf,
    /// Path of study.toml.
    pub study: PathBuf,
}

/// Size and seed of a synthetic data set and the ports of its study file.
#[derive(Clone, Copy, Debug)]
pub struct SynthConfig {
    /// Rows of register.csv.
    pub residents: usize,
    /// Rows of usage.csv.
    pub users: usize,
    /// Seed of the random generator.
    pub seed: u64,
    /// Loopback ports of bureau, portal and trustee.
    pub ports: [u16; 3],
    /// The join method of the study file.
    pub join: Join,
}

/// Run `samen synth`.
pub fn run(args: Args) -> Result<(), CliError> {
    let Dataset::Mijnoverheid = args.dataset;
    let start = std::time::Instant::now();
    let s = generate(
        &SynthConfig {
            residents: args.residents,
            users: args.users,
            seed: args.seed,
            ports: DEFAULT_PORTS,
            join: args.join,
        },
        &args.out,
    )?;
    println!(
        "wrote {} ({} residents, {} with the leading zero dropped), {} ({} users, {} of them in the register) and {} in {:.2} s",
        s.register.display(),
        s.residents,
        s.register_eight_digit,
        s.usage.display(),
        s.users,
        s.users_in_register,
        s.study.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One resident of the register.
struct Resident {
    bsn: u32,
    province: u8,
    household: u8,
    age: u8,
    income: u32,
}

/// Generate the data set of `cfg` into `dir` (created if missing).
pub fn generate(cfg: &SynthConfig, dir: &Path) -> Result<SynthSummary, SynthError> {
    if cfg.residents > MAX_RESIDENTS {
        return Err(SynthError::Size(format!(
            "--residents {} is too large: at most {MAX_RESIDENTS} are supported",
            cfg.residents
        )));
    }
    let in_register = ((cfg.users as f64) * USERS_IN_REGISTER).round() as usize;
    let in_register = in_register.min(cfg.residents).min(cfg.users);
    let outsiders = cfg.users - in_register;
    if cfg.residents + outsiders > MAX_RESIDENTS {
        return Err(SynthError::Size(format!(
            "--users {} is too large for {} residents: at most {} distinct BSNs are supported",
            cfg.users, cfg.residents, MAX_RESIDENTS
        )));
    }
    std::fs::create_dir_all(dir).map_err(|source| SynthError::Io {
        path: dir.to_path_buf(),
        source,
    })?;

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let bsns = distinct_bsns(&mut rng, cfg.residents + outsiders);
    let (register_bsns, outsider_bsns) = bsns.split_at(cfg.residents);

    let province_cdf = cdf(&PROVINCES);
    let household_cdf = cdf(&HOUSEHOLDS);
    let age_cdf = cdf(&AGE_BANDS);
    let residents: Vec<Resident> = register_bsns
        .iter()
        .map(|&bsn| {
            let province = pick(&mut rng, &province_cdf);
            let household = pick(&mut rng, &household_cdf);
            let age = pick(&mut rng, &age_cdf);
            let income = income(&mut rng, age);
            Resident {
                bsn,
                province,
                household,
                age,
                income,
            }
        })
        .collect();

    // Usage rows: `in_register` distinct residents (partial Fisher-Yates) and the outsiders,
    // shuffled together. Each row is (bsn, age band, household) — the latter two drive the
    // channel and the login count; outsiders get them at random.
    let mut order: Vec<u32> = (0..cfg.residents as u32).collect();
    for i in 0..in_register {
        let j = rng.random_range(i..order.len());
        order.swap(i, j);
    }
    let mut usage: Vec<(u32, u8, u8)> = Vec::with_capacity(cfg.users);
    for &r in &order[..in_register] {
        let res = &residents[r as usize];
        usage.push((res.bsn, res.age, res.household));
    }
    drop(order);
    for &bsn in outsider_bsns {
        let age = pick(&mut rng, &age_cdf);
        let household = pick(&mut rng, &household_cdf);
        usage.push((bsn, age, household));
    }
    for i in (1..usage.len()).rev() {
        let j = rng.random_range(0..=i);
        usage.swap(i, j);
    }

    // register.csv
    let register_path = dir.join("register.csv");
    let mut eight_digit = 0usize;
    write_file(&register_path, |w, buf| {
        w.write_all(b"bsn,province,household,age_band,income\n")?;
        for r in &residents {
            buf.clear();
            if r.bsn < 100_000_000 {
                eight_digit += 1;
                push_padded(buf, r.bsn, 8);
            } else {
                push_padded(buf, r.bsn, 9);
            }
            buf.push(b',');
            buf.extend_from_slice(PROVINCES[r.province as usize].0.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(HOUSEHOLDS[r.household as usize].0.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(AGE_BANDS[r.age as usize].0.as_bytes());
            buf.push(b',');
            push_padded(buf, r.income, 1);
            buf.push(b'\n');
            w.write_all(buf)?;
        }
        Ok(())
    })?;
    drop(residents);

    // usage.csv
    let usage_path = dir.join("usage.csv");
    write_file(&usage_path, |w, buf| {
        w.write_all(b"bsn,channel,logins\n")?;
        for &(bsn, age, household) in &usage {
            buf.clear();
            let drop_zero = bsn < 100_000_000 && rng.random_bool(0.5);
            push_padded(buf, bsn, if drop_zero { 8 } else { 9 });
            buf.push(b',');
            let channel = channel(&mut rng, age);
            buf.extend_from_slice(CHANNELS[channel as usize].as_bytes());
            buf.push(b',');
            push_padded(buf, logins(&mut rng, age, household, channel), 1);
            buf.push(b'\n');
            w.write_all(buf)?;
        }
        Ok(())
    })?;

    let study_path = dir.join("study.toml");
    std::fs::write(&study_path, study_toml(cfg.ports, cfg.join)).map_err(|source| {
        SynthError::Io {
            path: study_path.clone(),
            source,
        }
    })?;

    Ok(SynthSummary {
        residents: cfg.residents,
        users: cfg.users,
        users_in_register: in_register,
        register_eight_digit: eight_digit,
        register: register_path,
        usage: usage_path,
        study: study_path,
    })
}

/// `n` distinct valid BSNs: random distinct 8-digit prefixes (not all zeros) whose 11-test check
/// digit is not 10, each completed with its check digit.
fn distinct_bsns(rng: &mut ChaCha8Rng, n: usize) -> Vec<u32> {
    const PREFIXES: u32 = 100_000_000;
    let mut seen = vec![0u64; (PREFIXES as usize).div_ceil(64)];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let p = rng.random_range(1..PREFIXES);
        let Some(check) = check_digit(p) else {
            continue;
        };
        let (word, bit) = ((p / 64) as usize, p % 64);
        if seen[word] >> bit & 1 == 1 {
            continue;
        }
        seen[word] |= 1 << bit;
        out.push(p * 10 + check);
    }
    out
}

/// The 11-test check digit of an 8-digit prefix, `None` when it would be 10.
pub fn check_digit(prefix: u32) -> Option<u32> {
    // 9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 (mod 11)  ⇒  d9 = (Σ weights·digits) mod 11.
    let mut p = prefix;
    let mut s = 0u32;
    for weight in 2..=9 {
        s += weight * (p % 10);
        p /= 10;
    }
    let d = s % 11;
    (d < 10).then_some(d)
}

/// Cumulative thresholds (on a u32 scale) of a weighted list.
fn cdf<const N: usize>(weights: &[(&str, f64); N]) -> [u32; N] {
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut acc = 0.0;
    let mut out = [u32::MAX; N];
    for (o, w) in out.iter_mut().zip(weights.iter()) {
        acc += w.1;
        *o = ((acc / total) * f64::from(u32::MAX)).min(f64::from(u32::MAX)) as u32;
    }
    out[N - 1] = u32::MAX;
    out
}

/// Draw an index from cumulative thresholds.
fn pick<const N: usize>(rng: &mut ChaCha8Rng, cdf: &[u32; N]) -> u8 {
    let u: u32 = rng.random();
    cdf.iter().position(|&c| u <= c).unwrap_or(N - 1) as u8
}

/// A standard normal deviate (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Yearly income: none for some, otherwise log-normal by age band, capped.
fn income(rng: &mut ChaCha8Rng, age: u8) -> u32 {
    const MU: [f64; 5] = [9.7, 10.5, 10.75, 10.25, 10.05];
    if rng.random_bool(0.04) {
        return 0;
    }
    let mu = MU[age as usize % MU.len()];
    let v = (mu + 0.65 * normal(rng)).exp();
    v.min(f64::from(INCOME_MAX)) as u32
}

/// Channel by age band: the young prefer the app, the old the web; logging in on someone else's
/// behalf (`machtiging`) is rare, mostly for the oldest.
fn channel(rng: &mut ChaCha8Rng, age: u8) -> u8 {
    const APP: [f64; 5] = [0.72, 0.6, 0.45, 0.3, 0.15];
    const MACHTIGING: [f64; 5] = [0.0002, 0.0002, 0.0003, 0.0008, 0.003];
    let a = age as usize % APP.len();
    let u: f64 = rng.random();
    if u < MACHTIGING[a] {
        2
    } else if u < MACHTIGING[a] + APP[a] {
        0
    } else {
        1
    }
}

/// Logins in a year: geometric-like with a mean by age band and household, a few heavy users.
fn logins(rng: &mut ChaCha8Rng, age: u8, household: u8, channel: u8) -> u32 {
    const MEAN: [f64; 5] = [4.0, 9.0, 11.0, 7.0, 3.0];
    const HOUSEHOLD: [f64; 5] = [0.9, 1.0, 1.15, 1.3, 0.8];
    let mut mean =
        MEAN[age as usize % MEAN.len()] * HOUSEHOLD[household as usize % HOUSEHOLD.len()];
    if channel == 2 {
        mean *= 0.5;
    }
    if rng.random_bool(0.005) {
        mean *= 60.0;
    }
    let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let v = (-mean * u.ln()).floor();
    v.min(f64::from(LOGINS_MAX)) as u32
}

/// Append `v` in decimal, left-padded with zeros to `width` digits.
fn push_padded(buf: &mut Vec<u8>, mut v: u32, width: usize) {
    let mut tmp = [0u8; 10];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = tmp.len() - i;
    for _ in digits..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Write a file through a buffered writer and a reusable line buffer.
fn write_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>, &mut Vec<u8>) -> std::io::Result<()>,
) -> Result<(), SynthError> {
    let io = |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(128);
    body(&mut w, &mut buf).map_err(io)?;
    w.flush().map_err(io)?;
    Ok(())
}

/// A TOML string literal.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A TOML array of string literals.
fn string_array<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
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
            let _ = writeln!(
                s,
                "by = {}",
                string_array(o.by.iter().map(|c| c.qualified()))
            );
        }
        let _ = writeln!(s, "min_cell = {}", o.min_cell);
        if let Some(e) = o.epsilon {
            let _ = writeln!(s, "epsilon = {e:?}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes_11_test(bsn: u32) -> bool {
        let mut d = [0u32; 9];
        let mut v = bsn;
        for x in d.iter_mut().rev() {
            *x = v % 10;
            v /= 10;
        }
        let s: i64 = (0..8)
            .map(|i| i64::from(9 - i as u32) * i64::from(d[i]))
            .sum::<i64>()
            - i64::from(d[8]);
        s.rem_euclid(11) == 0 && bsn != 0
    }

    #[test]
    fn check_digit_agrees_with_the_11_test() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for bsn in distinct_bsns(&mut rng, 10_000) {
            assert!(passes_11_test(bsn), "{bsn}");
        }
        // A known valid BSN (the example from the government's documentation): 111222333.
        assert_eq!(check_digit(11_122_233), Some(3));
    }

    #[test]
    fn padding() {
        let mut b = Vec::new();
        push_padded(&mut b, 1234567, 8);
        assert_eq!(b, b"01234567");
        b.clear();
        push_padded(&mut b, 0, 1);
        assert_eq!(b, b"0");
        b.clear();
        push_padded(&mut b, 1_000_000, 1);
        assert_eq!(b, b"1000000");
    }

    #[test]
    fn study_file_is_valid_toml() {
        let v: toml::Value = toml::from_str(&study_toml([1, 2, 3], Join::TwoParty)).unwrap();
        assert_eq!(v["outputs"].as_array().unwrap().len(), OUTPUTS.len());
    }
}
