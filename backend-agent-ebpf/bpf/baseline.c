// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* The cheapest possible TC program, for the benchmark: its test_run time is
 * the harness's own cost per packet, which the agent's figures include. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("classifier")
int sy_baseline(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char _license[] SEC("license") = "Dual BSD/GPL";
