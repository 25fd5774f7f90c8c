// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* Switchyard backend agent: TC programs that splice the switch's sequence
 * space onto the backend's TCP connections (docs/AGENT.md has the why).
 *
 * sy_ingress (client -> backend, dport is a service port):
 *   fused SYN (SYN, no ACK flag, ack field = S != 0): record S, clear the field.
 *   later segments: ack -= delta, every SACK edge -= delta.
 * sy_egress (backend -> client, sport is a service port):
 *   SYN-ACK of a recorded flow: delta = S - b, seq := S.
 *   later segments: seq += delta, window rescaled backend scale -> switch scale.
 *
 * The agent never drops and never ends a TC chain: every path returns
 * TC_ACT_UNSPEC ("next"; pass at the end of the chain). Anything it does not
 * understand goes through byte-for-byte unchanged and is counted. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "agent_abi.h"

/* Limits, each with its reason. */
#define MAX_TCP_OPT_LEN 40  /* 60-byte max TCP header minus 20 */
#define MAX_SACK_BLOCKS 4   /* (40 - 2) / 8 */
#define MAX_WSCALE 14       /* RFC 7323 2.3: larger values are treated as 14 */
#define MAX_HDRS (ETH_HLEN + 60 + 60) /* pulled into the linear area if needed */
#define VERDICT TC_ACT_UNSPEC

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

/* The loader sets max_entries from --map-size before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_flow_key);
	__type(value, struct sy_flow);
} sy_flows SEC(".maps");

/* Service ports as a 65536-bit bitmap: one inlined array lookup per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} sy_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sy_config);
} sy_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SY_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} sy_counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&sy_counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline int pass(__u32 reason)
{
	count(SY_REASON_BASE + reason);
	return VERDICT;
}

static __always_inline int is_service_port(__be16 port)
{
	__u32 p = bpf_ntohs(port);
	__u32 idx = p >> 6;
	__u64 *w = bpf_map_lookup_elem(&sy_ports, &idx);
	return w && ((*w >> (p & 63)) & 1);
}

/* Offsets of a parsed IPv4/TCP packet, relative to skb->data. Pointers are
 * re-derived from these after helper calls that may move the data. */
struct pkt {
	__u32 l4_off;
	__u32 tcp_hl;
	__u32 payload_len;
};

/* What the option walk found. */
struct opts {
	__u32 sack_off; /* offset of the SACK option from the TCP header, 0 = none */
	__u32 sack_blocks;
	__u32 ws; /* window scale value, if has_ws */
	__u32 has_ws;
};

/* Validates Ethernet/IPv4/TCP headers. Returns 0 or a SY_REASON_*. */
static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	/* Headers outside the linear area (rare: some GRO/GSO layouts). */
	if (data + MAX_HDRS > end && skb->len > (__u32)(end - data)) {
		bpf_skb_pull_data(skb, skb->len < MAX_HDRS ? skb->len : MAX_HDRS);
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	}

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return SY_REASON_TRUNCATED;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return SY_REASON_NOT_IPV4;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return SY_REASON_TRUNCATED;
	if (ip->version != 4 || ip->ihl < 5)
		return SY_REASON_BAD_IP_HEADER;
	if (ip->protocol != IPPROTO_TCP)
		return SY_REASON_AGENT_NOT_TCP;
	__u32 ihl = ip->ihl * 4;
	__u32 tot = bpf_ntohs(ip->tot_len);
	/* IPv4 BIG TCP (gso/gro_max_size above 64 KB) sends tot_len 0 on
	 * super-packets; their real length is the skb's. */
	if (tot == 0 && skb->len - ETH_HLEN > 0xffff)
		tot = skb->len - ETH_HLEN;
	if (tot < ihl)
		return SY_REASON_BAD_IP_HEADER;
	if (tot > skb->len - ETH_HLEN)
		return SY_REASON_TRUNCATED;
	if (ip->frag_off & bpf_htons(0x3fff)) /* MF or a fragment offset */
		return SY_REASON_IP_FRAGMENT;
	struct tcphdr *tcp = (void *)ip + ihl;
	if ((void *)(tcp + 1) > end)
		return SY_REASON_TRUNCATED;
	__u32 hl = tcp->doff * 4;
	if (hl < 20)
		return SY_REASON_BAD_TCP_HEADER;
	if (hl > tot - ihl || (void *)tcp + hl > end)
		return SY_REASON_TRUNCATED;
	p->l4_off = ETH_HLEN + ihl;
	p->tcp_hl = hl;
	p->payload_len = tot - ihl - hl;
	return 0;
}

