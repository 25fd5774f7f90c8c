//! Name resolution and value building on a P4Info written here in the shape p4c gives the
//! Switchyard program (fully qualified names, prefixed ids, 1-based field ids).

use std::net::Ipv4Addr;

use p4runtime_proto::p4::config::v1::{self as cfg, match_field::MatchType};
use p4runtime_proto::p4::v1::{field_match::FieldMatchType, table_action, PacketMetadata};

use super::*;
use crate::bitstring::{BitstringError, Value};

const NO_ACTION: u32 = 21257015; // p4c's id for NoAction (see NOTES.md)
const SET_BACKEND: u32 = 0x0100_0001;
const FORWARD: u32 = 0x0100_0002;
const CONN: u32 = 0x0200_0010;
const ROUTES: u32 = 0x0200_0011;
const ACL: u32 = 0x0200_0012;
const CONSTS: u32 = 0x0200_0013;

fn preamble(id: u32, name: &str, alias: &str) -> Option<cfg::Preamble> {
    Some(cfg::Preamble {
        id,
        name: name.into(),
        alias: alias.into(),
        ..Default::default()
    })
}

fn field(id: u32, name: &str, bitwidth: i32, kind: MatchType) -> cfg::MatchField {
    cfg::MatchField {
        id,
        name: name.into(),
        bitwidth,
        r#match: Some(cfg::match_field::Match::MatchType(kind as i32)),
        ..Default::default()
    }
}

fn action_ref(id: u32, scope: cfg::action_ref::Scope) -> cfg::ActionRef {
    cfg::ActionRef {
        id,
        scope: scope as i32,
        ..Default::default()
    }
}

fn param(id: u32, name: &str, bitwidth: i32) -> cfg::action::Param {
    cfg::action::Param {
        id,
        name: name.into(),
        bitwidth,
        ..Default::default()
    }
}

