//! Typed operations for the Switchyard program's tables (p4/include/tables.p4,
//! cookie.p4), resolved once by name through `P4InfoIndex` so the ids come
//! from whatever P4Info the switch runs (p4c, switch-sim, a Tofino build).
//! Each builder returns a checked `p4.v1.TableEntry`; `insert`/`modify`/
//! `delete` wrap it in an Update for `P4rtClient::write` or the writer.

use std::net::Ipv4Addr;
use std::time::Duration;

use p4runtime_proto::p4::v1::{self as p4, entity::Entity, field_match::FieldMatchType, p4_data, update::Type};
use switchyard_wire::flow::{BackendIndex, ConnKey, VipId};

use crate::bitstring::{decode_u128, Value};
use crate::p4info::{P4InfoError, P4InfoIndex, TableInfo};

pub const TABLE_PORT_ROLE: &str = "SwitchyardIngress.port_role";
pub const TABLE_VIP: &str = "SwitchyardIngress.vip";
pub const TABLE_CONNECTION: &str = "SwitchyardIngress.connection";
pub const TABLE_BACKEND: &str = "SwitchyardIngress.backend";
pub const TABLE_BACKEND_ADDRESS: &str = "SwitchyardIngress.backend_address";
pub const TABLE_BACKEND_SERVICE: &str = "SwitchyardIngress.backend_service";
pub const TABLE_ROUTE: &str = "SwitchyardIngress.ipv4_route";
pub const TABLE_FRONTEND_COUNT: &str = "SwitchyardIngress.frontend_count";
pub const TABLE_FRONTEND_PORT: &str = "SwitchyardIngress.frontend_port";
pub const TABLE_COOKIE_SECRETS: &str = "SwitchyardIngress.cookie_secrets";
pub const DIGEST_TEARDOWN: &str = "teardown_digest_t";
pub const ACTION_CONN_BACKEND: &str = "SwitchyardIngress.set_conn_backend";
pub const ACTION_CONN_BACKEND_REQUEST: &str = "SwitchyardIngress.set_conn_backend_request";

/// How the switch carries an offloaded connection (the route's offload
/// mode; p4/include/tables.p4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnMode {
    /// `set_conn_backend`: both directions.
    Connection,
    /// `set_conn_backend_request`: backend packets and the client's bare
    /// ACKs; client payload, FIN and RST still go to the front-end.
    Request,
}

impl ConnMode {
    pub fn action_name(self) -> &'static str {
        match self {
            ConnMode::Connection => ACTION_CONN_BACKEND,
            ConnMode::Request => ACTION_CONN_BACKEND_REQUEST,
        }
    }
}

/// A cookie secret generation: HalfSipHash key words and the generation bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieSecret {
    pub k0: u32,
    pub k1: u32,
    pub generation: u8,
}

/// A FIN/RST on an offloaded flow, from the teardown digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Teardown {
    pub key: ConnKey,
    pub backend: BackendIndex,
    pub tcp_flags: u8,
}

/// The Switchyard tables of one P4Info, resolved.
#[derive(Debug, Clone)]
pub struct SwitchyardTables {
    index: P4InfoIndex,
    conn_id: u32,
    teardown_id: Option<u32>,
}

pub fn insert(e: p4::TableEntry) -> p4::Update {
    update(Type::Insert, e)
}

pub fn modify(e: p4::TableEntry) -> p4::Update {
    update(Type::Modify, e)
}

pub fn delete(e: p4::TableEntry) -> p4::Update {
    update(Type::Delete, e)
}

