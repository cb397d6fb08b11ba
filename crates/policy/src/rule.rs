//! Compiled `audit.k8s.io/v1` policy rules and their evaluation.
//!
//! Matching reproduces kube-apiserver's `pkg/audit/policy/checker.go` exactly; the comments
//! on each function say which upstream rule they implement. Everything a rule needs is
//! precomputed when the policy is compiled (string sets, pre-split resource specs, unioned
//! omitted stages), so matching one event allocates nothing.

use std::collections::HashSet;
use std::fmt;

use event::{Attributes, Level, Stage};

/// A set of [`Stage`]s, as the policy's and a rule's `omitStages` are.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StageSet(u8);

impl StageSet {
    /// No stage.
    pub const EMPTY: StageSet = StageSet(0);

    fn bit(stage: Stage) -> u8 {
        match stage {
            Stage::RequestReceived => 1,
            Stage::ResponseStarted => 2,
            Stage::ResponseComplete => 4,
            Stage::Panic => 8,
        }
    }

    /// True when `stage` is in the set.
    pub fn contains(self, stage: Stage) -> bool {
        self.0 & StageSet::bit(stage) != 0
    }

    /// Adds `stage`.
    pub fn insert(&mut self, stage: Stage) {
        self.0 |= StageSet::bit(stage);
    }

    /// Every stage in either set.
    #[must_use]
    pub fn union(self, other: StageSet) -> StageSet {
        StageSet(self.0 | other.0)
    }

    /// True when the set has no stage.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The stages in request order.
    pub fn iter(self) -> impl Iterator<Item = Stage> {
        Stage::ALL
            .into_iter()
            .filter(move |stage| self.contains(*stage))
    }
}

impl FromIterator<Stage> for StageSet {
    fn from_iter<I: IntoIterator<Item = Stage>>(stages: I) -> StageSet {
        let mut set = StageSet::EMPTY;
        for stage in stages {
            set.insert(stage);
        }
        set
    }
}

impl fmt::Debug for StageSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// What the policy's rules say about one request, as upstream's `RequestAuditConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    /// Index of the first matching rule in `rules`, `None` when no rule matched.
    pub rule: Option<usize>,
    /// The matching rule's level; [`Level::None`] when no rule matched.
    pub level: Level,
    /// union(policy `omitStages`, rule `omitStages`); the policy's alone when no rule matched.
    pub omit_stages: StageSet,
    /// The rule's `omitManagedFields` when set, else the policy's.
    pub omit_managed_fields: bool,
}

/// A set of exact strings; `*` has no special meaning (upstream's `hasString`).
#[derive(Debug, Clone)]
pub(crate) enum StringSet {
    /// Few entries: a linear scan beats hashing.
    Small(Box<[Box<str>]>),
    Large(HashSet<Box<str>>),
}

impl StringSet {
    const SMALL_MAX: usize = 8;

    pub(crate) fn new(entries: Vec<String>) -> StringSet {
        if entries.len() <= StringSet::SMALL_MAX {
            StringSet::Small(entries.into_iter().map(String::into_boxed_str).collect())
        } else {
            StringSet::Large(entries.into_iter().map(String::into_boxed_str).collect())
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            StringSet::Small(entries) => entries.is_empty(),
            StringSet::Large(entries) => entries.is_empty(),
        }
    }

    pub(crate) fn contains(&self, value: &str) -> bool {
        match self {
            StringSet::Small(entries) => entries.iter().any(|entry| &**entry == value),
            StringSet::Large(entries) => entries.contains(value),
        }
    }
}

/// One entry of a rule's `resources` list.
#[derive(Debug, Clone)]
pub(crate) struct GroupResources {
    /// `*` matches every group (Kubernetes 1.36); otherwise compared exactly, `""` = core.
    group: Box<str>,
    resources: Box<[ResourceSpec]>,
    resource_names: StringSet,
}

impl GroupResources {
    pub(crate) fn new(
        group: String,
        resources: Vec<String>,
        resource_names: Vec<String>,
    ) -> GroupResources {
        GroupResources {
            group: group.into_boxed_str(),
            resources: resources.into_iter().map(ResourceSpec::new).collect(),
            resource_names: StringSet::new(resource_names),
        }
    }
}

/// One string of a group's `resources`, pre-split for the upstream wildcard forms.
#[derive(Debug, Clone)]
struct ResourceSpec {
    text: Box<str>,
    /// The `<sub>` of `*/<sub>`.
    any_resource_subresource: Option<Box<str>>,
    /// The `<resource>` of `<resource>/*`.
    resource_any_subresource: Option<Box<str>>,
}

impl ResourceSpec {
    fn new(text: String) -> ResourceSpec {
        ResourceSpec {
            any_resource_subresource: text.strip_prefix("*/").map(Box::from),
            resource_any_subresource: text.strip_suffix("/*").map(Box::from),
            text: text.into_boxed_str(),
        }
    }

