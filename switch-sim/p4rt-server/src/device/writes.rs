//! Write: arbitration checked, updates applied in order with their undo
//! (a batch that fails is rolled back as a whole), table and digest
//! entries.

use super::*;

impl Device {
    /// Applies a WriteRequest. `Ok(statuses)`: one per update (all OK means
    /// success); `Err`: the whole request was refused. `peer`: the
    /// connection it came on (None: a caller in this process).
    pub fn write(&mut self, peer: Option<SocketAddr>, req: &p4::WriteRequest) -> Result<Vec<Result<(), Fail>>, Status> {
        use p4::write_request::Atomicity;
        self.check_device(req.device_id)?;
        self.check_primary(peer, &req.role, &req.election_id)?;
        if self.running.is_none() {
            return Err(Status::failed_precondition("no forwarding pipeline config has been set"));
        }
        let atomicity = Atomicity::try_from(req.atomicity).map_err(|_| Status::invalid_argument("unknown atomicity"))?;
        let mut results = Vec::with_capacity(req.updates.len());
        match atomicity {
            Atomicity::ContinueOnError => {
                for u in &req.updates {
                    results.push(self.apply(u).map(|_| ()));
                }
            }
            // The device lock is held for the whole batch, so rollback also
            // gives data-plane atomicity: no packet sees half of it.
            Atomicity::RollbackOnError | Atomicity::DataplaneAtomic => {
                let mut undo = Vec::new();
                let mut failed = None;
                for (i, u) in req.updates.iter().enumerate() {
                    match self.apply(u) {
                        Ok(x) => undo.push(x),
                        Err(f) => {
                            failed = Some((i, f));
                            break;
                        }
                    }
                }
                match failed {
                    None => results = vec![Ok(()); req.updates.len()],
                    Some((i, f)) => {
                        for x in undo.into_iter().rev() {
                            self.undo(x);
                        }
                        for j in 0..req.updates.len() {
                            results.push(if j == i {
                                Err(f.clone())
                            } else {
                                Err(Fail { code: Code::Aborted, message: format!("not applied: update {i} failed and the batch was rolled back") })
                            });
                        }
                    }
                }
            }
        }
        Ok(results)
    }

