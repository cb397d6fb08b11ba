//! `auditrail query --follow`: the live tail of a running server (`GET /api/v1/events/stream`,
//! server-sent events), printed in the formats of `query` as events arrive.
//!
//! The HTTP client is ureq: blocking (this command reads one stream and prints it, so an
//! async runtime would buy nothing), rustls for TLS with a given CA or the bundled web roots,
//! and client certificates for mutual TLS. Server-sent events are lines (`event:`, `data:`,
//! `id:`, a blank line ends one); the few lines that read them are here.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use event::AuditEvent;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use crate::cli::{CommonArgs, QueryArgs, QueryOutput, ServerArgs};
use crate::limits::{ERROR_BODY_BYTES_MAX, PEM_FILE_BYTES_MAX, STREAM_LINE_BYTES_MAX};
use crate::{Status, query};

pub(crate) fn run(args: &QueryArgs, common: &CommonArgs) -> Result<Status> {
    let Some(server) = args.server.server.as_deref() else {
        bail!("query --follow reads a running server: give --server URL (or AUDITRAIL_SERVER)");
    };
    let agent = agent(&args.server)?;
    let url = format!("{}/api/v1/events/stream", server.trim_end_matches('/'));
    let mut request = agent.get(&url).header("Accept", "text/event-stream");
    for (name, value) in query::filter_text(&args.filters).pairs() {
        request = request.query(name, value);
    }
    if let Some(token) = &args.server.token {
        request = request.header("Authorization", format!("Bearer {}", token.trim()));
    }
    let response = request
        .call()
        .with_context(|| format!("cannot connect to {server}; check --server and --ca"))?;
    let status = response.status().as_u16();
    if status != 200 {
        let mut body = String::new();
        let _ = response
            .into_body()
            .into_reader()
            .take(ERROR_BODY_BYTES_MAX)
            .read_to_string(&mut body);
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|value| value.get("error")?.as_str().map(str::to_owned))
            .unwrap_or(body);
        let hint = match status {
            401 => "; give a token with --token (or AUDITRAIL_TOKEN) or a client certificate",
            403 => "; the credentials need the read role (auditrail token create --role read)",
            _ => "",
        };
        bail!("{server} answered {status}: {}{hint}", message.trim());
    }
    if !common.quiet {
        crate::input::eprintln_clear(&format!("following {server}; stop with Ctrl-C"));
    }
    let mut reader = BufReader::new(response.into_body().into_reader());
    let stdout = std::io::stdout();
    let mut printer = Printer::new(args.output);
    let mut message = Message::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(STREAM_LINE_BYTES_MAX as u64 + 1)
            .read_until(b'\n', &mut line)
            .context("the stream from the server broke off; run again to resume")?;
        if read == 0 {
            bail!("the server ended the stream (it may be shutting down); run again to resume");
        }
        if line.len() > STREAM_LINE_BYTES_MAX {
            bail!("a line of the stream is longer than {STREAM_LINE_BYTES_MAX} bytes");
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.is_empty() {
            message.add(text);
            continue;
        }
        let taken = std::mem::take(&mut message);
        match taken.event.as_deref() {
            Some("audit") => {
                let event: AuditEvent = serde_json::from_str(&taken.data)
                    .context("the server sent an event this version cannot read")?;
                let mut out = stdout.lock();
                printer.print(&mut out, &event)?;
                out.flush()?;
            }
            Some("lag") => {
                let missed = serde_json::from_str::<serde_json::Value>(&taken.data)
                    .ok()
                    .and_then(|value| value.get("missed")?.as_u64())
                    .unwrap_or(0);
                crate::input::eprintln_clear(&format!(
                    "auditrail: warning: this client fell behind and the server skipped {missed} stored batches of events; run `auditrail query` over the time range to see them"
                ));
            }
            _ => {}
        }
    }
}

/// One server-sent event being read.
#[derive(Debug, Default)]
struct Message {
    event: Option<String>,
    data: String,
}

impl Message {
    fn add(&mut self, line: &str) {
        if line.starts_with(':') {
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value);
            }
            _ => {}
        }
    }
}

