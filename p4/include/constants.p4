/* Switchyard: constants shared by every architecture variant (v1model, TNA).
 *
 * The drop-reason and path-counter codes are copies of the one registry in
 * wire/src/reason.rs; switch-sim's test `p4_codes_match_registry` fails if a
 * number here drifts from it. Never renumber, only append. */
#ifndef SWITCHYARD_CONSTANTS_P4
#define SWITCHYARD_CONSTANTS_P4

/* Drop reasons (wire::reason::DropReason). */
#define DROP_TRUNCATED          8w1
#define DROP_BAD_IP_HEADER      8w2
#define DROP_IP_FRAGMENT        8w3
#define DROP_IP_OPTIONS         8w4
#define DROP_TTL_EXPIRED        8w5
#define DROP_BAD_TCP_HEADER     8w6
#define DROP_BAD_TCP_OPTIONS    8w7
#define DROP_NO_ROUTE           8w9
#define DROP_BAD_TCP_FLAGS      8w10
#define DROP_BAD_CHECKSUM       8w11
#define DROP_NOT_IPV4           8w13
#define DROP_NO_FRONTEND        8w21
#define DROP_SPOOFED_SOURCE     8w22
#define DROP_DIRECT_TO_BACKEND  8w23

/* Path counters (wire::reason::PathCounter). */
#define PATH_SYN_ANSWERED       8w1
#define PATH_TO_FRONTEND        8w2
#define PATH_OFFLOADED_IN       8w3
#define PATH_OFFLOADED_OUT      8w4
#define PATH_ROUTED             8w5
#define PATH_DROPPED            8w6
#define PATH_TEARDOWN_DIGEST    8w7
#define PATH_SYN_REFUSED        8w16

/* Counter arrays are indexed by code; 32 leaves room for appended codes. */
#define REASON_COUNTER_SIZE     32

/* Connection table capacity: one entry per offloaded connection (both
 * directions). Override at compile time: p4c -DCONNECTION_TABLE_SIZE=N. */
#ifndef CONNECTION_TABLE_SIZE
#define CONNECTION_TABLE_SIZE   65536
#endif
#define VIP_TABLE_SIZE          1024
#define BACKEND_TABLE_SIZE      4096
#define ROUTE_TABLE_SIZE        1024
#define FRONTEND_TABLE_SIZE     64
#define PORT_ROLE_TABLE_SIZE    512
/* protected_source: a few prefixes per backend and front-end network. */
#define GUARD_TABLE_SIZE        1024

/* Digest receiver id for FIN/RST on offloaded flows. */
#define DIGEST_TEARDOWN         32w1

/* Port roles (table port_role). Edge = clients and routers toward them:
 * the default, so a port nobody configured is untrusted and the edge
 * guards (protected_source, backend_service) apply to it. Backend ports
 * are exempt from the guards; front-end output is routed as it is. */
#define PORT_ROLE_EDGE          2w0
#define PORT_ROLE_FRONTEND      2w1
#define PORT_ROLE_BACKEND       2w2

#define ETHERTYPE_IPV4          16w0x0800
#define IP_PROTO_TCP            8w6
#define ETH_HEADER_BYTES        32w14

#define TCP_FIN                 8w0x01
#define TCP_SYN                 8w0x02
#define TCP_RST                 8w0x04
#define TCP_ACK                 8w0x10

#define TCP_OPT_EOL             8w0
#define TCP_OPT_NOP             8w1
#define TCP_OPT_MSS             8w2
#define TCP_OPT_WSCALE          8w3
#define TCP_OPT_SACK_PERMITTED  8w4
#define TCP_OPT_TIMESTAMPS      8w8
#define MAX_TCP_OPTION_BYTES    40

/* The switch's SYN-ACK (wire::synack): what it advertises to clients.
 * The front-end and the backend agents translate against these values. */
#define SYNACK_MSS              16w1460
#define SYNACK_WSCALE           8w7
#define SYNACK_WINDOW           16w65535
#define SYNACK_TTL              8w64
/* 20 bytes of TCP header + 12 bytes of fixed options. */
#define SYNACK_TCP_BYTES        16w32
#define SYNACK_DATA_OFFSET      4w8

/* The switch's RST|ACK refusing a SYN when no front-end is live: a bare
 * 20-byte TCP header (RFC 9293 3.10.7.1). */
#define RST_TCP_BYTES           16w20
#define RST_DATA_OFFSET         4w5

/* Cookie layout (wire::cookie). */
#define COOKIE_MAC_MASK         32w0xFFFFFE00
#define COOKIE_WSCALE_NONE      8w15
#define COOKIE_MAX_WSCALE       8w14

#endif
