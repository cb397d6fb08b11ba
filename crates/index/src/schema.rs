//! The Parquet/Arrow schema of a segment, and the mapping between [`AuditEvent`]s and rows.
//!
//! Every event is one row. The typed columns hold what queries filter and group on; the
//! `rest` column holds, as `jsonl` (the event's own serde form), exactly the fields that no
//! typed column holds (`user.extra`, the impersonated user, object
//! uid and resourceVersion, status text and details, paths, source port, extensions). So each
//! event is stored once, and reading its row back (`Segment::read_events`) gives an event
//! equal to the one written.
//!
//! Invariants:
//! - **Bijection.** Every event written reads back equal to itself. Each typed
//!   column either maps a field one to one (a `String` field that is empty is NULL; an
//!   `Option` that is `None` is NULL, `Some("")` is `""`), or is *derived* (`impersonated_user`,
//!   `source_ip`, `decision`, `reason`) and ignored when reading back.
//! - **Object fields** (`resource` … `api_group`) are non-NULL only when the event has an
//!   `object`; whether it has one is recorded by `rest.object` being present.
//! - **`code`** is non-NULL only when the event has a `status`; `rest.status` says whether.
//! - Low-cardinality strings are Arrow dictionaries (`Dictionary<Int32, Utf8>`), so a reader
//!   gets integer codes plus a small dictionary per row group, which the scans rely on.

use std::sync::Arc;

use arrow_array::builder::{
    ListBuilder, StringBuilder, StringDictionaryBuilder, TimestampNanosecondBuilder, UInt8Builder,
    UInt16Builder, UInt64Builder,
};
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, DictionaryArray, ListArray, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt16Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use event::{
    ANNOTATION_DECISION, ANNOTATION_REASON, Actor, AuditEvent, Level, ObjectRef, Origin, Outcome,
    RawJson, ResponseStatus, SourceKind, Stage, Timestamp,
};

use crate::error::{Error, Result};

/// One column of a segment. The discriminant is the column's position in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(usize)]
pub enum Column {
    /// `time`: when the request was received, timestamp(ns, UTC).
    Time,
    /// `stage_time`: when the stage was reached, timestamp(ns, UTC).
    StageTime,
    /// `ledger_seq`: the ledger sequence number, uint64, strictly increasing in a segment.
    LedgerSeq,
    /// `source`: `k8s`, `okd`, `mke`, `dcos`, `auditd`, `auditrail`.
    Source,
    /// `stage`: Kubernetes request stage.
    Stage,
    /// `level`: Kubernetes audit level.
    Level,
    /// `node`: the machine that wrote the record.
    Node,
    /// `user`: the authenticated user name.
    User,
    /// `uid`: the authenticated user's uid.
    Uid,
    /// `groups`: `list<utf8>` of the authenticated user's groups.
    Groups,
    /// `login`: the original login identity (auditd `auid`).
    Login,
    /// `impersonated_user`: the impersonated user's name (derived).
    ImpersonatedUser,
    /// `verb`: the action.
    Verb,
    /// `method`: the HTTP method.
    Method,
    /// `api_group`: the object's API group.
    ApiGroup,
    /// `api_version`: the object's API version.
    ApiVersion,
    /// `resource`: the object's resource type.
    Resource,
    /// `subresource`: the object's subresource.
    Subresource,
    /// `namespace`: the object's namespace.
    Namespace,
    /// `name`: the object's name.
    Name,
    /// `uri`: path and query as requested.
    Uri,
    /// `code`: the HTTP response code, uint16.
    Code,
    /// `outcome`: `unknown`, `allow`, `deny`, `success`, `failure`.
    Outcome,
    /// `source_ip`: the first source address (derived).
    SourceIp,
    /// `source_ips`: `list<utf8>` of all source addresses.
    SourceIps,
    /// `user_agent`: the client's user agent.
    UserAgent,
    /// `decision`: the `authorization.k8s.io/decision` annotation (derived).
    Decision,
    /// `reason`: the `authorization.k8s.io/reason` annotation (derived).
    Reason,
    /// `audit_id`: the source's request id (Kubernetes auditID).
    AuditId,
    /// `request_object`: the request body, JSON text.
    RequestObject,
    /// `response_object`: the response body, JSON text.
    ResponseObject,
    /// `annotations`: the annotations as one JSON object.
    Annotations,
    /// `rest`: the fields without a column, as `jsonl`.
    Rest,
    /// `request_flags`: uint8, how the reports count the event (derived):
    /// [`FLAG_REQUEST`], [`FLAG_WRITE`], [`FLAG_ERROR`].
    RequestFlags,
    /// `origin_input`: the file (or stream) the record was read from.
    OriginInput,
    /// `origin_line`: uint64, the record's line number in its input (from 1).
    OriginLine,
    /// `origin_offset`: uint64, the byte offset of the record in its input.
    OriginOffset,
}