/// Prints events one at a time in the formats of `query`.
struct Printer {
    output: QueryOutput,
    header: bool,
}

/// Widths of the streamed table's columns (a stream cannot be measured in advance; longer
/// values push the row out rather than being cut).
const TABLE_WIDTHS: [usize; 7] = [30, 28, 8, 40, 6, 15, 9];

impl Printer {
    fn new(output: QueryOutput) -> Printer {
        Printer {
            output,
            header: false,
        }
    }

    fn print(&mut self, out: &mut impl Write, event: &AuditEvent) -> Result<()> {
        match self.output {
            QueryOutput::Table => {
                if !self.header {
                    self.header = true;
                    write_row(out, index::table::EVENT_HEADER.map(str::to_owned))?;
                }
                write_row(out, index::table::event_columns(event))?;
            }
            QueryOutput::Csv => {
                let rows = index::table::events([event]);
                let mut text = Vec::new();
                crate::report::write(&mut text, &rows, crate::cli::ReportFormat::Csv)?;
                let text = String::from_utf8_lossy(&text);
                let mut lines = text.lines();
                let header = lines.next().unwrap_or_default();
                if !self.header {
                    self.header = true;
                    writeln!(out, "{header}")?;
                }
                for line in lines {
                    writeln!(out, "{line}")?;
                }
            }
            QueryOutput::Json | QueryOutput::Jsonl => {
                let mut buffer = Vec::new();
                formats::jsonl::encode(event, &mut buffer);
                out.write_all(&buffer)?;
            }
            QueryOutput::K8s => {
                let mut buffer = Vec::new();
                formats::k8s::encode(event, &mut buffer);
                out.write_all(&buffer)?;
            }
        }
        Ok(())
    }
}

fn write_row(out: &mut impl Write, cells: [String; 7]) -> Result<()> {
    let mut line = String::new();
    for (at, (cell, width)) in cells.iter().zip(TABLE_WIDTHS).enumerate() {
        if at + 1 == cells.len() {
            line.push_str(cell);
        } else {
            line.push_str(&format!("{cell:<width$} "));
        }
    }
    writeln!(out, "{}", line.trim_end())?;
    Ok(())
}

/// An HTTP agent for the server: its CA (or the bundled web roots) and a client certificate
/// when given.
pub(crate) fn agent(args: &ServerArgs) -> Result<ureq::Agent> {
    let mut tls = TlsConfig::builder();
    if let Some(ca) = &args.ca {
        let certificates: Vec<Certificate<'static>> = pem_items(ca)?
            .into_iter()
            .filter_map(|item| match item {
                PemItem::Certificate(certificate) => Some(certificate),
                _ => None,
            })
            .collect();
        if certificates.is_empty() {
            bail!("{}: no PEM certificate in the file", ca.display());
        }
        tls = tls.root_certs(RootCerts::Specific(Arc::new(certificates)));
    }
    if let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) {
        let chain: Vec<Certificate<'static>> = pem_items(cert)?
            .into_iter()
            .filter_map(|item| match item {
                PemItem::Certificate(certificate) => Some(certificate),
                _ => None,
            })
            .collect();
        let private: Option<PrivateKey<'static>> =
            pem_items(key)?.into_iter().find_map(|item| match item {
                PemItem::PrivateKey(key) => Some(key),
                _ => None,
            });
        let Some(private) = private else {
            bail!("{}: no PEM private key in the file", key.display());
        };
        if chain.is_empty() {
            bail!("{}: no PEM certificate in the file", cert.display());
        }
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, private)));
    }
    Ok(ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(false)
        .build()
        .into())
}

fn pem_items(path: &Path) -> Result<Vec<PemItem<'static>>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(PEM_FILE_BYTES_MAX + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > PEM_FILE_BYTES_MAX {
        bail!(
            "{}: larger than {PEM_FILE_BYTES_MAX} bytes, not a PEM file",
            path.display()
        );
    }
    ureq::tls::parse_pem(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a PEM file", path.display()))
}