    /// Upstream's three tests, in its order, without building `resource/subresource`.
    fn matches(&self, resource: &str, subresource: &str) -> bool {
        if combined_equals(&self.text, resource, subresource) || &*self.text == "*" {
            return true;
        }
        if let Some(sub) = &self.any_resource_subresource
            && !subresource.is_empty()
            && **sub == *subresource
        {
            return true;
        }
        // `pods/*` also matches plain `pods`: upstream compares the resource only.
        self.resource_any_subresource.as_deref() == Some(resource)
    }
}

/// `spec == resource` when there is no subresource, else `spec == resource + "/" + subresource`.
fn combined_equals(spec: &str, resource: &str, subresource: &str) -> bool {
    if subresource.is_empty() {
        return spec == resource;
    }
    spec.len() == resource.len() + 1 + subresource.len()
        && spec.starts_with(resource)
        && spec.as_bytes().get(resource.len()) == Some(&b'/')
        && spec.ends_with(subresource)
}

/// One `nonResourceURLs` entry (upstream's `pathMatches`).
#[derive(Debug, Clone)]
pub(crate) enum UrlSpec {
    /// `*`.
    Any,
    /// A spec without a trailing `*`: exact equality.
    Exact(Box<str>),
    /// A spec ending in `*`, with every trailing `*` removed: plain string prefix (not
    /// segment-aware: `/logs*` matches `/logsfoo`). Equality is a special case of it.
    Prefix(Box<str>),
}

impl UrlSpec {
    pub(crate) fn new(spec: &str) -> UrlSpec {
        if spec == "*" {
            UrlSpec::Any
        } else if spec.ends_with('*') {
            UrlSpec::Prefix(spec.trim_end_matches('*').into())
        } else {
            UrlSpec::Exact(spec.into())
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            UrlSpec::Any => true,
            UrlSpec::Exact(spec) => **spec == *path,
            UrlSpec::Prefix(prefix) => path.starts_with(&**prefix),
        }
    }
}

/// A compiled policy rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) level: Level,
    pub(crate) users: StringSet,
    pub(crate) user_groups: StringSet,
    pub(crate) verbs: StringSet,
    pub(crate) namespaces: StringSet,
    pub(crate) resources: Box<[GroupResources]>,
    pub(crate) non_resource_urls: Box<[UrlSpec]>,
    /// Already unioned with the policy's `omitStages`.
    pub(crate) omit_stages: StageSet,
    pub(crate) omit_managed_fields: Option<bool>,
    /// 1-based line of the rule in the policy text, when known.
    pub(crate) line: Option<usize>,
    /// A one-line summary for dry-run reports.
    pub(crate) description: Box<str>,
}

impl Rule {
    /// A rule without conditions: it matches every request.
    pub(crate) fn catch_all(level: Level) -> Rule {
        Rule {
            level,
            users: StringSet::new(Vec::new()),
            user_groups: StringSet::new(Vec::new()),
            verbs: StringSet::new(Vec::new()),
            namespaces: StringSet::new(Vec::new()),
            resources: Box::default(),
            non_resource_urls: Box::default(),
            omit_stages: StageSet::EMPTY,
            omit_managed_fields: None,
            line: None,
            description: format!("level={level}").into(),
        }
    }

    /// Upstream's `ruleMatches`: every condition ANDed, an empty list meaning "any".
    pub(crate) fn matches(&self, attributes: &Attributes<'_>) -> bool {
        if !self.users.is_empty() {
            match attributes.user {
                Some(user) if self.users.contains(user.name) => {}
                _ => return false,
            }
        }
        if !self.user_groups.is_empty() {
            let Some(user) = attributes.user else {
                return false;
            };
            if !user
                .groups
                .iter()
                .any(|group| self.user_groups.contains(group))
            {
                return false;
            }
        }
        if !self.verbs.is_empty() && !self.verbs.contains(attributes.verb) {
            return false;
        }
        if !self.namespaces.is_empty() || !self.resources.is_empty() {
            return self.matches_resource(attributes);
        }
        if !self.non_resource_urls.is_empty() {
            return self.matches_non_resource(attributes);
        }
        true
    }

    /// Upstream's `ruleMatchesResource`.
    fn matches_resource(&self, attributes: &Attributes<'_>) -> bool {
        let Some(request) = &attributes.resource else {
            return false;
        };
        // Cluster-scoped requests have namespace "", so `namespaces: [""]` selects them.
        if !self.namespaces.is_empty() && !self.namespaces.contains(request.namespace) {
            return false;
        }
        if self.resources.is_empty() {
            return true;
        }
        for group_resources in self.resources.iter() {
            if *group_resources.group != *request.group && &*group_resources.group != "*" {
                continue;
            }
            if group_resources.resources.is_empty() {
                return true;
            }
            // List and create requests have name "", so resourceNames never matches them.
            if !group_resources.resource_names.is_empty()
                && !group_resources.resource_names.contains(request.name)
            {
                continue;
            }
            if group_resources
                .resources
                .iter()
                .any(|spec| spec.matches(request.resource, request.subresource))
            {
                return true;
            }
        }
        false
    }