/// `request_flags` bit: the event counts as one request (see [`crate::report`]).
pub const FLAG_REQUEST: u8 = 1;
/// `request_flags` bit: the event is a write.
pub const FLAG_WRITE: u8 = 2;
/// `request_flags` bit: the response code is 400 or more.
pub const FLAG_ERROR: u8 = 4;

/// Number of columns.
pub const COLUMN_COUNT: usize = Column::ALL.len();

impl Column {
    /// Every column, in schema order.
    pub const ALL: [Column; 37] = [
        Column::Time,
        Column::StageTime,
        Column::LedgerSeq,
        Column::Source,
        Column::Stage,
        Column::Level,
        Column::Node,
        Column::User,
        Column::Uid,
        Column::Groups,
        Column::Login,
        Column::ImpersonatedUser,
        Column::Verb,
        Column::Method,
        Column::ApiGroup,
        Column::ApiVersion,
        Column::Resource,
        Column::Subresource,
        Column::Namespace,
        Column::Name,
        Column::Uri,
        Column::Code,
        Column::Outcome,
        Column::SourceIp,
        Column::SourceIps,
        Column::UserAgent,
        Column::Decision,
        Column::Reason,
        Column::AuditId,
        Column::RequestObject,
        Column::ResponseObject,
        Column::Annotations,
        Column::Rest,
        Column::RequestFlags,
        Column::OriginInput,
        Column::OriginLine,
        Column::OriginOffset,
    ];

    /// The columns read to rebuild an event (all but the derived ones).
    pub const STORED: [Column; 32] = [
        Column::Time,
        Column::StageTime,
        Column::LedgerSeq,
        Column::Source,
        Column::Stage,
        Column::Level,
        Column::Node,
        Column::User,
        Column::Uid,
        Column::Groups,
        Column::Login,
        Column::Verb,
        Column::Method,
        Column::ApiGroup,
        Column::ApiVersion,
        Column::Resource,
        Column::Subresource,
        Column::Namespace,
        Column::Name,
        Column::Uri,
        Column::Code,
        Column::Outcome,
        Column::SourceIps,
        Column::UserAgent,
        Column::AuditId,
        Column::RequestObject,
        Column::ResponseObject,
        Column::Annotations,
        Column::Rest,
        Column::OriginInput,
        Column::OriginLine,
        Column::OriginOffset,
    ];

