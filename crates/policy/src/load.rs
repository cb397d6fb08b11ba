//! Loading a policy from YAML text, with kube-apiserver's validation.
//!
//! The text is parsed into a generic YAML value and then walked by hand, so that every problem
//! in every rule is found in one pass (upstream stops at the first type error) and each
//! problem names its field path (`rules[3].nonResourceURLs[0]`) and, when a cheap scan of the
//! text finds it, the line where the rule starts. Upstream decodes strictly and, when that
//! fails only on unknown fields, leniently with a warning; unknown Kubernetes fields are
//! therefore warnings here. The `auditrail:` section is ours, and an unknown key there is an
//! error, because a misspelt redaction setting must not pass silently.

use std::collections::HashMap;
use std::fmt;

use event::{Level, Stage};
use serde_yaml_ng::{Mapping, Value};

use crate::Policy;
use crate::endpoint::{
    IgnoredEndpoints, MKE_DEFAULTS, MKE_IGNORED_ENDPOINTS, MKE_REDACTED_ENDPOINTS, PathPattern,
    PatternError, RedactedEndpoint, split_method,
};
use crate::json_path::JsonPath;
use crate::limits;
use crate::redact::{PathRule, Redaction};
use crate::rule::{GroupResources, Rule, StageSet, StringSet, UrlSpec};

/// A policy that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The text is larger than [`limits::POLICY_BYTES_MAX`].
    #[error("policy is {bytes} bytes, more than the limit of {max} bytes; remove unused rules")]
    TooLarge {
        /// Size of the text.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The text is not YAML.
    #[error("policy is not valid YAML: {message}; fix the syntax")]
    Syntax {
        /// The parser's message, with its line and column.
        message: String,
        /// 1-based line of the error, when known.
        line: Option<usize>,
    },
    /// The text is YAML but not a valid policy; every problem found is listed.
    #[error("{}", ProblemList(.problems, *.unlisted))]
    Invalid {
        /// The problems, in document order (at most [`limits::PROBLEMS_LISTED_MAX`]).
        problems: Vec<Problem>,
        /// How many more problems were found but not listed.
        unlisted: usize,
    },
}

/// One problem in a policy: the field, where it is, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field path, e.g. `rules[3].nonResourceURLs[0]`.
    pub field: String,
    /// Index of the rule the field belongs to, if any.
    pub rule: Option<usize>,
    /// 1-based line where the rule (or the top-level key) starts, when known.
    pub line: Option<usize>,
    /// What is wrong and what to do, lowercase, without a trailing period.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)?;
        match (self.line, self.rule) {
            (Some(line), Some(_)) => write!(f, " (rule at line {line})"),
            (Some(line), None) => write!(f, " (line {line})"),
            (None, _) => Ok(()),
        }
    }
}

/// Something in a loaded policy that works but deserves attention (the API server logs the
/// same things as warnings, or they are likely mistakes).
pub type Warning = Problem;

struct ProblemList<'a>(&'a [Problem], usize);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ProblemList(problems, unlisted) = *self;
        let count = problems.len() + unlisted;
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "invalid audit policy, fix {count} {noun}:")?;
        for problem in problems {
            write!(f, "\n  {problem}")?;
        }
        if unlisted > 0 {
            write!(f, "\n  ... and {unlisted} more")?;
        }
        Ok(())
    }
}

/// A loaded policy and the warnings found while loading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The compiled policy.
    pub policy: Policy,
    /// Things that work but deserve attention; show them to whoever wrote the policy.
    pub warnings: Vec<Warning>,
}

const NO_RULES: &str = "the policy has no rules; add at least one (kube-apiserver refuses a policy with 0 rules, and without rules nothing is kept)";
const LEVEL_MISSING: &str = "missing; set one of None, Metadata, Request, RequestResponse";
const API_VERSION: &str = "audit.k8s.io/v1";
const OLD_API_VERSIONS: [&str; 2] = ["audit.k8s.io/v1beta1", "audit.k8s.io/v1alpha1"];
const POLICY_FIELDS: [&str; 7] = [
    "apiVersion",
    "kind",
    "metadata",
    "rules",
    "omitStages",
    "omitManagedFields",
    "auditrail",
];
const RULE_FIELDS: [&str; 9] = [
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
];
const GROUP_RESOURCES_FIELDS: [&str; 3] = ["group", "resources", "resourceNames"];
const EXTENSION_FIELDS: [&str; 4] = [
    "ignoredEndpoints",
    "redactedEndpoints",
    "redact",
    "maxEventBytes",
];
const REDACT_FIELDS: [&str; 5] = [
    "secrets",
    "tokenReviews",
    "tokenRequests",
    "execCommands",
    "paths",
];
const REDACT_PATH_FIELDS: [&str; 3] = ["resource", "group", "jsonPath"];