fn update(t: Type, e: p4::TableEntry) -> p4::Update {
    p4::Update { r#type: t as i32, entity: Some(p4::Entity { entity: Some(Entity::TableEntry(e)) }) }
}

fn exact_value(t: &TableInfo, e: &p4::TableEntry, field: &str) -> Result<u128, P4InfoError> {
    let f = t.field(field)?;
    let m = e.r#match.iter().find(|m| m.field_id == f.id).ok_or_else(|| P4InfoError::Missing { owner: t.name.clone(), name: field.into() })?;
    match &m.field_match_type {
        Some(FieldMatchType::Exact(x)) => decode_u128(&x.value, f.bitwidth).map_err(|source| P4InfoError::Value { owner: t.name.clone(), field: field.into(), source }),
        _ => Err(P4InfoError::MatchKind { owner: t.name.clone(), field: field.into(), actual: "other".into(), requested: "exact" }),
    }
}

impl SwitchyardTables {
    /// Resolves every table, action, field and parameter the operations use,
    /// so a P4Info that lacks one fails here, not on the first write.
    pub fn new(index: P4InfoIndex) -> Result<Self, P4InfoError> {
        let need: &[(&str, &[&str], &str, &[&str])] = &[
            (TABLE_PORT_ROLE, &["port"], "SwitchyardIngress.set_port_role", &["role"]),
            (TABLE_VIP, &["vip_addr", "vip_port"], "SwitchyardIngress.set_vip", &["vip_id"]),
            (TABLE_VIP, &["vip_addr", "vip_port"], "SwitchyardIngress.set_vip_draining", &["vip_id"]),
            (TABLE_CONNECTION, &["client_addr", "client_port", "vip_id"], ACTION_CONN_BACKEND, &["backend_index"]),
            (TABLE_CONNECTION, &["client_addr", "client_port", "vip_id"], ACTION_CONN_BACKEND_REQUEST, &["backend_index"]),
            (TABLE_BACKEND, &["backend_index"], "SwitchyardIngress.rewrite_to_backend", &["addr", "port"]),
            (TABLE_BACKEND_ADDRESS, &["backend_addr", "backend_port"], "SwitchyardIngress.set_backend_origin", &["vip_id", "backend_index", "vip_addr", "vip_port"]),
            (TABLE_BACKEND_SERVICE, &["backend_addr", "backend_port"], "SwitchyardIngress.drop_direct_to_backend", &[]),
            (TABLE_ROUTE, &["dst_addr"], "SwitchyardIngress.route", &["port", "src_mac", "dst_mac"]),
            (TABLE_FRONTEND_COUNT, &[], "SwitchyardIngress.set_frontend_count", &["count"]),
            (TABLE_FRONTEND_PORT, &["index"], "SwitchyardIngress.to_frontend", &["port", "dst_mac"]),
            (TABLE_COOKIE_SECRETS, &[], "SwitchyardIngress.set_cookie_secrets", &["cur_k0", "cur_k1", "cur_gen", "prev_k0", "prev_k1"]),
        ];
        for (t, fields, a, params) in need {
            let ti = index.table(t)?;
            for f in *fields {
                ti.field(f)?;
            }
            let ai = index.action(a)?;
            for p in *params {
                ai.param(p)?;
            }
        }
        let conn_id = index.table(TABLE_CONNECTION)?.id;
        let teardown_id = index.digest_id(DIGEST_TEARDOWN).ok();
        Ok(SwitchyardTables { index, conn_id, teardown_id })
    }

    pub fn index(&self) -> &P4InfoIndex {
        &self.index
    }

    pub fn connection_table_id(&self) -> u32 {
        self.conn_id
    }

    pub fn teardown_digest_id(&self) -> Option<u32> {
        self.teardown_id
    }

    fn entry<'a, V: Into<Value>>(
        &self,
        table: &str,
        matches: Vec<(&str, Value)>,
        action: &str,
        args: impl IntoIterator<Item = (&'a str, V)>,
    ) -> Result<p4::TableEntry, P4InfoError> {
        let t = self.index.table(table)?;
        let m = matches.into_iter().map(|(f, v)| t.exact(f, v)).collect::<Result<Vec<_>, _>>()?;
        let a = self.index.action(action)?.call(args)?;
        t.entry(m, 0, a)
    }

    fn default<'a, V: Into<Value>>(&self, table: &str, action: &str, args: impl IntoIterator<Item = (&'a str, V)>) -> Result<p4::TableEntry, P4InfoError> {
        let a = self.index.action(action)?.call(args)?;
        self.index.table(table)?.default_entry(a)
    }

    /// Which ports face a front-end (role 1) or the edge (0).
    pub fn port_role(&self, port: u16, role: u8) -> Result<p4::TableEntry, P4InfoError> {
        self.entry(TABLE_PORT_ROLE, vec![("port", port.into())], "SwitchyardIngress.set_port_role", [("role", u64::from(role))])
    }

    pub fn vip(&self, addr: Ipv4Addr, port: u16, vip_id: VipId) -> Result<p4::TableEntry, P4InfoError> {
        self.entry(TABLE_VIP, vec![("vip_addr", addr.into()), ("vip_port", port.into())], "SwitchyardIngress.set_vip", [("vip_id", vip_id)])
    }

    /// The VIP of a service being removed: its connections go on, new ones
    /// are refused (RST to the SYN).
    pub fn vip_draining(&self, addr: Ipv4Addr, port: u16, vip_id: VipId) -> Result<p4::TableEntry, P4InfoError> {
        self.entry(TABLE_VIP, vec![("vip_addr", addr.into()), ("vip_port", port.into())], "SwitchyardIngress.set_vip_draining", [("vip_id", vip_id)])
    }

    pub fn vip_key(&self, addr: Ipv4Addr, port: u16) -> Result<p4::TableEntry, P4InfoError> {
        let t = self.index.table(TABLE_VIP)?;
        t.key(vec![t.exact("vip_addr", addr)?, t.exact("vip_port", port)?], 0)
    }

    /// Backend `index` -> DIP:dport (the next hop comes from the route table).
    pub fn backend(&self, index: BackendIndex, addr: Ipv4Addr, port: u16) -> Result<p4::TableEntry, P4InfoError> {
        let t = self.index.table(TABLE_BACKEND)?;
        let a = self.index.action("SwitchyardIngress.rewrite_to_backend")?.call([("addr", Value::from(addr)), ("port", port.into())])?;
        t.entry(vec![t.exact("backend_index", index)?], 0, a)
    }

    /// DIP:dport -> (VIP id, backend index, VIP:vport), for backend -> client packets.
    pub fn backend_address(&self, addr: Ipv4Addr, port: u16, vip_id: VipId, index: BackendIndex, vip_addr: Ipv4Addr, vip_port: u16) -> Result<p4::TableEntry, P4InfoError> {
        let t = self.index.table(TABLE_BACKEND_ADDRESS)?;
        let a = self.index.action("SwitchyardIngress.set_backend_origin")?.call([
            ("vip_id", Value::from(vip_id)),
            ("backend_index", index.into()),
            ("vip_addr", vip_addr.into()),
            ("vip_port", vip_port.into()),
        ])?;
        t.entry(vec![t.exact("backend_addr", addr)?, t.exact("backend_port", port)?], 0, a)
    }

    /// DIP:dport as a backend service an edge (client-facing) port may
    /// not reach directly: only the switch's VIP rewrite may.
    pub fn backend_service(&self, addr: Ipv4Addr, port: u16) -> Result<p4::TableEntry, P4InfoError> {
        self.entry(TABLE_BACKEND_SERVICE, vec![("backend_addr", addr.into()), ("backend_port", port.into())], "SwitchyardIngress.drop_direct_to_backend", std::iter::empty::<(&str, u64)>())
    }

    pub fn route(&self, prefix: Ipv4Addr, len: u32, port: u16, src_mac: [u8; 6], dst_mac: [u8; 6]) -> Result<p4::TableEntry, P4InfoError> {
        let t = self.index.table(TABLE_ROUTE)?;
        let a = self.index.action("SwitchyardIngress.route")?.call([("port", Value::from(port)), ("src_mac", src_mac.into()), ("dst_mac", dst_mac.into())])?;
        t.entry(vec![t.lpm("dst_addr", prefix, len)?], 0, a)
    }

    /// The number of front-end ports (frontend_count's default action).
    pub fn frontend_count(&self, count: u16) -> Result<p4::TableEntry, P4InfoError> {
        self.default(TABLE_FRONTEND_COUNT, "SwitchyardIngress.set_frontend_count", [("count", count)])
    }

    pub fn frontend_port(&self, index: u16, port: u16, dst_mac: [u8; 6]) -> Result<p4::TableEntry, P4InfoError> {
        let t = self.index.table(TABLE_FRONTEND_PORT)?;
        let a = self.index.action("SwitchyardIngress.to_frontend")?.call([("port", Value::from(port)), ("dst_mac", dst_mac.into())])?;
        t.entry(vec![t.exact("index", index)?], 0, a)
    }

    /// Current and previous cookie secrets in one write (MODIFY of the
    /// keyless table's default action).
    pub fn cookie_secrets(&self, current: CookieSecret, previous: CookieSecret) -> Result<p4::TableEntry, P4InfoError> {
        self.default(
            TABLE_COOKIE_SECRETS,
            "SwitchyardIngress.set_cookie_secrets",
            [
                ("cur_k0", u64::from(current.k0)),
                ("cur_k1", u64::from(current.k1)),
                ("cur_gen", u64::from(current.generation & 1)),
                ("prev_k0", u64::from(previous.k0)),
                ("prev_k1", u64::from(previous.k1)),
            ],
        )
    }

    /// An offloaded connection in `connection` mode; `idle_timeout` None:
    /// the entry never ages.
    pub fn connection(&self, key: &ConnKey, backend: BackendIndex, idle_timeout: Option<Duration>) -> Result<p4::TableEntry, P4InfoError> {
        self.connection_in(ConnMode::Connection, key, backend, idle_timeout)
    }

    /// An offloaded connection in `request` mode (`set_conn_backend_request`).
    pub fn connection_request(&self, key: &ConnKey, backend: BackendIndex, idle_timeout: Option<Duration>) -> Result<p4::TableEntry, P4InfoError> {
        self.connection_in(ConnMode::Request, key, backend, idle_timeout)
    }

    /// An offloaded connection with the action of `mode`.
    pub fn connection_in(&self, mode: ConnMode, key: &ConnKey, backend: BackendIndex, idle_timeout: Option<Duration>) -> Result<p4::TableEntry, P4InfoError> {
        let t = self.index.table(TABLE_CONNECTION)?;
        let a = self.index.action(mode.action_name())?.call([("backend_index", backend)])?;
        let mut e = t.entry(self.conn_matches(t, key)?, 0, a)?;
        if let Some(ttl) = idle_timeout {
            e.idle_timeout_ns = ttl.as_nanos().min(i64::MAX as u128) as i64;
        }
        Ok(e)
    }

    /// The key alone (DELETE, or reading one entry back).
    pub fn connection_key(&self, key: &ConnKey) -> Result<p4::TableEntry, P4InfoError> {
        let t = self.index.table(TABLE_CONNECTION)?;
        t.key(self.conn_matches(t, key)?, 0)
    }

    /// One entry by key, asking the server for `time_since_last_hit` (a
    /// Read entity; the answer says how long the flow has been quiet).
    pub fn connection_hit_query(&self, key: &ConnKey) -> Result<p4::TableEntry, P4InfoError> {
        let mut e = self.connection_key(key)?;
        e.time_since_last_hit = Some(p4::table_entry::IdleTimeout { elapsed_ns: 0 });
        Ok(e)
    }

    /// The offload mode of a connection entry (from its action), None for
    /// another table or action.
    pub fn connection_mode(&self, e: &p4::TableEntry) -> Option<ConnMode> {
        if e.table_id != self.conn_id {
            return None;
        }
        let Some(p4::table_action::Type::Action(a)) = e.action.as_ref().and_then(|a| a.r#type.as_ref()) else { return None };
        let name = &self.index.action_by_id(a.action_id).ok()?.name;
        [ConnMode::Connection, ConnMode::Request].into_iter().find(|m| m.action_name() == name)
    }

    fn conn_matches(&self, t: &TableInfo, key: &ConnKey) -> Result<Vec<p4::FieldMatch>, P4InfoError> {
        Ok(vec![t.exact("client_addr", key.client_ip)?, t.exact("client_port", key.client_port)?, t.exact("vip_id", key.vip_id)?])
    }

    /// A connection entry back as (key, backend) — from a Read or an idle
    /// timeout notification. None for entries of other tables.
    pub fn decode_connection(&self, e: &p4::TableEntry) -> Result<Option<(ConnKey, Option<BackendIndex>)>, P4InfoError> {
        if e.table_id != self.conn_id {
            return Ok(None);
        }
        let t = self.index.table_by_id(self.conn_id)?;
        let key = ConnKey {
            client_ip: Ipv4Addr::from(exact_value(t, e, "client_addr")? as u32),
            client_port: exact_value(t, e, "client_port")? as u16,
            vip_id: exact_value(t, e, "vip_id")? as u16,
        };
        let backend = self.action_param(e, "backend_index")?.map(|v| v as u16);
        Ok(Some((key, backend)))
    }

    /// The value of parameter `name` of an entry's direct action; None when
    /// the action has no such parameter (another action of the table).
    fn action_param(&self, e: &p4::TableEntry, name: &str) -> Result<Option<u128>, P4InfoError> {
        let Some(p4::table_action::Type::Action(a)) = e.action.as_ref().and_then(|a| a.r#type.as_ref()) else { return Ok(None) };
        let ai = self.index.action_by_id(a.action_id)?;
        let Ok(p) = ai.param(name) else { return Ok(None) };
        Ok(a.params.iter().find(|x| x.param_id == p.id).and_then(|x| decode_u128(&x.value, p.bitwidth).ok()))
    }

    /// `frontend_count`'s default entry as a Read asks for it.
    pub fn frontend_count_read(&self) -> Result<p4::TableEntry, P4InfoError> {
        Ok(p4::TableEntry { table_id: self.index.table(TABLE_FRONTEND_COUNT)?.id, is_default_action: true, ..Default::default() })
    }

    /// The count of a `frontend_count` default entry read back; None for
    /// other tables.
    pub fn decode_frontend_count(&self, e: &p4::TableEntry) -> Result<Option<u16>, P4InfoError> {
        if e.table_id != self.index.table(TABLE_FRONTEND_COUNT)?.id {
            return Ok(None);
        }
        Ok(self.action_param(e, "count")?.map(|c| c as u16))
    }

    /// `frontend_port`'s id and size (its number of slots).
    pub fn frontend_port_table(&self) -> Result<(u32, i64), P4InfoError> {
        let t = self.index.table(TABLE_FRONTEND_PORT)?;
        Ok((t.id, t.size))
    }

    /// A `frontend_port` entry back as (slot, port, dst_mac); None for
    /// other tables and for slots whose action is not `to_frontend`.
    pub fn decode_frontend_port(&self, e: &p4::TableEntry) -> Result<Option<(u16, u16, [u8; 6])>, P4InfoError> {
        let t = self.index.table(TABLE_FRONTEND_PORT)?;
        if e.table_id != t.id {
            return Ok(None);
        }
        let slot = exact_value(t, e, "index")? as u16;
        let (Some(port), Some(mac)) = (self.action_param(e, "port")?, self.action_param(e, "dst_mac")?) else { return Ok(None) };
        let m = (mac as u64).to_be_bytes();
        Ok(Some((slot, port as u16, [m[2], m[3], m[4], m[5], m[6], m[7]])))
    }

    /// The teardown digests of a DigestList (other digests: empty).
    pub fn decode_teardowns(&self, list: &p4::DigestList) -> Vec<Teardown> {
        if Some(list.digest_id) != self.teardown_id {
            return Vec::new();
        }
        list.data
            .iter()
            .filter_map(|d| {
                let Some(p4_data::Data::Struct(s)) = &d.data else { return None };
                let v: Vec<u128> = s
                    .members
                    .iter()
                    .map(|m| match &m.data {
                        Some(p4_data::Data::Bitstring(b)) => decode_u128(b, 128).ok(),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                if v.len() != 5 {
                    return None;
                }
                Some(Teardown {
                    key: ConnKey { client_ip: Ipv4Addr::from(v[0] as u32), client_port: v[1] as u16, vip_id: v[2] as u16 },
                    backend: v[3] as u16,
                    tcp_flags: v[4] as u8,
                })
            })
            .collect()
    }

    /// The DigestEntry that makes the switch stream teardown digests.
    pub fn teardown_digest_config(&self, max_timeout: Duration, max_list_size: i32, ack_timeout: Duration) -> Option<p4::Update> {
        let id = self.teardown_id?;
        let de = p4::DigestEntry {
            digest_id: id,
            config: Some(p4::digest_entry::Config {
                max_timeout_ns: max_timeout.as_nanos() as i64,
                max_list_size,
                ack_timeout_ns: ack_timeout.as_nanos() as i64,
            }),
        };
        Some(p4::Update { r#type: Type::Insert as i32, entity: Some(p4::Entity { entity: Some(Entity::DigestEntry(de)) }) })
    }
}
