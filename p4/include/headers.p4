/* Switchyard: header and metadata types shared by the v1model and TNA
 * variants. Field names follow the wire crate's views. */
#ifndef SWITCHYARD_HEADERS_P4
#define SWITCHYARD_HEADERS_P4

/* A v1model port number (standard_metadata_t's ingress_port, egress_spec).
 * Not v1model's PortId_t: v1model.p4 declares that only when
 * V1MODEL_VERSION >= 20200408, and p4c's default is 20180101 (docs/P4.md). */
typedef bit<9> port_t;
typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;
typedef bit<16> l4_port_t;
/* wire::flow::VipId and BackendIndex. */
typedef bit<16> vip_id_t;
typedef bit<16> backend_index_t;

header ethernet_h {
    mac_addr_t dst_addr;
    mac_addr_t src_addr;
    bit<16>    ether_type;
}

header ipv4_h {
    bit<4>      version;
    bit<4>      ihl;
    bit<8>      dscp_ecn;
    bit<16>     total_len;
    bit<16>     identification;
    bit<3>      flags;        /* reserved, DF, MF (bit 0) */
    bit<13>     frag_offset;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     hdr_checksum;
    ipv4_addr_t src_addr;
    ipv4_addr_t dst_addr;
}

header tcp_h {
    l4_port_t src_port;
    l4_port_t dst_port;
    bit<32>   seq_no;
    bit<32>   ack_no;
    bit<4>    data_offset;
    bit<4>    res;
    bit<8>    flags;
    bit<16>   window;
    bit<16>   checksum;
    bit<16>   urgent_ptr;
}

/* One byte of a SYN's TCP options. SYN options are extracted byte by byte
 * into a stack so that a SYN the switch forwards (a front-end's replayed
 * SYN, a routed SYN) is re-emitted byte for byte, in its original order. */
header tcp_opt_byte_h {
    bit<8> value;
}

/* The switch's fixed SYN-ACK option block (12 bytes): MSS; NOP + window
 * scale (four NOPs when the client offered none); NOP NOP +
 * SACK-permitted (four NOPs when not offered). No timestamps. A fixed
 * size keeps the checksum field list static. */
header synack_opts_h {
    bit<8>  mss_kind;
    bit<8>  mss_len;
    bit<16> mss;
    bit<8>  ws_nop;
    bit<8>  ws_kind;
    bit<8>  ws_len;
    bit<8>  ws_shift;
    bit<8>  sack_nop1;
    bit<8>  sack_nop2;
    bit<8>  sack_kind;
    bit<8>  sack_len;
}

struct headers_t {
    ethernet_h     ethernet;
    ipv4_h         ipv4;
    tcp_h          tcp;
    tcp_opt_byte_h[MAX_TCP_OPTION_BYTES] tcp_opts;
    synack_opts_h  synack_opts;
}

/* Sent to the control plane for a FIN or RST on an offloaded flow: the
 * connection-table key, the backend it maps to, and the flags seen. */
struct teardown_digest_t {
    ipv4_addr_t     client_addr;
    l4_port_t       client_port;
    vip_id_t        vip_id;
    backend_index_t backend_index;
    bit<8>          tcp_flags;
}

struct metadata_t {
    /* parser: SYN options */
    bit<8>          opt_left;
    bit<8>          opt_skip;
    bit<1>          syn_has_mss;
    bit<16>         syn_mss;
    bit<1>          syn_has_ws;
    bit<8>          syn_ws;
    bit<1>          syn_sack_ok;
    bit<1>          syn_ts;
    /* classification */
    bit<2>          port_role;
    vip_id_t        vip_id;
    backend_index_t backend_index;   /* from backend_address (backend side) */
    backend_index_t conn_backend;    /* from connection */
    bit<1>          conn_request_mode;
    ipv4_addr_t     client_addr;
    l4_port_t       client_port;
    ipv4_addr_t     vip_addr;
    l4_port_t       vip_port;
    bit<8>          path;
    bit<8>          drop_reason;
    bit<1>          do_route;
    bit<1>          synack;
    bit<1>          reset_reply;     /* the switch refuses a SYN (RST|ACK) */
    /* TCP length for the pseudo-header: the arriving segment's (parser,
     * checked on SYNs), then the switch's own reply's (SYN-ACK, RST). */
    bit<16>         tcp_len;
    /* RFC 1624 accumulators: ~HC + sum(~old + new) over changed words */
    bit<32>         ip_sum;
    bit<32>         tcp_sum;
    /* the VIP takes no new connections (set_vip_draining) */
    bit<1>          vip_draining;
    /* front-end choice */
    bit<16>         fe_count;
    bit<16>         fe_index;
    /* SYN cookie */
    bit<32>         k0;
    bit<32>         k1;
    bit<1>          key_gen;
    bit<32>         v0;
    bit<32>         v1;
    bit<32>         v2;
    bit<32>         v3;
    bit<32>         cookie_low;
    bit<32>         cookie;
}

#endif
