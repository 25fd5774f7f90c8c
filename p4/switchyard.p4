/* Switchyard data plane, P4_16 for v1model (bmv2 simple_switch_grpc and
 * switch-sim). See docs/P4.md for the tables and the packet paths.
 *
 * IP options and fragments: the TCP header is parsed only from IPv4
 * packets with IHL = 5 and no fragmentation (MF clear, offset 0). Such a
 * TCP packet arriving on an edge port could be VIP traffic we cannot
 * classify, so it is dropped (ip_options / ip_fragment); from a front-end
 * port, and for every other protocol, it is routed unchanged (TTL - 1). */
#include <core.p4>
#include <v1model.p4>

#include "include/constants.p4"
#include "include/headers.p4"

error {
    BadIpHeader,
    BadTcpHeader,
    BadTcpOptions
}

parser SwitchyardParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                        inout standard_metadata_t std) {
    state start {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            default: accept;
        }
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        verify(hdr.ipv4.version == 4 && hdr.ipv4.ihl >= 5, error.BadIpHeader);
        transition select(hdr.ipv4.ihl, hdr.ipv4.flags[0:0], hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (4w5, 1w0, 13w0, IP_PROTO_TCP): parse_tcp;
            default: accept;
        }
    }

    state parse_tcp {
        pkt.extract(hdr.tcp);
        verify(hdr.tcp.data_offset >= 5, error.BadTcpHeader);
        /* IHL is 5 here; a total length too short for the TCP header is
         * dropped in the ingress before the checksum matters. */
        meta.tcp_len = hdr.ipv4.total_len - 20;
        meta.opt_left = ((bit<8>)hdr.tcp.data_offset - 5) << 2;
        /* Only a pure SYN's options matter (the cookie encodes them); every
         * other segment's options stay in the payload, untouched. */
        transition select(hdr.tcp.flags & (TCP_SYN | TCP_ACK)) {
            TCP_SYN: parse_tcp_options;
            default: accept;
        }
    }

    /* The bounded option loop: opt_left counts down the option bytes (at
     * most 40), every byte is extracted into hdr.tcp_opts exactly once. */
    state parse_tcp_options {
        transition select(meta.opt_left) {
            0: accept;
            default: parse_tcp_option;
        }
    }

    state parse_tcp_option {
        transition select(pkt.lookahead<bit<8>>()) {
            TCP_OPT_EOL: parse_tcp_opt_eol;
            TCP_OPT_NOP: parse_tcp_opt_nop;
            TCP_OPT_MSS: parse_tcp_opt_mss;
            TCP_OPT_WSCALE: parse_tcp_opt_wscale;
            TCP_OPT_SACK_PERMITTED: parse_tcp_opt_sack_permitted;
            TCP_OPT_TIMESTAMPS: parse_tcp_opt_timestamps;
            default: parse_tcp_opt_other;
        }
    }

    /* End of list: the rest of the area is padding. */
    state parse_tcp_opt_eol {
        meta.opt_skip = meta.opt_left;
        transition skip_tcp_opt_bytes;
    }

    state parse_tcp_opt_nop {
        meta.opt_skip = 1;
        transition skip_tcp_opt_bytes;
    }

    state parse_tcp_opt_mss {
        verify(meta.opt_left >= 4, error.BadTcpOptions);
        bit<32> mss_opt = pkt.lookahead<bit<32>>();
        verify(mss_opt[23:16] == 4, error.BadTcpOptions);
        meta.syn_has_mss = 1;
        meta.syn_mss = mss_opt[15:0];
        meta.opt_skip = 4;
        transition skip_tcp_opt_bytes;
    }

    state parse_tcp_opt_wscale {
        verify(meta.opt_left >= 3, error.BadTcpOptions);
        bit<24> ws_opt = pkt.lookahead<bit<24>>();
        verify(ws_opt[15:8] == 3, error.BadTcpOptions);
        meta.syn_has_ws = 1;
        meta.syn_ws = ws_opt[7:0];
        meta.opt_skip = 3;
        transition skip_tcp_opt_bytes;
    }

    state parse_tcp_opt_sack_permitted {
        verify(meta.opt_left >= 2, error.BadTcpOptions);
        bit<16> sackp_opt = pkt.lookahead<bit<16>>();
        verify(sackp_opt[7:0] == 2, error.BadTcpOptions);
        meta.syn_sack_ok = 1;
        meta.opt_skip = 2;
        transition skip_tcp_opt_bytes;
    }

    state parse_tcp_opt_timestamps {
        verify(meta.opt_left >= 10, error.BadTcpOptions);
        bit<16> ts_opt = pkt.lookahead<bit<16>>();
        verify(ts_opt[7:0] == 10, error.BadTcpOptions);
        meta.syn_ts = 1;
        meta.opt_skip = 10;
        transition skip_tcp_opt_bytes;
    }

    /* Any other option is skipped by its length. */
    state parse_tcp_opt_other {
        verify(meta.opt_left >= 2, error.BadTcpOptions);
        bit<16> other_opt = pkt.lookahead<bit<16>>();
        verify(other_opt[7:0] >= 2 && other_opt[7:0] <= meta.opt_left, error.BadTcpOptions);
        meta.opt_skip = other_opt[7:0];
        transition skip_tcp_opt_bytes;
    }

    state skip_tcp_opt_bytes {
        pkt.extract(hdr.tcp_opts.next);
        meta.opt_skip = meta.opt_skip - 1;
        meta.opt_left = meta.opt_left - 1;
        transition select(meta.opt_skip) {
            0: parse_tcp_options;
            default: skip_tcp_opt_bytes;
        }
    }
}

