//! The columns of the SQL table `events`: the columns of the Parquet index segments
//! (`index::schema`), documented for `auditrail sql --columns` and error messages.

use arrow_schema::DataType;
use index::schema::{Column, schema};

/// One column of `events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDoc {
    /// Its name in SQL.
    pub name: &'static str,
    /// Its type, in words.
    pub kind: &'static str,
    /// What it holds.
    pub description: &'static str,
}

/// Every column of `events`, in table order.
pub fn columns() -> Vec<ColumnDoc> {
    let schema = schema();
    Column::ALL
        .iter()
        .map(|column| ColumnDoc {
            name: column.name(),
            kind: schema
                .field_with_name(column.name())
                .map_or("?", |field| kind(field.data_type())),
            description: description(*column),
        })
        .collect()
}

/// The column names of `events`, comma-separated.
pub fn column_names() -> String {
    Column::ALL
        .iter()
        .map(|column| column.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn kind(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Timestamp(_, _) => "timestamp (UTC)",
        DataType::UInt64 => "uint64",
        DataType::UInt16 => "uint16",
        DataType::UInt8 => "uint8",
        DataType::List(_) => "list of text",
        DataType::Utf8 | DataType::Dictionary(_, _) => "text",
        _ => "other",
    }
}

fn description(column: Column) -> &'static str {
    match column {
        Column::Time => "when the request was received (else NULL: see stage_time)",
        Column::StageTime => "when the stage was reached",
        Column::LedgerSeq => "the event's ledger sequence number (unique; `auditrail prove`)",
        Column::Source => "the source: k8s, okd, mke, dcos, auditd, auditrail",
        Column::Stage => {
            "Kubernetes stage: RequestReceived, ResponseStarted, ResponseComplete, Panic"
        }
        Column::Level => "Kubernetes audit level: None, Metadata, Request, RequestResponse",
        Column::Node => "the machine that wrote the record",
        Column::User => "the authenticated user name",
        Column::Uid => "the authenticated user's uid",
        Column::Groups => "the user's groups (array_has(groups, 'system:masters'))",
        Column::Login => "the original login identity (auditd auid)",
        Column::ImpersonatedUser => "the user impersonated, if any",
        Column::Verb => "the action: get, list, create, update, patch, delete, ...",
        Column::Method => "the HTTP method",
        Column::ApiGroup => "the object's API group ('' for the core group)",
        Column::ApiVersion => "the object's API version",
        Column::Resource => "the object's resource type (pods, secrets, ...)",
        Column::Subresource => "the object's subresource (exec, status, ...)",
        Column::Namespace => "the object's namespace",
        Column::Name => "the object's name",
        Column::Uri => "the request path and query",
        Column::Code => "the HTTP response code",
        Column::Outcome => "unknown, allow, deny, success, failure",
        Column::SourceIp => "the first source address",
        Column::SourceIps => "every source address, client first",
        Column::UserAgent => "the client's user agent",
        Column::Decision => "the authorization decision annotation (allow, forbid)",
        Column::Reason => "the authorization reason annotation",
        Column::AuditId => "the source's request id (Kubernetes auditID)",
        Column::RequestObject => "the request body, JSON text (json functions: none; use LIKE)",
        Column::ResponseObject => "the response body, JSON text",
        Column::Annotations => "the annotations, one JSON object as text",
        Column::Rest => "the event's other fields as auditrail jsonl text",
        Column::RequestFlags => {
            "how reports count it: 1 a request, 2 a write, 4 an error (request_flags & 2 = 2)"
        }
        Column::OriginInput => "the file or stream the record was read from",
        Column::OriginLine => "the record's line number in its input (from 1)",
        Column::OriginOffset => "the record's byte offset in its input",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_documented_in_schema_order() {
        let docs = columns();
        let schema = schema();
        let names: Vec<&str> = schema
            .fields()
            .iter()
            .map(|field| field.name().as_str())
            .collect();
        let documented: Vec<&str> = docs.iter().map(|doc| doc.name).collect();
        assert_eq!(documented, names);
        assert!(
            docs.iter()
                .all(|doc| doc.kind != "other" && doc.kind != "?")
        );
    }
}