fn p4info() -> cfg::P4Info {
    use cfg::action_ref::Scope;
    let table = |id, name: &str, alias: &str, fields, refs| cfg::Table {
        preamble: preamble(id, name, alias),
        match_fields: fields,
        action_refs: refs,
        size: 1024,
        ..Default::default()
    };
    let mut conn = table(
        CONN,
        "SwitchyardIngress.conn",
        "conn",
        vec![
            field(1, "hdr.ipv4.src_addr", 32, MatchType::Exact),
            field(2, "hdr.tcp.src_port", 16, MatchType::Exact),
            field(3, "meta.vip_id", 8, MatchType::Exact),
        ],
        vec![
            action_ref(SET_BACKEND, Scope::TableOnly),
            action_ref(NO_ACTION, Scope::DefaultOnly),
        ],
    );
    conn.idle_timeout_behavior = cfg::table::IdleTimeoutBehavior::NotifyControl as i32;
    conn.size = 65536;
    let routes = table(
        ROUTES,
        "SwitchyardIngress.routes",
        "routes",
        vec![field(1, "hdr.ipv4.dst_addr", 32, MatchType::Lpm)],
        vec![
            action_ref(FORWARD, Scope::TableAndDefault),
            action_ref(NO_ACTION, Scope::TableAndDefault),
        ],
    );
    let acl = table(
        ACL,
        "SwitchyardIngress.acl",
        "acl",
        vec![
            field(1, "hdr.tcp.dst_port", 16, MatchType::Ternary),
            field(2, "hdr.tcp.src_port", 16, MatchType::Range),
            field(3, "hdr.ipv4.protocol", 8, MatchType::Optional),
            field(4, "meta.vip_id", 8, MatchType::Exact),
        ],
        vec![action_ref(NO_ACTION, Scope::TableAndDefault)],
    );
    let mut consts = table(
        CONSTS,
        "SwitchyardEgress.consts",
        "consts",
        vec![field(1, "meta.reason", 8, MatchType::Exact)],
        vec![action_ref(NO_ACTION, Scope::TableAndDefault)],
    );
    consts.is_const_table = true;
    consts.const_default_action_id = NO_ACTION;

    cfg::P4Info {
        tables: vec![conn, routes, acl, consts],
        actions: vec![
            cfg::Action {
                preamble: preamble(NO_ACTION, "NoAction", "NoAction"),
                params: vec![],
            },
            cfg::Action {
                preamble: preamble(SET_BACKEND, "SwitchyardIngress.set_backend", "set_backend"),
                params: vec![param(1, "backend_idx", 16)],
            },
            cfg::Action {
                preamble: preamble(FORWARD, "SwitchyardIngress.forward", "forward"),
                params: vec![param(1, "port", 9), param(2, "dmac", 48)],
            },
        ],
        controller_packet_metadata: vec![cfg::ControllerPacketMetadata {
            preamble: preamble(0x0400_0001, "packet_in", "packet_in"),
            metadata: vec![
                cfg::controller_packet_metadata::Metadata {
                    id: 1,
                    name: "ingress_port".into(),
                    bitwidth: 9,
                    ..Default::default()
                },
                cfg::controller_packet_metadata::Metadata {
                    id: 2,
                    name: "reason".into(),
                    bitwidth: 8,
                    ..Default::default()
                },
            ],
        }],
        digests: vec![cfg::Digest {
            preamble: preamble(0x1700_0001, "SwitchyardIngress.conn_closed", "conn_closed"),
            type_spec: None,
        }],
        counters: vec![
            cfg::Counter {
                preamble: preamble(0x1200_0001, "SwitchyardIngress.drops", "drops"),
                ..Default::default()
            },
            cfg::Counter {
                preamble: preamble(0x1200_0002, "SwitchyardEgress.drops", "drops"),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn index() -> P4InfoIndex {
    P4InfoIndex::new(p4info()).expect("valid P4Info")
}

#[test]
fn resolves_by_fully_qualified_name_alias_and_id() {
    let idx = index();
    assert_eq!(idx.table("SwitchyardIngress.conn").unwrap().id, CONN);
    assert_eq!(idx.table("conn").unwrap().id, CONN);
    assert_eq!(
        idx.table_by_id(ROUTES).unwrap().name,
        "SwitchyardIngress.routes"
    );
    assert_eq!(
        idx.action("SwitchyardIngress.set_backend").unwrap().id,
        SET_BACKEND
    );
    assert_eq!(idx.action_by_id(NO_ACTION).unwrap().name, "NoAction");
    assert_eq!(
        idx.digest_id("SwitchyardIngress.conn_closed").unwrap(),
        0x1700_0001
    );
    assert_eq!(
        idx.object(ObjectKind::Counter, "SwitchyardEgress.drops")
            .unwrap()
            .id,
        0x1200_0002
    );
    let conn = idx.table("SwitchyardIngress.conn").unwrap();
    assert!(conn.idle_timeout);
    assert_eq!(conn.field("hdr.tcp.src_port").unwrap().bitwidth, 16);
    assert_eq!(conn.field("meta.vip_id").unwrap().id, 3);
    assert_eq!(
        idx.action("SwitchyardIngress.forward")
            .unwrap()
            .param("dmac")
            .unwrap()
            .bitwidth,
        48
    );
}

#[test]
fn unknown_names_and_ids_are_errors_that_name_them() {
    let idx = index();
    let err = idx.table("SwitchyardIngress.nope").unwrap_err();
    assert_eq!(
        err,
        P4InfoError::UnknownName {
            kind: "table",
            name: "SwitchyardIngress.nope".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "no table named `SwitchyardIngress.nope` in the P4Info"
    );
    assert!(matches!(
        idx.action_by_id(0x0100_0099),
        Err(P4InfoError::UnknownId { kind: "action", .. })
    ));
    // A table name is not an action name.
    assert!(idx.action("SwitchyardIngress.conn").is_err());
    let err = idx
        .table("conn")
        .unwrap()
        .field("hdr.ipv4.dst")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "SwitchyardIngress.conn: no match field `hdr.ipv4.dst`"
    );
    assert!(matches!(
        idx.action("set_backend").unwrap().param("idx"),
        Err(P4InfoError::UnknownParam { .. })
    ));
}

#[test]
fn an_alias_shared_by_two_objects_resolves_to_neither() {
    let idx = index();
    assert!(idx.object(ObjectKind::Counter, "drops").is_err());
    assert_eq!(
        idx.object(ObjectKind::Counter, "SwitchyardIngress.drops")
            .unwrap()
            .id,
        0x1200_0001
    );
}

#[test]
fn exact_values_are_canonical_and_width_checked() {
    let conn = index().table("conn").unwrap().clone();
    let m = conn
        .exact("hdr.ipv4.src_addr", Ipv4Addr::new(0, 0, 2, 1))
        .unwrap();
    assert_eq!(m.field_id, 1);
    assert_eq!(
        m.field_match_type,
        Some(FieldMatchType::Exact(
            p4runtime_proto::p4::v1::field_match::Exact { value: vec![2, 1] }
        ))
    );
    let err = conn.exact("meta.vip_id", 256u32).unwrap_err();
    assert_eq!(
        err,
        P4InfoError::Value {
            owner: "SwitchyardIngress.conn".into(),
            field: "meta.vip_id".into(),
            source: BitstringError::TooWide {
                bits: 9,
                bitwidth: 8
            },
        }
    );
    assert_eq!(
        err.to_string(),
        "SwitchyardIngress.conn.meta.vip_id: value needs 9 bits, more than the width 8"
    );
    assert!(matches!(
        conn.exact("meta.vip_id", Value::from_be_bytes(vec![])),
        Err(P4InfoError::Value {
            source: BitstringError::Empty,
            ..
        })
    ));
}

#[test]
fn a_match_of_the_wrong_kind_is_refused() {
    let idx = index();
    let err = idx
        .table("routes")
        .unwrap()
        .exact("hdr.ipv4.dst_addr", 1u32)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "SwitchyardIngress.routes: `hdr.ipv4.dst_addr` is a lpm match field, not exact"
    );
    assert!(idx
        .table("conn")
        .unwrap()
        .lpm("hdr.ipv4.src_addr", 1u32, 8)
        .is_err());
}

#[test]
fn lpm_checks_prefix_and_host_bits() {
    let routes = index().table("routes").unwrap().clone();
    let m = routes
        .lpm("hdr.ipv4.dst_addr", Ipv4Addr::new(10, 1, 0, 0), 16)
        .unwrap();
    assert_eq!(
        m.field_match_type,
        Some(FieldMatchType::Lpm(
            p4runtime_proto::p4::v1::field_match::Lpm {
                value: vec![10, 1, 0, 0],
                prefix_len: 16
            }
        ))
    );
    assert!(matches!(
        routes.lpm("hdr.ipv4.dst_addr", Ipv4Addr::new(10, 1, 0, 1), 16),
        Err(P4InfoError::BadMatch { .. })
    ));
    assert!(matches!(
        routes.lpm("hdr.ipv4.dst_addr", 0u32, 0),
        Err(P4InfoError::DontCare { .. })
    ));
    assert!(matches!(
        routes.lpm("hdr.ipv4.dst_addr", 0u32, 33),
        Err(P4InfoError::BadMatch { .. })
    ));
    assert!(routes
        .lpm("hdr.ipv4.dst_addr", Ipv4Addr::new(10, 1, 0, 1), 32)
        .is_ok());
}

#[test]
fn ternary_and_range_and_optional_follow_the_spec_rules() {
    let acl = index().table("acl").unwrap().clone();
    let t = acl
        .ternary("hdr.tcp.dst_port", 0x0050u16, 0xfff0u16)
        .unwrap();
    assert_eq!(
        t.field_match_type,
        Some(FieldMatchType::Ternary(
            p4runtime_proto::p4::v1::field_match::Ternary {
                value: vec![0x50],
                mask: vec![0xff, 0xf0]
            }
        ))
    );
    assert!(matches!(
        acl.ternary("hdr.tcp.dst_port", 0x0051u16, 0xfff0u16),
        Err(P4InfoError::BadMatch { .. })
    ));
    assert!(matches!(
        acl.ternary("hdr.tcp.dst_port", 0u16, 0u16),
        Err(P4InfoError::DontCare { .. })
    ));

    assert!(acl.range("hdr.tcp.src_port", 1024u16, 2047u16).is_ok());
    assert!(matches!(
        acl.range("hdr.tcp.src_port", 9u16, 8u16),
        Err(P4InfoError::BadMatch { .. })
    ));
    assert!(matches!(
        acl.range("hdr.tcp.src_port", 0u16, 0xffffu16),
        Err(P4InfoError::DontCare { .. })
    ));
    assert!(acl.range("hdr.tcp.src_port", 0u16, 0xfffeu16).is_ok());

    let o = acl.optional("hdr.ipv4.protocol", 6u8).unwrap();
    assert_eq!(o.field_id, 3);
}

#[test]
fn entries_need_every_exact_field_and_the_right_priority() {
    let idx = index();
    let conn = idx.table("conn").unwrap();
    let set = idx.action("set_backend").unwrap();
    let key = || {
        vec![
            conn.exact("meta.vip_id", 3u8).unwrap(),
            conn.exact("hdr.tcp.src_port", 40000u16).unwrap(),
            conn.exact("hdr.ipv4.src_addr", Ipv4Addr::new(198, 18, 0, 1))
                .unwrap(),
        ]
    };
    let action = set.call([("backend_idx", 7u16)]).unwrap();
    let entry = conn.entry(key(), 0, action.clone()).unwrap();
    assert_eq!(entry.table_id, CONN);
    // Sorted by field id regardless of the order given.
    assert_eq!(
        entry.r#match.iter().map(|m| m.field_id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let Some(table_action::Type::Action(a)) = entry.action.unwrap().r#type else {
        panic!("action")
    };
    assert_eq!(
        (a.action_id, a.params[0].value.clone()),
        (SET_BACKEND, vec![7])
    );

    let mut partial = key();
    partial.pop();
    assert_eq!(
        conn.entry(partial, 0, action.clone()).unwrap_err(),
        P4InfoError::Missing {
            owner: "SwitchyardIngress.conn".into(),
            name: "hdr.ipv4.src_addr".into()
        }
    );
    let mut doubled = key();
    doubled.push(conn.exact("meta.vip_id", 4u8).unwrap());
    assert!(matches!(
        conn.entry(doubled, 0, action.clone()),
        Err(P4InfoError::Duplicate { .. })
    ));
    assert!(matches!(
        conn.entry(key(), 5, action.clone()),
        Err(P4InfoError::Priority { .. })
    ));

    let acl = idx.table("acl").unwrap();
    assert!(acl.needs_priority());
    let acl_key = || vec![acl.exact("meta.vip_id", 1u8).unwrap()];
    let no_action = idx.action("NoAction").unwrap().call::<Value>([]).unwrap();
    assert!(matches!(
        acl.entry(acl_key(), 0, no_action.clone()),
        Err(P4InfoError::Priority { .. })
    ));
    assert_eq!(acl.entry(acl_key(), 10, no_action).unwrap().priority, 10);
}

#[test]
fn hand_built_matches_with_unknown_ids_or_kinds_are_refused() {
    let idx = index();
    let conn = idx.table("conn").unwrap();
    let routes = idx.table("routes").unwrap();
    // An lpm match built for routes (field 1) does not fit conn's exact field 1.
    let foreign = routes
        .lpm("hdr.ipv4.dst_addr", Ipv4Addr::new(10, 0, 0, 0), 8)
        .unwrap();
    assert!(matches!(
        conn.key(vec![foreign], 0),
        Err(P4InfoError::MatchKind { .. })
    ));
    let mut unknown = conn.exact("meta.vip_id", 1u8).unwrap();
    unknown.field_id = 9;
    assert_eq!(
        conn.key(vec![unknown], 0).unwrap_err(),
        P4InfoError::UnknownId {
            kind: "match field",
            id: 9
        }
    );
}

#[test]
fn action_scopes_and_const_tables_are_enforced() {
    let idx = index();
    let conn = idx.table("conn").unwrap();
    let key = vec![
        conn.exact("meta.vip_id", 3u8).unwrap(),
        conn.exact("hdr.tcp.src_port", 40000u16).unwrap(),
        conn.exact("hdr.ipv4.src_addr", 1u32).unwrap(),
    ];
    let no_action = idx.action("NoAction").unwrap().call::<Value>([]).unwrap();
    let set = idx
        .action("set_backend")
        .unwrap()
        .call([("backend_idx", 1u16)])
        .unwrap();
    let forward = idx
        .action("forward")
        .unwrap()
        .call([
            ("port", Value::from(1u16)),
            ("dmac", Value::from([2u8, 0, 0, 0, 0, 1])),
        ])
        .unwrap();

    let err = conn.entry(key.clone(), 0, no_action.clone()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "table SwitchyardIngress.conn does not allow action NoAction in entries (default only)"
    );
    assert!(matches!(
        conn.entry(key, 0, forward.clone()),
        Err(P4InfoError::ActionNotAllowed {
            scope: "at all",
            ..
        })
    ));
    assert!(matches!(
        conn.default_entry(set),
        Err(P4InfoError::ActionNotAllowed { .. })
    ));
    let default = conn.default_entry(no_action.clone()).unwrap();
    assert!(default.is_default_action && default.r#match.is_empty());
    assert!(idx.table("routes").unwrap().default_entry(forward).is_ok());

    let consts = idx.table("consts").unwrap();
    assert!(matches!(
        consts.default_entry(no_action.clone()),
        Err(P4InfoError::ActionNotAllowed { .. })
    ));
    let key = vec![consts.exact("meta.reason", 1u8).unwrap()];
    assert!(matches!(
        consts.entry(key, 0, no_action),
        Err(P4InfoError::ConstTable { .. })
    ));
}

#[test]
fn action_calls_need_each_param_once_within_its_width() {
    let idx = index();
    let forward = idx.action("SwitchyardIngress.forward").unwrap();
    let call = forward
        .call([
            ("dmac", Value::from([0u8, 0x1b, 0x21, 0, 0, 1])),
            ("port", Value::from(511u16)),
        ])
        .unwrap();
    // Params come out in P4Info order with canonical values.
    assert_eq!(call.action_id, FORWARD);
    assert_eq!(
        call.params.iter().map(|p| p.param_id).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(call.params[0].value, [0x01, 0xff]);
    assert_eq!(call.params[1].value, [0x1b, 0x21, 0, 0, 1]);

    assert!(matches!(
        forward.call([("port", 1u16)]),
        Err(P4InfoError::Missing { .. })
    ));
    assert!(matches!(
        forward.call([("port", 512u16), ("dmac", 1u16)]),
        Err(P4InfoError::Value {
            source: BitstringError::TooWide {
                bits: 10,
                bitwidth: 9
            },
            ..
        })
    ));
    assert!(matches!(
        forward.call([("port", 1u16), ("port", 2u16)]),
        Err(P4InfoError::Duplicate { .. })
    ));
    assert!(matches!(
        forward.call([("vlan", 1u16)]),
        Err(P4InfoError::UnknownParam { .. })
    ));
}

#[test]
fn packet_metadata_round_trips_through_names() {
    let idx = index();
    let h = idx.packet_header("packet_in").unwrap();
    let md = h
        .encode([("reason", 3u16), ("ingress_port", 257u16)])
        .unwrap();
    assert_eq!(
        md,
        [
            PacketMetadata {
                metadata_id: 1,
                value: vec![1, 1]
            },
            PacketMetadata {
                metadata_id: 2,
                value: vec![3]
            }
        ]
    );
    assert_eq!(h.value_of(&md, "ingress_port").unwrap(), 257);
    // Servers may send padded values.
    let padded = [PacketMetadata {
        metadata_id: 2,
        value: vec![0, 0, 9],
    }];
    assert_eq!(h.value_of(&padded, "reason").unwrap(), 9);
    assert!(matches!(
        h.value_of(&padded, "ingress_port"),
        Err(P4InfoError::Missing { .. })
    ));
    let too_wide = [PacketMetadata {
        metadata_id: 1,
        value: vec![2, 0],
    }];
    assert!(matches!(
        h.value_of(&too_wide, "ingress_port"),
        Err(P4InfoError::Value { .. })
    ));
    assert!(matches!(
        h.encode([("reason", 1u8)]),
        Err(P4InfoError::Missing { .. })
    ));
}

#[test]
fn invalid_p4info_is_rejected_with_a_reason() {
    let check = |edit: &dyn Fn(&mut cfg::P4Info), want: &str| {
        let mut info = p4info();
        edit(&mut info);
        match P4InfoIndex::new(info) {
            Err(P4InfoError::Invalid(reason)) => {
                assert!(reason.contains(want), "{reason:?} lacks {want:?}")
            }
            other => panic!("expected Invalid({want}), got {other:?}"),
        }
    };
    check(
        &|i| i.tables[1].preamble.as_mut().unwrap().name = "SwitchyardIngress.conn".into(),
        "two tables named",
    );
    check(
        &|i| i.tables[1].preamble.as_mut().unwrap().id = CONN,
        "two tables with id",
    );
    check(
        &|i| i.tables[0].preamble.as_mut().unwrap().id = 0x0100_0010,
        "prefix 0x02",
    );
    check(&|i| i.actions[1].preamble = None, "no preamble");
    check(
        &|i| {
            i.tables[0]
                .action_refs
                .push(action_ref(0x0100_0077, cfg::action_ref::Scope::TableOnly))
        },
        "unknown action",
    );
    check(&|i| i.tables[0].match_fields[0].bitwidth = 0, "width 0");
    check(&|i| i.tables[0].match_fields[1].id = 1, "repeats another");
    check(
        &|i| i.tables[0].match_fields[0].r#match = None,
        "no match type",
    );
    check(
        &|i| i.actions[2].params[1].name = "port".into(),
        "repeats another",
    );
    check(
        &|i| i.digests[0].preamble.as_mut().unwrap().id = 0x1600_0001,
        "digest prefix",
    );
    check(
        &|i| i.tables[3].const_default_action_id = 0x0100_0077,
        "const default action",
    );
}
