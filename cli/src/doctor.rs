//! `mailoauth doctor`.
use crate::exit::CliResult;
use crate::{Cli, DoctorArgs};
pub(crate) fn run(_cli: &Cli, _a: &DoctorArgs) -> CliResult {
    Ok(())
}
