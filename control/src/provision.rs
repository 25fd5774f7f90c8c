//! What `switchyard-ctl push-pipeline` and `apply-entries` do, as library
//! functions: load a P4Info file, push it with a device config, and write a
//! switch-sim entries file (`{"entries": [...]}`, docs/SWITCH-SIM.md) to
//! any P4Runtime switch, every name resolved through the P4Info the switch
//! reports. The text forms of values and matches are parsed by
//! `switchyard-entries`, the same code switch-sim uses for `--entries`.
//!
//! The writer is short-lived: it connects as primary (a higher election id
//! than the front-end's), writes, and disconnects; the front-end waits for
//! primacy when it starts and pauses offloading while a writer holds it.

use std::path::Path;

use p4runtime_proto::p4::config::v1::P4Info;
use p4runtime_proto::p4::v1::{self as p4, get_forwarding_pipeline_config_request::ResponseType, write_request::Atomicity};
use p4runtime_proto::prost::Message;
use switchyard_entries::{parse_match_text, parse_value, EntriesFile, EntryText, MatchText};

use crate::bitstring::Value;
use crate::client::{ClientError, P4rtClient};
use crate::p4info::{MatchKind, P4InfoIndex, TableInfo};
use crate::switchyard as sy;

/// Election id of the pipeline/entries writer (`--election-id`). Higher than
/// the front-end's default (10, frontend/driver `--election-id`), so a writer
/// run while a front-end is connected takes primacy for its short run
/// instead of being refused.
pub const WRITER_ELECTION_ID: u128 = 100;

/// Updates per Write request.
const WRITE_CHUNK: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("the P4Info: {0}")]
    P4Info(#[from] crate::p4info::P4InfoError),
    #[error("the switch has no pipeline (push one with push-pipeline first)")]
    NoPipeline,
    #[error("not the primary controller (another controller{} is): use a higher --election-id", .0.map(|id| format!(" with election id {id}")).unwrap_or_default())]
    NotPrimary(Option<u128>),
    /// Entries that could not be built: nothing was written.
    #[error("{} malformed entr{} (nothing was written):\n{}", .0.len(), if .0.len() == 1 { "y" } else { "ies" }, list(.0))]
    Malformed(Vec<EntryError>),
    /// Entries the switch refused; the others were written.
    #[error("the switch refused {} entr{} ({written} written):\n{}", .errors.len(), if .errors.len() == 1 { "y" } else { "ies" }, list(.errors))]
    Refused { written: usize, errors: Vec<EntryError> },
}

fn list(v: &[EntryError]) -> String {
    v.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
}

/// What is wrong with one entry of the file (0-based index in `entries`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {index} (table {table}): {reason}")]
pub struct EntryError {
    pub index: usize,
    pub table: String,
    pub reason: String,
}

/// Reads a P4Info: text format when the name ends in `.txt`, `.txtpb`,
/// `.pbtxt` or `.prototxt` (what `p4c --p4runtime-files x.p4info.txtpb`
/// writes), binary protobuf otherwise (`x.p4info.bin`, `switchyard-p4info -o`).
pub fn read_p4info(path: &Path) -> Result<P4Info, ProvisionError> {
    let ferr = |reason: String| ProvisionError::File { path: path.display().to_string(), reason };
    let bytes = std::fs::read(path).map_err(|e| ferr(e.to_string()))?;
    let text = matches!(path.extension().and_then(|e| e.to_str()), Some("txt" | "txtpb" | "pbtxt" | "prototxt"));
    if text {
        let text = std::str::from_utf8(&bytes).map_err(|_| ferr("a text-format P4Info must be UTF-8".into()))?;
        p4info_from_text(text).map_err(ferr)
    } else {
        P4Info::decode(bytes.as_slice()).map_err(|e| ferr(format!("not a binary P4Info ({e}); text format needs a .txtpb/.txt name")))
    }
}

fn p4info_message() -> Result<prost_reflect::MessageDescriptor, String> {
    let pool = prost_reflect::DescriptorPool::decode(p4runtime_proto::FILE_DESCRIPTOR_SET).map_err(|e| e.to_string())?;
    pool.get_message_by_name("p4.config.v1.P4Info").ok_or_else(|| "no p4.config.v1.P4Info descriptor".to_string())
}

/// Parses a protobuf text-format P4Info.
pub fn p4info_from_text(text: &str) -> Result<P4Info, String> {
    let msg = prost_reflect::DynamicMessage::parse_text_format(p4info_message()?, text).map_err(|e| format!("text-format P4Info: {e}"))?;
    P4Info::decode(msg.encode_to_vec().as_slice()).map_err(|e| e.to_string())
}