    /// Position in the schema.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The column name in Parquet, Arrow and SQL.
    pub fn name(self) -> &'static str {
        match self {
            Column::Time => "time",
            Column::StageTime => "stage_time",
            Column::LedgerSeq => "ledger_seq",
            Column::Source => "source",
            Column::Stage => "stage",
            Column::Level => "level",
            Column::Node => "node",
            Column::User => "user",
            Column::Uid => "uid",
            Column::Groups => "groups",
            Column::Login => "login",
            Column::ImpersonatedUser => "impersonated_user",
            Column::Verb => "verb",
            Column::Method => "method",
            Column::ApiGroup => "api_group",
            Column::ApiVersion => "api_version",
            Column::Resource => "resource",
            Column::Subresource => "subresource",
            Column::Namespace => "namespace",
            Column::Name => "name",
            Column::Uri => "uri",
            Column::Code => "code",
            Column::Outcome => "outcome",
            Column::SourceIp => "source_ip",
            Column::SourceIps => "source_ips",
            Column::UserAgent => "user_agent",
            Column::Decision => "decision",
            Column::Reason => "reason",
            Column::AuditId => "audit_id",
            Column::RequestObject => "request_object",
            Column::ResponseObject => "response_object",
            Column::Annotations => "annotations",
            Column::Rest => "rest",
            Column::RequestFlags => "request_flags",
            Column::OriginInput => "origin_input",
            Column::OriginLine => "origin_line",
            Column::OriginOffset => "origin_offset",
        }
    }

    /// True for low-cardinality strings stored as Arrow dictionaries.
    pub fn is_dictionary(self) -> bool {
        matches!(self.kind(), Kind::Dictionary)
    }

    fn kind(self) -> Kind {
        match self {
            Column::Time | Column::StageTime => Kind::Timestamp,
            Column::LedgerSeq | Column::OriginLine | Column::OriginOffset => Kind::U64,
            Column::Code => Kind::U16,
            Column::RequestFlags => Kind::U8,
            Column::Groups | Column::SourceIps => Kind::List,
            Column::Uri
            | Column::AuditId
            | Column::RequestObject
            | Column::ResponseObject
            | Column::Annotations
            | Column::Rest => Kind::Text,
            _ => Kind::Dictionary,
        }
    }

    fn nullable(self) -> bool {
        !matches!(
            self,
            Column::LedgerSeq
                | Column::Source
                | Column::Outcome
                | Column::Rest
                | Column::RequestFlags
        )
    }

    fn data_type(self) -> DataType {
        match self.kind() {
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            Kind::U64 => DataType::UInt64,
            Kind::U16 => DataType::UInt16,
            Kind::U8 => DataType::UInt8,
            Kind::List => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            Kind::Text => DataType::Utf8,
            Kind::Dictionary => {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            }
        }
    }

    /// The column with this name.
    pub fn from_name(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|column| column.name() == name)
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Timestamp,
    U64,
    U16,
    U8,
    List,
    Text,
    Dictionary,
}

/// The Arrow schema of a segment.
pub fn schema() -> SchemaRef {
    let fields: Vec<Field> = Column::ALL
        .iter()
        .map(|column| Field::new(column.name(), column.data_type(), column.nullable()))
        .collect();
    Arc::new(Schema::new(fields))
}

/// Builds record batches from events, one column builder per column.
pub(crate) struct BatchBuilder {
    time: TimestampNanosecondBuilder,
    stage_time: TimestampNanosecondBuilder,
    seq: UInt64Builder,
    line: UInt64Builder,
    offset: UInt64Builder,
    code: UInt16Builder,
    flags: UInt8Builder,
    dictionaries: Vec<StringDictionaryBuilder<Int32Type>>,
    lists: [ListBuilder<StringBuilder>; 2],
    texts: Vec<StringBuilder>,
    rows: usize,
}

impl std::fmt::Debug for BatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchBuilder")
            .field("rows", &self.rows)
            .finish()
    }
}

/// The dictionary columns in the order of `BatchBuilder::dictionaries`.
const DICTIONARY_COLUMNS: [Column; 22] = [
    Column::Source,
    Column::Stage,
    Column::Level,
    Column::Node,
    Column::User,
    Column::Uid,
    Column::Login,
    Column::ImpersonatedUser,
    Column::Verb,
    Column::Method,
    Column::ApiGroup,
    Column::ApiVersion,
    Column::Resource,
    Column::Subresource,
    Column::Namespace,
    Column::Name,
    Column::Outcome,
    Column::SourceIp,
    Column::UserAgent,
    Column::Decision,
    Column::Reason,
    Column::OriginInput,
];