/* Walks the options with the same rules as wire's tcp_option::parse: an
 * option the parser would reject makes the whole packet "malformed" and the
 * agent then leaves it unchanged (never half rewritten). */
static __always_inline int parse_opts(struct __sk_buff *skb, struct pkt *p, struct opts *o)
{
	void *end = (void *)(long)skb->data_end;
	__u8 *tcp = (void *)(long)skb->data + (p->l4_off & 0xff);
	__u32 hl = p->tcp_hl;
	__u32 off = 20;

	o->sack_off = 0;
	o->sack_blocks = 0;
	o->has_ws = 0;
	o->ws = 0;
	for (int i = 0; i < MAX_TCP_OPT_LEN; i++) {
		if (off >= hl)
			break;
		off &= 0x3f;
		__u8 *k = tcp + off;
		if ((void *)(k + 1) > end)
			return -1;
		__u8 kind = k[0];
		if (kind == 0) /* end of list */
			break;
		if (kind == 1) { /* no-op */
			off++;
			continue;
		}
		if ((void *)(k + 2) > end)
			return -1;
		__u32 len = k[1];
		if (len < 2 || off + len > hl)
			return -1;
		switch (kind) {
		case 2: /* MSS */
			if (len != 4)
				return -1;
			break;
		case 3: /* window scale */
			if (len != 3 || (void *)(k + 3) > end)
				return -1;
			o->ws = k[2] > MAX_WSCALE ? MAX_WSCALE : k[2];
			o->has_ws = 1;
			break;
		case 4: /* SACK permitted */
			if (len != 2)
				return -1;
			break;
		case 5: /* SACK */
			if (len < 10 || (len - 2) % 8 != 0 || len > 2 + 8 * MAX_SACK_BLOCKS)
				return -1;
			if (o->sack_off == 0) {
				o->sack_off = off;
				o->sack_blocks = (len - 2) / 8;
			}
			break;
		case 8: /* timestamps */
			if (len != 10)
				return -1;
			break;
		}
		off += len;
	}
	return 0;
}

/* One's-complement difference of rewritten fields, folded into the TCP
 * checksum once at the end by bpf_l4_csum_replace (which also does the right
 * thing for CHECKSUM_PARTIAL and CHECKSUM_COMPLETE skbs). Values are raw
 * (network order) as they sit in the packet. */
static __always_inline __u64 diff32(__u32 old, __u32 new)
{
	return (__u64)(~old) + new;
}

static __always_inline __u64 diff16(__u16 old, __u16 new)
{
	return (__u64)(__u16)~old + new;
}

static __always_inline void fix_csum(struct __sk_buff *skb, struct pkt *p, __u64 d)
{
	d = (d & 0xffffffff) + (d >> 32);
	d = (d & 0xffffffff) + (d >> 32);
	bpf_l4_csum_replace(skb, p->l4_off + offsetof(struct tcphdr, check), 0, (__u32)d, 0);
}

static __always_inline int seq_ge(__u32 a, __u32 b)
{
	return (__s32)(a - b) >= 0;
}

static __always_inline void set_flags(struct sy_flow *f, __u32 bits)
{
	__sync_fetch_and_or(&f->flags, bits);
}

static __always_inline void close_if_done(struct sy_flow_key *key, struct sy_flow *f, int rst)
{
	if (rst || (f->flags & SY_F_CLOSED) == SY_F_CLOSED) {
		if (bpf_map_delete_elem(&sy_flows, key) == 0)
			count(SY_PATH_AGENT_FLOW_CLOSED);
	}
}

static __always_inline int fused_syn(struct __sk_buff *skb, struct pkt *p, struct tcphdr *tcp,
				     struct sy_flow_key *key)
{
	struct opts o;
	__u32 s = bpf_ntohl(tcp->ack_seq);
	__u32 c = bpf_ntohl(tcp->seq);
	__be32 raw_ack = tcp->ack_seq;

	if (parse_opts(skb, p, &o))
		return pass(SY_REASON_BAD_TCP_OPTIONS);

	struct sy_flow *old = bpf_map_lookup_elem(&sy_flows, key);
	/* The front-end retransmitting its replayed SYN: keep what was learnt. */
	if (!(old && old->switch_isn == s && old->client_isn == c)) {
		struct sy_flow f = {
			.switch_isn = s,
			.client_isn = c,
			.flags = o.has_ws ? SY_F_WSCALE : 0,
			.client_ws = o.ws,
		};
		if (bpf_map_update_elem(&sy_flows, key, &f, BPF_ANY))
			return pass(SY_REASON_AGENT_MAP_FULL); /* backend ignores the field */
		if (old)
			count(SY_PATH_AGENT_FLOW_REPLACED);
	}

