//! The deployment files under `deploy/`: the systemd unit (checked by `systemd-analyze`,
//! Debian package `systemd`), the container image definition and the Kubernetes manifests,
//! read offline and checked against each other and against what the server accepts: the
//! same ports, paths, user, configuration keys and shutdown time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use server::ConfigFile;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repository().join(path)).unwrap()
}

/// A server configuration given as text, parsed as `auditrail serve` parses it.
fn server_config(text: &str) -> ConfigFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auditrail.toml");
    std::fs::write(&path, text).unwrap();
    ConfigFile::load(&path).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

fn systemd_analyze() -> Command {
    let binary = std::env::var_os("SYSTEMD_ANALYZE")
        .map_or_else(|| PathBuf::from("systemd-analyze"), PathBuf::from);
    let probe = Command::new(&binary).arg("--version").output();
    assert!(
        probe.is_ok_and(|output| output.status.success()),
        "cannot run {}: install the Debian package `systemd` (apt-get install systemd)",
        binary.display()
    );
    Command::new(binary)
}

/// The settings of a unit file, `Section.Key` → values in order.
fn unit_settings(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line.split_once('=').unwrap();
        settings
            .entry(format!("{section}.{key}"))
            .or_default()
            .push(value.to_owned());
    }
    settings
}

#[test]
fn systemd_unit_is_hardened_and_verifies() {
    let text = read("deploy/systemd/auditrail.service");
    let unit = unit_settings(&text);
    let one = |key: &str| -> &str {
        let values = unit.get(key).unwrap_or_else(|| panic!("{key} is not set"));
        values.last().unwrap()
    };
    for (key, value) in [
        ("Service.User", "auditrail"),
        ("Service.StateDirectory", "auditrail"),
        ("Service.StateDirectoryMode", "0700"),
        ("Service.ConfigurationDirectory", "auditrail"),
        ("Service.ProtectSystem", "strict"),
        ("Service.ProtectHome", "yes"),
        ("Service.PrivateTmp", "yes"),
        ("Service.PrivateDevices", "yes"),
        ("Service.NoNewPrivileges", "yes"),
        ("Service.CapabilityBoundingSet", ""),
        ("Service.RestrictSUIDSGID", "yes"),
        ("Service.MemoryDenyWriteExecute", "yes"),
        ("Service.KillSignal", "SIGTERM"),
        ("Service.Restart", "on-failure"),
        ("Install.WantedBy", "multi-user.target"),
    ] {
        assert_eq!(one(key), value, "{key}");
    }
    // The unit starts the server on its state and configuration directories.
    let exec: Vec<&str> = one("Service.ExecStart").split_whitespace().collect();
    assert_eq!(
        exec,
        [
            "/usr/local/bin/auditrail",
            "--data",
            "/var/lib/auditrail",
            "serve",
            "--config",
            "/etc/auditrail/auditrail.toml"
        ]
    );
    // The example configuration's data directory is the unit's state directory.
    let example = ConfigFile::load(&repository().join("examples/auditrail.toml")).unwrap();
    assert_eq!(
        example.data.as_deref(),
        Some(Path::new("/var/lib/auditrail"))
    );
    // Stopping waits longer than the server's shutdown grace for in-flight requests.
    let stop: u64 = one("Service.TimeoutStopSec").parse().unwrap();
    assert!(stop > server::limits::SHUTDOWN_GRACE.as_secs());
    // The system user of the unit, with the state directory as its home.
    let sysusers = read("deploy/systemd/auditrail.sysusers");
    let user: Vec<&str> = sysusers
        .lines()
        .find(|line| line.starts_with("u "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        (user[1], user[user.len() - 2]),
        ("auditrail", "/var/lib/auditrail")
    );

    // systemd itself: the unit verifies (with the built binary in place of the installed
    // one), and its offline security review rates the exposure "OK" or better.
    let dir = tempfile::tempdir().unwrap();
    let unit_path = dir.path().join("auditrail.service");
    std::fs::write(
        &unit_path,
        text.replace("/usr/local/bin/auditrail", env!("CARGO_BIN_EXE_auditrail")),
    )
    .unwrap();
    let verify = systemd_analyze()
        .arg("verify")
        .arg(&unit_path)
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let security = systemd_analyze()
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit_path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|line| line.strip_prefix("→ Overall exposure level for auditrail.service: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| {
            panic!(
                "no exposure level: {report}{}",
                String::from_utf8_lossy(&security.stderr)
            )
        })
        .parse()
        .unwrap();
    assert!(exposure <= 2.0, "exposure {exposure}:\n{report}");
}

/// The instructions of a Containerfile, continuation lines joined: (instruction, arguments).
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut joined = String::new();
    let mut result = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && joined.is_empty()) {
            continue;
        }
        if let Some(start) = line.strip_suffix('\\') {
            joined.push_str(start);
            joined.push(' ');
            continue;
        }
        joined.push_str(line);
        let (instruction, arguments) = joined.split_once(' ').unwrap();
        result.push((instruction.to_uppercase(), arguments.trim().to_owned()));
        joined.clear();
    }
    result
}