    pub(super) fn apply(&mut self, u: &p4::Update) -> Result<Undo, Fail> {
        use p4::update::Type as T;
        let ty = T::try_from(u.r#type).unwrap_or(T::Unspecified);
        if ty == T::Unspecified {
            return invalid("update type UNSPECIFIED");
        }
        match u.entity.as_ref().and_then(|e| e.entity.as_ref()) {
            Some(E::TableEntry(te)) => self.apply_table(ty, te),
            Some(E::DigestEntry(de)) => self.apply_digest(ty, de),
            Some(E::MeterEntry(me)) => self.apply_meter(ty, me),
            Some(E::DirectMeterEntry(de)) => self.apply_direct_meter(ty, de),
            Some(_) => fail(Code::Unimplemented, "switch-sim writes table, digest, meter and direct meter entries only"),
            None => invalid("update without an entity"),
        }
    }

    pub(super) fn apply_table(&mut self, ty: p4::update::Type, te: &p4::TableEntry) -> Result<Undo, Fail> {
        use p4::update::Type as T;
        let r = self.running.as_mut().expect("checked by write");
        let Some(t) = r.p.tables.get(&te.table_id) else {
            return invalid(format!("no table with id {}", te.table_id));
        };
        let name = r.p.program.tables[t.index].name.clone();
        if te.is_default_action {
            if ty != T::Modify {
                return invalid(format!("{name}: the default entry can only be modified"));
            }
            if !te.r#match.is_empty() || te.priority != 0 {
                return invalid(format!("{name}: a default entry has no match and no priority"));
            }
            if t.const_default {
                return invalid(format!("{name}: the default action is const"));
            }
            let new = match &te.action {
                None => r.p.program.tables[t.index].default_action.clone(),
                Some(_) => translate::action(&r.p, t, te, true)?,
            };
            let (a, args) = r.switch.default_action(t.index);
            let old = (a, args.to_vec());
            r.switch.set_default(&name, &r.p.program.actions[new.0].name, &new.1).map_err(api_fail)?;
            return Ok(Undo::Default(t.index, old));
        }
        if t.const_entries {
            return invalid(format!("{name} has const entries"));
        }
        let t = t.clone();
        let old_of = |r: &Running, m: &[FieldMatch], prio: i32| -> Result<TableEntry, Fail> {
            let e = r.switch.entry(&name, m, prio).map_err(api_fail)?;
            Ok(TableEntry {
                matches: e.spec.matches.clone(),
                action: r.p.program.actions[e.spec.action].name.clone(),
                params: e.spec.args.clone(),
                priority: e.spec.priority,
                idle_timeout_ns: e.spec.idle_timeout_ns,
            })
        };
        // A direct meter's rates given with the entry (INSERT, MODIFY; a
        // MODIFY without them keeps the entry's).
        let meter = te.meter_config.as_ref().map(translate::meter_config).transpose()?;
        if meter.is_some() && r.p.program.tables[t.index].direct_meter.is_none() {
            return invalid(format!("{name} has no direct meter: meter_config must be unset"));
        }
        match ty {
            T::Insert => {
                let e = translate::entry(&r.p, &t, te)?;
                r.switch.insert(&name, &e).map_err(api_fail)?;
                if let Some(c) = meter {
                    if let Err(err) = r.switch.set_direct_meter(&name, &e.matches, e.priority, Some(c)) {
                        let _ = r.switch.delete(&name, &e.matches, e.priority);
                        return Err(api_fail(err));
                    }
                }
                Ok(Undo::Delete(name, e.matches, e.priority))
            }
            T::Modify => {
                let e = translate::entry(&r.p, &t, te)?;
                let old = old_of(r, &e.matches, e.priority)?;
                let old_meter = r.switch.entry(&name, &e.matches, e.priority).map_err(api_fail)?.meter_config();
                if let Some(c) = meter {
                    r.switch.set_direct_meter(&name, &e.matches, e.priority, Some(c)).map_err(api_fail)?;
                }
                if let Err(err) = r.switch.modify(&name, &e) {
                    let _ = r.switch.set_direct_meter(&name, &e.matches, e.priority, old_meter);
                    return Err(api_fail(err));
                }
                let (m, p) = (e.matches.clone(), e.priority);
                Ok(Undo::Seq(vec![Undo::DirectMeter(name.clone(), m, p, old_meter), Undo::Modify(name, old)]))
            }
            T::Delete => {
                let (m, prio) = translate::key(&t, te)?;
                let old = old_of(r, &m, prio)?;
                r.switch.delete(&name, &m, prio).map_err(api_fail)?;
                Ok(Undo::Insert(name, old))
            }
            T::Unspecified => invalid("update type UNSPECIFIED"),
        }
    }

    pub(super) fn apply_digest(&mut self, ty: p4::update::Type, de: &p4::DigestEntry) -> Result<Undo, Fail> {
        use p4::update::Type as T;
        let r = self.running.as_ref().expect("checked by write");
        if !r.p.digests.contains_key(&de.digest_id) {
            return invalid(format!("no digest with id {}", de.digest_id));
        }
        let old = self.digests.get(&de.digest_id).map(|q| q.config);
        let cfg = || -> Result<DigestConfig, Fail> {
            let c = de.config.as_ref().ok_or_else(|| Fail { code: Code::InvalidArgument, message: "digest entry without config".into() })?;
            if c.max_timeout_ns < 0 || c.max_list_size < 0 || c.ack_timeout_ns < 0 {
                return invalid("negative digest config values");
            }
            Ok(DigestConfig { max_timeout_ns: c.max_timeout_ns as u64, max_list_size: c.max_list_size as usize, ack_timeout_ns: c.ack_timeout_ns as u64 })
        };
        match (ty, old) {
            (T::Insert, Some(_)) => fail(Code::AlreadyExists, format!("digest {} is already configured", de.digest_id)),
            (T::Modify | T::Delete, None) => fail(Code::NotFound, format!("digest {} is not configured", de.digest_id)),
            (T::Insert, None) | (T::Modify, Some(_)) => {
                let c = cfg()?;
                match self.digests.get_mut(&de.digest_id) {
                    Some(q) => q.config = c,
                    None => {
                        self.digests.insert(de.digest_id, DigestQueue::new(c));
                    }
                }
                Ok(Undo::Digest(de.digest_id, old))
            }
            (T::Delete, Some(_)) => {
                self.digests.remove(&de.digest_id);
                Ok(Undo::Digest(de.digest_id, old))
            }
            _ => invalid("update type UNSPECIFIED"),
        }
    }

