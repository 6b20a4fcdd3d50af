//! The one place store changes record audit entries ([`crate::audit`]).
//!
//! Every sensitive change calls [`record`] inside its own write transaction,
//! so the entry commits with the change or not at all.

use super::WriteCtx;
use crate::Result;

pub use crate::audit::Outcome;

/// Who did something, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `operator`, `tenant:<id>`, `cli`, `system`, or `unknown`.
    pub who: String,
    /// Source address (`ip:port`), `cli` or `internal`.
    pub source: String,
}

impl Actor {
    /// The retention sweeper and other service-internal tasks.
    pub fn system() -> Actor {
        Actor {
            who: "system".into(),
            source: "internal".into(),
        }
    }
    /// The command line.
    pub fn cli() -> Actor {
        Actor {
            who: "cli".into(),
            source: "cli".into(),
        }
    }
}

/// The audit log of events that belong to no tenant (failed authentication
/// with an unknown key). Tenant ids may not start with `_`, so it cannot clash.
pub const SERVICE_LOG: &str = "_service";

/// Appends one audit entry in `ctx`'s transaction. The object is passed
/// through kefu-core's PII masking first, so an id that happens to be a phone
/// number or e-mail address is not written in clear.
pub fn record(
    ctx: &WriteCtx<'_>,
    actor: &Actor,
    tenant: &str,
    action: &str,
    object: &str,
    outcome: Outcome,
) -> Result<()> {
    let entry = crate::audit::AuditEntry {
        actor: crate::audit::sanitize(&actor.who),
        tenant: tenant.to_owned(),
        action: action.to_owned(),
        object: crate::audit::sanitize(&kefu_core::pii::redact(object).text),
        at_ms: ctx.now_ms,
        source: crate::audit::sanitize(&actor.source),
        outcome,
    };
    crate::audit::append(ctx.txn, &entry)?;
    Ok(())
}
