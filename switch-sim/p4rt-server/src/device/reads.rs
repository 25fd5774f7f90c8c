//! Read: table entries (with their direct counters and idle times),
//! counters, registers, digest entries.

use super::*;

impl Device {
    pub fn read(&self, req: &p4::ReadRequest) -> Result<Vec<p4::Entity>, Status> {
        self.check_device(req.device_id)?;
        let Some(r) = &self.running else {
            return Err(Status::failed_precondition("no forwarding pipeline config has been set"));
        };
        let now = self.now_ns();
        let mut out = Vec::new();
        for ent in &req.entities {
            match &ent.entity {
                Some(E::TableEntry(te)) => self.read_table(r, te, now, &mut out)?,
                Some(E::DigestEntry(de)) => {
                    let mut ids: Vec<u32> = self.digests.keys().copied().filter(|id| de.digest_id == 0 || *id == de.digest_id).collect();
                    ids.sort();
                    for id in ids {
                        let c = self.digests[&id].config;
                        out.push(p4::Entity {
                            entity: Some(E::DigestEntry(p4::DigestEntry {
                                digest_id: id,
                                config: Some(p4::digest_entry::Config {
                                    max_timeout_ns: c.max_timeout_ns as i64,
                                    max_list_size: c.max_list_size as i32,
                                    ack_timeout_ns: c.ack_timeout_ns as i64,
                                }),
                            })),
                        });
                    }
                }
                Some(E::CounterEntry(ce)) => {
                    if ce.counter_id != 0 && !r.p.counters.contains_key(&ce.counter_id) {
                        return Err(Status::invalid_argument(format!("no counter with id {}", ce.counter_id)));
                    }
                    let mut ids: Vec<u32> = r.p.counters.keys().copied().filter(|id| ce.counter_id == 0 || *id == ce.counter_id).collect();
                    ids.sort();
                    for id in ids {
                        let (name, size) = &r.p.counters[&id];
                        let range: Vec<usize> = match &ce.index {
                            Some(i) if i.index < 0 || i.index as usize >= *size => {
                                return Err(Status::invalid_argument(format!("{name}[{}] is out of range", i.index)))
                            }
                            Some(i) => vec![i.index as usize],
                            None => (0..*size).collect(),
                        };
                        for i in range {
                            let (p, b) = r.switch.counter(name, i).map_err(|e| Status::internal(e.to_string()))?;
                            out.push(p4::Entity {
                                entity: Some(E::CounterEntry(p4::CounterEntry {
                                    counter_id: id,
                                    index: Some(p4::Index { index: i as i64 }),
                                    data: Some(p4::CounterData { byte_count: b as i64, packet_count: p as i64 }),
                                })),
                            });
                        }
                    }
                }
                Some(E::MeterEntry(me)) => {
                    if me.meter_id != 0 && !r.p.meters.contains_key(&me.meter_id) {
                        return Err(Status::invalid_argument(format!("no meter with id {}", me.meter_id)));
                    }
                    let mut ids: Vec<u32> = r.p.meters.keys().copied().filter(|id| me.meter_id == 0 || *id == me.meter_id).collect();
                    ids.sort();
                    for id in ids {
                        let (name, size) = &r.p.meters[&id];
                        let range: Vec<usize> = match &me.index {
                            Some(i) if i.index < 0 || i.index as usize >= *size => {
                                return Err(Status::invalid_argument(format!("{name}[{}] is out of range", i.index)))
                            }
                            Some(i) => vec![i.index as usize],
                            None => (0..*size).collect(),
                        };
                        for i in range {
                            let c = r.switch.meter(name, i).map_err(|e| Status::internal(e.to_string()))?;
                            out.push(p4::Entity {
                                entity: Some(E::MeterEntry(p4::MeterEntry {
                                    meter_id: id,
                                    index: Some(p4::Index { index: i as i64 }),
                                    config: c.map(translate::meter_config_out),
                                    counter_data: None,
                                })),
                            });
                        }
                    }
                }
                Some(E::DirectMeterEntry(de)) => {
                    let te = de.table_entry.clone().unwrap_or_default();
                    let mut entries = Vec::new();
                    self.read_table(r, &p4::TableEntry { is_default_action: false, ..te }, now, &mut entries)?;
                    for e in entries {
                        let Some(E::TableEntry(te)) = e.entity else { continue };
                        let Some(t) = r.p.tables.get(&te.table_id) else { continue };
                        if r.p.program.tables[t.index].direct_meter.is_none() {
                            if de.table_entry.as_ref().is_some_and(|x| x.table_id != 0) {
                                return Err(Status::invalid_argument(format!("{} has no direct meter", t.name)));
                            }
                            continue;
                        }
                        let config = te.meter_config;
                        let key = p4::TableEntry { table_id: te.table_id, r#match: te.r#match, priority: te.priority, ..Default::default() };
                        out.push(p4::Entity { entity: Some(E::DirectMeterEntry(p4::DirectMeterEntry { table_entry: Some(key), config, counter_data: None })) });
                    }
                }
                Some(_) => return Err(Status::unimplemented("switch-sim reads table, digest, counter, meter and direct meter entries only")),
                None => return Err(Status::invalid_argument("a read entity without a type")),
            }
        }
        Ok(out)
    }

    pub(super) fn read_table(&self, r: &Running, te: &p4::TableEntry, now: u64, out: &mut Vec<p4::Entity>) -> Result<(), Status> {
        let mut tables: Vec<&crate::pipeline::TableMap> = if te.table_id == 0 {
            r.p.tables.values().collect()
        } else {
            vec![r.p.tables.get(&te.table_id).ok_or_else(|| Status::invalid_argument(format!("no table with id {}", te.table_id)))?]
        };
        tables.sort_by_key(|t| t.id);
        let hit_time = te.time_since_last_hit.is_some();
        let push = |out: &mut Vec<p4::Entity>, e: p4::TableEntry| out.push(p4::Entity { entity: Some(E::TableEntry(e)) });
        for t in tables {
            let name = &r.p.program.tables[t.index].name;
            if te.is_default_action {
                let (a, args) = r.switch.default_action(t.index);
                push(out, p4::TableEntry { table_id: t.id, action: translate::action_out(&r.p, a, args), is_default_action: true, ..Default::default() });
                continue;
            }
            if !te.r#match.is_empty() {
                let (m, prio) = translate::key(t, te).map_err(|f| Status::new(f.code, f.message))?;
                if let Ok(e) = r.switch.entry(name, &m, prio) {
                    push(out, translate::entry_out(&r.p, t, e, now, hit_time));
                }
                continue;
            }
            let entries = r.switch.entries(name).map_err(|e| Status::internal(e.to_string()))?;
            for e in entries {
                if te.priority != 0 && e.spec.priority != te.priority {
                    continue;
                }
                push(out, translate::entry_out(&r.p, t, e, now, hit_time));
            }
        }
        Ok(())
    }
}
