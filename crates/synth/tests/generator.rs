//! Properties of the generated traffic over a fixed sample.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use event::{ANNOTATION_DECISION, AuditEvent, Level, Outcome, SourceKind, Stage};
use synth::{Generator, LevelMix, SynthConfig};

const SAMPLE_EVENTS: usize = 10_000;

/// Ten thousand events with the default configuration, shared by the tests.
fn sample() -> &'static [AuditEvent] {
    static SAMPLE: OnceLock<Vec<AuditEvent>> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        Generator::new(42, SynthConfig::default())
            .take(SAMPLE_EVENTS)
            .collect()
    })
}

#[test]
fn the_same_seed_gives_the_same_events() {
    let first: Vec<AuditEvent> = Generator::new(7, SynthConfig::default())
        .take(3_000)
        .collect();
    let second: Vec<AuditEvent> = Generator::new(7, SynthConfig::default())
        .take(3_000)
        .collect();
    assert_eq!(first, second);
    let other: Vec<AuditEvent> = Generator::new(8, SynthConfig::default())
        .take(3_000)
        .collect();
    assert_ne!(first, other);
}

#[test]
fn every_verb_and_stage_appears() {
    let verbs: BTreeSet<&str> = sample().iter().map(|event| event.verb.as_str()).collect();
    for verb in [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ] {
        assert!(verbs.contains(verb), "no {verb} in {verbs:?}");
    }
    let stages: BTreeSet<Stage> = sample().iter().filter_map(|event| event.stage).collect();
    assert_eq!(stages, Stage::ALL.into_iter().collect());
    let levels: BTreeSet<Level> = sample().iter().filter_map(|event| event.level).collect();
    assert_eq!(
        levels,
        [Level::Metadata, Level::Request, Level::RequestResponse].into()
    );
}

#[test]
fn the_average_event_is_about_a_kilobyte() {
    let total: usize = sample().iter().map(AuditEvent::approximate_size).sum();
    let average = total / SAMPLE_EVENTS;
    assert!(
        (700..=1500).contains(&average),
        "average approximate size {average}"
    );
    let largest = sample()
        .iter()
        .map(AuditEvent::approximate_size)
        .max()
        .unwrap_or(0);
    assert!(largest > 20_000, "no large event: largest {largest}");
}

#[test]
fn bigger_bodies_make_bigger_events() {
    let config = SynthConfig {
        levels: LevelMix {
            metadata: 0,
            request: 0,
            request_response: 1,
        },
        ..SynthConfig::default()
    };
    let events: Vec<AuditEvent> = Generator::new(42, config).take(2_000).collect();
    let average = events
        .iter()
        .map(AuditEvent::approximate_size)
        .sum::<usize>()
        / events.len();
    assert!(average > 1_500, "average {average}");
}

#[test]
fn every_event_round_trips_through_its_json_form() {
    for event in sample() {
        let json = serde_json::to_string(event).unwrap();
        let back: AuditEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, event, "{json}");
    }
}