    pub(super) fn apply_meter(&mut self, ty: p4::update::Type, me: &p4::MeterEntry) -> Result<Undo, Fail> {
        if ty != p4::update::Type::Modify {
            return invalid("a meter entry can only be modified (its cells always exist)");
        }
        let r = self.running.as_mut().expect("checked by write");
        let Some((name, size)) = r.p.meters.get(&me.meter_id).cloned() else {
            return invalid(format!("no meter with id {}", me.meter_id));
        };
        let cells: Vec<usize> = match &me.index {
            Some(i) if i.index < 0 || i.index as usize >= size => return invalid(format!("{name}[{}] is out of range", i.index)),
            Some(i) => vec![i.index as usize],
            None => (0..size).collect(),
        };
        // Unset config: back to unconfigured (every packet GREEN).
        let config = me.config.as_ref().map(translate::meter_config).transpose()?;
        if let Some(c) = &config {
            c.check().map_err(|m| Fail { code: Code::InvalidArgument, message: format!("{name}: {m}") })?;
        }
        let mut old = Vec::new();
        for i in cells {
            old.push((i, r.switch.meter(&name, i).map_err(api_fail)?));
            r.switch.set_meter(&name, i, config).map_err(api_fail)?;
        }
        Ok(Undo::Meter(name, old))
    }

    pub(super) fn apply_direct_meter(&mut self, ty: p4::update::Type, de: &p4::DirectMeterEntry) -> Result<Undo, Fail> {
        if ty != p4::update::Type::Modify {
            return invalid("a direct meter entry can only be modified (it exists with its table entry)");
        }
        let r = self.running.as_mut().expect("checked by write");
        let Some(te) = &de.table_entry else { return invalid("a direct meter entry without its table entry") };
        let Some(t) = r.p.tables.get(&te.table_id).cloned() else {
            return invalid(format!("no table with id {}", te.table_id));
        };
        let name = r.p.program.tables[t.index].name.clone();
        if r.p.program.tables[t.index].direct_meter.is_none() {
            return invalid(format!("{name} has no direct meter"));
        }
        let (m, prio) = translate::key(&t, te)?;
        let config = de.config.as_ref().map(translate::meter_config).transpose()?;
        let old = r.switch.entry(&name, &m, prio).map_err(api_fail)?.meter_config();
        r.switch.set_direct_meter(&name, &m, prio, config).map_err(api_fail)?;
        Ok(Undo::DirectMeter(name, m, prio, old))
    }

    pub(super) fn undo(&mut self, u: Undo) {
        if let Undo::Seq(us) = u {
            for u in us.into_iter().rev() {
                self.undo(u);
            }
            return;
        }
        // Undo restores a state that existed a moment ago, so it cannot fail
        // for capacity or duplicates; errors are ignored deliberately.
        if let Some(r) = self.running.as_mut() {
            let _ = match u {
                Undo::Delete(t, m, p) => r.switch.delete(&t, &m, p),
                Undo::Insert(t, e) => r.switch.insert(&t, &e),
                Undo::Modify(t, e) => r.switch.modify(&t, &e),
                Undo::Default(ti, (a, args)) => {
                    let name = r.p.program.tables[ti].name.clone();
                    let aname = r.p.program.actions[a].name.clone();
                    r.switch.set_default(&name, &aname, &args)
                }
                Undo::Meter(name, cells) => {
                    for (i, c) in cells {
                        let _ = r.switch.set_meter(&name, i, c);
                    }
                    Ok(())
                }
                Undo::DirectMeter(t, m, p, c) => r.switch.set_direct_meter(&t, &m, p, c),
                Undo::Seq(_) => unreachable!("handled above"),
                Undo::Digest(id, old) => {
                    match old {
                        Some(c) => {
                            self.digests.entry(id).or_insert_with(|| DigestQueue::new(c)).config = c;
                        }
                        None => {
                            self.digests.remove(&id);
                        }
                    }
                    Ok(())
                }
            };
        }
    }
}