/// The plain text columns in the order of `BatchBuilder::texts`.
const TEXT_COLUMNS: [Column; 6] = [
    Column::Uri,
    Column::AuditId,
    Column::RequestObject,
    Column::ResponseObject,
    Column::Annotations,
    Column::Rest,
];

impl BatchBuilder {
    pub(crate) fn new() -> BatchBuilder {
        BatchBuilder {
            time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            stage_time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            seq: UInt64Builder::new(),
            line: UInt64Builder::new(),
            offset: UInt64Builder::new(),
            code: UInt16Builder::new(),
            flags: UInt8Builder::new(),
            dictionaries: DICTIONARY_COLUMNS
                .iter()
                .map(|_| StringDictionaryBuilder::new())
                .collect(),
            lists: [
                ListBuilder::new(StringBuilder::new()),
                ListBuilder::new(StringBuilder::new()),
            ],
            texts: TEXT_COLUMNS.iter().map(|_| StringBuilder::new()).collect(),
            rows: 0,
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    fn dictionary(&mut self, column: Column, value: Option<&str>) {
        let position = DICTIONARY_COLUMNS
            .iter()
            .position(|candidate| *candidate == column);
        if let Some(builder) = position.and_then(|at| self.dictionaries.get_mut(at)) {
            match value {
                Some(value) => builder.append_value(value),
                None => builder.append_null(),
            }
        }
    }

    fn text(&mut self, column: Column, value: Option<&str>) {
        let position = TEXT_COLUMNS
            .iter()
            .position(|candidate| *candidate == column);
        if let Some(builder) = position.and_then(|at| self.texts.get_mut(at)) {
            builder.append_option(value);
        }
    }

    fn list(&mut self, which: usize, values: Option<&[String]>) {
        if let Some(builder) = self.lists.get_mut(which) {
            match values {
                Some(values) => {
                    for value in values {
                        builder.values().append_value(value);
                    }
                    builder.append(true);
                }
                None => builder.append(false),
            }
        }
    }

    /// Appends one event as a row.
    pub(crate) fn append(&mut self, seq: u64, event: &AuditEvent) -> Result<()> {
        self.time
            .append_option(event.time.map(Timestamp::unix_nanos));
        self.stage_time
            .append_option(event.stage_time.map(Timestamp::unix_nanos));
        self.seq.append_value(seq);
        self.line.append_option(event.origin.line);
        self.offset.append_option(event.origin.offset);
        self.code.append_option(event.code());
        self.flags.append_value(request_flags(event));
        let object = event.object.as_ref();
        let decision = event.annotations.get(ANNOTATION_DECISION);
        let reason = event.annotations.get(ANNOTATION_REASON);
        self.dictionary(Column::Source, Some(event.origin.source.as_str()));
        self.dictionary(Column::Stage, event.stage.map(Stage::as_str));
        self.dictionary(Column::Level, event.level.map(Level::as_str));
        self.dictionary(Column::Node, event.node.as_deref());
        self.dictionary(Column::User, non_empty(&event.user.name));
        self.dictionary(Column::Uid, non_empty(&event.user.uid));
        self.dictionary(Column::Login, event.user.login.as_deref());
        self.dictionary(
            Column::ImpersonatedUser,
            event
                .impersonated_user
                .as_ref()
                .and_then(|actor| non_empty(&actor.name)),
        );
        self.dictionary(Column::Verb, non_empty(&event.verb));
        self.dictionary(Column::Method, event.method.as_deref());
        self.dictionary(
            Column::ApiGroup,
            object.and_then(|object| object.api_group.as_deref()),
        );
        self.dictionary(
            Column::ApiVersion,
            object.and_then(|object| non_empty(&object.api_version)),
        );
        self.dictionary(
            Column::Resource,
            object.and_then(|object| non_empty(&object.resource)),
        );
        self.dictionary(
            Column::Subresource,
            object.and_then(|object| non_empty(&object.subresource)),
        );
        self.dictionary(
            Column::Namespace,
            object.and_then(|object| non_empty(&object.namespace)),
        );
        self.dictionary(
            Column::Name,
            object.and_then(|object| non_empty(&object.name)),
        );
        self.dictionary(Column::Outcome, Some(event.outcome.as_str()));
        self.dictionary(
            Column::SourceIp,
            event.source_ips.first().map(String::as_str),
        );
        self.dictionary(Column::UserAgent, event.user_agent.as_deref());
        self.dictionary(Column::Decision, decision.map(String::as_str));
        self.list(0, event.user.groups.as_deref());
        self.list(
            1,
            (!event.source_ips.is_empty()).then_some(event.source_ips.as_slice()),
        );
        self.dictionary(Column::Reason, reason.map(String::as_str));
        self.dictionary(Column::OriginInput, event.origin.input.as_deref());
        self.text(Column::Uri, non_empty(&event.uri));
        self.text(Column::AuditId, non_empty(&event.id));
        self.text(
            Column::RequestObject,
            event.request_object.as_ref().map(RawJson::get),
        );
        self.text(
            Column::ResponseObject,
            event.response_object.as_ref().map(RawJson::get),
        );
        let annotations = if event.annotations.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string(&event.annotations).map_err(|error| Error::Row {
                    row: self.rows as u64,
                    reason: error.to_string(),
                })?,
            )
        };
        self.text(Column::Annotations, annotations.as_deref());
        let rest = serde_json::to_string(&rest_of(event)).map_err(|error| Error::Row {
            row: self.rows as u64,
            reason: error.to_string(),
        })?;
        self.text(Column::Rest, Some(&rest));
        self.rows += 1;
        Ok(())
    }