#[test]
fn secret_bodies_carry_data() {
    let mut secrets = 0;
    for event in sample() {
        for body in [&event.request_object, &event.response_object]
            .into_iter()
            .flatten()
        {
            let text = body.get();
            if text.contains(r#""kind":"Secret""#) || text.contains(r#""kind":"SecretList""#) {
                secrets += 1;
                if !text.contains(r#""items":[]"#) {
                    assert!(text.contains(r#""data":{"#), "{text}");
                }
            }
        }
    }
    assert!(secrets > 5, "only {secrets} secret bodies");
}

#[test]
fn events_are_shaped_like_the_kubernetes_decoder_fills_them() {
    for event in sample() {
        let json = serde_json::to_string(event).unwrap();
        assert_eq!(event.origin.source, SourceKind::K8s);
        assert_eq!(event.id.len(), 36, "{json}");
        let (time, stage_time) = (event.time.unwrap(), event.stage_time.unwrap());
        assert!(stage_time >= time, "{json}");
        assert_eq!(time.unix_nanos() % 1_000, 0, "not MicroTime: {json}");
        assert_eq!(stage_time.unix_nanos() % 1_000, 0, "not MicroTime: {json}");
        assert!(event.extensions.is_empty());
        assert!(event.method.is_none());
        assert!(event.uri.starts_with('/'), "{json}");
        assert!(
            !event.source_ips.is_empty() && event.source_ips.len() <= 2,
            "{json}"
        );
        if event.stage == Some(Stage::RequestReceived) {
            assert_eq!(stage_time, time, "{json}");
            assert!(
                event.status.is_none() && event.annotations.is_empty(),
                "{json}"
            );
            assert!(
                event.request_object.is_none() && event.response_object.is_none(),
                "{json}"
            );
            assert_eq!(event.outcome, Outcome::Unknown);
        } else {
            let decision = event
                .annotations
                .get(ANNOTATION_DECISION)
                .map(String::as_str);
            assert_eq!(
                event.outcome,
                AuditEvent::outcome_from_http(event.code(), decision),
                "{json}"
            );
        }
        match &event.object {
            Some(object) => {
                assert!(
                    object.api_group.is_some() && !object.api_version.is_empty(),
                    "{json}"
                );
                let group = object.group();
                let prefix = if group.is_empty() {
                    "/api/v1".to_owned()
                } else {
                    format!("/apis/{group}/")
                };
                assert!(event.uri.starts_with(&prefix), "{json}");
            }
            None => {
                assert_eq!(event.verb, "get", "{json}");
                assert!(event.request_object.is_none() && event.response_object.is_none());
                assert_eq!(event.level, Some(Level::Metadata));
            }
        }
        if event.user.is_empty() {
            assert_eq!(event.code(), Some(401), "{json}");
        } else {
            assert!(event.user.groups.is_some(), "{json}");
        }
    }
}

#[test]
fn stages_of_one_request_share_its_audit_id() {
    let mut stages: BTreeMap<&str, Vec<Stage>> = BTreeMap::new();
    for event in sample() {
        stages
            .entry(&event.id)
            .or_default()
            .push(event.stage.unwrap());
    }
    let mut complete_pairs = 0;
    for (id, stages) in &stages {
        let unique: BTreeSet<&Stage> = stages.iter().collect();
        assert_eq!(
            unique.len(),
            stages.len(),
            "{id}: a stage repeats: {stages:?}"
        );
        if stages == &[Stage::RequestReceived, Stage::ResponseComplete] {
            complete_pairs += 1;
        }
    }
    assert!(
        complete_pairs * 2 > SAMPLE_EVENTS * 8 / 10,
        "{complete_pairs} pairs"
    );
}

#[test]
fn object_names_are_present_except_for_collections_and_creates() {
    for event in sample() {
        let (Some(object), Some(Stage::ResponseComplete)) = (&event.object, event.stage) else {
            continue;
        };
        if matches!(event.verb.as_str(), "get" | "update" | "patch" | "delete") {
            assert!(
                !object.name.is_empty(),
                "{}",
                serde_json::to_string(event).unwrap()
            );
        }
        if matches!(event.verb.as_str(), "list" | "deletecollection") {
            assert!(object.name.is_empty());
        }
    }
}

#[test]
fn the_mix_looks_like_a_real_cluster() {
    let completions: Vec<&AuditEvent> = sample()
        .iter()
        .filter(|event| event.stage != Some(Stage::RequestReceived))
        .collect();
    let count = |predicate: &dyn Fn(&AuditEvent) -> bool| {
        completions.iter().filter(|e| predicate(e)).count()
    };
    let total = completions.len();
    let successes = count(&|e| e.code().is_some_and(|code| code < 400));
    assert!(
        successes * 100 > total * 85,
        "{successes} of {total} succeed"
    );
    for code in [401, 403, 404, 409, 422, 429, 500] {
        assert!(count(&|e| e.code() == Some(code)) > 0, "no {code}");
    }
    assert!(count(&|e| e.user.name.starts_with("system:node:")) * 4 > total);
    assert!(count(&|e| e.user.name.ends_with("@example.com")) * 20 > total);
    assert!(count(&|e| e.impersonated_user.is_some()) > 0);
    assert!(count(&|e| e.source_ips.len() == 2) > 0);
    assert!(
        count(&|e| e
            .annotations
            .get(ANNOTATION_DECISION)
            .is_some_and(|d| d == "forbid"))
            > 0
    );
    let extra = |e: &AuditEvent, key: &str| {
        e.user
            .extra
            .as_ref()
            .is_some_and(|extra| extra.contains_key(key))
    };
    assert!(count(&|e| extra(e, "authentication.kubernetes.io/credential-id")) > 0);
    assert!(count(&|e| extra(e, "authentication.kubernetes.io/pod-name")) > 0);
    let applied = |e: &AuditEvent| {
        [&e.request_object, &e.response_object]
            .into_iter()
            .flatten()
            .any(|body| {
                body.get()
                    .contains("kubectl.kubernetes.io/last-applied-configuration")
            })
    };
    assert!(count(&applied) > 0);
    assert!(
        count(&|e| e
            .request_object
            .as_ref()
            .is_some_and(|body| body.get().starts_with('[')))
            > 0,
        "no JSON patch"
    );
}

/// Secrets are deleted, as in a real cluster, by a person rotating credentials, by the
/// garbage collector and by Helm pruning old release revisions: a small share of requests,
/// spread over the namespaces.
#[test]
fn secrets_are_deleted_by_people_and_controllers() {
    let deletes: Vec<&AuditEvent> = sample()
        .iter()
        .filter(|event| {
            event.stage == Some(Stage::ResponseComplete)
                && event.verb == "delete"
                && event
                    .object
                    .as_ref()
                    .is_some_and(|o| o.resource == "secrets")
        })
        .collect();
    let requests = sample()
        .iter()
        .filter(|event| event.stage == Some(Stage::ResponseComplete))
        .count();
    assert!(
        !deletes.is_empty() && deletes.len() * 100 < requests,
        "{} secret deletes of {requests} requests",
        deletes.len()
    );
    let by = |part: &str| {
        deletes
            .iter()
            .filter(|event| event.user.name.contains(part))
            .count()
    };
    assert!(by("@example.com") > 0, "no person deletes a secret");
    assert!(by("generic-garbage-collector") > 0, "no garbage collection");
    assert!(by("deployer") > 0, "no Helm release pruned");
    let helm_pruned = deletes.iter().any(|event| {
        event
            .object
            .as_ref()
            .is_some_and(|o| o.name.starts_with("sh.helm.release.v1."))
    });
    assert!(helm_pruned, "no Helm release Secret deleted");
    let namespaces: BTreeSet<&str> = deletes.iter().map(|event| event.namespace()).collect();
    assert!(namespaces.len() >= 5, "{namespaces:?}");
    for event in &deletes {
        assert!(
            event.uri.starts_with(&format!(
                "/api/v1/namespaces/{}/secrets/",
                event.namespace()
            )),
            "{}",
            event.uri
        );
    }
}
