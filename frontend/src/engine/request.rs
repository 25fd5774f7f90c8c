//! Step 2-3: the client's request bytes while the flow assembles, the
//! parse and the routing decision, and the replies the engine writes
//! itself (400/404/408/431/502/503/504).

use std::net::SocketAddrV4;

use super::*;
use crate::access_log::{DecisionView, Outcome};
use crate::http::RequestHead;

impl Ctx<'_> {
    pub(super) fn client_segment(&mut self, flow: &mut ConnEntry, frame: &mut Frame<'_>, seg: &Seg) -> (Verdict, After) {
        let plen = seg.payload_len as u32;
        match flow.state {
            SpliceState::Assembling | SpliceState::Connecting { .. } => {
                if seg.has_any(RST) {
                    if let SpliceState::Connecting { backend: b } = flow.state {
                        self.to_backend(flow, b, flow.syn_seq.wrapping_add(1), 0, RST, &[], &[]);
                    }
                    self.counters[Fc::FlowsAborted] += 1;
                    return (Verdict::Consumed, After::Remove);
                }
                Self::note_client(flow, seg);
                if let Some(a) = flow.asm.as_mut() {
                    a.insert(seg.seq, frame.payload());
                }
                if seg.has_any(FIN) {
                    flow.client_fin = Some(seg.seq.wrapping_add(plen));
                }
                if flow.state == SpliceState::Assembling {
                    return (Verdict::Consumed, self.try_route(flow, plen > 0 || seg.has_any(FIN)));
                }
                (Verdict::Consumed, After::Keep)
            }
            SpliceState::Spliced { backend } | SpliceState::Closing { backend } => self.spliced_client(flow, frame, seg, backend),
            SpliceState::Replied { reply, seq, acked } => {
                if seg.has_any(RST) {
                    return (Verdict::Consumed, After::Remove);
                }
                Self::note_client(flow, seg);
                let len = reply.map_or(0, |r| r.bytes().len()) as u32;
                let fin_end = seq.wrapping_add(len).wrapping_add(1);
                let was_closed = acked && flow.client_fin.is_some();
                let acked = acked || (seg.has_any(ACK) && seq_diff(seg.ack, fin_end) >= 0);
                flow.state = SpliceState::Replied { reply, seq, acked };
                if seg.has_any(FIN) {
                    let f = seg.seq.wrapping_add(plen);
                    flow.client_fin = Some(f);
                    self.to_client(flow, fin_end, f.wrapping_add(1), ACK, &[]);
                    self.counters[Fc::AcksSent] += 1;
                }
                if acked && flow.client_fin.is_some() && (!was_closed || seg.has_any(FIN)) {
                    // Both closes done: stay to ACK retransmitted FINs
                    // (each one restarts the wait, as TIME-WAIT does).
                    let t = self.now + self.p.timeouts.closing_ms;
                    self.set_deadline(flow, t);
                }
                (Verdict::Consumed, After::Keep)
            }
        }
    }

    /// Assembling: parse what is in order; route when the head is complete.
    pub(super) fn try_route(&mut self, flow: &mut ConnEntry, had_data: bool) -> After {
        let Some(asm) = flow.asm.as_ref() else { return After::Keep };
        let mut storage = header_storage();
        let fin_in_order = flow.client_fin == Some(asm.end());
        let setup_ms = Some(self.now.saturating_sub(asm.started_ms));
        let decision = match parse_head(&asm.buf, &mut storage) {
            Err(e) => {
                let reply = ErrorReply::from(e);
                self.log_decision(flow, None, Err(reply), setup_ms);
                Err(reply)
            }
            Ok(HeadStatus::Partial) => {
                if fin_in_order {
                    // Closed before a full head: nothing to route.
                    if asm.buf.is_empty() {
                        Ok(None)
                    } else {
                        self.log_decision(flow, None, Err(ErrorReply::BadRequest), setup_ms);
                        Err(ErrorReply::BadRequest)
                    }
                } else {
                    if had_data {
                        // Keep the client sending: ACK what is in order, in
                        // the switch's sequence space (also a dup-ACK for a
                        // hole, which triggers its fast retransmit).
                        let ack = Self::rcv_nxt(flow);
                        self.to_client(flow, flow.client_ack, ack, ACK, &[]);
                        self.counters[Fc::AcksSent] += 1;
                    }
                    return After::Keep;
                }
            }
            Ok(HeadStatus::Complete(head)) => {
                let next = match head.body {
                    BodyLength::Fixed(n) => {
                        let end = asm.base.wrapping_add(head.head_len as u32).wrapping_add(n as u32);
                        // Bytes past this request already here = pipelining:
                        // the connection stays on one backend.
                        (n <= u64::from(u32::MAX / 2) && seq_diff(asm.end(), end) <= 0).then_some(end)
                    }
                    BodyLength::Chunked => None,
                };
                let d = self.router.decide(flow.key.vip_id, flow.key.client_ip, &head);
                self.log_decision(flow, Some(&head), Ok(&d), setup_ms);
                match d {
                    Decision::NoRoute => Err(ErrorReply::NotFound),
                    Decision::NoHealthyBackend { .. } => Err(ErrorReply::ServiceUnavailable),
                    Decision::Backend { backend, offload, .. } => Ok(Some((backend, offload, next, head.last_on_connection()))),
                }
            }
        };
        match decision {
            Err(reply) => self.reply(flow, Some(reply)),
            Ok(None) => self.reply(flow, None),
            Ok(Some((backend, offload, next, last))) => {
                self.start_backend(flow, backend, offload, next);
                if last && self.p.carry_responses_up_to > 0 && flow.offload == OffloadStatus::NotRequested {
                    // Carrying a small response is cheaper than offloading
                    // it: the response head decides (`peeked`).
                    flow.hold = Hold::Peek;
                }
                After::Keep
            }
        }
    }

    /// The access log's record of a routing decision, when the log is on
    /// and samples this one (`access_log`): nothing else is done when off.
    /// `decided`: the router's decision, or the reply to a request that
    /// did not parse.
    pub(super) fn log_decision(&mut self, flow: &ConnEntry, head: Option<&RequestHead<'_>>, decided: Result<&Decision, ErrorReply>, setup_ms: Option<u64>) {
        if !self.access.sampled() {
            return;
        }
        let router = &*self.router;
        let pool_name = |pool: usize| router.pools.get(pool).map(|p| p.spec.name.as_str());
        let (outcome, route, pool, backend, offload) = match decided {
            Ok(&Decision::Backend { backend, pool, route, offload }) => {
                let b = router.backend(backend).spec;
                (Outcome::Routed, Some(route), pool_name(pool), Some(SocketAddrV4::new(b.address, b.port)), Some(offload))
            }
            Ok(Decision::NoRoute) => (ErrorReply::NotFound.into(), None, None, None, None),
            Ok(&Decision::NoHealthyBackend { pool }) => (ErrorReply::ServiceUnavailable.into(), None, pool_name(pool), None, None),
            Err(reply) => (reply.into(), None, None, None, None),
        };
        let view = DecisionView {
            client: SocketAddrV4::new(flow.key.client_ip, flow.key.client_port),
            service: &router.service(flow.key.vip_id).name,
            method: head.map(|h| h.method),
            host: head.and_then(|h| h.host),
            path: head.map(|h| h.path),
            route,
            pool,
            backend,
            offload,
            setup_ms,
            outcome,
        };
        self.access.record(self.now, &view);
    }

    /// Answers the client itself (error reply or bare FIN) and closes.
    pub(super) fn reply(&mut self, flow: &mut ConnEntry, reply: Option<ErrorReply>) -> After {
        let seq = flow.client_ack;
        let ack = Self::rcv_nxt(flow);
        flow.req_end = ack;
        self.drop_request(flow);
        flow.state = SpliceState::Replied { reply, seq, acked: false };
        flow.retries = 0;
        if flow.offload != OffloadStatus::Detaching {
            self.send_reply(flow);
        }
        if let Some(r) = reply {
            self.counters.reply(r);
        }
        let t = self.now + self.p.timeouts.request_rto_ms;
        self.set_deadline(flow, t);
        After::Keep
    }

    pub(super) fn send_reply(&mut self, flow: &ConnEntry) {
        let SpliceState::Replied { reply, seq, .. } = flow.state else { return };
        let body = reply.map_or(&b""[..], |r| r.bytes());
        let flags = if body.is_empty() { ACK | FIN } else { ACK | PSH | FIN };
        self.to_client(flow, seq, flow.req_end, flags, body);
    }
}