    /// Takes the rows appended so far as one batch and starts anew.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch> {
        let mut columns: Vec<Option<ArrayRef>> = vec![None; COLUMN_COUNT];
        let mut put = |column: Column, array: ArrayRef| {
            if let Some(slot) = columns.get_mut(column.index()) {
                *slot = Some(array);
            }
        };
        put(Column::Time, Arc::new(self.time.finish()));
        put(Column::StageTime, Arc::new(self.stage_time.finish()));
        put(Column::LedgerSeq, Arc::new(self.seq.finish()));
        put(Column::OriginLine, Arc::new(self.line.finish()));
        put(Column::OriginOffset, Arc::new(self.offset.finish()));
        put(Column::Code, Arc::new(self.code.finish()));
        put(Column::RequestFlags, Arc::new(self.flags.finish()));
        for (column, builder) in DICTIONARY_COLUMNS.iter().zip(&mut self.dictionaries) {
            put(*column, Arc::new(builder.finish()));
        }
        for (column, builder) in [Column::Groups, Column::SourceIps]
            .iter()
            .zip(&mut self.lists)
        {
            put(*column, Arc::new(builder.finish()));
        }
        for (column, builder) in TEXT_COLUMNS.iter().zip(&mut self.texts) {
            put(*column, Arc::new(builder.finish()));
        }
        self.rows = 0;
        let columns: Option<Vec<ArrayRef>> = columns.into_iter().collect();
        let columns = columns.ok_or_else(|| Error::Schema {
            reason: "a column has no builder".to_owned(),
        })?;
        Ok(RecordBatch::try_new(schema(), columns)?)
    }
}

