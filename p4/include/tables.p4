/* Switchyard: the tables the control plane programs (names are the
 * P4Runtime names, see docs/P4.md) and their actions. Included inside the
 * ingress control; the TNA variant includes the same file. */

/* ---- checksum accumulators (RFC 1624 eqn. 3) --------------------------
 * ip_sum / tcp_sum start as ~HC; each rewrite adds ~old + new for every
 * 16-bit word it changes; csum_finish folds and stores ~sum. Incremental,
 * so the payload is never summed and an existing error is preserved. */
action csum_begin_ip() {
    meta.ip_sum = (bit<32>)(~hdr.ipv4.hdr_checksum);
}

action csum_begin_tcp() {
    meta.tcp_sum = (bit<32>)(~hdr.tcp.checksum);
}

action csum_finish_ip() {
    meta.ip_sum = (meta.ip_sum & 0xffff) + (meta.ip_sum >> 16);
    meta.ip_sum = (meta.ip_sum & 0xffff) + (meta.ip_sum >> 16);
    hdr.ipv4.hdr_checksum = ~meta.ip_sum[15:0];
}

action csum_finish_tcp() {
    meta.tcp_sum = (meta.tcp_sum & 0xffff) + (meta.tcp_sum >> 16);
    meta.tcp_sum = (meta.tcp_sum & 0xffff) + (meta.tcp_sum >> 16);
    hdr.tcp.checksum = ~meta.tcp_sum[15:0];
}

action drop_with(bit<8> reason) {
    meta.drop_reason = reason;
}

/* ---- port_role: edge (default), front-end or backend ports ---------- */
action set_port_role(bit<2> role) {
    meta.port_role = role;
}

table port_role {
    key = { std.ingress_port : exact @name("port"); }
    actions = { set_port_role; }
    default_action = set_port_role(PORT_ROLE_EDGE);
    size = PORT_ROLE_TABLE_SIZE;
}

/* ---- edge guards: what a client-facing port may not send -------------
 * Consulted only for ports of role edge (port_role's default), so the
 * switch cannot be bypassed from the client side: protected_source holds
 * the prefixes only backend and front-end ports may source (their
 * networks); backend_service the backend address:port pairs a
 * client-facing port may not reach directly (the switch's own VIP rewrite
 * happens after this check, on the VIP address). */
action drop_spoofed_source() {
    drop_with(DROP_SPOOFED_SOURCE);
}

table protected_source {
    key = { hdr.ipv4.src_addr : lpm @name("src_addr"); }
    actions = { drop_spoofed_source; @defaultonly NoAction; }
    default_action = NoAction();
    size = GUARD_TABLE_SIZE;
}

action drop_direct_to_backend() {
    drop_with(DROP_DIRECT_TO_BACKEND);
}

table backend_service {
    key = {
        hdr.ipv4.dst_addr : exact @name("backend_addr");
        hdr.tcp.dst_port  : exact @name("backend_port");
    }
    actions = { drop_direct_to_backend; @defaultonly NoAction; }
    default_action = NoAction();
    size = BACKEND_TABLE_SIZE;
}

/* ---- vip: (VIP address, port) -> VIP id ----------------------------- */
action set_vip(vip_id_t vip_id) {
    meta.vip_id = vip_id;
}

/* A VIP being removed (its service left the front-end's config): its
 * connections go on, new ones are refused as with no live front-end (RST
 * to the SYN, syn_refused). The front-end deletes the entry once the VIP's
 * last flow is gone. */
action set_vip_draining(vip_id_t vip_id) {
    meta.vip_id = vip_id;
    meta.vip_draining = 1;
}

table vip {
    key = {
        hdr.ipv4.dst_addr : exact @name("vip_addr");
        hdr.tcp.dst_port  : exact @name("vip_port");
    }
    actions = { set_vip; set_vip_draining; @defaultonly NoAction; }
    default_action = NoAction();
    size = VIP_TABLE_SIZE;
}

/* ---- connection: (client, port, VIP id) -> backend index ------------- */
/* `connection` offload mode: the switch carries both directions. */
action set_conn_backend(backend_index_t backend_index) {
    meta.conn_backend = backend_index;
}

/* `request` offload mode: the switch carries the backend's packets and the
 * client's bare ACKs; client packets with payload, FIN or RST still go to
 * the front-end, which parses (and may re-dispatch) every request. */
action set_conn_backend_request(backend_index_t backend_index) {
    meta.conn_backend = backend_index;
    meta.conn_request_mode = 1;
}

table connection {
    key = {
        meta.client_addr : exact @name("client_addr");
        meta.client_port : exact @name("client_port");
        meta.vip_id      : exact @name("vip_id");
    }
    actions = { set_conn_backend; set_conn_backend_request; @defaultonly NoAction; }
    default_action = NoAction();
    size = CONNECTION_TABLE_SIZE;
    support_timeout = true;
}

