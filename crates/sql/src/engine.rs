//! The DataFusion side: a session with the table `events`, limits, and errors translated into
//! messages that say what to do next.

use std::sync::Arc;

use arrow_array::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::common::SchemaError;
use datafusion::datasource::ViewTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures_util::StreamExt;
use index::Dataset;

use crate::error::{Error, Result};
use crate::limits::{BATCH_ROWS, SHUTDOWN_GRACE, SUGGESTED_COLUMNS_MAX, THREADS_MAX};
use crate::{Answer, AnswerColumn, Options, values};

/// The table's name in SQL.
pub(crate) const TABLE: &str = "events";

pub(crate) fn run(dataset: &Dataset, query: &str, options: &Options) -> Result<Answer> {
    let threads = options.threads.clamp(1, THREADS_MAX);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("auditrail-sql")
        .enable_time()
        .build()
        .map_err(|error| Error::Internal {
            message: format!("cannot start the query threads: {error}"),
        })?;
    let answer = runtime.block_on(async {
        let work = execute(dataset, query, options, threads);
        match options.timeout {
            Some(limit) => tokio::time::timeout(limit, work)
                .await
                .unwrap_or(Err(Error::Timeout {
                    seconds: limit.as_secs().max(1),
                })),
            None => work.await,
        }
    });
    // Stops whatever a timed-out query left running, without waiting long for it.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    answer
}

async fn execute(
    dataset: &Dataset,
    query: &str,
    options: &Options,
    threads: usize,
) -> Result<Answer> {
    let context = session(options, threads)?;
    register_events(&context, dataset, threads)?;
    let refuse_changes = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = context
        .sql_with_options(query, refuse_changes)
        .await
        .map_err(|error| translate(&error, options))?;
    let schema = Arc::clone(frame.schema().inner());
    let mut stream = frame
        .execute_stream()
        .await
        .map_err(|error| translate(&error, options))?;
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut rows = 0_usize;
    let mut bytes = 0_usize;
    let mut truncated = false;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|error| translate(&error, options))?;
        if batch.num_rows() == 0 {
            continue;
        }
        let room = options.rows_max - rows;
        let size = batch.get_array_memory_size();
        if batch.num_rows() > room || bytes + size > options.answer_bytes_max {
            truncated = true;
            let keep = if bytes + size > options.answer_bytes_max {
                // Keep the share of the batch that fits, row by row on average.
                let left = options.answer_bytes_max.saturating_sub(bytes);
                (batch.num_rows() * left / size.max(1)).min(room)
            } else {
                room
            };
            if keep > 0 {
                batches.push(batch.slice(0, keep));
                rows += keep;
            }
            break;
        }
        rows += batch.num_rows();
        bytes += size;
        batches.push(batch);
    }
    drop(stream);
    let columns = unique_names(schema.fields().iter().map(|field| field.name().as_str()))
        .into_iter()
        .zip(schema.fields().iter())
        .map(|(name, field)| AnswerColumn {
            name,
            data_type: field.data_type().to_string(),
        })
        .collect();
    let mut answer_rows = Vec::with_capacity(rows);
    for batch in &batches {
        values::append_rows(batch, &mut answer_rows)?;
    }
    Ok(Answer {
        columns,
        rows: answer_rows,
        truncated,
    })
}

fn session(options: &Options, threads: usize) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_batch_size(BATCH_ROWS)
        .with_information_schema(true);
    let parquet = &mut config.options_mut().execution.parquet;
    // Read strings as the segment schema has them (Utf8 and dictionaries), as the tail's
    // in-memory batch has them, rather than converting every file's strings to views.
    parquet.schema_force_view_types = false;
    parquet.pruning = true;
    parquet.bloom_filter_on_read = true;
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(options.memory_bytes, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .map_err(|error| Error::Internal {
            message: error.to_string(),
        })?;
    Ok(SessionContext::new_with_config_rt(config, runtime))
}

/// Registers `events`: the sealed segment files UNION ALL the unsealed tail, as a view so
/// that the optimizer pushes projections and filters into both sides.
fn register_events(context: &SessionContext, dataset: &Dataset, threads: usize) -> Result<()> {
    let schema = index::schema::schema();
    let internal = |error: DataFusionError| Error::Internal {
        message: error.to_string(),
    };
    let mut sides = Vec::new();
    if !dataset.segments().is_empty() {
        let mut urls = Vec::with_capacity(dataset.segments().len());
        for segment in dataset.segments() {
            let path = segment.path();
            let text = path.to_str().ok_or_else(|| Error::Internal {
                message: format!("{} is not a UTF-8 path", path.display()),
            })?;
            urls.push(ListingTableUrl::parse(text).map_err(internal)?);
        }
        // The store names the files; no extension filter, every listed file is read.
        let listing =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension("");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(listing)
            .with_schema(Arc::clone(&schema));
        let table = ListingTable::try_new(config).map_err(internal)?;
        sides.push(
            LogicalPlanBuilder::scan("sealed", provider_as_source(Arc::new(table)), None)
                .map_err(internal)?,
        );
    }
    let partitions = match dataset.tail_batch() {
        Some(batch) if batch.num_rows() > 0 => split(batch, threads),
        _ => Vec::new(),
    };
    if !partitions.is_empty() || sides.is_empty() {
        let partitions = if partitions.is_empty() {
            vec![Vec::new()]
        } else {
            partitions
        };
        let tail = MemTable::try_new(Arc::clone(&schema), partitions).map_err(internal)?;
        sides.push(
            LogicalPlanBuilder::scan("tail", provider_as_source(Arc::new(tail)), None)
                .map_err(internal)?,
        );
    }
    let mut sides = sides.into_iter();
    let Some(mut plan) = sides.next() else {
        return Err(Error::Internal {
            message: "no table side".to_owned(),
        });
    };
    for side in sides {
        plan = plan
            .union(side.build().map_err(internal)?)
            .map_err(internal)?;
    }
    let view = ViewTable::new(plan.build().map_err(internal)?, None);
    context
        .register_table(TABLE, Arc::new(view))
        .map_err(internal)?;
    Ok(())
}

