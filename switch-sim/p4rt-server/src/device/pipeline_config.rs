//! SetForwardingPipelineConfig and GetForwardingPipelineConfig: verify,
//! commit and reconcile a pipeline (entries carried over by name), and
//! the start-up program of `--p4`.

use super::*;

impl Device {
    /// Installs a program with the P4Info of this server's generator (the
    /// binary's `--p4` start-up option, like bmv2 started with a JSON).
    pub fn install_program(&mut self, program: Arc<Program>, device_config: Vec<u8>) -> Result<(), String> {
        let info = crate::p4info_gen::generate(&program);
        let p = Pipeline::new(program, info, device_config, 0)?;
        self.commit(p);
        Ok(())
    }

    /// Applies entries in switch-sim's JSON text form (the binary's
    /// `--entries`) to the running pipeline, where P4Runtime Reads see them.
    pub fn apply_entries(&mut self, entries: &[EntryText]) -> Result<(), String> {
        let r = self.running.as_mut().ok_or("no pipeline to apply entries to")?;
        for (i, e) in entries.iter().enumerate() {
            r.switch.apply_text(e).map_err(|err| format!("entry {i} ({}): {err}", e.table))?;
        }
        Ok(())
    }

    /// The switch for a pipeline, on the configured engine (the
    /// interpreter, with a warning, when the fast engine refuses it).
    pub(super) fn new_switch(&self, p: &Pipeline) -> Switch {
        let mut sw = Switch::new(p.program.clone());
        if let Err(e) = sw.set_engine(self.opts.engine) {
            tracing::warn!("pipeline runs on the interpreter: the fast engine refused it: {e}");
        }
        sw.set_seed(self.opts.seed);
        sw
    }

    pub(super) fn commit(&mut self, p: Pipeline) {
        let switch = self.new_switch(&p);
        self.digests.clear();
        self.idle_notified.clear();
        self.sweep_cursor.clear();
        self.running = Some(Running { p, switch });
    }

    pub(super) fn verify(&self, cfg: &p4::ForwardingPipelineConfig) -> Result<Pipeline, Status> {
        let info = cfg.p4info.clone().ok_or_else(|| Status::invalid_argument("the config has no P4Info"))?;
        if info.tables.is_empty() && info.actions.is_empty() {
            return Err(Status::invalid_argument("the P4Info is empty"));
        }
        let prog = crate::device_config::load(&cfg.p4_device_config, self.opts.include_dir.as_deref()).map_err(Status::invalid_argument)?;
        Pipeline::new(prog, info, cfg.p4_device_config.clone(), cfg.cookie.as_ref().map(|c| c.cookie).unwrap_or(0)).map_err(Status::invalid_argument)
    }

    /// `peer`: the connection the request came on (None: in this process).
    pub fn set_pipeline(&mut self, peer: Option<SocketAddr>, req: &p4::SetForwardingPipelineConfigRequest) -> Result<(), Status> {
        use p4::set_forwarding_pipeline_config_request::Action as A;
        self.check_device(req.device_id)?;
        self.check_primary(peer, &req.role, &req.election_id)?;
        let action = A::try_from(req.action).map_err(|_| Status::invalid_argument(format!("unknown action {}", req.action)))?;
        let given = || req.config.as_ref().ok_or_else(|| Status::invalid_argument("no config"));
        match action {
            A::Unspecified => Err(Status::invalid_argument("action UNSPECIFIED")),
            A::Verify => self.verify(given()?).map(|_| ()),
            A::VerifyAndSave => {
                self.saved = Some(self.verify(given()?)?);
                Ok(())
            }
            A::VerifyAndCommit => {
                let p = self.verify(given()?)?;
                self.commit(p);
                Ok(())
            }
            A::Commit => {
                let p = match (&req.config, self.saved.take()) {
                    (Some(c), _) if c.p4info.is_some() => self.verify(c)?,
                    (_, Some(p)) => p,
                    _ => return Err(Status::failed_precondition("COMMIT without a config and nothing saved")),
                };
                self.commit(p);
                Ok(())
            }
            A::ReconcileAndCommit => {
                let p = self.verify(given()?)?;
                self.reconcile(p)
            }
        }
    }

    /// Moves every entry and default action into the new pipeline, by name;
    /// if anything cannot move, nothing changes.
    pub(super) fn reconcile(&mut self, p: Pipeline) -> Result<(), Status> {
        let Some(old) = self.running.as_ref() else {
            self.commit(p);
            return Ok(());
        };
        let mut sw = self.new_switch(&p);
        let oprog = old.switch.program();
        for (ti, t) in oprog.tables.iter().enumerate() {
            let Some(nti) = p.program.tables.iter().position(|x| x.name == t.name) else { continue };
            let entries = old.switch.entries(&t.name).map_err(|e| Status::internal(e.to_string()))?;
            for e in entries {
                let te = TableEntry {
                    matches: e.spec.matches.clone(),
                    action: oprog.actions[e.spec.action].name.clone(),
                    params: e.spec.args.clone(),
                    priority: e.spec.priority,
                    idle_timeout_ns: e.spec.idle_timeout_ns,
                };
                if let Err(err) = sw.insert(&t.name, &te) {
                    if !p.program.tables[nti].const_entries {
                        return Err(Status::failed_precondition(format!("cannot reconcile {}: {err}", t.name)));
                    }
                }
            }
            // A default the new program cannot take keeps the program's own.
            let (a, args) = old.switch.default_action(ti);
            let _ = sw.set_default(&t.name, &oprog.actions[a].name, args);
        }
        let keep: HashMap<u32, DigestQueue> = std::mem::take(&mut self.digests)
            .into_iter()
            .filter_map(|(id, q)| {
                let name = &old.p.digests.get(&id)?.name;
                let nid = *p.digest_by_name.get(name)?;
                Some((nid, DigestQueue::new(q.config)))
            })
            .collect();
        self.digests = keep;
        self.idle_notified.clear();
        self.sweep_cursor.clear();
        self.running = Some(Running { p, switch: sw });
        Ok(())
    }

    pub fn get_pipeline(&self, req: &p4::GetForwardingPipelineConfigRequest) -> Result<p4::GetForwardingPipelineConfigResponse, Status> {
        use p4::get_forwarding_pipeline_config_request::ResponseType as R;
        self.check_device(req.device_id)?;
        let Some(r) = &self.running else {
            return Err(Status::failed_precondition("no forwarding pipeline config has been set"));
        };
        let rt = R::try_from(req.response_type).map_err(|_| Status::invalid_argument("unknown response type"))?;
        let cookie = Some(p4::forwarding_pipeline_config::Cookie { cookie: r.p.cookie });
        let config = match rt {
            R::All => p4::ForwardingPipelineConfig { p4info: Some(r.p.p4info.clone()), p4_device_config: r.p.device_config.clone(), cookie },
            R::CookieOnly => p4::ForwardingPipelineConfig { cookie, ..Default::default() },
            R::P4infoAndCookie => p4::ForwardingPipelineConfig { p4info: Some(r.p.p4info.clone()), cookie, ..Default::default() },
            R::DeviceConfigAndCookie => p4::ForwardingPipelineConfig { p4_device_config: r.p.device_config.clone(), cookie, ..Default::default() },
        };
        Ok(p4::GetForwardingPipelineConfigResponse { config: Some(config) })
    }
}