	/* parse_opts may not move data, but re-derive to satisfy the verifier. */
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	tcp = data + (p->l4_off & 0xff);
	if ((void *)(tcp + 1) > end)
		return VERDICT;
	tcp->ack_seq = 0;
	fix_csum(skb, p, diff32(raw_ack, 0));
	count(SY_PATH_AGENT_FUSED_SYN);
	return VERDICT;
}

SEC("classifier")
int sy_ingress(struct __sk_buff *skb)
{
	struct pkt p;
	int r = parse(skb, &p);
	if (r)
		return pass(r);

	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + ETH_HLEN;
	struct tcphdr *tcp = data + (p.l4_off & 0xff);
	if ((void *)(ip + 1) > end || (void *)(tcp + 1) > end)
		return VERDICT;
	if (!is_service_port(tcp->dest))
		return pass(SY_REASON_AGENT_NOT_SERVICE_PORT);

	struct sy_flow_key key = {
		.client_ip = ip->saddr,
		.backend_ip = ip->daddr,
		.client_port = tcp->source,
		.backend_port = tcp->dest,
	};
	__u8 fl = ((__u8 *)tcp)[13];

	if (fl & TCP_FLAG_SYN) {
		if (fl & (TCP_FLAG_FIN | TCP_FLAG_RST))
			return pass(SY_REASON_BAD_TCP_FLAGS);
		if (fl & TCP_FLAG_ACK)
			return pass(SY_REASON_AGENT_NOT_FUSED);
		if (tcp->ack_seq == 0) {
			/* A plain SYN: any entry for the tuple is stale now. */
			bpf_map_delete_elem(&sy_flows, &key);
			return pass(SY_REASON_AGENT_NOT_FUSED);
		}
		return fused_syn(skb, &p, tcp, &key);
	}

	struct sy_flow *f = bpf_map_lookup_elem(&sy_flows, &key);
	if (!f)
		return pass(SY_REASON_NO_FLOW);
	if (!(f->flags & SY_F_SPLICED)) {
		close_if_done(&key, f, fl & TCP_FLAG_RST);
		return pass(SY_REASON_AGENT_NOT_SPLICED);
	}

	struct opts o = {};
	if (p.tcp_hl > 20 && parse_opts(skb, &p, &o))
		return pass(SY_REASON_BAD_TCP_OPTIONS);

	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	tcp = data + (p.l4_off & 0xff);
	if ((void *)(tcp + 1) > end)
		return VERDICT;

	__u32 delta = f->delta;
	__u64 d = 0;

	if (fl & TCP_FLAG_ACK) {
		__u32 ack = bpf_ntohl(tcp->ack_seq);
		if ((f->flags & SY_F_FIN_OUT) && seq_ge(ack, f->fin_out_end))
			set_flags(f, SY_F_FIN_OUT_ACKED);
		__be32 n = bpf_htonl(ack - delta);
		d += diff32(tcp->ack_seq, n);
		tcp->ack_seq = n;
	}

	if (o.sack_off) {
		__u8 *s = (__u8 *)tcp + (o.sack_off & 0x3f) + 2;
		for (int b = 0; b < MAX_SACK_BLOCKS; b++) {
			if (b >= o.sack_blocks)
				break;
			__u32 *e = (__u32 *)(s + 8 * b);
			if ((void *)(e + 2) > end)
				break;
			__be32 l = bpf_htonl(bpf_ntohl(e[0]) - delta);
			__be32 rr = bpf_htonl(bpf_ntohl(e[1]) - delta);
			d += diff32(e[0], l) + diff32(e[1], rr);
			e[0] = l;
			e[1] = rr;
		}
		count(SY_PATH_AGENT_SACK);
	}

	/* The client's window is in the client's scale, which the backend also
	 * learnt from the replayed SYN. Only when the backend refused scaling
	 * does it read the field unscaled while the client meant it scaled. */
	if ((f->flags & (SY_F_WSCALE | SY_F_BACKEND_WS)) == SY_F_WSCALE && f->client_ws) {
		__u32 w = bpf_ntohs(tcp->window);
		__u32 nw = w << (f->client_ws & 0xf);
		if (nw > 0xffff) {
			nw = 0xffff;
			count(SY_PATH_AGENT_WINDOW_CLAMPED);
		}
		__be16 raw = bpf_htons((__u16)nw);
		d += diff16(tcp->window, raw);
		tcp->window = raw;
	}

	if (fl & TCP_FLAG_FIN) {
		f->fin_in_end = bpf_ntohl(tcp->seq) + p.payload_len + 1;
		set_flags(f, SY_F_FIN_IN);
	}

	if (d)
		fix_csum(skb, &p, d);
	count(SY_PATH_AGENT_INGRESS);
	close_if_done(&key, f, fl & TCP_FLAG_RST);
	return VERDICT;
}

