//! Command-line arguments, as users and tests rely on them (the contract in the brief). Names
//! and flags here are added to, never renamed.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};
use index::report::{ChargebackBy, Dimension};

/// A complete, trustworthy audit trail for container clusters.
#[derive(Debug, Parser)]
#[command(name = "auditrail", version, about, max_term_width = 100)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Decode, normalize, apply a policy and encode audit records; nothing is stored.
    Convert(ConvertArgs),
    /// Decode, normalize, apply the policy and store events durably in the audit trail.
    Import(ImportArgs),
    /// Find events: who did what, when, to which object, from where, with what result.
    Query(QueryArgs),
    /// Reports over the trail: changes, top-users, codes, activity, chargeback; and for Linux
    /// hosts, with aureport's numbers: summary, logins, executables, files, keys, failed.
    Report(ReportArgs),
    /// Any SQL query over the table `events` (one row per stored event; see --columns).
    Sql(SqlArgs),
    /// Check that nothing in the audit trail was edited, removed, reordered or rolled back.
    Verify(VerifyArgs),
    /// Print an inclusion proof that an event is in the audit trail.
    Prove(ProveArgs),
    /// Print the latest signed checkpoint of the audit trail.
    Checkpoint,
    /// Remove old segments of the audit trail, keeping what proofs and verify need, and
    /// record the prune, signed, in the trail itself.
    Prune(PruneArgs),
    /// Audit policy tools.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Run the HTTP server: the Kubernetes audit webhook, ingest of every format, metrics.
    Serve(ServeArgs),
    /// Manage the API tokens of the server (kept hashed in DATA/tokens.json).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Collect the sources of this node and forward them to a server (no local trail).
    Agent(AgentArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct AgentArgs {
    /// Configuration file (TOML; see examples/agent.toml): the server, credentials, the state
    /// directory and the [[sources]] to collect.
    #[arg(long, value_name = "FILE", env = "AUDITRAIL_AGENT_CONFIG")]
    pub(crate) config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Configuration file (TOML; see examples/auditrail.toml).
    #[arg(long, value_name = "FILE", env = "AUDITRAIL_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Address and port to listen on (port 0: any free port, printed at start)
    /// [default: 127.0.0.1:8443].
    #[arg(long, value_name = "ADDR:PORT", env = "AUDITRAIL_LISTEN")]
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// Audit policy applied to every ingested event.
    #[arg(long, value_name = "FILE", env = "AUDITRAIL_POLICY")]
    pub(crate) policy: Option<PathBuf>,
    /// Server certificate chain (PEM); with it the server speaks HTTPS.
    #[arg(long, value_name = "FILE", env = "AUDITRAIL_TLS_CERT")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, value_name = "FILE", env = "AUDITRAIL_TLS_KEY")]
    pub(crate) tls_key: Option<PathBuf>,
    /// CA (PEM) whose client certificates are accepted (mutual TLS).
    #[arg(long, value_name = "FILE", env = "AUDITRAIL_TLS_CLIENT_CA")]
    pub(crate) tls_client_ca: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it (it is shown only once).
    Create(TokenCreateArgs),
    /// Revoke a token by name or id.
    Revoke {
        /// The token's name or id.
        #[arg(value_name = "NAME|ID")]
        name: String,
    },
    /// List tokens (names, ids, roles; never the secrets).
    List,
}

#[derive(Debug, clap::Args)]
pub(crate) struct TokenCreateArgs {
    /// What the token may do.
    #[arg(long, value_enum)]
    pub(crate) role: TokenRole,
    /// Name of the token (default: ROLE-ID).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,
}

/// Roles of API tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TokenRole {
    /// Send events only.
    Ingest,
    /// Read the trail and metrics only.
    Read,
    /// Everything.
    Admin,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// Format of the input.
    #[arg(long, value_enum, default_value_t = FromFormat::Auto)]
    pub(crate) format: FromFormat,
    /// Audit policy applied before anything is stored; without it every event is kept as
    /// recorded, with the default redactions (Secret data, tokens, exec commands).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Name of the trail in its checkpoints, for a new data directory
    /// (default: auditrail.local/<host name>).
    #[arg(long, value_name = "ORIGIN")]
    pub(crate) origin: Option<String>,
    /// Sign checkpoints with this key file (signed-note signer key, mode 0600) instead of the
    /// key kept in the data directory.
    #[arg(long, value_name = "FILE")]
    pub(crate) signing_key: Option<PathBuf>,
    /// Print a line on standard error each time a batch is durably stored
    /// (`stored: trail holds N records`): what has been acknowledged so far.
    #[arg(long, short)]
    pub(crate) verbose: bool,
    /// Store the events in the ledger's row form (compressed blocks, one fsync per batch)
    /// instead of writing them straight to the columnar index that is the one copy of each
    /// event at rest, and leave sealed row-form segments unconverted; the next `import` (or a
    /// running `serve`) converts them.
    #[arg(long)]
    pub(crate) no_compact: bool,
    /// Input files; `-` or none reads standard input.
    #[command(flatten)]
    pub(crate) accounts: HostAccounts,
    #[arg(value_name = "FILE")]
    pub(crate) inputs: Vec<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FilterArgs {
    /// Events at or after this time: a duration ago (15m, 1h, 7d), today, yesterday, or an
    /// RFC 3339 time.
    #[arg(long, value_name = "DUR|TIME")]
    pub(crate) since: Option<String>,
    /// Events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// User name; `*` is a wildcard (`*@example.com`). Repeat for any of several.
    #[arg(long, value_name = "U")]
    pub(crate) user: Vec<String>,
    /// Verb (get, list, create, update, patch, delete, …). Repeatable.
    #[arg(long, value_name = "V")]
    pub(crate) verb: Vec<String>,
    /// Resource type (pods, secrets, …). Repeatable.
    #[arg(long, value_name = "R")]
    pub(crate) resource: Vec<String>,
    /// Namespace. Repeatable.
    #[arg(long, value_name = "NS")]
    pub(crate) namespace: Vec<String>,
    /// Object name; `*` is a wildcard. Repeatable.
    #[arg(long, value_name = "N")]
    pub(crate) name: Vec<String>,
    /// Response code (403) or class (4xx). Repeatable.
    #[arg(long, value_name = "CODE|4xx")]
    pub(crate) code: Vec<String>,
    /// Source kind: k8s, okd, mke, dcos, auditd, auditrail. Repeatable.
    #[arg(long, value_name = "KIND")]
    pub(crate) source: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
    /// Most events to print (newest first).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) limit: usize,
    /// How to print the events.
    #[arg(long, value_enum, default_value_t = QueryOutput::Table)]
    pub(crate) output: QueryOutput,
    /// Print events as a server stores them, until interrupted (needs --server). `json`
    /// prints one JSON object per line.
    #[arg(long, short = 'f')]
    pub(crate) follow: bool,
    #[command(flatten)]
    pub(crate) server: ServerArgs,
}

/// How to reach a running `auditrail serve`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// URL of the server (`https://auditrail.example:8443`).
    #[arg(long, value_name = "URL", env = "AUDITRAIL_SERVER")]
    pub(crate) server: Option<String>,
    /// Bearer token with the read role (`auditrail token create --role read`).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "AUDITRAIL_TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: Option<String>,
    /// CA certificates (PEM) to trust for the server's certificate, instead of the system's.
    #[arg(long, value_name = "FILE", env = "AUDITRAIL_CA")]
    pub(crate) ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, instead of a token.
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub(crate) client_cert: Option<PathBuf>,
    /// Private key (PEM) of --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub(crate) client_key: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  auditrail sql 'SELECT \"user\", count(*) AS requests FROM events GROUP BY 1 ORDER BY 2 DESC LIMIT 10'\n  auditrail sql --output csv \"SELECT time, verb, uri FROM events WHERE code >= 500\"\n  auditrail sql --columns"
)]
pub(crate) struct SqlArgs {
    /// The query (SELECT, WITH, EXPLAIN or DESCRIBE) over the table `events`.
    #[arg(value_name = "QUERY", required_unless_present = "columns")]
    pub(crate) query: Option<String>,
    /// List the columns of `events` with their types and meaning, and exit.
    #[arg(long, conflicts_with = "query")]
    pub(crate) columns: bool,
    /// How to print the rows (CSV suits spreadsheets; JSON lines suit scripts).
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub(crate) output: ReportFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    #[command(subcommand)]
    pub(crate) report: ReportKind,
    /// How to print the report (CSV suits spreadsheets).
    #[arg(long, value_enum, global = true, default_value_t = ReportFormat::Table)]
    pub(crate) output: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReportKind {
    /// Every write (create, update, patch, delete; PUT/POST/DELETE): TIMESTAMP USER ACTION
    /// OBJECT RESULT; with --object, one object's history with the diff between versions.
    Changes {
        #[command(flatten)]
        filters: FilterArgs,
        /// One object's history: RESOURCE/NAMESPACE/NAME (RESOURCE//NAME when cluster-scoped).
        #[arg(long, value_name = "RESOURCE/NAMESPACE/NAME")]
        object: Option<String>,
        /// Most rows (newest first).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Requests, writes and errors per user (or --by group, user-agent, source-ip, resource,
    /// namespace).
    TopUsers {
        #[command(flatten)]
        filters: FilterArgs,
        /// What to count by.
        #[arg(long, default_value = "user", value_parser = dimension_parser())]
        by: Dimension,
        /// Most rows.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Requests per response code and class, with the top users and paths behind 4xx/5xx.
    Codes {
        #[command(flatten)]
        filters: FilterArgs,
        /// Users and paths listed per error code.
        #[arg(long, default_value_t = 5)]
        top: usize,
    },
    /// One user's timeline, impersonation made visible (give --user).
    Activity {
        #[command(flatten)]
        filters: FilterArgs,
        /// Most rows (newest first).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Requests, writes and distinct users per namespace (or --by user, group).
    Chargeback {
        #[command(flatten)]
        filters: FilterArgs,
        /// What to charge.
        #[arg(long, default_value = "namespace", value_parser = chargeback_parser())]
        by: ChargebackBy,
    },
    /// Linux audit: aureport's summary (changes, logins, authentications, users, terminals,
    /// hosts, executables, files, failed syscalls, anomalies, keys, process ids, events).
    Summary {
        #[command(flatten)]
        filters: FilterArgs,
        #[command(flatten)]
        result: ResultArgs,
    },
    /// Linux audit logins, as `aureport -l`: TIME AUID HOST TERM EXE SUCCESS EVENT (a failed
    /// login shows the account tried); --summary: logins per user.
    Logins(HostReportArgs),
    /// Linux audit executables, as `aureport -x`: TIME EXE TERM HOST AUID EVENT; --summary:
    /// events per executable.
    Executables(HostReportArgs),
    /// Linux audit files, as `aureport -f`: TIME FILE SYSCALL SUCCESS EXE AUID EVENT;
    /// --summary: mentions per file.
    Files(HostReportArgs),
    /// Linux audit rule keys, as `aureport -k`: TIME KEY SUCCESS EXE AUID EVENT; --summary:
    /// events per key.
    Keys(HostReportArgs),
    /// Linux audit: the summary over failed events only, as `aureport --failed`.
    Failed {
        #[command(flatten)]
        filters: FilterArgs,
    },
}

/// `--failed` / `--success` of the host reports.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ResultArgs {
    /// Only failed events.
    #[arg(long, conflicts_with = "success")]
    pub(crate) failed: bool,
    /// Only successful events.
    #[arg(long)]
    pub(crate) success: bool,
}

/// Options of the detailed host reports (logins, executables, files, keys).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct HostReportArgs {
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
    #[command(flatten)]
    pub(crate) result: ResultArgs,
    /// Totals per value, most first, instead of one row per event (aureport's --summary).
    #[arg(long)]
    pub(crate) summary: bool,
    /// Most rows (oldest first, as aureport prints them).
    #[arg(long, default_value_t = index::table::DEFAULT_HOST_ROWS)]
    pub(crate) limit: usize,
}

/// `report top-users --by`: the names the reports API takes too (`index::table`).
fn dimension_parser() -> impl TypedValueParser<Value = Dimension> {
    PossibleValuesParser::new(Dimension::NAMES.map(|(name, _)| name))
        .try_map(|name| Dimension::parse(&name))
}

/// `report chargeback --by`.
fn chargeback_parser() -> impl TypedValueParser<Value = ChargebackBy> {
    PossibleValuesParser::new(ChargebackBy::NAMES.map(|(name, _)| name))
        .try_map(|name| ChargebackBy::parse(&name))
}

/// How reports print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// How `query` prints events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum QueryOutput {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON array of normalized events.
    Json,
    /// Normalized events, one per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
    /// Kubernetes audit.k8s.io/v1 events, one per line.
    K8s,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// A signed checkpoint kept outside the data directory (by a SIEM, a witness, a ticket);
    /// catches truncation and rollback. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub(crate) checkpoint: Vec<PathBuf>,
    /// The verifier key to trust instead of the one in the data directory (which an attacker
    /// who rewrote the store could have replaced).
    #[arg(long, value_name = "FILE")]
    pub(crate) verifier_key: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = ReportOutput::Table)]
    pub(crate) output: ReportOutput,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PruneArgs {
    /// Remove whole sealed segments whose events are all older than TIME: RFC 3339
    /// (2025-01-31T00:00:00Z) or a duration ago (30d, 12h, 90m, 1w2d).
    #[arg(long, value_name = "TIME")]
    pub(crate) before: Option<String>,
    /// Remove segments whose events are all older than this duration (30d, 12h); the
    /// configured maximum age. With --before, the later cutoff wins.
    #[arg(long, value_name = "DUR")]
    pub(crate) max_age: Option<String>,
    /// Remove the oldest segments until the segment files take at most this many bytes
    /// (suffixes K, M, G, T: powers of 1024); the configured maximum size.
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_bytes: Option<String>,
    /// Show what would be removed and remove nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Why, kept in the signed prune record (default: the criteria given).
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Option<String>,
    /// Sign the prune's checkpoints with this key file (as given to `import`) instead of the
    /// key kept in the data directory.
    #[arg(long, value_name = "FILE")]
    pub(crate) signing_key: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = ReportOutput::Table)]
    pub(crate) output: ReportOutput,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ProveArgs {
    /// The event: its ledger sequence number, or its id (Kubernetes auditID; every stored
    /// stage is proved).
    #[arg(value_name = "EVENT_ID")]
    pub(crate) event_id: String,
    /// How to print the proof: C2SP tlog-proof text, or JSON with the exact record.
    #[arg(long, value_enum, default_value_t = ProofOutput::Text)]
    pub(crate) output: ProofOutput,
}

