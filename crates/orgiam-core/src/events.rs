//! The audit event types orgiam writes: OpenAI's names wherever its Admin API has one for the
//! event, orgiam's own (in the same dotted style) where it has none. The one list: the audit
//! log's `event_types[]` filter accepts exactly these, and the OpenAPI document lists them.

/// An audit event type and whether OpenAI's Admin API defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    /// `role.created`, `group.user.added`, …
    pub name: &'static str,
    /// Defined by OpenAI's Admin API (false: orgiam's own).
    pub openai: bool,
}

const fn openai(name: &'static str) -> EventType {
    EventType { name, openai: true }
}

const fn own(name: &'static str) -> EventType {
    EventType {
        name,
        openai: false,
    }
}

/// Every type orgiam writes.
pub const EVENT_TYPES: &[EventType] = &[
    openai("api_key.created"),
    openai("api_key.deleted"),
    openai("group.created"),
    openai("group.updated"),
    openai("group.deleted"),
    openai("invite.sent"),
    openai("invite.accepted"),
    openai("invite.deleted"),
    openai("project.created"),
    openai("project.updated"),
    openai("project.archived"),
    openai("role.created"),
    openai("role.updated"),
    openai("role.deleted"),
    openai("role.assignment.created"),
    openai("role.assignment.deleted"),
    openai("user.added"),
    openai("user.updated"),
    openai("user.deleted"),
    own("organization.created"),
    own("group.user.added"),
    own("group.user.removed"),
    own("project.user.added"),
    own("project.user.updated"),
    own("project.user.removed"),
    own("project.group.added"),
    own("project.group.removed"),
    own("role.assignment.updated"),
    own("permission.created"),
    own("permission.deleted"),
    own("access_model.applied"),
    own("scim_token.created"),
    own("scim_token.deleted"),
    own("webhook.created"),
    own("webhook.updated"),
    own("webhook.deleted"),
    own("webhook.secret_rotated"),
    own("webhook.endpoint.failing"),
    own("webhook.endpoint.disabled"),
];

/// Whether orgiam writes events of type `name`.
pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.iter().any(|t| t.name == name)
}

/// The types only the platform's audit log holds (organization lifecycle, platform keys); it
/// holds the catalog's types of [`EVENT_TYPES`] too.
pub const PLATFORM_EVENT_TYPES: &[&str] = &[
    "organization.updated",
    "organization.deleted",
    "organization.imported",
    "platform_api_key.created",
    "platform_api_key.deleted",
];

/// Whether `name` is a type the platform's audit log may hold.
pub fn is_platform_event_type(name: &str) -> bool {
    is_event_type(name) || PLATFORM_EVENT_TYPES.contains(&name)
}

/// The names, in the list's order.
pub fn event_type_names() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES.iter().map(|t| t.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = event_type_names().collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
        assert!(is_event_type("role.created") && !is_event_type("no.such.type"));
    }
}