/// Writes a P4Info in protobuf text format (as p4c's .txtpb).
pub fn p4info_to_text(info: &P4Info) -> Result<String, String> {
    let msg = prost_reflect::DynamicMessage::decode(p4info_message()?, info.encode_to_vec().as_slice()).map_err(|e| e.to_string())?;
    Ok(msg.to_text_format_with_options(&prost_reflect::text_format::FormatOptions::new().pretty(true)))
}

fn require_primary(client: &P4rtClient) -> Result<(), ProvisionError> {
    match client.mastership() {
        crate::client::Mastership::Primary => Ok(()),
        crate::client::Mastership::Backup { primary_election_id } => Err(ProvisionError::NotPrimary(primary_election_id)),
        crate::client::Mastership::Unknown => Err(ClientError::StreamDown.into()),
    }
}

/// SetForwardingPipelineConfig with `p4info` and the target's device config
/// (bmv2: the JSON from p4c-bm2-ss; switch-sim: the P4 source or its JSON).
/// The P4Info is validated first (P4InfoIndex), so a broken file fails here
/// rather than as the switch's INVALID_ARGUMENT.
pub async fn push_pipeline(
    client: &P4rtClient,
    p4info: P4Info,
    device_config: Vec<u8>,
    cookie: u64,
    action: p4::set_forwarding_pipeline_config_request::Action,
) -> Result<(), ProvisionError> {
    P4InfoIndex::new(p4info.clone())?;
    require_primary(client)?;
    client.set_pipeline(p4info, device_config, cookie, action).await?;
    Ok(())
}

/// Builds one update per entry: INSERT, or MODIFY of the default entry for
/// `"default": true`. Every problem of every entry is reported, with its
/// index; on any, no update is returned.
pub fn entry_updates(index: &P4InfoIndex, file: &EntriesFile) -> Result<Vec<p4::Update>, ProvisionError> {
    let mut updates = Vec::with_capacity(file.entries.len());
    let mut errors = Vec::new();
    for (i, e) in file.entries.iter().enumerate() {
        match entry_update(index, e) {
            Ok(u) => updates.push(u),
            Err(reason) => errors.push(EntryError { index: i, table: e.table.clone(), reason }),
        }
    }
    if errors.is_empty() {
        Ok(updates)
    } else {
        Err(ProvisionError::Malformed(errors))
    }
}

fn entry_update(index: &P4InfoIndex, e: &EntryText) -> Result<p4::Update, String> {
    let table = index.table(&e.table).map_err(|err| err.to_string())?;
    let action = index.action(&e.action).map_err(|err| err.to_string())?;
    let mut args = Vec::with_capacity(e.params.len());
    for (name, v) in &e.params {
        let n = parse_value(v).map_err(|err| format!("parameter {name}: {err}"))?;
        args.push((name.as_str(), Value::from(n)));
    }
    let call = action.call(args).map_err(|err| err.to_string())?;
    if e.default {
        if !e.matches.is_empty() || e.priority != 0 || e.idle_timeout_ms != 0 {
            return Err("a default entry (\"default\": true) takes no match, priority or idle timeout".into());
        }
        return Ok(sy::modify(table.default_entry(call).map_err(|err| err.to_string())?));
    }
    let mut matches = Vec::with_capacity(e.matches.len());
    for (name, v) in &e.matches {
        let text = parse_match_text(v).map_err(|err| format!("match field {name}: {err}"))?;
        if let Some(m) = field_match(table, name, text)? {
            matches.push(m);
        }
    }
    let mut entry = table.entry(matches, e.priority, call).map_err(|err| err.to_string())?;
    if e.idle_timeout_ms != 0 {
        if !table.idle_timeout {
            return Err(format!("{} has no idle timeout (support_timeout), but idle_timeout_ms is set", table.name));
        }
        entry.idle_timeout_ns = i64::try_from(e.idle_timeout_ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
    }
    Ok(sy::insert(entry))
}

/// All ones in `width` bits, as a canonical-width byte string.
fn ones(width: u32) -> Value {
    let n = width.div_ceil(8) as usize;
    let mut b = vec![0xffu8; n];
    if width % 8 != 0 {
        b[0] = (1u8 << (width % 8)) - 1;
    }
    Value::from_be_bytes(b)
}

fn is_ones(v: u64, width: u32) -> bool {
    width <= 64 && v == if width == 64 { u64::MAX } else { (1u64 << width) - 1 }
}

/// The P4Runtime match for one field, `None` when the form matches
/// everything (`*`, `/0`, a zero mask, the full range): P4Runtime requires
/// such a field to be omitted, which means the same as switch-sim's wildcard.
fn field_match(table: &TableInfo, name: &str, text: MatchText) -> Result<Option<p4::FieldMatch>, String> {
    let f = table.field(name).map_err(|err| err.to_string())?;
    let w = f.bitwidth;
    let r = match (text, &f.kind) {
        (MatchText::Any, MatchKind::Exact) => return Err(format!("match field {name}: `*` on an exact field")),
        (MatchText::Any, _) => return Ok(None),
        (MatchText::Value(n), MatchKind::Exact) => table.exact(name, n),
        (MatchText::Value(n), MatchKind::Lpm) => table.lpm(name, n, w),
        (MatchText::Value(n), MatchKind::Ternary) => table.ternary(name, n, ones(w)),
        (MatchText::Value(n), MatchKind::Range) => table.range(name, n, n),
        (MatchText::Value(n), MatchKind::Optional) => table.optional(name, n),
        (MatchText::Lpm { value: 0, prefix_len: 0 }, MatchKind::Lpm) => return Ok(None),
        (MatchText::Lpm { value, prefix_len }, _) => table.lpm(name, value, prefix_len),
        (MatchText::Ternary { value: 0, mask: 0 }, MatchKind::Ternary) => return Ok(None),
        (MatchText::Ternary { value, mask }, _) => table.ternary(name, value, mask),
        (MatchText::Range { low: 0, high }, MatchKind::Range) if is_ones(high, w) => return Ok(None),
        (MatchText::Range { low, high }, _) => table.range(name, low, high),
        (MatchText::Value(_), MatchKind::Other(k)) => return Err(format!("match field {name}: match kind `{k}` is not supported")),
    };
    r.map(Some).map_err(|err| err.to_string())
}

/// What `apply_entries` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub inserted: usize,
    pub defaults_modified: usize,
}

