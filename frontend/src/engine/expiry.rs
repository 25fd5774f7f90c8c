//! The flow's one timer firing: retransmissions, timeouts, forgetting
//! closed and offloaded flows.

use super::*;

impl Ctx<'_> {
    pub(super) fn timer(&mut self, flow: &mut ConnEntry) -> After {
        let to = self.p.timeouts;
        if flow.offload == OffloadStatus::Detaching {
            // The control task answers every Detach; should that answer
            // be lost, go on rather than hang the client.
            self.counters[Fc::DetachOverdue] += 1;
            self.detached(flow);
            return After::Keep;
        }
        match flow.state {
            SpliceState::Assembling => self.reply(flow, Some(ErrorReply::RequestTimeout)),
            SpliceState::Connecting { backend: b } => {
                if flow.retries < to.backend_syn_retries {
                    flow.retries += 1;
                    self.send_syn(flow);
                    self.counters[Fc::SynRetransmits] += 1;
                    let t = self.now + (to.backend_syn_rto_ms << flow.retries.min(6));
                    self.set_deadline(flow, t);
                    After::Keep
                } else {
                    self.to_backend(flow, b, flow.syn_seq.wrapping_add(1), 0, RST, &[], &[]);
                    self.router.flow_ended(b);
                    self.backend_failed(b);
                    self.reply(flow, Some(ErrorReply::GatewayTimeout))
                }
            }
            SpliceState::Spliced { backend: b } if flow.asm.is_some() => {
                if flow.retries < to.request_retries {
                    flow.retries += 1;
                    self.send_request(flow);
                    self.counters[Fc::RequestRetransmits] += 1;
                    let t = self.now + (to.request_rto_ms << flow.retries.min(6));
                    self.set_deadline(flow, t);
                    After::Keep
                } else {
                    // The backend takes nothing: reset both ends, never hang.
                    self.to_backend(flow, b, flow.req_end, flow.client_ack, RST | ACK, &[], &[]);
                    self.to_client(flow, flow.client_ack, flow.req_end, RST | ACK, &[]);
                    self.counters[Fc::FlowsAborted] += 1;
                    After::Remove
                }
            }
            SpliceState::Spliced { .. } | SpliceState::Closing { .. } if flow.hold == Hold::Until => {
                // No completion in time: let the response come through us.
                self.counters[Fc::HoldTimeouts] += 1;
                self.release_hold(flow);
                if flow.deadline <= self.now {
                    return After::Remove; // (closing or idle over too)
                }
                After::Keep
            }
            SpliceState::Spliced { .. } => {
                if flow.offload == OffloadStatus::Installed && flow.mode == OffloadMode::Connection {
                    return After::Forget; // grace over; the switch owns it
                }
                let idle_until = flow.last_seen + to.idle_ms;
                if idle_until > self.now {
                    self.set_deadline(flow, idle_until);
                    After::Keep
                } else {
                    After::Remove
                }
            }
            SpliceState::Replied { acked: false, .. } if flow.retries < to.request_retries => {
                flow.retries += 1;
                self.send_reply(flow);
                let t = self.now + (to.request_rto_ms << flow.retries.min(6));
                self.set_deadline(flow, t);
                After::Keep
            }
            SpliceState::Replied { acked: true, .. } if flow.client_fin.is_none() && flow.retries < to.request_retries => {
                // Waiting for the client's FIN (half-closed by us).
                flow.retries = to.request_retries;
                let t = self.now + to.closing_ms;
                self.set_deadline(flow, t);
                After::Keep
            }
            SpliceState::Replied { .. } | SpliceState::Closing { .. } => After::Remove,
        }
    }
}