pub(crate) fn load(text: &str) -> Result<Loaded, LoadError> {
    if text.len() > limits::POLICY_BYTES_MAX {
        return Err(LoadError::TooLarge {
            bytes: text.len(),
            max: limits::POLICY_BYTES_MAX,
        });
    }
    let document: Value = serde_yaml_ng::from_str(text).map_err(|error| LoadError::Syntax {
        line: error.location().map(|location| location.line()),
        message: error.to_string(),
    })?;
    let mut decoder = Decoder::new(text);
    let policy = decoder.policy(&document);
    if decoder.problems.is_empty()
        && let Some(policy) = policy
    {
        return Ok(Loaded {
            policy,
            warnings: decoder.warnings,
        });
    }
    let unlisted = decoder
        .problems
        .len()
        .saturating_sub(limits::PROBLEMS_LISTED_MAX);
    decoder.problems.truncate(limits::PROBLEMS_LISTED_MAX);
    Err(LoadError::Invalid {
        problems: decoder.problems,
        unlisted,
    })
}

/// Walks the YAML value, collecting problems and warnings.
struct Decoder {
    problems: Vec<Problem>,
    warnings: Vec<Warning>,
    /// Line of each top-level key, and of each key directly under `auditrail:`.
    key_lines: HashMap<String, usize>,
    /// Line of each rule, when the scan found exactly one per rule.
    rule_lines: Vec<usize>,
    /// The rule being decoded.
    rule: Option<usize>,
}

impl Decoder {
    fn new(text: &str) -> Decoder {
        Decoder {
            problems: Vec::new(),
            warnings: Vec::new(),
            key_lines: scan_key_lines(text),
            rule_lines: scan_rule_lines(text),
            rule: None,
        }
    }

    fn diagnostic(&self, field: &str, message: String) -> Problem {
        let line = match self.rule {
            Some(rule) => self.rule_lines.get(rule).copied(),
            None => {
                let key = field.strip_prefix("auditrail.").unwrap_or(field);
                let key = key.split(['.', '[']).next().unwrap_or(key);
                self.key_lines.get(key).copied()
            }
        };
        Problem {
            field: field.to_owned(),
            rule: self.rule,
            line,
            message,
        }
    }

    fn problem(&mut self, field: &str, message: String) {
        let problem = self.diagnostic(field, message);
        self.problems.push(problem);
    }

    fn warning(&mut self, field: &str, message: String) {
        let warning = self.diagnostic(field, message);
        self.warnings.push(warning);
    }