/// Reads the switch's P4Info, builds every entry (nothing is written if
/// one is malformed) and writes them in order, CONTINUE_ON_ERROR in chunks;
/// entries the switch refuses are reported with their index and the
/// switch's code and message.
pub async fn apply_entries(client: &P4rtClient, file: &EntriesFile) -> Result<Applied, ProvisionError> {
    let cfg = match client.get_pipeline(ResponseType::P4infoAndCookie).await {
        Err(ClientError::Rpc(s)) if s.code() == tonic::Code::FailedPrecondition => return Err(ProvisionError::NoPipeline),
        r => r?,
    };
    let info = cfg.p4info.filter(|i| !i.tables.is_empty()).ok_or(ProvisionError::NoPipeline)?;
    let index = P4InfoIndex::new(info)?;
    let updates = entry_updates(&index, file)?;
    require_primary(client)?;
    let defaults_modified = file.entries.iter().filter(|e| e.default).count();
    let mut refused = Vec::new();
    for (c, chunk) in updates.chunks(WRITE_CHUNK).enumerate() {
        match client.write(chunk.to_vec(), Atomicity::ContinueOnError).await {
            Ok(()) => {}
            Err(ClientError::Updates(statuses)) => {
                for (j, s) in statuses.iter().enumerate().filter(|(_, s)| !s.is_ok()) {
                    let i = c * WRITE_CHUNK + j;
                    let table = file.entries.get(i).map_or_else(String::new, |e| e.table.clone());
                    refused.push(EntryError { index: i, table, reason: format!("refused by the switch: {:?}: {}", s.code, s.message) });
                }
            }
            Err(ClientError::NotPrimary { primary_election_id }) => return Err(ProvisionError::NotPrimary(primary_election_id)),
            Err(e) => return Err(e.into()),
        }
    }
    if !refused.is_empty() {
        return Err(ProvisionError::Refused { written: updates.len() - refused.len(), errors: refused });
    }
    Ok(Applied { inserted: updates.len() - defaults_modified, defaults_modified })
}

/// Reads an entries file (switch-sim's `--entries` JSON).
pub fn read_entries(path: &Path) -> Result<EntriesFile, ProvisionError> {
    let ferr = |reason: String| ProvisionError::File { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| ferr(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| ferr(format!("not an entries file ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ones_of_widths() {
        assert_eq!(ones(8).as_be_bytes(), &[0xff]);
        assert_eq!(ones(9).as_be_bytes(), &[0x01, 0xff]);
        assert_eq!(ones(32).as_be_bytes(), &[0xff; 4]);
        assert!(is_ones(0xffff, 16) && !is_ones(0xfffe, 16) && is_ones(u64::MAX, 64) && !is_ones(1, 65));
    }
}
