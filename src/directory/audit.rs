//! Audit events: who changed what, by which protocol, from where. Every
//! change is written together with its event in one transaction.

use super::model::Actor;
use super::time::Timestamp;

/// One entry of the audit trail. Never carries secret values, only the
/// names of the attributes that changed.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub at: Timestamp,
    pub actor: String,
    pub protocol: String,
    pub client: Option<String>,
    /// What happened, e.g. `user.create` or `group.members`.
    pub action: String,
    /// `user`, `group` or `token`.
    pub target_kind: String,
    pub target_id: String,
    pub target_name: String,
    /// Names of the attributes the change touched.
    pub attributes: Vec<String>,
}

impl AuditEvent {
    /// Who acted, as records keep it (`Actor::reference`: protocol:name).
    pub fn actor_reference(&self) -> String {
        format!("{}:{}", self.protocol, self.actor)
    }

    pub fn new(
        at: Timestamp,
        actor: &Actor,
        action: &str,
        target_kind: &str,
        target_id: impl ToString,
        target_name: &str,
        attributes: Vec<String>,
    ) -> AuditEvent {
        AuditEvent {
            at,
            actor: actor.name.clone(),
            protocol: actor.protocol.as_str().to_string(),
            client: actor.client.clone(),
            action: action.to_string(),
            target_kind: target_kind.to_string(),
            target_id: target_id.to_string(),
            target_name: target_name.to_string(),
            attributes,
        }
    }
}