/// How `prove` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProofOutput {
    /// The event and a c2sp.org/tlog-proof@v1 block.
    Text,
    /// One JSON document per event: record, event, proof.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Validate a policy and, given recorded events, tell what each rule would keep.
    Check(PolicyCheckArgs),
}

/// The log host's account files, to name the numeric ids in Linux audit records (never the
/// reading machine's own /etc/passwd).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct HostAccounts {
    /// The log host's /etc/passwd, to name uids in Linux audit records.
    #[arg(long, value_name = "FILE")]
    pub(crate) passwd: Option<PathBuf>,
    /// The log host's /etc/group, to name gids in Linux audit records.
    #[arg(long, value_name = "FILE")]
    pub(crate) group: Option<PathBuf>,
}

/// Options every command takes.
#[derive(Debug, clap::Args)]
pub(crate) struct CommonArgs {
    /// Data directory of the audit trail.
    #[arg(
        long,
        global = true,
        env = "AUDITRAIL_DATA",
        default_value = "./auditrail-data"
    )]
    pub(crate) data: PathBuf,
    /// Print no progress bar and no summary.
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConvertArgs {
    /// Format of the input.
    #[arg(long, value_enum, default_value_t = FromFormat::Auto)]
    pub(crate) from: FromFormat,
    /// Format of the output.
    #[arg(long, value_enum, default_value_t = ToFormat::K8s)]
    pub(crate) to: ToFormat,
    /// Kubernetes audit policy (audit.k8s.io/v1 Policy YAML, with an optional `auditrail:`
    /// section) applied to every event; without it every event passes unchanged.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Input files; `-` or none reads standard input.
    #[command(flatten)]
    pub(crate) accounts: HostAccounts,
    #[arg(value_name = "FILE")]
    pub(crate) inputs: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PolicyCheckArgs {
    /// The policy file to check.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: PathBuf,
    /// Format of the recorded events.
    #[arg(long, value_enum, default_value_t = FromFormat::Auto)]
    pub(crate) from: FromFormat,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = ReportOutput::Table)]
    pub(crate) output: ReportOutput,
    /// Recorded events to try the policy on; `-` reads standard input. Without inputs only
    /// the policy is validated.
    #[command(flatten)]
    pub(crate) accounts: HostAccounts,
    #[arg(value_name = "INPUT")]
    pub(crate) inputs: Vec<PathBuf>,
}

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FromFormat {
    /// Detect per input and per line.
    Auto,
    /// Kubernetes audit.k8s.io JSON (v1, v1beta1, v1alpha1; lines, EventList or array).
    K8s,
    /// The Kubernetes log backend's legacy one-line format.
    #[value(name = "k8s-legacy")]
    K8sLegacy,
    /// OpenShift/OKD 3.x master API log: two-line AUDIT: lines paired by id, one-line
    /// stage= lines, v1beta1 JSON.
    Okd,
    /// Mirantis MKE / Docker UCP ucp-controller log: logrus audit lines, bare or in Docker's
    /// json-file wrapper.
    Mke,
    /// DC/OS adminrouter auditlog() lines from journalctl text or journalctl -o json.
    Dcos,
    /// Linux audit logs (/var/log/audit/audit.log), raw or ENRICHED.
    Auditd,
    /// auditrail's normalized JSON lines.
    Jsonl,
}

impl FromFormat {
    pub(crate) fn input_format(self) -> formats::InputFormat {
        match self {
            FromFormat::Auto => formats::InputFormat::Auto,
            FromFormat::K8s => formats::InputFormat::K8s,
            FromFormat::K8sLegacy => formats::InputFormat::K8sLegacy,
            FromFormat::Okd => formats::InputFormat::Okd,
            FromFormat::Mke => formats::InputFormat::Mke,
            FromFormat::Dcos => formats::InputFormat::Dcos,
            FromFormat::Auditd => formats::InputFormat::Auditd,
            FromFormat::Jsonl => formats::InputFormat::Jsonl,
        }
    }
}

/// Output formats of `convert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ToFormat {
    /// Kubernetes audit.k8s.io/v1 events, one JSON object per line.
    K8s,
    /// auditrail's normalized events, one JSON object per line.
    Jsonl,
    /// Elastic Common Schema documents, one per line (Filebeat/Kibana field names).
    Ecs,
}

/// How reports are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportOutput {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON document.
    Json,
}