/// The tail in about `parts` zero-copy slices, so that a scan of it uses every thread.
fn split(batch: &RecordBatch, parts: usize) -> Vec<Vec<RecordBatch>> {
    let rows = batch.num_rows();
    let per_part = rows.div_ceil(parts.max(1)).max(1);
    (0..rows)
        .step_by(per_part)
        .map(|start| vec![batch.slice(start, per_part.min(rows - start))])
        .collect()
}

/// `name`, then `name_2`, `name_3` … for repeats.
fn unique_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for name in names {
        let mut candidate = name.to_owned();
        let mut number = 2;
        while seen.contains(&candidate) {
            candidate = format!("{name}_{number}");
            number += 1;
        }
        seen.push(candidate);
    }
    seen
}

/// DataFusion's error as one of ours, with what to do next.
fn translate(error: &DataFusionError, options: &Options) -> Error {
    match error.find_root() {
        DataFusionError::SQL(parse, _) => Error::Syntax {
            message: parse
                .to_string()
                .trim_start_matches("sql parser error: ")
                .to_owned(),
        },
        DataFusionError::SchemaError(schema_error, _) => match schema_error.as_ref() {
            SchemaError::FieldNotFound {
                field,
                valid_fields,
            } => {
                let mut valid: Vec<String> = Vec::new();
                for candidate in valid_fields {
                    let name = candidate.name().to_owned();
                    if !valid.contains(&name) {
                        valid.push(name);
                    }
                }
                let more = valid.len() > SUGGESTED_COLUMNS_MAX;
                valid.truncate(SUGGESTED_COLUMNS_MAX);
                let mut valid = valid.join(", ");
                if more {
                    valid.push_str(", …");
                }
                if valid.is_empty() {
                    valid = "none".to_owned();
                }
                let hint = closest(
                    field.name(),
                    valid_fields.iter().map(|column| column.name()),
                )
                .map(|name| format!(" (did you mean {name}?)"))
                .unwrap_or_default();
                Error::UnknownColumn {
                    name: field.name().to_owned(),
                    hint,
                    valid,
                }
            }
            other => Error::Plan {
                message: other.to_string(),
            },
        },
        DataFusionError::Plan(message)
            if message.contains("table") && message.contains("not found") =>
        {
            Error::UnknownTable {
                message: message.clone(),
            }
        }
        DataFusionError::Plan(message)
            if message.contains("not supported") || message.contains("not allowed") =>
        {
            Error::NotAQuery {
                message: message.clone(),
            }
        }
        DataFusionError::Plan(message) | DataFusionError::NotImplemented(message) => Error::Plan {
            message: message.clone(),
        },
        DataFusionError::ResourcesExhausted(_) => Error::Memory {
            max_bytes: options.memory_bytes,
        },
        DataFusionError::Execution(message) => Error::Execution {
            message: message.clone(),
        },
        DataFusionError::ArrowError(arrow, _) if is_value_error(arrow) => Error::Execution {
            message: arrow.to_string(),
        },
        other => Error::Internal {
            message: other.to_string(),
        },
    }
}

/// The name at most two edits (insertions, deletions, substitutions) from `wanted`, nearest
/// first.
fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .map(|name| (edit_distance(wanted, name), name))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, name)| name)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, left) in a.chars().enumerate() {
        let mut diagonal = i;
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, right) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let before = row.get(j).copied().unwrap_or(usize::MAX);
            let best = above
                .saturating_add(1)
                .min(before.saturating_add(1))
                .min(diagonal + usize::from(left != *right));
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = best;
            }
            diagonal = above;
        }
    }
    row.last().copied().unwrap_or_default()
}

/// Arrow errors a query's own values cause (casts, arithmetic), not the files.
fn is_value_error(error: &arrow_schema::ArrowError) -> bool {
    use arrow_schema::ArrowError;
    matches!(
        error,
        ArrowError::CastError(_)
            | ArrowError::ArithmeticOverflow(_)
            | ArrowError::DivideByZero
            | ArrowError::ComputeError(_)
            | ArrowError::InvalidArgumentError(_)
            | ArrowError::ParseError(_)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn near_names_are_suggested() {
        let names = ["level", "user", "verb", "uri"];
        assert_eq!(super::closest("lvel", names.into_iter()), Some("level"));
        assert_eq!(super::closest("usr", names.into_iter()), Some("user"));
        assert_eq!(super::closest("namespace", names.into_iter()), None);
        assert_eq!(super::edit_distance("kitten", "sitting"), 3);
        assert_eq!(super::edit_distance("", "abc"), 3);
    }
}
