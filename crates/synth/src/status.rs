//! Failed requests: which failures exist, and the `responseStatus` and Status bodies the API
//! server writes for them.
//!
//! Messages, reasons and `details` follow `k8s.io/apimachinery/pkg/api/errors` and the
//! authorization filter's `forbiddenMessage`, so that tools which parse them (and people who
//! grep for them) see what a real cluster writes.

use event::{RawJson, ResponseStatus};

use crate::json;

/// How a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// 401: authentication failed; the event has an empty user and only a ResponseStarted
    /// stage, written by the failed-authentication filter.
    Unauthorized,
    /// 403: the authorizer said no.
    Forbidden,
    /// 404.
    NotFound,
    /// 409 on create.
    AlreadyExists,
    /// 409 on update: a stale resourceVersion.
    Conflict,
    /// 422: validation failed.
    Invalid,
    /// 429 from API Priority and Fairness, before authorization; the body is plain text, so
    /// the status has only the code.
    Throttled,
    /// 429 from the eviction API: a PodDisruptionBudget refused.
    DisruptionBudget,
    /// 500: an admission webhook could not be called.
    Webhook,
    /// 500 at stage Panic: the handler panicked.
    Panic,
}

impl Failure {
    pub(crate) fn code(self) -> u16 {
        match self {
            Failure::Unauthorized => 401,
            Failure::Forbidden => 403,
            Failure::NotFound => 404,
            Failure::AlreadyExists | Failure::Conflict => 409,
            Failure::Invalid => 422,
            Failure::Throttled | Failure::DisruptionBudget => 429,
            Failure::Webhook | Failure::Panic => 500,
        }
    }

    /// Whether the request reached its handler (so that the request body was logged and
    /// the object reference completed from it).
    pub(crate) fn handler_ran(self) -> bool {
        !matches!(
            self,
            Failure::Unauthorized | Failure::Forbidden | Failure::Throttled
        )
    }

    /// Whether authorization ran and annotated the event.
    pub(crate) fn authorized(self) -> bool {
        !matches!(self, Failure::Unauthorized | Failure::Throttled)
    }

    /// Whether the API server wrote a `metav1.Status` body (logged as the response object at
    /// RequestResponse).
    pub(crate) fn has_status_body(self) -> bool {
        !matches!(
            self,
            Failure::Unauthorized | Failure::Throttled | Failure::Panic
        )
    }
}

/// What a failure message is about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct About<'a> {
    /// The user the request was authorized as (the impersonated one when there is one).
    pub(crate) user: &'a str,
    pub(crate) verb: &'a str,
    /// `None` for non-resource requests.
    pub(crate) resource: Option<ResourceAbout<'a>>,
    pub(crate) path: &'a str,
    /// The authorizer's reason for a denial, appended to the Forbidden message.
    pub(crate) deny_reason: &'a str,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ResourceAbout<'a> {
    pub(crate) resource: &'a str,
    pub(crate) group: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    pub(crate) subresource: &'a str,
}

impl ResourceAbout<'_> {
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    fn named(&self, text: &str) -> String {
        if self.name.is_empty() {
            format!("{} {text}", self.qualified())
        } else {
            format!("{} \"{}\" {text}", self.qualified(), self.name)
        }
    }
}

const WEBHOOK_ERROR: &str = "failed calling webhook \"validate.kyverno.svc-fail\": failed to call webhook: Post \"https://kyverno-svc.kyverno.svc:443/validate/fail?timeout=10s\": context deadline exceeded";
const PANIC_MESSAGE: &str =
    "APIServer panic'd: runtime error: invalid memory address or nil pointer dereference";

/// The `responseStatus` of a failed request.
pub(crate) fn failure_status(failure: Failure, about: &About<'_>) -> ResponseStatus {
    let code = Some(failure.code());
    match failure {
        Failure::Unauthorized => ResponseStatus {
            code,
            message: "Authentication failed, attempted: bearer".to_owned(),
            ..ResponseStatus::default()
        },
        Failure::Throttled => ResponseStatus {
            code,
            ..ResponseStatus::default()
        },
        Failure::Panic => ResponseStatus {
            code,
            status: "Failure".to_owned(),
            reason: "InternalError".to_owned(),
            message: PANIC_MESSAGE.to_owned(),
            details: None,
        },
        _ => {
            let (reason, message, details) = failure_text(failure, about);
            ResponseStatus {
                code,
                status: "Failure".to_owned(),
                reason: reason.to_owned(),
                message,
                details: Some(raw(details)),
            }
        }
    }
}

