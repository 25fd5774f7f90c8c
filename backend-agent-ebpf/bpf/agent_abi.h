/* The agent's ABI shared with the loader (src/abi.rs mirrors every struct and
 * number here; tests/abi.rs checks the counter codes against the one registry
 * in wire/src/reason.rs and the struct sizes against the Rust mirrors).
 * Plain C, no kernel headers, so the Rust test can parse it as text. */
#ifndef SWITCHYARD_AGENT_ABI_H
#define SWITCHYARD_AGENT_ABI_H

/* Path counters: codes of wire's PathCounter registry (agent rows). */
enum sy_path {
	SY_PATH_AGENT_FUSED_SYN = 8,
	SY_PATH_AGENT_SYN_ACK = 9,
	SY_PATH_AGENT_EGRESS = 10,
	SY_PATH_AGENT_INGRESS = 11,
	SY_PATH_AGENT_SACK = 12,
	SY_PATH_AGENT_WINDOW_CLAMPED = 13,
	SY_PATH_AGENT_FLOW_REPLACED = 14,
	SY_PATH_AGENT_FLOW_CLOSED = 15,
};

/* Why a packet was passed unchanged: codes of wire's DropReason registry.
 * The agent never drops; these count what it ignores. */
enum sy_reason {
	SY_REASON_TRUNCATED = 1,
	SY_REASON_BAD_IP_HEADER = 2,
	SY_REASON_IP_FRAGMENT = 3,
	SY_REASON_BAD_TCP_HEADER = 6,
	SY_REASON_BAD_TCP_OPTIONS = 7,
	SY_REASON_BAD_TCP_FLAGS = 10,
	SY_REASON_NOT_IPV4 = 13,
	SY_REASON_NO_FLOW = 14,
	SY_REASON_AGENT_NOT_TCP = 15,
	SY_REASON_AGENT_NOT_SERVICE_PORT = 16,
	SY_REASON_AGENT_MAP_FULL = 17,
	SY_REASON_AGENT_NOT_FUSED = 18,
	SY_REASON_AGENT_SYN_ACK_MISMATCH = 19,
	SY_REASON_AGENT_NOT_SPLICED = 20,
};

/* Counter array layout: path code p at index p, reason code r at
 * SY_REASON_BASE + r. Codes stay below 64 (checked by the Rust test). */
#define SY_REASON_BASE 64
#define SY_COUNTERS 128

/* Flow key, as seen from the backend: the client is the remote end. */
struct sy_flow_key {
	__u32 client_ip;    /* network byte order */
	__u32 backend_ip;   /* network byte order */
	__u16 client_port;  /* network byte order */
	__u16 backend_port; /* network byte order */
};

/* Flow state bits (sy_flow.flags). */
#define SY_F_SPLICED      0x01 /* SYN-ACK seen, delta valid */
#define SY_F_WSCALE       0x02 /* client offered window scaling */
#define SY_F_BACKEND_WS   0x04 /* backend answered with window scaling */
#define SY_F_FIN_IN       0x08 /* client sent FIN */
#define SY_F_FIN_OUT      0x10 /* backend sent FIN */
#define SY_F_FIN_IN_ACKED 0x20 /* backend acknowledged the client's FIN */
#define SY_F_FIN_OUT_ACKED 0x40 /* client acknowledged the backend's FIN */
#define SY_F_CLOSED (SY_F_FIN_IN | SY_F_FIN_OUT | SY_F_FIN_IN_ACKED | SY_F_FIN_OUT_ACKED)

/* Per-flow value: 28 bytes. All sequence numbers in host byte order. */
struct sy_flow {
	__u32 switch_isn;  /* S, from the fused SYN's ack field */
	__u32 client_isn;  /* c, to match the backend's SYN-ACK (ack == c+1) */
	__u32 delta;       /* S - b, valid once SY_F_SPLICED */
	__u32 fin_in_end;  /* client FIN seq + 1 (client space) */
	__u32 fin_out_end; /* backend FIN seq + 1 (switch space) */
	__u32 flags;       /* SY_F_* bits, updated atomically */
	__u8 client_ws;    /* client's window scale (its SYN option) */
	__u8 backend_ws;   /* backend's window scale (its SYN-ACK option) */
	__u8 pad[2];
};

/* Loader configuration, a one-entry array. */
struct sy_config {
	__u8 switch_ws; /* window scale the switch's SYN-ACK advertised */
	__u8 pad[3];
};

#endif