    /// The `(key, value)` pairs of a mapping with string keys; reports other keys.
    fn entries<'v>(&mut self, field: &str, mapping: &'v Mapping) -> Vec<(&'v str, &'v Value)> {
        let mut entries = Vec::with_capacity(mapping.len());
        for (key, value) in mapping {
            match key.as_str() {
                Some(key) => entries.push((key, value)),
                None => self.problem(
                    field,
                    format!(
                        "has a key that is not a string ({}); quote it",
                        kind_name(key)
                    ),
                ),
            }
        }
        entries
    }

    fn unknown_field(&mut self, field: &str, key: &str, known: &[&str], fatal: bool) {
        let hint = known
            .iter()
            .find(|name| name.eq_ignore_ascii_case(key))
            .or_else(|| known.iter().find(|name| edit_distance(name, key) <= 2))
            .map(|name| format!("; did you mean {name:?}?"))
            .unwrap_or_else(|| format!("; known fields: {}", known.join(", ")));
        if fatal {
            self.problem(field, format!("unknown field{hint}"));
        } else {
            self.warning(
                field,
                format!(
                    "unknown field, ignored (kube-apiserver ignores it too, with a warning){hint}"
                ),
            );
        }
    }

    fn mapping<'v>(&mut self, field: &str, value: &'v Value) -> Option<&'v Mapping> {
        match value {
            Value::Mapping(mapping) => Some(mapping),
            Value::Null => None,
            other => {
                self.problem(
                    field,
                    format!("must be a mapping, not {}", kind_name(other)),
                );
                None
            }
        }
    }

    fn string(&mut self, field: &str, value: &Value) -> Option<String> {
        match value {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            Value::Number(_) | Value::Bool(_) => {
                self.problem(
                    field,
                    format!("must be a string, not {}; quote it", kind_name(value)),
                );
                None
            }
            other => {
                self.problem(field, format!("must be a string, not {}", kind_name(other)));
                None
            }
        }
    }

    fn bool(&mut self, field: &str, value: &Value) -> Option<bool> {
        match value {
            Value::Bool(flag) => Some(*flag),
            Value::Null => None,
            other => {
                self.problem(
                    field,
                    format!("must be true or false, not {}", kind_name(other)),
                );
                None
            }
        }
    }

    fn sequence<'v>(&mut self, field: &str, value: &'v Value, example: &str) -> &'v [Value] {
        match value {
            Value::Sequence(items) if items.len() > limits::RULE_LIST_ENTRIES_MAX => {
                self.problem(
                    field,
                    format!(
                        "has {} entries, more than the limit of {}; split the rule",
                        items.len(),
                        limits::RULE_LIST_ENTRIES_MAX
                    ),
                );
                &[]
            }
            Value::Sequence(items) => items,
            Value::Null => &[],
            other => {
                self.problem(
                    field,
                    format!("must be a list such as {example}, not {}", kind_name(other)),
                );
                &[]
            }
        }
    }

    fn strings(&mut self, field: &str, value: &Value, example: &str) -> Vec<String> {
        let items = self.sequence(field, value, example);
        let mut strings = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::String(text) => strings.push(text.clone()),
                other => self.problem(
                    &format!("{field}[{index}]"),
                    format!("must be a string, not {}; quote it", kind_name(other)),
                ),
            }
        }
        strings
    }

    fn stages(&mut self, field: &str, value: &Value) -> StageSet {
        let mut stages = StageSet::EMPTY;
        for (index, name) in self
            .strings(field, value, "[RequestReceived]")
            .into_iter()
            .enumerate()
        {
            match Stage::ALL.into_iter().find(|stage| stage.as_str() == name) {
                Some(stage) => stages.insert(stage),
                None => self.problem(
                    &format!("{field}[{index}]"),
                    unknown_name_message(&name, "stage", &Stage::ALL.map(Stage::as_str)),
                ),
            }
        }
        stages
    }

    fn policy(&mut self, document: &Value) -> Option<Policy> {
        let Value::Mapping(mapping) = document else {
            let found = if document.is_null() {
                "empty".to_owned()
            } else {
                kind_name(document)
            };
            self.problem("(document)", format!("is {found}; a policy is a mapping with apiVersion: {API_VERSION}, kind: Policy and rules"));
            return None;
        };
        let mut api_version = None;
        let mut kind = None;
        let mut rules = None;
        let mut omit_stages = StageSet::EMPTY;
        let mut omit_managed_fields = false;
        let mut extension_value = None;
        for (key, value) in self.entries("(document)", mapping) {
            match key {
                "apiVersion" => {
                    api_version = self.string(key, value);
                    self.check_api_version(api_version.as_deref());
                }
                "kind" => {
                    kind = self.string(key, value);
                    self.check_kind(kind.as_deref());
                }
                "metadata" => {
                    self.mapping(key, value);
                }
                "rules" => rules = Some(self.rules(value)),
                "omitStages" => omit_stages = self.stages(key, value),
                "omitManagedFields" => omit_managed_fields = self.bool(key, value).unwrap_or(false),
                "auditrail" => extension_value = Some(value),
                other => self.unknown_field(other, other, &POLICY_FIELDS, false),
            }
        }
        if api_version.is_none() {
            self.problem("apiVersion", format!("missing; set it to {API_VERSION:?}"));
        }
        if kind.is_none() {
            self.problem("kind", "missing; set it to Policy".to_owned());
        }
        let mut rules = rules.unwrap_or_else(|| {
            self.problem("rules", NO_RULES.to_owned());
            Vec::new()
        });
        // Upstream's NewPolicyRuleEvaluator: each rule's stages become union(policy, rule).
        for rule in &mut rules {
            rule.omit_stages = omit_stages.union(rule.omit_stages);
        }
        let extension = match extension_value {
            Some(value) => self.extension(value),
            None => Extension::default(),
        };
        Some(Policy {
            rules: rules.into(),
            omit_stages,
            omit_managed_fields,
            ignored: IgnoredEndpoints::new(extension.ignored),
            redacted_endpoints: extension.redacted.into(),
            redaction: extension.redaction,
            max_event_bytes: extension.max_event_bytes,
        })
    }

    fn check_api_version(&mut self, api_version: Option<&str>) {
        match api_version {
            Some(API_VERSION) | None => {}
            Some(old) if OLD_API_VERSIONS.contains(&old) => self.warning("apiVersion", format!("{old:?} was removed from kube-apiserver in 1.24; change it to {API_VERSION:?} (the rules read the same)")),
            Some(other) => self.problem("apiVersion", format!("{other:?} is not an audit policy version; set it to {API_VERSION:?}")),
        }
    }

    fn check_kind(&mut self, kind: Option<&str>) {
        match kind {
            Some("Policy") | None => {}
            Some(other) => {
                self.problem("kind", format!("{other:?} is not Policy; set it to Policy"))
            }
        }
    }

    /// The rules, with their own `omitStages` only; the caller adds the policy's.
    fn rules(&mut self, value: &Value) -> Vec<Rule> {
        let items = match value {
            Value::Sequence(items) => items.as_slice(),
            Value::Null => &[],
            other => {
                self.problem(
                    "rules",
                    format!("must be a list of rules, not {}", kind_name(other)),
                );
                return Vec::new();
            }
        };
        if items.is_empty() {
            self.problem("rules", NO_RULES.to_owned());
            return Vec::new();
        }
        if items.len() > limits::RULES_MAX {
            self.problem(
                "rules",
                format!(
                    "has {} rules, more than the limit of {}; merge rules",
                    items.len(),
                    limits::RULES_MAX
                ),
            );
            return Vec::new();
        }
        if self.rule_lines.len() != items.len() {
            self.rule_lines.clear();
        }
        let mut rules = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            self.rule = Some(index);
            if let Some(rule) = self.rule_at(index, item) {
                rules.push(rule);
            }
        }
        self.rule = None;
        if let Some(catch_all) = rules.iter().position(Rule::matches_everything)
            && catch_all + 1 < rules.len()
        {
            let unreachable = catch_all + 1;
            let after = rules.len() - unreachable - 1;
            let subject = match after {
                0 => "this rule is".to_owned(),
                1 => "this rule and the one after it are".to_owned(),
                _ => format!("this rule and the {after} after it are"),
            };
            self.rule = Some(unreachable);
            self.warning(&format!("rules[{unreachable}]"), format!("{subject} never used, because rules[{catch_all}] before it matches every request; move the catch-all rule last"));
            self.rule = None;
        }
        rules
    }

    fn rule_at(&mut self, index: usize, value: &Value) -> Option<Rule> {
        let field = format!("rules[{index}]");
        let Value::Mapping(mapping) = value else {
            self.problem(
                &field,
                format!(
                    "must be a mapping with at least a level, not {}",
                    kind_name(value)
                ),
            );
            return None;
        };
        let mut level = None;
        let mut lists: [Vec<String>; 5] = Default::default();
        let [users, user_groups, verbs, namespaces, non_resource_urls] = &mut lists;
        let mut resources = Vec::new();
        let mut omit_stages = StageSet::EMPTY;
        let mut omit_managed_fields = None;
        for (key, value) in self.entries(&field, mapping) {
            let child = format!("{field}.{key}");
            match key {
                "level" => level = self.level(&child, value),
                "users" => *users = self.strings(&child, value, "[alice]"),
                "userGroups" => *user_groups = self.strings(&child, value, "[system:nodes]"),
                "verbs" => *verbs = self.strings(&child, value, "[get, list]"),
                "namespaces" => *namespaces = self.strings(&child, value, "[kube-system]"),
                "nonResourceURLs" => {
                    *non_resource_urls = self.strings(&child, value, "[/healthz*]")
                }
                "resources" => resources = self.group_resources(&child, value),
                "omitStages" => omit_stages = self.stages(&child, value),
                "omitManagedFields" => omit_managed_fields = self.bool(&child, value),
                other => self.unknown_field(&child, other, &RULE_FIELDS, false),
            }
        }
        if !mapping.contains_key("level") {
            self.problem(&format!("{field}.level"), LEVEL_MISSING.to_owned());
        }
        self.check_rule(
            &field,
            non_resource_urls,
            !resources.is_empty(),
            !namespaces.is_empty(),
        );
        for (name, list) in [
            ("users", &*users),
            ("userGroups", &*user_groups),
            ("verbs", &*verbs),
            ("namespaces", &*namespaces),
        ] {
            if let Some(position) = list.iter().position(|entry| entry == "*") {
                self.warning(&format!("{field}.{name}[{position}]"), format!("\"*\" is not a wildcard in audit policies and matches only the literal \"*\"; to match every value, remove {name}"));
            }
        }
        let level = level?;
        let description = describe(level, &lists, &resources, omit_stages);
        let [users, user_groups, verbs, namespaces, non_resource_urls] = lists;
        Some(Rule {
            level,
            users: StringSet::new(users),
            user_groups: StringSet::new(user_groups),
            verbs: StringSet::new(verbs),
            namespaces: StringSet::new(namespaces),
            non_resource_urls: non_resource_urls
                .iter()
                .map(|url| UrlSpec::new(url))
                .collect(),
            resources: resources
                .into_iter()
                .map(|(group, resources, names)| GroupResources::new(group, resources, names))
                .collect(),
            omit_stages,
            omit_managed_fields,
            line: self.rule_lines.get(index).copied(),
            description: description.into(),
        })
    }

    fn level(&mut self, field: &str, value: &Value) -> Option<Level> {
        if value.is_null() {
            self.problem(field, LEVEL_MISSING.to_owned());
            return None;
        }
        let name = self.string(field, value)?;
        if name.is_empty() {
            self.problem(field, LEVEL_MISSING.to_owned());
            return None;
        }
        let found = Level::ALL.into_iter().find(|level| level.as_str() == name);
        if found.is_none() {
            self.problem(
                field,
                unknown_name_message(&name, "level", &Level::ALL.map(Level::as_str)),
            );
        }
        found
    }

    /// The checks of upstream's `validatePolicyRule` that span fields.
    fn check_rule(
        &mut self,
        field: &str,
        urls: &[String],
        has_resources: bool,
        has_namespaces: bool,
    ) {
        for (index, url) in urls.iter().enumerate() {
            if url == "*" {
                continue;
            }
            let url_field = format!("{field}.nonResourceURLs[{index}]");
            if !url.starts_with('/') {
                self.problem(
                    &url_field,
                    format!("{url:?} must start with \"/\" or be \"*\""),
                );
            }
            if url
                .get(..url.len().saturating_sub(1))
                .is_some_and(|head| head.contains('*'))
            {
                self.problem(
                    &url_field,
                    format!(
                        "{url:?} has a \"*\" before its end; a \"*\" may only be the last character"
                    ),
                );
            }
        }
        if !urls.is_empty() && (has_resources || has_namespaces) {
            self.problem(&format!("{field}.nonResourceURLs"), "cannot be combined with resources or namespaces; split it into a resource rule and a non-resource rule".to_owned());
        }
    }

    fn group_resources(
        &mut self,
        field: &str,
        value: &Value,
    ) -> Vec<(String, Vec<String>, Vec<String>)> {
        let items = self.sequence(field, value, "[{group: apps, resources: [deployments]}]");
        let mut entries = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let entry_field = format!("{field}[{index}]");
            let Some(mapping) = self.mapping(&entry_field, item) else {
                continue;
            };
            let mut group = String::new();
            let mut resources = Vec::new();
            let mut names = Vec::new();
            for (key, value) in self.entries(&entry_field, mapping) {
                let child = format!("{entry_field}.{key}");
                match key {
                    "group" => group = self.string(&child, value).unwrap_or_default(),
                    "resources" => resources = self.strings(&child, value, "[pods, pods/log]"),
                    "resourceNames" => names = self.strings(&child, value, "[my-config]"),
                    other => self.unknown_field(&child, other, &GROUP_RESOURCES_FIELDS, false),
                }
            }
            if !group.is_empty() && group != "*" && !is_dns_subdomain(&group) {
                let hint = if group.contains('/') {
                    "; give the group without its version"
                } else {
                    ""
                };
                self.problem(&format!("{entry_field}.group"), format!("{group:?} is not an API group: it must be a lowercase DNS subdomain such as \"apps\" or \"rbac.authorization.k8s.io\", \"\" for the core group, or \"*\"{hint}"));
            }
            if !names.is_empty() && resources.is_empty() {
                self.problem(
                    &format!("{entry_field}.resourceNames"),
                    "needs at least one entry in resources; list the resources the names belong to"
                        .to_owned(),
                );
            }
            entries.push((group, resources, names));
        }
        entries
    }

    fn extension(&mut self, value: &Value) -> Extension {
        let mut extension = Extension::default();
        let Some(mapping) = self.mapping("auditrail", value) else {
            return extension;
        };
        for (key, value) in self.entries("auditrail", mapping) {
            let field = format!("auditrail.{key}");
            match key {
                "ignoredEndpoints" => extension.ignored = self.ignored_endpoints(&field, value),
                "redactedEndpoints" => extension.redacted = self.redacted_endpoints(&field, value),
                "redact" => extension.redaction = self.redaction(&field, value),
                "maxEventBytes" => extension.max_event_bytes = self.max_event_bytes(&field, value),
                other => self.unknown_field(&field, other, &EXTENSION_FIELDS, true),
            }
        }
        extension
    }

    /// The entries of an endpoint list, `mke-defaults` expanded to `defaults`.
    fn endpoint_entries(
        &mut self,
        field: &str,
        value: &Value,
        defaults: &[&str],
    ) -> Vec<(String, String)> {
        let mut entries = Vec::new();
        for (index, text) in self
            .strings(field, value, "[mke-defaults, \"/healthz*\"]")
            .into_iter()
            .enumerate()
        {
            let entry_field = format!("{field}[{index}]");
            if text == MKE_DEFAULTS {
                entries.extend(
                    defaults
                        .iter()
                        .map(|text| (entry_field.clone(), (*text).to_owned())),
                );
            } else {
                entries.push((entry_field, text));
            }
        }
        if entries.len() > limits::ENDPOINT_PATTERNS_MAX {
            self.problem(
                field,
                format!(
                    "has {} patterns, more than the limit of {}; use wildcards",
                    entries.len(),
                    limits::ENDPOINT_PATTERNS_MAX
                ),
            );
            entries.clear();
        }
        entries
    }

    fn path_pattern(&mut self, field: &str, text: &str) -> Option<PathPattern> {
        let message = match PathPattern::parse(text) {
            Ok(pattern) => return Some(pattern),
            Err(PatternError::NoLeadingSlash) => {
                format!("{text:?} must start with \"/\" or be {MKE_DEFAULTS}")
            }
            Err(PatternError::HasQuery) => format!(
                "{text:?} has a query; patterns match the path without its query, remove it"
            ),
            Err(PatternError::TooLong) => format!(
                "is longer than {} bytes; shorten it",
                limits::ENDPOINT_PATTERN_BYTES_MAX
            ),
            Err(PatternError::TooManyWildcards) => format!(
                "{text:?} has more than {} \"*\"; simplify it",
                limits::ENDPOINT_PATTERN_WILDCARDS_MAX
            ),
        };
        self.problem(field, message);
        None
    }

    fn ignored_endpoints(&mut self, field: &str, value: &Value) -> Vec<PathPattern> {
        let entries = self.endpoint_entries(field, value, MKE_IGNORED_ENDPOINTS);
        entries
            .into_iter()
            .filter_map(|(field, text)| self.path_pattern(&field, &text))
            .collect()
    }

    fn redacted_endpoints(&mut self, field: &str, value: &Value) -> Vec<RedactedEndpoint> {
        let entries = self.endpoint_entries(field, value, MKE_REDACTED_ENDPOINTS);
        let mut endpoints = Vec::with_capacity(entries.len());
        for (field, text) in entries {
            let (method, path) = split_method(&text);
            if let Some(method) = method
                && (method.is_empty() || !method.bytes().all(|byte| byte.is_ascii_alphabetic()))
            {
                self.problem(
                    &field,
                    format!(
                        "{text:?} must be \"METHOD /path\" or \"/path\", e.g. \"POST /auth/login\""
                    ),
                );
                continue;
            }
            if let Some(pattern) = self.path_pattern(&field, path) {
                endpoints.push(RedactedEndpoint::new(method.map(str::to_owned), pattern));
            }
        }
        endpoints
    }

    fn redaction(&mut self, field: &str, value: &Value) -> Redaction {
        let mut redaction = Redaction::default();
        let Some(mapping) = self.mapping(field, value) else {
            return redaction;
        };
        for (key, value) in self.entries(field, mapping) {
            let child = format!("{field}.{key}");
            match key {
                "secrets" => redaction.secrets = self.bool(&child, value).unwrap_or(true),
                "tokenReviews" => {
                    redaction.token_reviews = self.bool(&child, value).unwrap_or(true)
                }
                "tokenRequests" => {
                    redaction.token_requests = self.bool(&child, value).unwrap_or(true)
                }
                "execCommands" => {
                    redaction.exec_commands = self.bool(&child, value).unwrap_or(true)
                }
                "paths" => redaction.paths = self.redact_paths(&child, value).into(),
                other => self.unknown_field(&child, other, &REDACT_FIELDS, true),
            }
        }
        redaction
    }

    fn redact_paths(&mut self, field: &str, value: &Value) -> Vec<PathRule> {
        let items = self.sequence(
            field,
            value,
            "[{resource: configmaps, jsonPath: data.password}]",
        );
        if items.len() > limits::REDACT_PATHS_MAX {
            self.problem(
                field,
                format!(
                    "has {} entries, more than the limit of {}; use wildcards such as [*]",
                    items.len(),
                    limits::REDACT_PATHS_MAX
                ),
            );
            return Vec::new();
        }
        if self.rule_lines.len() != items.len() {
            self.rule_lines.clear();
        }
        let mut rules = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let entry_field = format!("{field}[{index}]");
            let Some(mapping) = self.mapping(&entry_field, item) else {
                continue;
            };
            let (mut resource, mut group, mut json_path) = (None, None, None);
            for (key, value) in self.entries(&entry_field, mapping) {
                let child = format!("{entry_field}.{key}");
                match key {
                    "resource" => resource = self.string(&child, value),
                    "group" => group = self.string(&child, value),
                    "jsonPath" => json_path = self.string(&child, value).map(|text| (child, text)),
                    other => self.unknown_field(&child, other, &REDACT_PATH_FIELDS, true),
                }
            }
            if let Some(group) = group
                .as_deref()
                .filter(|group| !group.is_empty() && !is_dns_subdomain(group))
            {
                self.problem(&format!("{entry_field}.group"), format!("{group:?} is not an API group; use a lowercase DNS subdomain such as \"apps\", or \"\" for the core group"));
            }
            match json_path {
                None => self.problem(
                    &format!("{entry_field}.jsonPath"),
                    "missing; give the dotted path to redact, such as spec.token".to_owned(),
                ),
                Some((child, text)) => match JsonPath::parse(&text) {
                    Ok(path) => rules.push(PathRule::new(resource, group, path)),
                    Err(error) => self.problem(&child, format!("{text:?} {error}")),
                },
            }
        }
        rules
    }

    fn max_event_bytes(&mut self, field: &str, value: &Value) -> Option<usize> {
        let range = format!(
            "between {} and {}",
            limits::EVENT_BYTES_MIN,
            limits::EVENT_BYTES_MAX
        );
        match value {
            Value::Null => None,
            Value::Number(number) => match number
                .as_u64()
                .and_then(|bytes| usize::try_from(bytes).ok())
            {
                Some(bytes)
                    if (limits::EVENT_BYTES_MIN..=limits::EVENT_BYTES_MAX).contains(&bytes) =>
                {
                    Some(bytes)
                }
                _ => {
                    self.problem(
                        field,
                        format!("{number} is out of range; give a number of bytes {range}"),
                    );
                    None
                }
            },
            other => {
                self.problem(
                    field,
                    format!(
                        "must be a number of bytes {range}, not {}",
                        kind_name(other)
                    ),
                );
                None
            }
        }
    }
}