fn failure_text(failure: Failure, about: &About<'_>) -> (&'static str, String, String) {
    let Some(resource) = about.resource else {
        let message = format!(
            "forbidden: User \"{}\" cannot {} path \"{}\"",
            about.user, about.verb, about.path
        );
        return ("Forbidden", message, "{}".to_owned());
    };
    let standard = || details(resource.name, resource.group, resource.resource, &[]);
    match failure {
        Failure::Forbidden => {
            let mut message =
                resource.named(&format!("is forbidden: {}", denial(about, &resource)));
            if !about.deny_reason.is_empty() {
                message.push_str(": ");
                message.push_str(about.deny_reason);
            }
            ("Forbidden", message, standard())
        }
        Failure::NotFound => ("NotFound", resource.named("not found"), standard()),
        Failure::AlreadyExists => (
            "AlreadyExists",
            resource.named("already exists"),
            standard(),
        ),
        Failure::Conflict => (
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                resource.qualified(),
                resource.name
            ),
            standard(),
        ),
        Failure::Invalid => invalid(&resource),
        Failure::DisruptionBudget => {
            let app = resource.name.split('-').next().unwrap_or("app");
            let cause =
                format!("The disruption budget {app}-pdb needs 2 healthy pods and has 2 currently");
            (
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.".to_owned(),
                details("", "", "", &[("DisruptionBudget", &cause, "")]),
            )
        }
        _ => (
            "InternalError",
            format!("Internal error occurred: {WEBHOOK_ERROR}"),
            details("", "", "", &[("", WEBHOOK_ERROR, "")]),
        ),
    }
}

/// The part of a Forbidden message after "is forbidden: ".
fn denial(about: &About<'_>, resource: &ResourceAbout<'_>) -> String {
    let mut resource_name = resource.resource.to_owned();
    if !resource.subresource.is_empty() {
        resource_name.push('/');
        resource_name.push_str(resource.subresource);
    }
    let scope = if resource.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace \"{}\"", resource.namespace)
    };
    format!(
        "User \"{}\" cannot {} resource \"{resource_name}\" in API group \"{}\" {scope}",
        about.user, about.verb, resource.group
    )
}

fn invalid(resource: &ResourceAbout<'_>) -> (&'static str, String, String) {
    let (field, reason, cause) = if resource.kind == "Deployment" {
        (
            "spec.template.spec.containers[0].image",
            "FieldValueRequired",
            "Required value".to_owned(),
        )
    } else {
        (
            "metadata.labels",
            "FieldValueInvalid",
            "Invalid value: \"release/v2\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_owned(),
        )
    };
    let message = format!(
        "{} \"{}\" is invalid: {field}: {cause}",
        resource.qualified_kind(),
        resource.name
    );
    (
        "Invalid",
        message,
        details(
            resource.name,
            resource.group,
            resource.kind,
            &[(reason, &cause, field)],
        ),
    )
}

/// `metav1.StatusDetails` in Go field order; `causes` are `(reason, message, field)`.
pub(crate) fn details(
    name: &str,
    group: &str,
    kind: &str,
    causes: &[(&str, &str, &str)],
) -> String {
    json::object(128, |o| {
        o.str_opt("name", name)
            .str_opt("group", group)
            .str_opt("kind", kind);
        if !causes.is_empty() {
            o.arr("causes", |a| {
                for (reason, message, field) in causes {
                    a.obj(|c| {
                        c.str_opt("reason", reason)
                            .str_opt("message", message)
                            .str_opt("field", field);
                    });
                }
            });
        }
    })
}

/// The Status object the server returns, as logged in `responseObject`.
pub(crate) fn status_document(status: &ResponseStatus) -> String {
    json::object(256, |o| {
        o.str("kind", "Status")
            .str("apiVersion", "v1")
            .raw("metadata", "{}");
        o.str_opt("status", &status.status)
            .str_opt("message", &status.message)
            .str_opt("reason", &status.reason);
        if let Some(details) = &status.details {
            o.raw("details", details.get());
        }
        if let Some(code) = status.code {
            o.int("code", i64::from(code));
        }
    })
}

/// Wraps JSON text this crate wrote.
pub(crate) fn raw(text: String) -> RawJson {
    RawJson::from_string(text).expect("the synth JSON writer produces valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn about<'a>(resource: Option<ResourceAbout<'a>>) -> About<'a> {
        About {
            user: "alice@example.com",
            verb: "get",
            resource,
            path: "/metrics",
            deny_reason: "",
        }
    }

    #[test]
    fn forbidden_messages_match_the_authorization_filter() {
        let secret = ResourceAbout {
            resource: "secrets",
            group: "",
            kind: "Secret",
            namespace: "payments",
            name: "db",
            subresource: "",
        };
        let status = failure_status(Failure::Forbidden, &about(Some(secret)));
        assert_eq!(
            status.message,
            "secrets \"db\" is forbidden: User \"alice@example.com\" cannot get resource \"secrets\" in API group \"\" in the namespace \"payments\""
        );
        assert_eq!(
            status.details.unwrap().get(),
            r#"{"name":"db","kind":"secrets"}"#
        );
        let path = failure_status(Failure::Forbidden, &about(None));
        assert_eq!(
            path.message,
            "forbidden: User \"alice@example.com\" cannot get path \"/metrics\""
        );
        assert_eq!(path.details.unwrap().get(), "{}");
    }

    #[test]
    fn status_documents_carry_kind_and_code() {
        let status = failure_status(
            Failure::NotFound,
            &about(Some(ResourceAbout {
                resource: "deployments",
                group: "apps",
                kind: "Deployment",
                namespace: "web",
                name: "api",
                subresource: "",
            })),
        );
        assert_eq!(
            status_document(&status),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"api\" not found","reason":"NotFound","details":{"name":"api","group":"apps","kind":"deployments"},"code":404}"#
        );
    }
}