    /// Upstream's `ruleMatchesNonResource`.
    fn matches_non_resource(&self, attributes: &Attributes<'_>) -> bool {
        attributes.resource.is_none()
            && self
                .non_resource_urls
                .iter()
                .any(|spec| spec.matches(attributes.path))
    }

    /// A rule without users, groups, verbs, namespaces, resources or URLs matches every
    /// request, so the rules after it are unreachable.
    pub(crate) fn matches_everything(&self) -> bool {
        self.users.is_empty()
            && self.user_groups.is_empty()
            && self.verbs.is_empty()
            && self.namespaces.is_empty()
            && self.resources.is_empty()
            && self.non_resource_urls.is_empty()
    }
}

/// Upstream's `EvaluatePolicyRule`: the first matching rule wins.
pub(crate) fn evaluate(
    rules: &[Rule],
    policy_omit_stages: StageSet,
    policy_omit_managed_fields: bool,
    attributes: &Attributes<'_>,
) -> Evaluation {
    for (index, rule) in rules.iter().enumerate() {
        if rule.matches(attributes) {
            return Evaluation {
                rule: Some(index),
                level: rule.level,
                omit_stages: rule.omit_stages,
                omit_managed_fields: rule
                    .omit_managed_fields
                    .unwrap_or(policy_omit_managed_fields),
            };
        }
    }
    Evaluation {
        rule: None,
        level: Level::None,
        omit_stages: policy_omit_stages,
        omit_managed_fields: policy_omit_managed_fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_spec_forms() {
        let spec = |text: &str| ResourceSpec::new(text.to_owned());
        assert!(spec("pods").matches("pods", ""));
        assert!(!spec("pods").matches("pods", "log"));
        assert!(spec("pods/log").matches("pods", "log"));
        assert!(!spec("pods/log").matches("pods", ""));
        assert!(!spec("pods/log").matches("pods", "exec"));
        assert!(spec("*").matches("pods", "log"));
        assert!(spec("*").matches("configmaps", ""));
        assert!(spec("*/log").matches("pods", "log"));
        assert!(!spec("*/log").matches("pods", ""));
        assert!(!spec("*/log").matches("pods", "exec"));
        assert!(spec("pods/*").matches("pods", "log"));
        assert!(
            spec("pods/*").matches("pods", ""),
            "upstream compares the resource only"
        );
        assert!(!spec("pods/*").matches("secrets", ""));
        // `*/*` is neither a full wildcard upstream: it needs a literal `*` somewhere.
        assert!(!spec("*/*").matches("pods", "log"));
        assert!(spec("*/*").matches("*", ""));
        // A resource containing a slash still compares like the concatenated string.
        assert!(spec("a/b/c").matches("a/b", "c"));
        assert!(spec("a/b/c").matches("a", "b/c"));
    }

    #[test]
    fn url_spec_forms() {
        assert!(UrlSpec::new("*").matches("/anything"));
        assert!(UrlSpec::new("/metrics").matches("/metrics"));
        assert!(!UrlSpec::new("/metrics").matches("/metrics/x"));
        assert!(UrlSpec::new("/logs*").matches("/logs"));
        assert!(UrlSpec::new("/logs*").matches("/logsfoo"));
        assert!(UrlSpec::new("/logs*").matches("/logs/kubelet.log"));
        assert!(!UrlSpec::new("/logs*").matches("/log"));
        assert!(UrlSpec::new("/*").matches("/"));
    }

    #[test]
    fn stage_set_union_and_iteration() {
        let first: StageSet = [Stage::RequestReceived, Stage::RequestReceived]
            .into_iter()
            .collect();
        let second: StageSet = [Stage::Panic, Stage::RequestReceived].into_iter().collect();
        let union = first.union(second);
        assert_eq!(
            union.iter().collect::<Vec<_>>(),
            vec![Stage::RequestReceived, Stage::Panic]
        );
        assert!(!union.contains(Stage::ResponseComplete));
        assert!(StageSet::EMPTY.is_empty());
        assert_eq!(format!("{union:?}"), "{RequestReceived, Panic}");
    }

    #[test]
    fn string_sets_of_any_size_compare_exactly() {
        let small = StringSet::new(vec!["get".into(), "*".into()]);
        assert!(small.contains("get"));
        assert!(small.contains("*"));
        assert!(!small.contains("list"));
        let large = StringSet::new((0..20).map(|i| format!("user-{i}")).collect());
        assert!(matches!(large, StringSet::Large(_)));
        assert!(large.contains("user-19"));
        assert!(!large.contains("user-20"));
    }
}