#[test]
fn container_image_builds_the_release_binary_and_runs_it_unprivileged() {
    let steps = instructions(&read("deploy/container/Containerfile"));
    let stages: Vec<usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, (instruction, _))| instruction == "FROM")
        .map(|(index, _)| index)
        .collect();
    assert_eq!(stages.len(), 2, "a build stage and a run stage");
    let (build, run) = (&steps[stages[0]..stages[1]], &steps[stages[1]..]);
    // The build stage uses the pinned toolchain and the committed lock file.
    let toolchain = read("rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|line| line.strip_prefix("channel = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        build[0].1.contains(&format!("rust:{channel}")) && build[0].1.ends_with(" AS build"),
        "{:?}",
        build[0]
    );
    assert!(
        build
            .iter()
            .any(|(instruction, arguments)| instruction == "RUN"
                && arguments.contains("cargo build --release --locked -p auditrail"))
    );
    assert!(
        run[0].1.contains("debian:bookworm"),
        "glibc of the build stage's Debian"
    );
    let get = |name: &str| -> Vec<&str> {
        run.iter()
            .filter(|(instruction, _)| instruction == name)
            .map(|(_, arguments)| arguments.as_str())
            .collect()
    };
    assert!(
        get("COPY")
            .iter()
            .any(|copy| copy.starts_with("--from=build "))
    );
    // Not root.
    let user = get("USER");
    let uid: u32 = user
        .last()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(uid, 0);
    // The configuration it copies is the one it points AUDITRAIL_CONFIG at, and parses.
    let env = get("ENV").join(" ");
    let env_value = |key: &str| {
        env.split_whitespace()
            .find_map(|word| word.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("ENV {key}"))
            .to_owned()
    };
    let config_path = env_value("AUDITRAIL_CONFIG");
    assert!(
        get("COPY").contains(&format!("deploy/container/auditrail.toml {config_path}").as_str())
    );
    let config = server_config(&read("deploy/container/auditrail.toml"));
    let listen = config.listen.unwrap();
    // The data directory is the volume, and the configuration's.
    let data = env_value("AUDITRAIL_DATA");
    assert_eq!(get("VOLUME"), [format!("[\"{data}\"]").as_str()]);
    assert_eq!(config.data.as_deref(), Some(Path::new(&data)));
    // The port it listens on is exposed and checked by the health check.
    assert_eq!(get("EXPOSE"), [listen.port().to_string().as_str()]);
    let health = get("HEALTHCHECK");
    assert_eq!(health.len(), 1);
    assert!(
        health[0].contains(&format!("127.0.0.1:{}/healthz", listen.port())),
        "{health:?}"
    );
    assert_eq!(get("STOPSIGNAL"), ["SIGTERM"]);
    assert_eq!(get("ENTRYPOINT"), ["[\"/usr/local/bin/auditrail\"]"]);
    // The build context leaves out build output.
    assert!(read(".dockerignore").lines().any(|line| line == "target/"));
}

/// The documents of a multi-document YAML file, as JSON values.
fn documents(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| {
            let value: serde_yaml_ng::Value = serde::Deserialize::deserialize(document).unwrap();
            serde_json::to_value(value).unwrap()
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|object| object["kind"] == kind && object["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The volume mounted at `mount` in `container`, found in `pod`'s volumes.
fn mounted<'a>(pod: &'a Value, container: &Value, mount: &Path) -> &'a Value {
    let name = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|volume| Path::new(volume["mountPath"].as_str().unwrap()) == mount)
        .unwrap_or_else(|| panic!("nothing is mounted at {}", mount.display()))["name"]
        .clone();
    pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|volume| volume["name"] == name)
        .unwrap()
}

/// The volume whose mount holds `file`, and the file's name inside it.
fn holding<'a>(pod: &'a Value, container: &Value, file: &Path) -> (&'a Value, String) {
    let volume = mounted(pod, container, file.parent().unwrap());
    (
        volume,
        file.file_name().unwrap().to_str().unwrap().to_owned(),
    )
}