/* ---- backend: index -> address, port ---------------------------------
 * The next hop of a backend is resolved by ipv4_route on its address, so a
 * backend that moves needs one route change, not one per connection. */
action rewrite_to_backend(ipv4_addr_t addr, l4_port_t port) {
    meta.ip_sum = meta.ip_sum + (bit<32>)(~hdr.ipv4.dst_addr[31:16]) + (bit<32>)(~hdr.ipv4.dst_addr[15:0])
                + (bit<32>)addr[31:16] + (bit<32>)addr[15:0];
    meta.tcp_sum = meta.tcp_sum + (bit<32>)(~hdr.ipv4.dst_addr[31:16]) + (bit<32>)(~hdr.ipv4.dst_addr[15:0])
                 + (bit<32>)addr[31:16] + (bit<32>)addr[15:0]
                 + (bit<32>)(~hdr.tcp.dst_port) + (bit<32>)port;
    hdr.ipv4.dst_addr = addr;
    hdr.tcp.dst_port = port;
}

table backend {
    key = { meta.conn_backend : exact @name("backend_index"); }
    actions = { rewrite_to_backend; @defaultonly NoAction; }
    default_action = NoAction();
    size = BACKEND_TABLE_SIZE;
}

/* ---- backend_address: (backend address, port) -> VIP id, index, VIP --
 * Recovers the connection key for packets from a backend. A backend
 * address:port serves one VIP. */
action set_backend_origin(vip_id_t vip_id, backend_index_t backend_index,
                          ipv4_addr_t vip_addr, l4_port_t vip_port) {
    meta.vip_id = vip_id;
    meta.backend_index = backend_index;
    meta.vip_addr = vip_addr;
    meta.vip_port = vip_port;
}

table backend_address {
    key = {
        hdr.ipv4.src_addr : exact @name("backend_addr");
        hdr.tcp.src_port  : exact @name("backend_port");
    }
    actions = { set_backend_origin; @defaultonly NoAction; }
    default_action = NoAction();
    size = BACKEND_TABLE_SIZE;
}

/* Backend -> client: the packet leaves as if sent by VIP:vport. */
action rewrite_from_vip() {
    meta.ip_sum = meta.ip_sum + (bit<32>)(~hdr.ipv4.src_addr[31:16]) + (bit<32>)(~hdr.ipv4.src_addr[15:0])
                + (bit<32>)meta.vip_addr[31:16] + (bit<32>)meta.vip_addr[15:0];
    meta.tcp_sum = meta.tcp_sum + (bit<32>)(~hdr.ipv4.src_addr[31:16]) + (bit<32>)(~hdr.ipv4.src_addr[15:0])
                 + (bit<32>)meta.vip_addr[31:16] + (bit<32>)meta.vip_addr[15:0]
                 + (bit<32>)(~hdr.tcp.src_port) + (bit<32>)meta.vip_port;
    hdr.ipv4.src_addr = meta.vip_addr;
    hdr.tcp.src_port = meta.vip_port;
}

/* ---- ipv4_route: LPM -> port and MAC rewrite ------------------------- */
action route(port_t port, mac_addr_t src_mac, mac_addr_t dst_mac) {
    std.egress_spec = port;
    hdr.ethernet.src_addr = src_mac;
    hdr.ethernet.dst_addr = dst_mac;
    /* TTL - 1: the (ttl, protocol) word changes. */
    meta.ip_sum = meta.ip_sum + (bit<32>)(~(hdr.ipv4.ttl ++ hdr.ipv4.protocol))
                + (bit<32>)((hdr.ipv4.ttl - 1) ++ hdr.ipv4.protocol);
    hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
}

table ipv4_route {
    key = { hdr.ipv4.dst_addr : lpm @name("dst_addr"); }
    actions = { route; drop_with; }
    default_action = drop_with(DROP_NO_ROUTE);
    size = ROUTE_TABLE_SIZE;
}

/* ---- front-end selection --------------------------------------------
 * frontend_count's default action holds N, the number of front-end ports;
 * a flow goes to frontend_port[crc32(client ip, client port) % N], the
 * same hash as wire::flow::client_hash, so both directions meet the same
 * front-end. N = 0 means no front-end is live: SYNs to a VIP are refused
 * with a RST, everything else needing a front-end is dropped. */
action set_frontend_count(bit<16> count) {
    meta.fe_count = count;
}

table frontend_count {
    actions = { set_frontend_count; }
    default_action = set_frontend_count(0);
    size = 1;
}

action to_frontend(port_t port, mac_addr_t dst_mac) {
    std.egress_spec = port;
    hdr.ethernet.dst_addr = dst_mac;
    meta.path = PATH_TO_FRONTEND;
}

table frontend_port {
    key = { meta.fe_index : exact @name("index"); }
    actions = { to_frontend; drop_with; }
    default_action = drop_with(DROP_NO_FRONTEND);
    size = FRONTEND_TABLE_SIZE;
}