/// The `request_flags` of an event, by the counting rules of [`crate::report`].
pub fn request_flags(event: &AuditEvent) -> u8 {
    let mut flags = 0;
    if crate::report::is_request(event) {
        flags |= FLAG_REQUEST;
    }
    if crate::report::is_write(event) {
        flags |= FLAG_WRITE;
    }
    if event.code().is_some_and(|code| code >= 400) {
        flags |= FLAG_ERROR;
    }
    flags
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// The event with every field that has a column left out (set to its default), so that its
/// serde form is the `rest` column.
fn rest_of(event: &AuditEvent) -> AuditEvent {
    AuditEvent {
        origin: Origin::default(),
        user: Actor {
            extra: event.user.extra.clone(),
            ..Actor::default()
        },
        impersonated_user: event.impersonated_user.clone(),
        object: event.object.as_ref().map(|object| ObjectRef {
            uid: object.uid.clone(),
            resource_version: object.resource_version.clone(),
            ..ObjectRef::default()
        }),
        paths: event.paths.clone(),
        source_port: event.source_port,
        status: event.status.as_ref().map(|status| ResponseStatus {
            code: None,
            ..status.clone()
        }),
        extensions: event.extensions.clone(),
        ..AuditEvent::default()
    }
}

/// A dictionary column: codes plus values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DictText<'a> {
    pub(crate) array: &'a DictionaryArray<Int32Type>,
    pub(crate) values: &'a StringArray,
}

impl<'a> DictText<'a> {
    pub(crate) fn new(array: &'a ArrayRef, column: Column) -> Result<DictText<'a>> {
        let array = array
            .as_any()
            .downcast_ref::<DictionaryArray<Int32Type>>()
            .ok_or_else(|| wrong_type(column))?;
        let values = array
            .values()
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| wrong_type(column))?;
        Ok(DictText { array, values })
    }

    /// The dictionary key of `row`, `None` when NULL.
    pub(crate) fn key(&self, row: usize) -> Option<usize> {
        if self.array.is_null(row) {
            return None;
        }
        usize::try_from(*self.array.keys().values().get(row)?).ok()
    }

    /// The value of `row`, `None` when NULL.
    pub(crate) fn get(&self, row: usize) -> Option<&'a str> {
        if self.array.is_null(row) {
            return None;
        }
        let key = usize::try_from(*self.array.keys().values().get(row)?).ok()?;
        (key < self.values.len()).then(|| self.values.value(key))
    }
}

pub(crate) fn wrong_type(column: Column) -> Error {
    Error::Schema {
        reason: format!("column {} has an unexpected type", column.name()),
    }
}

pub(crate) fn downcast<T: 'static>(batch: &RecordBatch, column: Column) -> Result<&T> {
    batch
        .column_by_name(column.name())
        .ok_or_else(|| Error::Schema {
            reason: format!("column {} is missing", column.name()),
        })?
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| wrong_type(column))
}

/// Typed access to the stored columns of one batch, for reading events back. It holds its
/// own references to the arrays (cheap: Arrow arrays share their buffers), so that a reader
/// can keep it beside the batch's reader and decode one row at a time.
pub(crate) struct StoredColumns {
    rows: usize,
    time: TimestampNanosecondArray,
    stage_time: TimestampNanosecondArray,
    seq: UInt64Array,
    line: UInt64Array,
    offset: UInt64Array,
    code: UInt16Array,
    /// By [`Column::index`]; `None` for the columns that are not dictionaries.
    dictionaries: Vec<Option<OwnedDict>>,
    groups: ListArray,
    source_ips: ListArray,
    /// By [`Column::index`]; `None` for the columns that are not plain text.
    texts: Vec<Option<StringArray>>,
}

/// A dictionary column's codes and values, held by [`StoredColumns`].
struct OwnedDict {
    keys: arrow_array::Int32Array,
    values: StringArray,
}

impl OwnedDict {
    fn get(&self, row: usize) -> Option<&str> {
        if self.keys.is_null(row) {
            return None;
        }
        let key = usize::try_from(*self.keys.values().get(row)?).ok()?;
        (key < self.values.len()).then(|| self.values.value(key))
    }
}

