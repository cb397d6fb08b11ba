//! Arrow values as JSON values: numbers stay numbers, strings and dictionary strings become
//! strings, timestamps RFC 3339 text (as `auditrail query` prints them), lists arrays,
//! structs objects, NULL null; any other type its Arrow display text.

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use event::Timestamp;
use serde_json::{Map, Number, Value};

use crate::error::{Error, Result};

/// Appends the rows of `batch`, one JSON value per column.
pub(crate) fn append_rows(batch: &RecordBatch, rows: &mut Vec<Vec<Value>>) -> Result<()> {
    let mut columns = Vec::with_capacity(batch.num_columns());
    for column in batch.columns() {
        columns.push(values(column.as_ref())?.into_iter());
    }
    for _ in 0..batch.num_rows() {
        rows.push(
            columns
                .iter_mut()
                .map(|column| column.next().unwrap_or(Value::Null))
                .collect(),
        );
    }
    Ok(())
}

/// The value of each row of `array`: `value(row)`, or null where the row is null.
fn rows(array: &dyn Array, value: impl Fn(usize) -> Value) -> Vec<Value> {
    (0..array.len())
        .map(|row| {
            if array.is_null(row) {
                Value::Null
            } else {
                value(row)
            }
        })
        .collect()
}

macro_rules! numbers {
    ($array:expr, $type:ty) => {{
        let array = $array.as_primitive::<$type>();
        rows(array, |row| Value::from(array.value(row)))
    }};
}

macro_rules! floats {
    ($array:expr, $type:ty) => {{
        let array = $array.as_primitive::<$type>();
        rows(array, |row| float(f64::from(array.value(row))))
    }};
}

macro_rules! times {
    ($array:expr, $type:ty, $nanos_per_unit:expr) => {{
        let array = $array.as_primitive::<$type>();
        rows(array, |row| {
            array
                .value(row)
                .checked_mul($nanos_per_unit)
                .map_or(Value::Null, |nanos| {
                    Value::String(Timestamp::from_unix_nanos(nanos).to_rfc3339())
                })
        })
    }};
}

/// The values of one column.
fn values(array: &dyn Array) -> Result<Vec<Value>> {
    let values = match array.data_type() {
        DataType::Null => vec![Value::Null; array.len()],
        DataType::Boolean => {
            let array = array.as_boolean();
            rows(array, |row| Value::Bool(array.value(row)))
        }
        DataType::Int8 => numbers!(array, Int8Type),
        DataType::Int16 => numbers!(array, Int16Type),
        DataType::Int32 => numbers!(array, Int32Type),
        DataType::Int64 => numbers!(array, Int64Type),
        DataType::UInt8 => numbers!(array, UInt8Type),
        DataType::UInt16 => numbers!(array, UInt16Type),
        DataType::UInt32 => numbers!(array, UInt32Type),
        DataType::UInt64 => numbers!(array, UInt64Type),
        DataType::Float32 => floats!(array, Float32Type),
        DataType::Float64 => floats!(array, Float64Type),
        DataType::Utf8 => strings(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => strings(array.as_string::<i64>().iter()),
        DataType::Utf8View => strings(array.as_string_view().iter()),
        DataType::Timestamp(TimeUnit::Second, _) => {
            times!(array, TimestampSecondType, 1_000_000_000)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            times!(array, TimestampMillisecondType, 1_000_000)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            times!(array, TimestampMicrosecondType, 1_000)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => times!(array, TimestampNanosecondType, 1),
        DataType::Dictionary(_, value_type) => {
            let plain = cast(array, value_type).map_err(|error| Error::Internal {
                message: error.to_string(),
            })?;
            values(plain.as_ref())?
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            nested(list.iter(), list.len())?
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            nested(list.iter(), list.len())?
        }
        DataType::Struct(fields) => {
            let structs = array.as_struct();
            let mut columns = Vec::with_capacity(fields.len());
            for column in structs.columns() {
                columns.push(values(column.as_ref())?);
            }
            (0..structs.len())
                .map(|row| {
                    if structs.is_null(row) {
                        return Value::Null;
                    }
                    let object: Map<String, Value> = fields
                        .iter()
                        .zip(&columns)
                        .map(|(field, column)| {
                            (
                                field.name().clone(),
                                column.get(row).cloned().unwrap_or(Value::Null),
                            )
                        })
                        .collect();
                    Value::Object(object)
                })
                .collect()
        }
        _ => displayed(array)?,
    };
    Ok(values)
}

fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Vec<Value> {
    values
        .map(|value| value.map_or(Value::Null, |text| Value::String(text.to_owned())))
        .collect()
}

fn nested(lists: impl Iterator<Item = Option<ArrayRef>>, length: usize) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(length);
    for list in lists {
        out.push(match list {
            Some(items) => Value::Array(values(items.as_ref())?),
            None => Value::Null,
        });
    }
    Ok(out)
}

/// A finite float as a number; NaN and the infinities as text, which JSON cannot hold.
fn float(value: f64) -> Value {
    Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number)
}

fn displayed(array: &dyn Array) -> Result<Vec<Value>> {
    let options = FormatOptions::default();
    let formatter = ArrayFormatter::try_new(array, &options).map_err(|error| Error::Internal {
        message: error.to_string(),
    })?;
    Ok(rows(array, |row| {
        Value::String(formatter.value(row).to_string())
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder, StringDictionaryBuilder};
    use arrow_array::{Float64Array, TimestampNanosecondArray, UInt16Array};
    use arrow_schema::{Field, Schema};
    use serde_json::json;

    use super::*;

    #[test]
    fn every_kind_of_column_becomes_json() {
        let mut dictionary = StringDictionaryBuilder::<Int32Type>::new();
        dictionary.append_value("alice");
        dictionary.append_null();
        let mut list = ListBuilder::new(StringBuilder::new());
        list.values().append_value("system:masters");
        list.append(true);
        list.append(false);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(
                TimestampNanosecondArray::from(vec![Some(1_700_000_000_123_456_789), None])
                    .with_timezone("UTC"),
            ),
            Arc::new(UInt16Array::from(vec![Some(404), None])),
            Arc::new(dictionary.finish()),
            Arc::new(list.finish()),
            Arc::new(Float64Array::from(vec![1.5, f64::NAN])),
        ];
        let schema = Schema::new(
            columns
                .iter()
                .enumerate()
                .map(|(at, column)| Field::new(format!("c{at}"), column.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        let batch = RecordBatch::try_new(Arc::new(schema), columns).unwrap();
        let mut rows = Vec::new();
        append_rows(&batch, &mut rows).unwrap();
        assert_eq!(
            rows,
            vec![
                vec![
                    json!("2023-11-14T22:13:20.123456789Z"),
                    json!(404),
                    json!("alice"),
                    json!(["system:masters"]),
                    json!(1.5)
                ],
                vec![
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    json!("NaN")
                ],
            ]
        );
    }
}
