//! The Kubernetes API server's reading of a request path: API group and version, resource,
//! subresource, namespace and name, and the verb an HTTP method means.
//!
//! Sources that log only a URI and an HTTP method (the legacy and OKD formats, MKE, DC/OS
//! proxies to the API) need this to fill [`ObjectRef`] exactly as the API server would have.
//! The rules follow the API server's request-info resolver: `/api/{version}/…` is the core
//! group, `/apis/{group}/{version}/…` a named group, `watch` and `proxy` are special verbs in
//! the path, `namespaces/{ns}/{resource}` scopes a resource, and `namespaces/{ns}/status` or
//! `/finalize` are subresources of the namespace itself.

use event::ObjectRef;

/// What a request path denotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The object, for resource requests; `None` for non-resource paths (`/healthz`, `/api`).
    pub object: Option<ObjectRef>,
    /// `watch` or `proxy` when the path carries the verb (`/api/v1/watch/pods`).
    pub path_verb: Option<&'static str>,
}

/// Reads `uri` (path and optional query) as the API server would.
pub fn parse(uri: &str) -> RequestInfo {
    let path = uri.split_once('?').map_or(uri, |(path, _)| path);
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|part| !part.is_empty())
        .collect();
    let non_resource = RequestInfo {
        object: None,
        path_verb: None,
    };
    if parts.len() < 3 {
        return non_resource;
    }
    let (api_group, rest) = match parts[0] {
        "api" => ("", &parts[1..]),
        "apis" if parts.len() >= 4 => (parts[1], &parts[2..]),
        _ => return non_resource,
    };
    let api_version = rest[0];
    let mut rest = &rest[1..];
    let mut path_verb = None;
    if let Some(special) = ["watch", "proxy"].into_iter().find(|verb| rest[0] == *verb) {
        if rest.len() < 2 {
            return non_resource;
        }
        path_verb = Some(special);
        rest = &rest[1..];
    }
    let mut namespace = "";
    if rest[0] == "namespaces" && rest.len() > 1 {
        namespace = rest[1];
        if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
            rest = &rest[2..];
        }
    }
    let resource = rest[0];
    let name = rest.get(1).copied().unwrap_or_default();
    let subresource = if path_verb == Some("proxy") {
        ""
    } else {
        rest.get(2).copied().unwrap_or_default()
    };
    RequestInfo {
        object: Some(ObjectRef {
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            api_group: Some(api_group.to_owned()),
            api_version: api_version.to_owned(),
            subresource: subresource.to_owned(),
            ..ObjectRef::default()
        }),
        path_verb,
    }
}

/// The Kubernetes verb for an HTTP `method` on a request described by `info`, as the API
/// server derives it: GET of a collection is `list` (or `watch` with `watch=true`), DELETE of
/// a collection is `deletecollection`. Non-resource requests use the lower-cased method.
pub fn verb_for_method(method: &str, info: &RequestInfo, uri: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let Some(object) = &info.object else {
        return lower;
    };
    if let Some(verb) = info.path_verb {
        return verb.to_owned();
    }
    let has_name = !object.name.is_empty();
    let verb = match lower.as_str() {
        "get" | "head" if !has_name && query_flag(uri, "watch") => "watch",
        "get" | "head" if !has_name => "list",
        "get" | "head" => "get",
        "post" => "create",
        "put" => "update",
        "patch" => "patch",
        "delete" if !has_name => "deletecollection",
        "delete" => "delete",
        _ => return lower,
    };
    verb.to_owned()
}

/// True when the query of `uri` sets `name` to a true value (`watch=true`, `watch=1`).
fn query_flag(uri: &str, name: &str) -> bool {
    let Some((_, query)) = uri.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        key == name && matches!(value, "true" | "1" | "True" | "TRUE")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(uri: &str) -> Option<(String, String, String, String, String)> {
        parse(uri).object.map(|o| {
            (
                o.group().to_owned(),
                o.resource,
                o.namespace,
                o.name,
                o.subresource,
            )
        })
    }

    fn tuple(
        group: &str,
        resource: &str,
        ns: &str,
        name: &str,
        sub: &str,
    ) -> Option<(String, String, String, String, String)> {
        Some((
            group.into(),
            resource.into(),
            ns.into(),
            name.into(),
            sub.into(),
        ))
    }

    #[test]
    fn resource_paths() {
        assert_eq!(
            object("/api/v1/namespaces/default/pods"),
            tuple("", "pods", "default", "", "")
        );
        assert_eq!(
            object("/api/v1/namespaces/default/pods/web-1/log?follow=true"),
            tuple("", "pods", "default", "web-1", "log")
        );
        assert_eq!(
            object("/apis/apps/v1/namespaces/prod/deployments/api"),
            tuple("apps", "deployments", "prod", "api", "")
        );
        assert_eq!(
            object("/api/v1/nodes/node-1/status"),
            tuple("", "nodes", "", "node-1", "status")
        );
        assert_eq!(
            object("/api/v1/namespaces/kube-system"),
            tuple("", "namespaces", "kube-system", "kube-system", "")
        );
        assert_eq!(
            object("/api/v1/namespaces/kube-system/finalize"),
            tuple("", "namespaces", "kube-system", "kube-system", "finalize")
        );
        assert_eq!(
            object("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/admin"),
            tuple(
                "rbac.authorization.k8s.io",
                "clusterrolebindings",
                "",
                "admin",
                ""
            )
        );
        assert_eq!(
            object("/api/v1/watch/namespaces/default/pods"),
            tuple("", "pods", "default", "", "")
        );
        assert_eq!(
            object("/api/v1/proxy/namespaces/default/pods/web/a/b"),
            tuple("", "pods", "default", "web", "")
        );
    }

    #[test]
    fn non_resource_paths() {
        for uri in [
            "/healthz",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/version?timeout=32s",
            "/metrics",
            "/",
        ] {
            assert_eq!(parse(uri).object, None, "{uri}");
        }
    }

    #[test]
    fn verbs_from_methods() {
        let verb = |method: &str, uri: &str| verb_for_method(method, &parse(uri), uri);
        assert_eq!(verb("GET", "/api/v1/namespaces/default/pods"), "list");
        assert_eq!(
            verb("GET", "/api/v1/namespaces/default/pods?watch=true"),
            "watch"
        );
        assert_eq!(verb("GET", "/api/v1/watch/pods"), "watch");
        assert_eq!(verb("GET", "/api/v1/namespaces/default/pods/x"), "get");
        assert_eq!(verb("POST", "/api/v1/namespaces/default/pods"), "create");
        assert_eq!(verb("PUT", "/api/v1/namespaces/default/pods/x"), "update");
        assert_eq!(verb("PATCH", "/api/v1/namespaces/default/pods/x"), "patch");
        assert_eq!(
            verb("DELETE", "/api/v1/namespaces/default/pods"),
            "deletecollection"
        );
        assert_eq!(
            verb("DELETE", "/api/v1/namespaces/default/pods/x"),
            "delete"
        );
        assert_eq!(verb("GET", "/healthz"), "get");
        assert_eq!(
            verb("POST", "/apis/authentication.k8s.io/v1/tokenreviews"),
            "create"
        );
    }
}
