//! `mailoauth demo`.
use crate::exit::CliResult;
use crate::DemoArgs;
pub(crate) fn run(_a: &DemoArgs) -> CliResult {
    Ok(())
}
