//! The P4 program's indexed counters `path_counter` and `drop_counter`
//! (p4/include/counters.p4), read over P4Runtime and named by wire's
//! reason registry. One reader for `switchyard-ctl counters` and the
//! front-end's `/metrics`.

use p4runtime_proto::p4::v1 as p4;
use switchyard_wire::reason::{Reason, DROP_REASONS, PATH_COUNTERS};

use crate::client::P4rtClient;
use crate::p4info::{ObjectKind, P4InfoIndex};

/// The P4 counter of the paths packets take through the switch.
pub const PATH_COUNTER: &str = "path_counter";
/// The P4 counter of the frames the switch dropped, by reason.
pub const DROP_COUNTER: &str = "drop_counter";

/// One index of a counter that the registry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterRow {
    pub reason: &'static Reason,
    pub packets: u64,
    pub bytes: u64,
}

/// Both counters, as read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwitchCounters {
    pub paths: Vec<CounterRow>,
    pub drops: Vec<CounterRow>,
}

impl SwitchCounters {
    /// (P4 counter name, registry kind prefix, rows), in display order.
    pub fn tables(&self) -> [(&'static str, &'static str, &[CounterRow]); 2] {
        [(PATH_COUNTER, "path", &self.paths), (DROP_COUNTER, "drop", &self.drops)]
    }
}

/// Reads every index of one counter (one P4Runtime Read); indices the
/// registry does not name are left out.
pub async fn read_counter(client: &P4rtClient, index: &P4InfoIndex, counter: &str, registry: &'static [Reason]) -> Result<Vec<CounterRow>, String> {
    let id = index.object(ObjectKind::Counter, counter).map_err(|e| e.to_string())?.id;
    let got = client
        .read(vec![p4::Entity { entity: Some(p4::entity::Entity::CounterEntry(p4::CounterEntry { counter_id: id, ..Default::default() })) }])
        .await
        .map_err(|e| format!("reading {counter}: {e}"))?;
    let mut rows = Vec::new();
    for e in got {
        let Some(p4::entity::Entity::CounterEntry(c)) = e.entity else { continue };
        let (Some(i), Some(d)) = (c.index, c.data) else { continue };
        let Some(reason) = registry.iter().find(|r| i64::from(r.code) == i.index) else { continue };
        rows.push(CounterRow { reason, packets: d.packet_count.max(0) as u64, bytes: d.byte_count.max(0) as u64 });
    }
    Ok(rows)
}

/// Reads `path_counter` and `drop_counter`.
pub async fn read_switch_counters(client: &P4rtClient, index: &P4InfoIndex) -> Result<SwitchCounters, String> {
    Ok(SwitchCounters {
        paths: read_counter(client, index, PATH_COUNTER, PATH_COUNTERS).await?,
        drops: read_counter(client, index, DROP_COUNTER, DROP_REASONS).await?,
    })
}