#[test]
fn kubernetes_manifests_agree_with_the_server_configuration() {
    let mut objects = documents("deploy/kubernetes/namespace.yaml");
    objects.extend(documents("deploy/kubernetes/server.yaml"));
    objects.extend(documents("deploy/kubernetes/agent.yaml"));
    for object in &objects {
        assert!(
            object["apiVersion"].is_string() && object["kind"].is_string(),
            "{object}"
        );
        if object["kind"] != "Namespace" {
            assert_eq!(object["metadata"]["namespace"], "auditrail", "{object}");
        }
    }
    let config_map = named(&objects, "ConfigMap", "auditrail-config");
    let config = server_config(config_map["data"]["auditrail.toml"].as_str().unwrap());
    let listen = config.listen.unwrap();
    let data = config.data.clone().unwrap();
    let policy_path = config.policy.clone().unwrap();

    // The server: one replica, stopped before its successor starts (one writer).
    let deployment = named(&objects, "Deployment", "auditrail");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(
        pod["terminationGracePeriodSeconds"].as_u64().unwrap()
            > server::limits::SHUTDOWN_GRACE.as_secs()
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let containerfile = read("deploy/container/Containerfile");
    let image_uid = instructions(&containerfile)
        .iter()
        .rev()
        .find(|(instruction, _)| instruction == "USER")
        .map(|(_, user)| user.split(':').next().unwrap().parse::<u64>().unwrap())
        .unwrap();
    assert_eq!(
        pod["securityContext"]["runAsUser"].as_u64(),
        Some(image_uid)
    );
    let container = &pod["containers"][0];
    assert_eq!(container["args"][0], "serve");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    let env = |container: &Value, name: &str| {
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|variable| variable["name"] == name)
            .and_then(|variable| variable["value"].as_str())
            .map(PathBuf::from)
    };
    assert_eq!(
        env(container, "AUDITRAIL_DATA").as_deref(),
        Some(data.as_path())
    );
    // Ports and probes: the configured port, HTTPS when a certificate is configured.
    let port = &container["ports"][0];
    assert_eq!(
        port["containerPort"].as_u64(),
        Some(u64::from(listen.port()))
    );
    let scheme = if config.tls.cert.is_some() {
        "HTTPS"
    } else {
        "HTTP"
    };
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path);
        assert_eq!(get["port"], port["name"]);
        assert_eq!(get["scheme"], scheme);
    }
    let service = named(&objects, "Service", "auditrail");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["template"]["metadata"]["labels"]
    );
    // The data directory is the persistent volume claim.
    let volume = mounted(pod, container, &data);
    let claim = named(
        &objects,
        "PersistentVolumeClaim",
        volume["persistentVolumeClaim"]["claimName"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(claim["spec"]["accessModes"][0], "ReadWriteOnce");
    // The configuration and the policy come from the ConfigMap, and the policy loads.
    for file in [env(container, "AUDITRAIL_CONFIG").unwrap(), policy_path] {
        let (volume, key) = holding(pod, container, &file);
        assert_eq!(volume["configMap"]["name"], config_map["metadata"]["name"]);
        assert!(config_map["data"][&key].is_string(), "{key}");
    }
    let policy = config_map["data"]["policy.yaml"].as_str().unwrap();
    policy::Policy::load(policy).unwrap_or_else(|error| panic!("{error}"));
    // The certificate, key and client CA come from the Secret.
    for file in [config.tls.cert, config.tls.key, config.tls.client_ca]
        .into_iter()
        .flatten()
    {
        let (volume, key) = holding(pod, container, &file);
        let secret = named(
            &objects,
            "Secret",
            volume["secret"]["secretName"].as_str().unwrap(),
        );
        assert!(secret["stringData"][&key].is_string(), "{key}");
    }

    // The agent: every node, the host's logs read-only, the same image.
    let daemon_set = named(&objects, "DaemonSet", "auditrail-agent");
    let pod = &daemon_set["spec"]["template"]["spec"];
    let agent = &pod["containers"][0];
    assert_eq!(agent["image"], container["image"]);
    assert_eq!(agent["args"][0], "agent");
    assert_eq!(agent["args"][1], "--config");
    let logs = mounted(pod, agent, Path::new("/var/log"));
    assert_eq!(logs["hostPath"]["path"], "/var/log");
    let log_mount = agent["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|mount| mount["mountPath"] == "/var/log")
        .unwrap();
    assert_eq!(log_mount["readOnly"], true);
    assert_eq!(agent["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(
        agent["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    let (volume, key) = holding(pod, agent, Path::new(agent["args"][2].as_str().unwrap()));
    let agent_config = named(
        &objects,
        "ConfigMap",
        volume["configMap"]["name"].as_str().unwrap(),
    )["data"][&key]
        .as_str()
        .unwrap();
    // The agent accepts its configuration; what it reads is under the host's /var/log, its
    // state on a host path, its credentials in the mounted Secret.
    let parsed: agent::AgentFile =
        toml::from_str(agent_config).unwrap_or_else(|error| panic!("{error}\n{agent_config}"));
    collect::config::validate(&parsed.sources).unwrap();
    let value: toml::Value = toml::from_str(agent_config).unwrap();
    let sources = value["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    for source in sources {
        for path in source["paths"].as_array().unwrap() {
            let path = path.as_str().unwrap();
            assert!(path.starts_with("/var/log/"), "{path}");
        }
    }
    assert!(mounted(pod, agent, &parsed.agent.state)["hostPath"]["path"].is_string());
    for file in [
        parsed.agent.client_cert,
        parsed.agent.client_key,
        parsed.agent.ca,
    ]
    .into_iter()
    .flatten()
    {
        let (volume, key) = holding(pod, agent, &file);
        let secret = named(
            &objects,
            "Secret",
            volume["secret"]["secretName"].as_str().unwrap(),
        );
        assert!(secret["stringData"][&key].is_string(), "{key}");
    }
}