/// The `auditrail:` section, with its defaults.
struct Extension {
    ignored: Vec<PathPattern>,
    redacted: Vec<RedactedEndpoint>,
    redaction: Redaction,
    max_event_bytes: Option<usize>,
}

impl Default for Extension {
    fn default() -> Extension {
        Extension {
            ignored: Vec::new(),
            redacted: default_redacted_endpoints(),
            redaction: Redaction::default(),
            max_event_bytes: None,
        }
    }
}

/// The MKE redacted endpoints, the default of `auditrail.redactedEndpoints`.
pub(crate) fn default_redacted_endpoints() -> Vec<RedactedEndpoint> {
    MKE_REDACTED_ENDPOINTS
        .iter()
        .filter_map(|text| {
            let (method, path) = split_method(text);
            let pattern = PathPattern::parse(path).ok()?;
            Some(RedactedEndpoint::new(method.map(str::to_owned), pattern))
        })
        .collect()
}

/// Apimachinery's `IsDNS1123Subdomain`: at most 253 characters, dot-separated labels of
/// lowercase letters, digits and `-`, each starting and ending with a letter or digit.
fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            let bytes = label.as_bytes();
            let alphanumeric = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
            bytes.first().is_some_and(alphanumeric)
                && bytes.last().is_some_and(alphanumeric)
                && bytes.iter().all(|byte| alphanumeric(byte) || *byte == b'-')
        })
}

