//! The request attributes an audit policy decides on, borrowed: from a decoded
//! [`AuditEvent`] ([`AuditEvent::attributes`]) or from a cheaper view of a record that was
//! not decoded yet (a decoder's peek), so that both give the policy the same input.

use std::borrow::Cow;

use crate::{AuditEvent, Level, Stage};

/// What a policy reads of one request: its stage and recorded level, and upstream's
/// authorizer attributes (user, groups, verb, resource or non-resource path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// The stage, when the source records one.
    pub stage: Option<Stage>,
    /// The level the event was recorded at, when known.
    pub level: Option<Level>,
    /// The authenticated user (never the impersonated one); `None` when the actor is empty
    /// ([`crate::Actor::is_empty`]).
    pub user: Option<UserAttributes<'a>>,
    /// The verb.
    pub verb: &'a str,
    /// Present iff the request is a resource request (the event has an object reference).
    pub resource: Option<ResourceAttributes<'a>>,
    /// The request path without its query ([`uri_path`]).
    pub path: &'a str,
}

/// The user of [`Attributes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserAttributes<'a> {
    /// The user name.
    pub name: &'a str,
    /// The groups, empty when unknown.
    pub groups: Groups<'a>,
}

/// Group names, owned by an event or borrowed from a record.
#[derive(Debug, Clone, Copy)]
pub enum Groups<'a> {
    /// An event's groups.
    Owned(&'a [String]),
    /// Groups read from a record without allocating (unless escaped).
    Borrowed(&'a [Cow<'a, str>]),
}

impl<'a> Groups<'a> {
    /// The groups in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let (owned, borrowed): (&'a [String], &'a [Cow<'a, str>]) = match *self {
            Groups::Owned(groups) => (groups, &[]),
            Groups::Borrowed(groups) => (&[], groups),
        };
        owned
            .iter()
            .map(String::as_str)
            .chain(borrowed.iter().map(|group| &**group))
    }
}

impl PartialEq for Groups<'_> {
    fn eq(&self, other: &Groups<'_>) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Groups<'_> {}

/// The object of a resource request, as [`Attributes`] carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceAttributes<'a> {
    /// The API group, `""` for the core group ([`crate::ObjectRef::group`]).
    pub group: &'a str,
    /// The resource.
    pub resource: &'a str,
    /// The subresource, `""` when none.
    pub subresource: &'a str,
    /// The namespace, `""` when cluster-scoped.
    pub namespace: &'a str,
    /// The object name, `""` for lists and creations.
    pub name: &'a str,
}

/// The path of a request URI: everything before the first `?`.
pub fn uri_path(uri: &str) -> &str {
    uri.split_once('?').map_or(uri, |(path, _)| path)
}

impl AuditEvent {
    /// What a policy reads of this event.
    pub fn attributes(&self) -> Attributes<'_> {
        Attributes {
            stage: self.stage,
            level: self.level,
            user: (!self.user.is_empty()).then(|| UserAttributes {
                name: &self.user.name,
                groups: Groups::Owned(self.user.group_list()),
            }),
            verb: &self.verb,
            resource: self.object.as_ref().map(|object| ResourceAttributes {
                group: object.group(),
                resource: &object.resource,
                subresource: &object.subresource,
                namespace: &object.namespace,
                name: &object.name,
            }),
            path: self.path(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, ObjectRef};

    #[test]
    fn owned_and_borrowed_groups_compare_by_content() {
        let owned = vec!["a".to_owned(), "b".to_owned()];
        let borrowed = vec![Cow::Borrowed("a"), Cow::Owned("b".to_owned())];
        assert_eq!(Groups::Owned(&owned), Groups::Borrowed(&borrowed));
        assert_ne!(Groups::Owned(&owned[..1]), Groups::Borrowed(&borrowed));
        assert_eq!(Groups::Owned(&owned).iter().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn event_attributes() {
        let mut event = AuditEvent {
            uri: "/api/v1/namespaces/x/pods?watch=true".into(),
            verb: "watch".into(),
            stage: Some(Stage::ResponseComplete),
            ..AuditEvent::default()
        };
        let attributes = event.attributes();
        assert_eq!(attributes.path, "/api/v1/namespaces/x/pods");
        assert_eq!(attributes.user, None, "an empty actor is no user");
        assert_eq!(attributes.resource, None);
        event.user = Actor {
            uid: "1".into(),
            ..Actor::default()
        };
        event.object = Some(ObjectRef {
            resource: "pods".into(),
            namespace: "x".into(),
            ..ObjectRef::default()
        });
        let attributes = event.attributes();
        assert_eq!(attributes.user.map(|user| user.name), Some(""));
        assert_eq!(attributes.resource.map(|r| r.group), Some(""));
        assert_eq!(uri_path("/a?b?c"), "/a");
        assert_eq!(uri_path("/a"), "/a");
    }
}