impl StoredColumns {
    pub(crate) fn new(batch: &RecordBatch) -> Result<StoredColumns> {
        let slots = Column::STORED
            .iter()
            .map(|column| column.index() + 1)
            .max()
            .unwrap_or_default();
        let mut dictionaries: Vec<Option<OwnedDict>> = (0..slots).map(|_| None).collect();
        let mut texts: Vec<Option<StringArray>> = (0..slots).map(|_| None).collect();
        for column in Column::STORED {
            match column.kind() {
                Kind::Dictionary => {
                    let array =
                        batch
                            .column_by_name(column.name())
                            .ok_or_else(|| Error::Schema {
                                reason: format!("column {} is missing", column.name()),
                            })?;
                    let dict = DictText::new(array, column)?;
                    if let Some(slot) = dictionaries.get_mut(column.index()) {
                        *slot = Some(OwnedDict {
                            keys: dict.array.keys().clone(),
                            values: dict.values.clone(),
                        });
                    }
                }
                Kind::Text => {
                    let array = downcast::<StringArray>(batch, column)?.clone();
                    if let Some(slot) = texts.get_mut(column.index()) {
                        *slot = Some(array);
                    }
                }
                _ => {}
            }
        }
        Ok(StoredColumns {
            rows: batch.num_rows(),
            time: downcast::<TimestampNanosecondArray>(batch, Column::Time)?.clone(),
            stage_time: downcast::<TimestampNanosecondArray>(batch, Column::StageTime)?.clone(),
            seq: downcast::<UInt64Array>(batch, Column::LedgerSeq)?.clone(),
            line: downcast::<UInt64Array>(batch, Column::OriginLine)?.clone(),
            offset: downcast::<UInt64Array>(batch, Column::OriginOffset)?.clone(),
            code: downcast::<UInt16Array>(batch, Column::Code)?.clone(),
            dictionaries,
            groups: downcast::<ListArray>(batch, Column::Groups)?.clone(),
            source_ips: downcast::<ListArray>(batch, Column::SourceIps)?.clone(),
            texts,
        })
    }