/// Levenshtein distance over bytes, for "did you mean" hints on short field names.
fn edit_distance(left: &str, right: &str) -> usize {
    let right = right.as_bytes();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (row, left_byte) in left.bytes().enumerate() {
        let mut current = vec![row + 1; right.len() + 1];
        for (column, right_byte) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_byte != *right_byte);
            current[column + 1] = substitution
                .min(previous[column + 1] + 1)
                .min(current[column] + 1);
        }
        previous = current;
    }
    previous[right.len()]
}

fn unknown_name_message(name: &str, what: &str, valid: &[&str]) -> String {
    match valid.iter().find(|valid| valid.eq_ignore_ascii_case(name)) {
        Some(valid) => {
            format!("{name:?} must be written {valid:?}; {what} names are case-sensitive")
        }
        None => format!("{name:?} is not a {what}; use one of {}", valid.join(", ")),
    }
}

fn kind_name(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => {
            format!("the string {:?}", text.chars().take(40).collect::<String>())
        }
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(tagged) => format!("a value tagged {}", tagged.tag),
    }
}

/// A one-line summary of a rule for reports.
fn describe(
    level: Level,
    lists: &[Vec<String>; 5],
    resources: &[(String, Vec<String>, Vec<String>)],
    omit_stages: StageSet,
) -> String {
    const DESCRIPTION_CHARS_MAX: usize = 200;
    let mut text = format!("level={level}");
    for (name, list) in [
        "users",
        "userGroups",
        "verbs",
        "namespaces",
        "nonResourceURLs",
    ]
    .iter()
    .zip(lists)
    {
        if !list.is_empty() {
            text.push_str(&format!(" {name}=[{}]", list.join(",")));
        }
    }
    if !resources.is_empty() {
        let specs: Vec<String> = resources
            .iter()
            .map(|(group, resources, names)| {
                let group = if group.is_empty() { "core" } else { group };
                let resources = if resources.is_empty() {
                    "*".to_owned()
                } else {
                    resources.join("|")
                };
                let names = if names.is_empty() {
                    String::new()
                } else {
                    format!(":{}", names.join("|"))
                };
                format!("{group}/{resources}{names}")
            })
            .collect();
        text.push_str(&format!(" resources=[{}]", specs.join(",")));
    }
    if !omit_stages.is_empty() {
        let stages: Vec<&str> = omit_stages.iter().map(Stage::as_str).collect();
        text.push_str(&format!(" omitStages=[{}]", stages.join(",")));
    }
    if text.chars().count() > DESCRIPTION_CHARS_MAX {
        text = text.chars().take(DESCRIPTION_CHARS_MAX).collect();
        text.push('…');
    }
    text
}

