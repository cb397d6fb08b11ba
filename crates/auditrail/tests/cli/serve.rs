//! `auditrail serve` end to end: the built binary with TLS and a client certificate (a
//! throwaway CA made here with rcgen), EventList batches of 400 as kube-apiserver sends
//! them, SIGKILL in the middle of the stream, restart, and every acknowledged event present
//! with `verify` passing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

use crate::run_in;

pub(crate) struct Pki {
    pub(crate) ca: String,
    client_cert: String,
    client_key: String,
}

pub(crate) fn pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "auditrail test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server = server_params.signed_by(&server_key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params.signed_by(&client_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.crt"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    Pki {
        ca: ca.pem(),
        client_cert: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

/// Starts `auditrail serve` on a free loopback port; returns the process and its base URL.
pub(crate) fn start(data: &Path, config: &Path) -> (Child, String) {
    start_on(data, config, "127.0.0.1:0")
}

/// Starts `auditrail serve` on `listen`; returns it and its base URL once it listens.
pub(crate) fn start_on(data: &Path, config: &Path, listen: &str) -> (Child, String) {
    let (child, address, _log) = start_logged(data, config, listen);
    (child, address)
}

/// [`start_on`], and the lines the server writes to standard error after it listens, until
/// it ends.
#[allow(clippy::zombie_processes)] // the caller kills and waits for it
pub(crate) fn start_logged(
    data: &Path,
    config: &Path,
    listen: &str,
) -> (Child, String, std::thread::JoinHandle<Vec<String>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditrail"))
        .args(["serve", "--listen", listen, "--config"])
        .arg(config)
        .env("AUDITRAIL_DATA", data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "serve ended early"
        );
        if let Some(address) = line.trim().strip_prefix("auditrail serve: listening on ") {
            let address = address.to_owned();
            // Keep draining standard error so that the server never blocks on it.
            let log = std::thread::spawn(move || stderr.lines().map_while(Result::ok).collect());
            return (child, address, log);
        }
    }
}

fn client(pki: &Pki) -> ureq::Agent {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
    let ca = Certificate::from_pem(pki.ca.as_bytes()).unwrap().to_owned();
    let cert = Certificate::from_pem(pki.client_cert.as_bytes())
        .unwrap()
        .to_owned();
    let key = PrivateKey::from_pem(pki.client_key.as_bytes())
        .unwrap()
        .to_owned();
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(vec![ca])))
        .client_cert(Some(ClientCert::new_with_certs(&[cert], key)))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into()
}

fn batch(first: usize) -> (Vec<String>, String) {
    let ids: Vec<String> = (first..first + 400)
        .map(|i| format!("e2e-{i:06}"))
        .collect();
    let items: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/secrets","verb":"list","user":{{"username":"system:admin"}},"sourceIPs":["10.0.0.1"],"objectRef":{{"resource":"secrets","namespace":"default","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2025-06-01T10:00:00.000000Z","stageTimestamp":"2025-06-01T10:00:00.010000Z"}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{}]}}"#,
        items.join(",")
    );
    (ids, body)
}

