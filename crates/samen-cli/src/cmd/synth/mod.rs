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
//!   income and logins, one count released with differential privacy (ε = 1), the share of
//!   residents who use the portal by province and household type (`rate`), and a count of
//!   active working-age users by income band (`where` filters, bands).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::CliError;

mod generate;
mod study;
#[cfg(test)]
mod tests;

pub use generate::generate;
pub use study::study_toml;

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
    /// The `where` filters (the population), as in the study file.
    pub filters: &'static [&'static str],
    /// Breaks of the integer column among `by` grouped in bands (empty: none).
    pub breaks: &'static [i64],
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
            filters: &[],
            breaks: &[],
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

    const fn filters(mut self, filters: &'static [&'static str]) -> OutputSpec {
        self.filters = filters;
        self
    }

    const fn breaks(mut self, breaks: &'static [i64]) -> OutputSpec {
        self.breaks = breaks;
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
pub const OUTPUTS: [OutputSpec; 12] = [
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
    // Noisy at a level no exact output releases (age band × household): the exact margins by
    // age band and by household are coarser, so they leave noise on every cell.
    OutputSpec::new(
        "users_by_age_band_household_dp",
        Statistic::Count,
        "Portal users by age band and household type, differentially private (ε = 1)",
    )
    .by(&[Column::AgeBand, Column::Household])
    .epsilon(EPSILON),
    OutputSpec::new(
        "usage_rate_by_province_household",
        Statistic::Rate,
        "Share of residents who use the portal, by province and household type",
    )
    .by(&[Column::Province, Column::Household]),
    OutputSpec::new(
        "active_users_by_income_band",
        Statistic::Count,
        "Active portal users (at least 5 logins) of working age, by income band",
    )
    .by(&[Column::Income])
    .breaks(&[0, 20_000, 40_000, 80_000])
    .filters(&[
        "usage.logins >= 5",
        "register.age_band in [\"18-24\", \"25-44\", \"45-64\"]",
    ]),
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