static __always_inline int syn_ack(struct __sk_buff *skb, struct pkt *p, struct tcphdr *tcp,
				   struct sy_flow *f)
{
	struct opts o;
	if (bpf_ntohl(tcp->ack_seq) != f->client_isn + 1)
		return pass(SY_REASON_AGENT_SYN_ACK_MISMATCH);
	if (parse_opts(skb, p, &o))
		return pass(SY_REASON_BAD_TCP_OPTIONS);

	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	tcp = data + (p->l4_off & 0xff);
	if ((void *)(tcp + 1) > end)
		return VERDICT;

	__u32 b = bpf_ntohl(tcp->seq);
	f->delta = f->switch_isn - b;
	f->backend_ws = o.ws;
	set_flags(f, SY_F_SPLICED | (o.has_ws ? SY_F_BACKEND_WS : 0));

	__be32 n = bpf_htonl(f->switch_isn);
	__u64 d = diff32(tcp->seq, n);
	tcp->seq = n;
	fix_csum(skb, p, d);
	count(SY_PATH_AGENT_SYN_ACK);
	return VERDICT;
}

SEC("classifier")
int sy_egress(struct __sk_buff *skb)
{
	struct pkt p;
	int r = parse(skb, &p);
	if (r)
		return pass(r);

	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + ETH_HLEN;
	struct tcphdr *tcp = data + (p.l4_off & 0xff);
	if ((void *)(ip + 1) > end || (void *)(tcp + 1) > end)
		return VERDICT;
	if (!is_service_port(tcp->source))
		return pass(SY_REASON_AGENT_NOT_SERVICE_PORT);

	struct sy_flow_key key = {
		.client_ip = ip->daddr,
		.backend_ip = ip->saddr,
		.client_port = tcp->dest,
		.backend_port = tcp->source,
	};
	__u8 fl = ((__u8 *)tcp)[13];
	struct sy_flow *f = bpf_map_lookup_elem(&sy_flows, &key);
	if (!f)
		return pass(SY_REASON_NO_FLOW);

	if (fl & TCP_FLAG_SYN) {
		if ((fl & (TCP_FLAG_FIN | TCP_FLAG_RST)) || !(fl & TCP_FLAG_ACK))
			return pass(SY_REASON_BAD_TCP_FLAGS);
		return syn_ack(skb, &p, tcp, f);
	}
	if (!(f->flags & SY_F_SPLICED)) {
		close_if_done(&key, f, fl & TCP_FLAG_RST);
		return pass(SY_REASON_AGENT_NOT_SPLICED);
	}

	__u64 d = 0;
	__u32 seq = bpf_ntohl(tcp->seq) + f->delta;
	__be32 n = bpf_htonl(seq);
	d += diff32(tcp->seq, n);
	tcp->seq = n;

	/* The client reads our window in the switch's scale (its SYN-ACK's
	 * option); the backend wrote it in its own (0 if it sent none). */
	if (f->flags & SY_F_WSCALE) {
		__u32 k = 0;
		__u32 *cfgp = bpf_map_lookup_elem(&sy_config, &k);
		__u32 sws = cfgp ? ((struct sy_config *)cfgp)->switch_ws & 0xf : 0;
		__u32 bws = f->backend_ws & 0xf;
		__u32 w = bpf_ntohs(tcp->window);
		if (w && sws != bws) {
			__u32 nw = (w << bws) >> sws;
			if (nw > 0xffff) {
				nw = 0xffff;
				count(SY_PATH_AGENT_WINDOW_CLAMPED);
			} else if (nw == 0) {
				nw = 1; /* never announce a zero window the backend did not */
				count(SY_PATH_AGENT_WINDOW_CLAMPED);
			}
			__be16 raw = bpf_htons((__u16)nw);
			d += diff16(tcp->window, raw);
			tcp->window = raw;
		}
	}

	if ((fl & TCP_FLAG_ACK) && (f->flags & SY_F_FIN_IN) &&
	    seq_ge(bpf_ntohl(tcp->ack_seq), f->fin_in_end))
		set_flags(f, SY_F_FIN_IN_ACKED);
	if (fl & TCP_FLAG_FIN) {
		f->fin_out_end = seq + p.payload_len + 1;
		set_flags(f, SY_F_FIN_OUT);
	}

	fix_csum(skb, &p, d);
	count(SY_PATH_AGENT_EGRESS);
	close_if_done(&key, f, fl & TCP_FLAG_RST);
	return VERDICT;
}

char _license[] SEC("license") = "Dual BSD/GPL";
