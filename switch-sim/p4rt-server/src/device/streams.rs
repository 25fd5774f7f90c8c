//! StreamChannel: streams opened and closed, arbitration updates and the
//! notices they cause, PacketOut.

use super::*;

impl Device {
    /// A StreamChannel opened on the connection from `peer` (None: in this
    /// process): Writes for its election id must come on that connection.
    pub fn open_stream(&mut self, tx: StreamTx, peer: Option<SocketAddr>) -> StreamId {
        let id = self.next_stream;
        self.next_stream += 1;
        self.streams.insert(id, tx);
        if let Some(p) = peer {
            self.stream_peers.insert(id, p);
        }
        id
    }

    pub fn close_stream(&mut self, id: StreamId) {
        self.streams.remove(&id);
        self.stream_peers.remove(&id);
        let notices = self.arbiter.remove(id);
        self.send_notices(notices);
    }

    pub(super) fn send(&mut self, id: StreamId, msg: Out) {
        if let Some(tx) = self.streams.get(&id) {
            if tx.try_send(Ok(p4::StreamMessageResponse { update: Some(msg) })).is_err() {
                self.stats.stream_messages_dropped += 1;
            }
        }
    }

    pub(super) fn send_notices(&mut self, notices: Vec<Notice>) {
        for n in notices {
            let status = if n.is_primary {
                p4runtime_proto::google::rpc::Status { code: Code::Ok as i32, message: "primary".into(), details: vec![] }
            } else {
                p4runtime_proto::google::rpc::Status { code: Code::AlreadyExists as i32, message: "backup: a controller with a higher election id is primary".into(), details: vec![] }
            };
            let msg = p4::MasterArbitrationUpdate {
                device_id: n.device_id,
                role: if n.role.is_empty() { None } else { Some(p4::Role { name: n.role.clone(), ..Default::default() }) },
                election_id: Some(uint128(n.primary_election_id)),
                status: Some(status),
            };
            self.send(n.stream, Out::Arbitration(msg));
        }
    }

    pub(super) fn stream_error(&mut self, id: StreamId, code: Code, message: String, details: Option<p4::stream_error::Details>) {
        self.send(id, Out::Error(p4::StreamError { canonical_code: code as i32, message, details, ..Default::default() }));
    }

    /// One message from a stream. `Err`: the stream must be closed with it.
    pub fn stream_message(&mut self, id: StreamId, msg: p4::StreamMessageRequest) -> Result<(), Status> {
        use p4::stream_message_request::Update as In;
        match msg.update {
            Some(In::Arbitration(a)) => {
                self.check_device(a.device_id)?;
                let role = a.role.as_ref().map(|r| r.name.clone()).unwrap_or_default();
                let election = u128_of(&a.election_id).ok_or_else(|| Status::invalid_argument("arbitration without an election id"))?;
                let notices = self.arbiter.update(id, a.device_id, &role, election).map_err(|e| Status::invalid_argument(e.to_string()))?;
                self.send_notices(notices);
            }
            Some(In::Packet(po)) => {
                if !self.arbiter.stream_is_primary(id) {
                    self.stream_error(id, Code::PermissionDenied, "PacketOut from a non-primary controller".into(), Some(p4::stream_error::Details::PacketOut(p4::PacketOutError { packet_out: Some(po) })));
                    return Ok(());
                }
                self.packet_out(id, po);
            }
            Some(In::DigestAck(ack)) => {
                let ok = self.arbiter.stream_is_primary(id) && self.digests.get_mut(&ack.digest_id).is_some_and(|q| q.ack(ack.list_id));
                if !ok {
                    self.stream_error(id, Code::NotFound, format!("no outstanding digest list {} of digest {}", ack.list_id, ack.digest_id), Some(p4::stream_error::Details::DigestListAck(p4::DigestListAckError { digest_list_ack: Some(ack) })));
                }
            }
            Some(In::Other(_)) | None => self.stream_error(id, Code::Unimplemented, "unsupported stream message".into(), None),
        }
        Ok(())
    }

    pub(super) fn packet_out(&mut self, id: StreamId, po: p4::PacketOut) {
        let Some(cpu) = self.opts.cpu_port else {
            self.stream_error(id, Code::FailedPrecondition, "no CPU port configured (--cpu-port)".into(), Some(p4::stream_error::Details::PacketOut(p4::PacketOutError { packet_out: Some(po) })));
            return;
        };
        if self.running.is_none() {
            self.stream_error(id, Code::FailedPrecondition, "no forwarding pipeline config has been set".into(), None);
            return;
        }
        if let Some((port, frame)) = self.inject(cpu, &po.payload) {
            if let Some(sink) = self.egress.as_mut() {
                sink(port, &frame);
            }
        }
    }

    pub(super) fn primary_stream(&self) -> Option<StreamId> {
        self.arbiter.primary(self.opts.device_id, "").map(|p| p.0)
    }
}
