/* Switchyard: the SYN cookie, HalfSipHash-2-4 over 32-bit words, exactly as
 * wire::halfsiphash::hash_words and wire::cookie::generate compute it.
 * Included inside the ingress control (it uses hdr and meta).
 *
 * MAC input words: client_ip, vip, client_port << 16 | vport, client_isn,
 * low 9 bits; then the length word (20 & 0xff) << 24 (5 words = 20 bytes).
 * cookie = (mac & 0xFFFFFE00) | low9,
 * low9 = gen << 8 | mss_idx << 5 | wscale_code << 1 | sack_permitted. */

/* Secrets: a keyless table; the control plane rotates them by modifying its
 * default action. Only the current secret signs SYN-ACKs; the previous one
 * is carried so one write installs both (the front-end validates with both). */
/* p4c warns "'prev_k0' is unused" and "'prev_k1' is unused" here: by
 * design, the data plane signs with the current secret only; prev_* are in
 * the action so that one P4Runtime write installs both halves of a rotation
 * and a reader of the default entry (switchyard-ctl) sees both (docs/P4.md). */
action set_cookie_secrets(bit<32> cur_k0, bit<32> cur_k1, bit<1> cur_gen,
                          bit<32> prev_k0, bit<32> prev_k1) {
    meta.k0 = cur_k0;
    meta.k1 = cur_k1;
    meta.key_gen = cur_gen;
}

table cookie_secrets {
    actions = { set_cookie_secrets; }
    default_action = set_cookie_secrets(0, 0, 0, 0, 0);
    size = 1;
}

/* One SipRound; rotations written as (x << n) | (x >> (32 - n)). */
action sip_round() {
    meta.v0 = meta.v0 + meta.v1;
    meta.v1 = (meta.v1 << 5) | (meta.v1 >> 27);
    meta.v1 = meta.v1 ^ meta.v0;
    meta.v0 = (meta.v0 << 16) | (meta.v0 >> 16);
    meta.v2 = meta.v2 + meta.v3;
    meta.v3 = (meta.v3 << 8) | (meta.v3 >> 24);
    meta.v3 = meta.v3 ^ meta.v2;
    meta.v0 = meta.v0 + meta.v3;
    meta.v3 = (meta.v3 << 7) | (meta.v3 >> 25);
    meta.v3 = meta.v3 ^ meta.v0;
    meta.v2 = meta.v2 + meta.v1;
    meta.v1 = (meta.v1 << 13) | (meta.v1 >> 19);
    meta.v1 = meta.v1 ^ meta.v2;
    meta.v2 = (meta.v2 << 16) | (meta.v2 >> 16);
}

/* Absorb one message word with c = 2 rounds. */
action sip_absorb(bit<32> m) {
    meta.v3 = meta.v3 ^ m;
    sip_round();
    sip_round();
    meta.v0 = meta.v0 ^ m;
}

/* The cookie's low 9 bits. The caller computes the MSS index and the
 * window-scale code in its apply block: p4c-bm2-ss only predicates simple
 * `if`s inside actions, so actions here are straight-line code. */
action cookie_low_bits(bit<3> mss_idx, bit<4> ws_code) {
    meta.cookie_low = ((bit<32>)meta.key_gen << 8) | ((bit<32>)mss_idx << 5)
                    | ((bit<32>)ws_code << 1) | (bit<32>)meta.syn_sack_ok;
}

/* The cookie in steps, each a separate action the apply block calls in
 * order (SwitchyardIngress: cookie_init, sip_absorb x 6, sip_finalize,
 * sip_two_rounds x 2, cookie_output). Not one action: p4c's midend pass
 * LocalCopyPropagation is exponential in the chained reassignments of
 * v0..v3 inside one action (measured with p4c 1.2.4.9: 2 SipRounds 1 s,
 * 4 rounds 8 s, 6 rounds over 300 s; the 16 rounds of HalfSipHash-2-4 in
 * one action never finished). Two rounds per action compile in about a
 * second; switch-sim refuses more (docs/P4.md, "compile-time guard"), and
 * a Tofino pipeline needs the same shape: a round or two per stage. */
action cookie_init() {
    meta.v0 = meta.k0;
    meta.v1 = meta.k1;
    meta.v2 = 32w0x6c796765 ^ meta.k0;
    meta.v3 = 32w0x74656462 ^ meta.k1;
}

/* Finalization, first step: v2 ^= 0xff (the rounds follow). */
action sip_finalize() {
    meta.v2 = meta.v2 ^ 32w0xff;
}

/* Two of the four finalization rounds. */
action sip_two_rounds() {
    sip_round();
    sip_round();
}

action cookie_output() {
    meta.cookie = ((meta.v1 ^ meta.v3) & COOKIE_MAC_MASK) | meta.cookie_low;
}