/* A pure SYN's checksum input: pseudo-header, TCP header, and the option
 * bytes the parser extracted into hdr.tcp_opts (bmv2 skips the stack's
 * invalid elements; switch-sim sums them as zeros, and the option area is
 * a multiple of 4 bytes, so the sums agree). */
#define SYN_CHECKSUM_FIELDS \
    { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, 8w0, hdr.ipv4.protocol, meta.tcp_len, \
      hdr.tcp.src_port, hdr.tcp.dst_port, hdr.tcp.seq_no, hdr.tcp.ack_no, \
      hdr.tcp.data_offset, hdr.tcp.res, hdr.tcp.flags, hdr.tcp.window, \
      hdr.tcp.urgent_ptr, \
      hdr.tcp_opts[0].value, hdr.tcp_opts[1].value, hdr.tcp_opts[2].value, hdr.tcp_opts[3].value, \
      hdr.tcp_opts[4].value, hdr.tcp_opts[5].value, hdr.tcp_opts[6].value, hdr.tcp_opts[7].value, \
      hdr.tcp_opts[8].value, hdr.tcp_opts[9].value, hdr.tcp_opts[10].value, hdr.tcp_opts[11].value, \
      hdr.tcp_opts[12].value, hdr.tcp_opts[13].value, hdr.tcp_opts[14].value, hdr.tcp_opts[15].value, \
      hdr.tcp_opts[16].value, hdr.tcp_opts[17].value, hdr.tcp_opts[18].value, hdr.tcp_opts[19].value, \
      hdr.tcp_opts[20].value, hdr.tcp_opts[21].value, hdr.tcp_opts[22].value, hdr.tcp_opts[23].value, \
      hdr.tcp_opts[24].value, hdr.tcp_opts[25].value, hdr.tcp_opts[26].value, hdr.tcp_opts[27].value, \
      hdr.tcp_opts[28].value, hdr.tcp_opts[29].value, hdr.tcp_opts[30].value, hdr.tcp_opts[31].value, \
      hdr.tcp_opts[32].value, hdr.tcp_opts[33].value, hdr.tcp_opts[34].value, hdr.tcp_opts[35].value, \
      hdr.tcp_opts[36].value, hdr.tcp_opts[37].value, hdr.tcp_opts[38].value, hdr.tcp_opts[39].value }

control SwitchyardVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        /* The IPv4 header checksum is checked (cheap, 20 bytes). */
        verify_checksum(hdr.ipv4.isValid() && hdr.ipv4.ihl == 5,
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp_ecn, hdr.ipv4.total_len,
              hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset,
              hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
        /* A pure SYN's TCP checksum too: the switch answers SYNs itself, and
         * a corrupt one must get neither a SYN-ACK nor a RST. Without data
         * the payload is left out, so the Ethernet padding after a short
         * SYN is never summed. Other segments are not verified (payload-
         * sized; the switch's incremental rewrites keep a bad checksum bad
         * for the endpoint to see). */
        verify_checksum(hdr.tcp.isValid() && (hdr.tcp.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN
                        && meta.tcp_len == ((bit<16>)hdr.tcp.data_offset << 2),
            SYN_CHECKSUM_FIELDS, hdr.tcp.checksum, HashAlgorithm.csum16);
        verify_checksum_with_payload(hdr.tcp.isValid() && (hdr.tcp.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN
                        && meta.tcp_len != ((bit<16>)hdr.tcp.data_offset << 2),
            SYN_CHECKSUM_FIELDS, hdr.tcp.checksum, HashAlgorithm.csum16);
    }
}

control SwitchyardIngress(inout headers_t hdr, inout metadata_t meta,
                          inout standard_metadata_t std) {
    counter(REASON_COUNTER_SIZE, CounterType.packets_and_bytes) path_counter;
    counter(REASON_COUNTER_SIZE, CounterType.packets) drop_counter;

#include "include/tables.p4"
#include "include/cookie.p4"

    /* The switch's own reply to a SYN (SYN-ACK or RST): addresses and ports
     * swapped, a fresh IPv4 header, out of the ingress port. */
    action reply_to_sender() {
        mac_addr_t mac = hdr.ethernet.dst_addr;
        hdr.ethernet.dst_addr = hdr.ethernet.src_addr;
        hdr.ethernet.src_addr = mac;
        ipv4_addr_t addr = hdr.ipv4.dst_addr;
        hdr.ipv4.dst_addr = hdr.ipv4.src_addr;
        hdr.ipv4.src_addr = addr;
        hdr.ipv4.dscp_ecn = 0;
        hdr.ipv4.identification = 0;
        hdr.ipv4.flags = 3w2;  /* DF */
        hdr.ipv4.frag_offset = 0;
        hdr.ipv4.ttl = SYNACK_TTL;
        l4_port_t port = hdr.tcp.dst_port;
        hdr.tcp.dst_port = hdr.tcp.src_port;
        hdr.tcp.src_port = port;
        hdr.tcp.res = 0;
        hdr.tcp.urgent_ptr = 0;
        hdr.tcp_opts.pop_front(MAX_TCP_OPTION_BYTES);
        std.egress_spec = std.ingress_port;
    }

    /* The SYN-ACK answering a client's SYN to a VIP (meta.cookie is set). */
    action answer_syn() {
        hdr.tcp.ack_no = hdr.tcp.seq_no + 1;
        reply_to_sender();
        hdr.ipv4.total_len = 20 + SYNACK_TCP_BYTES;
        hdr.tcp.seq_no = meta.cookie;
        hdr.tcp.data_offset = SYNACK_DATA_OFFSET;
        hdr.tcp.flags = TCP_SYN | TCP_ACK;
        hdr.tcp.window = SYNACK_WINDOW;
        hdr.synack_opts.setValid();
        hdr.synack_opts.mss_kind = TCP_OPT_MSS;
        hdr.synack_opts.mss_len = 4;
        hdr.synack_opts.mss = SYNACK_MSS;
        /* Window scale and SACK-permitted start as NOPs; the apply block
         * fills in what the client offered (no `if` inside actions). */
        hdr.synack_opts.ws_nop = TCP_OPT_NOP;
        hdr.synack_opts.ws_kind = TCP_OPT_NOP;
        hdr.synack_opts.ws_len = TCP_OPT_NOP;
        hdr.synack_opts.ws_shift = TCP_OPT_NOP;
        hdr.synack_opts.sack_nop1 = TCP_OPT_NOP;
        hdr.synack_opts.sack_nop2 = TCP_OPT_NOP;
        hdr.synack_opts.sack_kind = TCP_OPT_NOP;
        hdr.synack_opts.sack_len = TCP_OPT_NOP;
        meta.tcp_len = SYNACK_TCP_BYTES;
        meta.synack = 1;
        /* A SYN carrying data (TCP Fast Open): the data is not answered. */
        truncate(ETH_HEADER_BYTES + 20 + (bit<32>)SYNACK_TCP_BYTES);
        meta.path = PATH_SYN_ANSWERED;
    }

    /* No live front-end (frontend_count 0), or a draining VIP: nobody will
     * finish the connection, so the SYN is refused at once with the reset a closed
     * port gives (RFC 9293 3.10.7.1: seq 0, ack = SEG.SEQ + SEG.LEN, the
     * SYN counting one) instead of a SYN-ACK the client would wait on. */
    action refuse_syn() {
        hdr.tcp.ack_no = hdr.tcp.seq_no + 1 + (bit<32>)(meta.tcp_len - ((bit<16>)hdr.tcp.data_offset << 2));
        reply_to_sender();
        hdr.ipv4.total_len = 20 + RST_TCP_BYTES;
        hdr.tcp.seq_no = 0;
        hdr.tcp.data_offset = RST_DATA_OFFSET;
        hdr.tcp.flags = TCP_RST | TCP_ACK;
        hdr.tcp.window = 0;
        meta.tcp_len = RST_TCP_BYTES;
        meta.reset_reply = 1;
        /* The SYN's data, if any, is not echoed. */
        truncate(ETH_HEADER_BYTES + 20 + (bit<32>)RST_TCP_BYTES);
        meta.path = PATH_SYN_REFUSED;
    }

    action report_teardown() {
        digest<teardown_digest_t>(DIGEST_TEARDOWN,
            { meta.client_addr, meta.client_port, meta.vip_id, meta.conn_backend, hdr.tcp.flags });
        path_counter.count((bit<32>)PATH_TEARDOWN_DIGEST);
    }

    /* Sends the packet, unchanged, to the front-end that owns its client. */
    action pick_frontend() {
        hash(meta.fe_index, HashAlgorithm.crc32, 16w0, { meta.client_addr, meta.client_port }, meta.fe_count);
    }

    apply {
        meta.path = PATH_ROUTED;
        meta.do_route = 1;
        if (std.parser_error != error.NoError) {
            if (std.parser_error == error.BadIpHeader) {
                drop_with(DROP_BAD_IP_HEADER);
            } else if (std.parser_error == error.BadTcpHeader) {
                drop_with(DROP_BAD_TCP_HEADER);
            } else if (std.parser_error == error.BadTcpOptions) {
                drop_with(DROP_BAD_TCP_OPTIONS);
            } else {
                drop_with(DROP_TRUNCATED);
            }
        } else if (!hdr.ipv4.isValid()) {
            drop_with(DROP_NOT_IPV4);
        } else if (hdr.ipv4.total_len < ((bit<16>)hdr.ipv4.ihl << 2)) {
            drop_with(DROP_BAD_IP_HEADER);
        } else if ((bit<32>)hdr.ipv4.total_len + ETH_HEADER_BYTES > std.packet_length) {
            drop_with(DROP_TRUNCATED);
        } else if (hdr.tcp.isValid() && hdr.ipv4.total_len < 20 + ((bit<16>)hdr.tcp.data_offset << 2)) {
            drop_with(DROP_TRUNCATED);
        } else if (std.checksum_error == 1) {
            /* After the length checks: a SYN's TCP checksum is summed over
             * the lengths the headers announce. */
            drop_with(DROP_BAD_CHECKSUM);
        } else if (hdr.ipv4.ttl <= 1) {
            drop_with(DROP_TTL_EXPIRED);
        } else {
            port_role.apply();
            frontend_count.apply();
            if (meta.port_role == PORT_ROLE_EDGE) {
                /* The switch cannot be bypassed from the client side. */
                protected_source.apply();
                if (hdr.tcp.isValid()) {
                    backend_service.apply();
                }
            }
            csum_begin_ip();
            if (meta.drop_reason != 0) {
                /* an edge guard dropped it */
            } else if (meta.port_role == PORT_ROLE_FRONTEND) {
                /* Front-end output is routed as it is. */
                meta.path = PATH_ROUTED;
            } else if (hdr.tcp.isValid()) {
                csum_begin_tcp();
                bit<8> f = hdr.tcp.flags;
                /* Each table is applied once (bmv2 pipelines are graphs). */
                bit<1> from_client = 0;
                bit<1> from_backend = 0;
                bit<1> lookup = 0;
                bit<1> syn = 0;
                if (vip.apply().hit) {
                    from_client = 1;
                    meta.client_addr = hdr.ipv4.src_addr;
                    meta.client_port = hdr.tcp.src_port;
                } else if (backend_address.apply().hit) {
                    from_backend = 1;
                    meta.client_addr = hdr.ipv4.dst_addr;
                    meta.client_port = hdr.tcp.dst_port;
                }
                if (from_client == 1) {
                    if ((f & (TCP_SYN | TCP_FIN)) == (TCP_SYN | TCP_FIN)
                        || (f & (TCP_SYN | TCP_RST)) == (TCP_SYN | TCP_RST)
                        || (f & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == 0) {
                        drop_with(DROP_BAD_TCP_FLAGS);
                    } else if ((f & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
                        if (meta.fe_count == 0 || meta.vip_draining == 1) {
                            refuse_syn();
                            meta.do_route = 0;
                        } else {
                            /* Answered below unless the port is reused. */
                            syn = 1;
                            lookup = 1;
                        }
                    } else {
                        lookup = 1;
                    }
                } else if (from_backend == 1) {
                    if ((f & TCP_SYN) != 0) {
                        /* Always the front-end's: a re-dispatch or a reused
                         * client port must never leak a backend SYN-ACK. */
                        meta.path = PATH_TO_FRONTEND;
                        meta.do_route = 0;
                    } else {
                        lookup = 1;
                    }
                }
                if (lookup == 1) {
                    /* Misses, and a backend that is not the entry's (the
                     * flow moved), stay on the front-end path. */
                    meta.path = PATH_TO_FRONTEND;
                    meta.do_route = 0;
                    if (connection.apply().hit) {
                        if (syn == 1) {
                            /* A reused client port: the entry belongs to
                             * the previous connection. The front-end
                             * detaches it and answers this SYN itself, so
                             * the new connection's ACK cannot reach the old
                             * backend (docs/ARCHITECTURE.md). */
                        } else if (from_client == 1) {
                            bit<16> payload = hdr.ipv4.total_len - 20 - ((bit<16>)hdr.tcp.data_offset << 2);
                            if (meta.conn_request_mode == 0
                                || (payload == 0 && (f & (TCP_FIN | TCP_RST)) == 0)) {
                                if (backend.apply().hit) {
                                    /* rewrite_to_backend ran */
                                    meta.path = PATH_OFFLOADED_IN;
                                    meta.do_route = 1;
                                }
                            }
                        } else if (meta.conn_backend == meta.backend_index) {
                            rewrite_from_vip();
                            meta.path = PATH_OFFLOADED_OUT;
                            meta.do_route = 1;
                        }
                        if (meta.do_route == 1 && (f & (TCP_FIN | TCP_RST)) != 0) {
                            report_teardown();
                        }
                    } else if (syn == 1) {
                        cookie_secrets.apply();
                        bit<3> mss_idx = 0;
                        if (meta.syn_has_mss == 1) {
                            if (meta.syn_mss >= 8960) {
                                mss_idx = 7;
                            } else if (meta.syn_mss >= 1460) {
                                mss_idx = 6;
                            } else if (meta.syn_mss >= 1440) {
                                mss_idx = 5;
                            } else if (meta.syn_mss >= 1400) {
                                mss_idx = 4;
                            } else if (meta.syn_mss >= 1360) {
                                mss_idx = 3;
                            } else if (meta.syn_mss >= 1300) {
                                mss_idx = 2;
                            } else if (meta.syn_mss >= 1220) {
                                mss_idx = 1;
                            }
                        }
                        bit<4> ws_code = (bit<4>)COOKIE_WSCALE_NONE;
                        if (meta.syn_has_ws == 1) {
                            if (meta.syn_ws > COOKIE_MAX_WSCALE) {
                                ws_code = (bit<4>)COOKIE_MAX_WSCALE;
                            } else {
                                ws_code = meta.syn_ws[3:0];
                            }
                        }
                        cookie_low_bits(mss_idx, ws_code);
                        /* HalfSipHash-2-4 step by step (include/cookie.p4:
                         * one action per step keeps p4c's copy propagation
                         * linear). */
                        cookie_init();
                        sip_absorb(hdr.ipv4.src_addr);
                        sip_absorb(hdr.ipv4.dst_addr);
                        sip_absorb(hdr.tcp.src_port ++ hdr.tcp.dst_port);
                        sip_absorb(hdr.tcp.seq_no);
                        sip_absorb(meta.cookie_low);
                        sip_absorb(32w20 << 24);
                        sip_finalize();
                        sip_two_rounds();
                        sip_two_rounds();
                        cookie_output();
                        answer_syn();
                        if (meta.syn_has_ws == 1) {
                            hdr.synack_opts.ws_kind = TCP_OPT_WSCALE;
                            hdr.synack_opts.ws_len = 3;
                            hdr.synack_opts.ws_shift = SYNACK_WSCALE;
                        }
                        if (meta.syn_sack_ok == 1) {
                            hdr.synack_opts.sack_kind = TCP_OPT_SACK_PERMITTED;
                            hdr.synack_opts.sack_len = 2;
                        }
                        meta.do_route = 0;
                    }
                }
            } else if (hdr.ipv4.protocol == IP_PROTO_TCP && hdr.ipv4.ihl != 5) {
                drop_with(DROP_IP_OPTIONS);
            } else if (hdr.ipv4.protocol == IP_PROTO_TCP) {
                drop_with(DROP_IP_FRAGMENT);
            }

            if (meta.drop_reason == 0 && meta.path == PATH_TO_FRONTEND) {
                if (meta.fe_count == 0) {
                    drop_with(DROP_NO_FRONTEND);
                } else {
                    pick_frontend();
                    frontend_port.apply();
                }
            }
            if (meta.drop_reason == 0 && meta.do_route == 1) {
                ipv4_route.apply();
                csum_finish_ip();
                if (hdr.tcp.isValid() && meta.path != PATH_ROUTED) {
                    csum_finish_tcp();
                }
            }
        }

        if (meta.drop_reason != 0) {
            mark_to_drop(std);
            drop_counter.count((bit<32>)meta.drop_reason);
            path_counter.count((bit<32>)PATH_DROPPED);
        } else {
            path_counter.count((bit<32>)meta.path);
        }
    }
}

control SwitchyardEgress(inout headers_t hdr, inout metadata_t meta,
                         inout standard_metadata_t std) {
    apply { }
}

control SwitchyardComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        /* Only the switch's own replies (SYN-ACK, RST) are built from
         * scratch; every other rewrite is incremental (RFC 1624) in the
         * ingress. */
        update_checksum(meta.synack == 1 || meta.reset_reply == 1,
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp_ecn, hdr.ipv4.total_len,
              hdr.ipv4.identification, hdr.ipv4.flags, hdr.ipv4.frag_offset,
              hdr.ipv4.ttl, hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
        update_checksum(meta.synack == 1,
            { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, 8w0, hdr.ipv4.protocol, meta.tcp_len,
              hdr.tcp.src_port, hdr.tcp.dst_port, hdr.tcp.seq_no, hdr.tcp.ack_no,
              hdr.tcp.data_offset, hdr.tcp.res, hdr.tcp.flags, hdr.tcp.window,
              hdr.tcp.urgent_ptr,
              hdr.synack_opts.mss_kind, hdr.synack_opts.mss_len, hdr.synack_opts.mss,
              hdr.synack_opts.ws_nop, hdr.synack_opts.ws_kind, hdr.synack_opts.ws_len,
              hdr.synack_opts.ws_shift, hdr.synack_opts.sack_nop1, hdr.synack_opts.sack_nop2,
              hdr.synack_opts.sack_kind, hdr.synack_opts.sack_len },
            hdr.tcp.checksum, HashAlgorithm.csum16);
        update_checksum(meta.reset_reply == 1,
            { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, 8w0, hdr.ipv4.protocol, meta.tcp_len,
              hdr.tcp.src_port, hdr.tcp.dst_port, hdr.tcp.seq_no, hdr.tcp.ack_no,
              hdr.tcp.data_offset, hdr.tcp.res, hdr.tcp.flags, hdr.tcp.window,
              hdr.tcp.urgent_ptr },
            hdr.tcp.checksum, HashAlgorithm.csum16);
    }
}

control SwitchyardDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.tcp);
        pkt.emit(hdr.tcp_opts);
        pkt.emit(hdr.synack_opts);
    }
}

V1Switch(SwitchyardParser(), SwitchyardVerifyChecksum(), SwitchyardIngress(),
         SwitchyardEgress(), SwitchyardComputeChecksum(), SwitchyardDeparser()) main;