#[test]
fn webhook_over_mutual_tls_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pki = pki(dir.path());
    let config = dir.path().join("auditrail.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\n[[tls.client_roles]]\nsubject = \"kube-apiserver\"\nrole = \"ingest\"\n",
            dir.path().join("server.crt"),
            dir.path().join("server.key"),
            dir.path().join("ca.crt"),
        ),
    )
    .unwrap();
    let (mut server, address) = start(&data, &config);
    assert!(address.starts_with("https://127.0.0.1:"), "{address}");
    assert!(data.join("admin.token").exists());
    let url = format!("{address}/api/v1/ingest/k8s");
    let agent = client(&pki);
    // Without a certificate or token: 401.
    let anonymous: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![
                    ureq::tls::Certificate::from_pem(pki.ca.as_bytes())
                        .unwrap()
                        .to_owned(),
                ])))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .into();
    // A small body: the server refuses on the headers and may close before reading a large
    // one, which the client would see as a broken pipe rather than the 401.
    let response = anonymous.post(&url).send("{}").unwrap();
    assert_eq!(response.status(), 401);
    // A stream of batches from several connections; SIGKILL in the middle.
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let senders: Vec<_> = (0..3)
        .map(|sender| {
            let agent = agent.clone();
            let url = url.clone();
            let acknowledged = Arc::clone(&acknowledged);
            std::thread::spawn(move || {
                for round in 0..40 {
                    let (ids, body) = batch((sender * 40 + round) * 400);
                    let Ok(response) = agent
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .send(body)
                    else {
                        return;
                    };
                    if response.status() == 200 {
                        acknowledged.lock().unwrap().extend(ids);
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 4000 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    for sender in senders {
        sender.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 4000);
    // Restart: still serving, and a retried batch is stored once.
    let (mut server, address) = start(&data, &config);
    let response = client(&pki)
        .post(format!("{address}/api/v1/ingest/k8s"))
        .send(batch(0).1)
        .unwrap();
    assert_eq!(response.status(), 200);
    server.kill().unwrap();
    server.wait().unwrap();
    let verify = run_in(&data, &["verify"], b"");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    // Every acknowledged event is in the ledger, once.
    let events = ledger_ids(&data);
    let unique: std::collections::HashSet<&String> = events.iter().collect();
    assert_eq!(unique.len(), events.len(), "no event stored twice");
    for id in &acknowledged {
        assert!(unique.contains(id), "acknowledged event {id} is missing");
    }
}

/// The ids of the events stored, in ledger order.
fn ledger_ids(data: &Path) -> Vec<String> {
    let store =
        store::Store::open(data, store::StoreOptions::default(), std::time::UNIX_EPOCH).unwrap();
    let ledger = store.ledger();
    (ledger.first_seq()..ledger.tree_size())
        .filter_map(|seq| store.event(seq).unwrap())
        .map(|event| event.id)
        .collect()
}

#[test]
fn sigterm_finishes_in_flight_batches_and_writes_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("auditrail.toml");
    std::fs::write(&config, "").unwrap();
    let (mut server, address, log) = start_logged(&data, &config, "127.0.0.1:0");
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let token = token.trim().to_owned();
    let url = format!("{address}/api/v1/ingest/k8s");
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let senders: Vec<_> = (0..3)
        .map(|sender| {
            let url = url.clone();
            let token = token.clone();
            let acknowledged = Arc::clone(&acknowledged);
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                for round in 0..200 {
                    let (ids, body) = batch((sender * 200 + round) * 400);
                    let Ok(response) = agent
                        .post(&url)
                        .header("Authorization", &format!("Bearer {token}"))
                        .send(body)
                    else {
                        return;
                    };
                    match response.status().as_u16() {
                        200 => acknowledged.lock().unwrap().extend(ids),
                        // Refused before anything was accepted: the batch is not stored.
                        503 | 429 => {}
                        other => panic!("unexpected status {other}"),
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 2000 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let terminated = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    // The server exits by itself, successfully, once it has drained.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not stop within 60 s of SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    for sender in senders {
        sender.join().unwrap();
    }
    assert!(status.success(), "serve exited with {status}");
    let log = log.join().unwrap();
    assert!(
        log.iter()
            .any(|line| line.contains("the trail is closed with a final checkpoint")),
        "{log:?}"
    );
    // The last checkpoint commits to every stored event: nothing is an unsigned tail.
    let acknowledged = acknowledged.lock().unwrap().clone();
    let events = ledger_ids(&data);
    let unique: std::collections::HashSet<&String> = events.iter().collect();
    for id in &acknowledged {
        assert!(unique.contains(id), "acknowledged event {id} is missing");
    }
    let checkpoint = run_in(&data, &["checkpoint"], b"");
    assert!(checkpoint.status.success());
    let checkpoint = String::from_utf8(checkpoint.stdout).unwrap();
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let store =
        store::Store::open(&data, store::StoreOptions::default(), std::time::UNIX_EPOCH).unwrap();
    assert_eq!(size, store.ledger().tree_size(), "{checkpoint}");
    assert!(size >= acknowledged.len() as u64);
    drop(store);
    let verify = run_in(&data, &["verify"], b"");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