/// The 1-based line of each top-level key (`rules:` at column 0), and of each key directly
/// under `auditrail:`. A cheap line scan, good for block-style YAML; used only to point at
/// problems, so a miss just leaves the line out.
fn scan_key_lines(text: &str) -> HashMap<String, usize> {
    let mut lines = HashMap::new();
    let mut in_extension = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indented = trimmed.len() != line.len();
        let Some((key, _)) = trimmed.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(['"', '\'']);
        if !indented {
            in_extension = key == "auditrail";
            lines.entry(key.to_owned()).or_insert(index + 1);
        } else if in_extension && !key.starts_with('-') {
            lines.entry(key.to_owned()).or_insert(index + 1);
        }
    }
    lines
}

/// The 1-based line of each item of the top-level block sequence `rules:`, or nothing when
/// the layout is not the plain block form the scan understands. The caller only trusts it
/// when it has exactly one line per rule.
fn scan_rule_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut in_rules = false;
    let mut item_indent = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if !in_rules {
            if indent == 0
                && let Some(rest) = trimmed.strip_prefix("rules:")
            {
                let rest = rest.trim();
                if !(rest.is_empty() || rest.starts_with('#')) {
                    return Vec::new();
                }
                in_rules = true;
            }
            continue;
        }
        let is_item = trimmed == "-" || trimmed.starts_with("- ");
        match item_indent {
            None if is_item => {
                item_indent = Some(indent);
                lines.push(index + 1);
            }
            None => return Vec::new(),
            Some(item) if indent == item && is_item => lines.push(index + 1),
            Some(item) if indent < item || (indent == item && !is_item) => break,
            Some(_) => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_subdomains() {
        for good in [
            "apps",
            "rbac.authorization.k8s.io",
            "a",
            "x-1.example.com",
            "0a",
        ] {
            assert!(is_dns_subdomain(good), "{good}");
        }
        for bad in ["Apps", "apps/v1", "-a", "a-", "a..b", ".a", "a.", "a_b", ""] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
        assert!(!is_dns_subdomain(&"a".repeat(254)));
    }

    #[test]
    fn rule_lines_of_block_sequences() {
        let text = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n# comment\n- level: None\n  users: [a]\n\n- level: Metadata\n  resources:\n  - group: \"\"\nomitStages: [Panic]\n";
        assert_eq!(scan_rule_lines(text), vec![5, 8]);
        let indented =
            "rules:\n  - level: None\n  - level: Metadata\n    verbs:\n    - get\nkind: Policy\n";
        assert_eq!(scan_rule_lines(indented), vec![2, 3]);
        assert!(scan_rule_lines("rules: [{level: None}]").is_empty());
        let lines = scan_key_lines(
            "kind: Policy\nauditrail:\n  maxEventBytes: 10\n  redact:\n    secrets: true\nrules: []\n",
        );
        assert_eq!(lines.get("kind"), Some(&1));
        assert_eq!(lines.get("maxEventBytes"), Some(&3));
        assert_eq!(lines.get("rules"), Some(&6));
    }

    #[test]
    fn descriptions_are_short_and_complete() {
        let lists = [
            vec!["alice".to_owned()],
            vec![],
            vec!["get".to_owned(), "list".to_owned()],
            vec![],
            vec![],
        ];
        let resources = vec![
            ("".to_owned(), vec!["pods".to_owned()], vec![]),
            ("apps".to_owned(), vec![], vec![]),
        ];
        let stages: StageSet = [Stage::RequestReceived].into_iter().collect();
        assert_eq!(
            describe(Level::Metadata, &lists, &resources, stages),
            "level=Metadata users=[alice] verbs=[get,list] resources=[core/pods,apps/*] omitStages=[RequestReceived]"
        );
    }
}
