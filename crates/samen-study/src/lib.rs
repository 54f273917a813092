//! samen study engine: study files, input validation, joint statistics with in-MPC disclosure control, and the party runner
#![forbid(unsafe_code)]
#![deny(missing_docs)]