    /// The number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    fn dict(&self, column: Column, row: usize) -> Option<&str> {
        self.dictionaries
            .get(column.index())?
            .as_ref()
            .and_then(|dict| dict.get(row))
    }

    fn text(&self, column: Column, row: usize) -> Option<&str> {
        let array = self.texts.get(column.index())?.as_ref()?;
        (!array.is_null(row)).then(|| array.value(row))
    }

    fn list(array: &ListArray, row: usize) -> Option<Vec<String>> {
        if array.is_null(row) {
            return None;
        }
        let values = array.value(row);
        let strings = values.as_any().downcast_ref::<StringArray>()?;
        Some(
            strings
                .iter()
                .map(|value| value.unwrap_or_default().to_owned())
                .collect(),
        )
    }

    /// The ledger sequence number of `row`.
    pub(crate) fn seq(&self, row: usize) -> u64 {
        self.seq.value(row)
    }

    /// Reads `row` back as the event that was written.
    pub(crate) fn event(&self, row: usize) -> Result<AuditEvent> {
        let bad = |reason: String| Error::Row {
            row: row as u64,
            reason,
        };
        let rest = self
            .text(Column::Rest, row)
            .ok_or_else(|| bad("rest is NULL".to_owned()))?;
        let mut event: AuditEvent =
            serde_json::from_str(rest).map_err(|error| bad(error.to_string()))?;
        let owned = |column: Column| self.dict(column, row).map(str::to_owned);
        let text = |column: Column| self.dict(column, row).unwrap_or_default().to_owned();
        event.origin.source = parse_source(self.dict(Column::Source, row).unwrap_or_default())
            .ok_or_else(|| bad("unknown source".to_owned()))?;
        event.origin.input = self.dict(Column::OriginInput, row).map(Arc::from);
        event.origin.line = (!self.line.is_null(row)).then(|| self.line.value(row));
        event.origin.offset = (!self.offset.is_null(row)).then(|| self.offset.value(row));
        event.id = self
            .text(Column::AuditId, row)
            .unwrap_or_default()
            .to_owned();
        event.stage = match self.dict(Column::Stage, row) {
            Some(stage) => Some(
                stage
                    .parse()
                    .map_err(|error: event::UnknownName| bad(error.to_string()))?,
            ),
            None => None,
        };
        event.level = match self.dict(Column::Level, row) {
            Some(level) => Some(
                level
                    .parse()
                    .map_err(|error: event::UnknownName| bad(error.to_string()))?,
            ),
            None => None,
        };
        event.time =
            (!self.time.is_null(row)).then(|| Timestamp::from_unix_nanos(self.time.value(row)));
        event.stage_time = (!self.stage_time.is_null(row))
            .then(|| Timestamp::from_unix_nanos(self.stage_time.value(row)));
        event.user.name = text(Column::User);
        event.user.uid = text(Column::Uid);
        event.user.groups = Self::list(&self.groups, row);
        event.user.login = owned(Column::Login);
        event.verb = text(Column::Verb);
        event.method = owned(Column::Method);
        if let Some(object) = event.object.as_mut() {
            object.resource = text(Column::Resource);
            object.namespace = text(Column::Namespace);
            object.name = text(Column::Name);
            object.api_group = owned(Column::ApiGroup);
            object.api_version = text(Column::ApiVersion);
            object.subresource = text(Column::Subresource);
        }
        event.uri = self.text(Column::Uri, row).unwrap_or_default().to_owned();
        event.source_ips = Self::list(&self.source_ips, row).unwrap_or_default();
        event.user_agent = owned(Column::UserAgent);
        event.node = owned(Column::Node);
        if let Some(status) = event.status.as_mut() {
            status.code = (!self.code.is_null(row)).then(|| self.code.value(row));
        }
        event.outcome = parse_outcome(self.dict(Column::Outcome, row).unwrap_or_default())
            .ok_or_else(|| bad("unknown outcome".to_owned()))?;
        if let Some(annotations) = self.text(Column::Annotations, row) {
            event.annotations =
                serde_json::from_str(annotations).map_err(|error| bad(error.to_string()))?;
        }
        let body = |column: Column| -> Result<Option<RawJson>> {
            self.text(column, row)
                .map(|json| RawJson::from_string(json.to_owned()))
                .transpose()
                .map_err(|error| bad(error.to_string()))
        };
        event.request_object = body(Column::RequestObject)?;
        event.response_object = body(Column::ResponseObject)?;
        Ok(event)
    }
}

/// The source kind named `text` (the lower-case names of [`SourceKind::as_str`]).
pub fn parse_source(text: &str) -> Option<SourceKind> {
    [
        SourceKind::K8s,
        SourceKind::Okd,
        SourceKind::Mke,
        SourceKind::Dcos,
        SourceKind::Auditd,
        SourceKind::Auditrail,
    ]
    .into_iter()
    .find(|kind| kind.as_str() == text)
}

fn parse_outcome(text: &str) -> Option<Outcome> {
    [
        Outcome::Unknown,
        Outcome::Allow,
        Outcome::Deny,
        Outcome::Success,
        Outcome::Failure,
    ]
    .into_iter()
    .find(|outcome| outcome.as_str() == text)
}

/// Events of a batch, with their sequence numbers.
pub(crate) fn events_from_batch(batch: &RecordBatch) -> Result<Vec<(u64, AuditEvent)>> {
    let columns = StoredColumns::new(batch)?;
    let mut events = Vec::with_capacity(columns.rows());
    for row in 0..columns.rows() {
        events.push((columns.seq(row), columns.event(row)?));
    }
    Ok(events)
}
