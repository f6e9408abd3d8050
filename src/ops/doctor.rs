//! `cairn doctor`: every requirement checked (reads only; no job, no lease).

use super::Context;
use crate::doctor::DoctorReport;

/// Check the controller's requirements ([`crate::doctor`]); never fails as a whole: a check
/// that cannot be made says so in the report.
pub fn doctor(cx: &Context) -> DoctorReport {
    crate::doctor::run(cx.root(), cx.controller())
}
