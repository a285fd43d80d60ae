//! Crash loops: a task crashes on a bad configuration, waits its restart delay, reloads its
//! state through a downstream call, and crashes again while the configuration is bad.

use super::*;

impl World {
    /// Server `server` of crash-looping service `s` crashes on `req` (answered with an error)
    /// and schedules its restart.
    pub(super) fn crash(&mut self, s: usize, server: u32, req: Request, sim: &mut Sim<Event>) {
        let now = sim.now();
        let svc = &mut self.services[s];
        let k = server as usize;
        svc.crashed[k] = true;
        svc.n_crashed += 1;
        svc.restarts[k] = 0;
        svc.prev_delay[k] = 0;
        if let Some(c) = svc.m.crashes {
            sim.rec.incr(c);
        }
        if let Some(g) = svc.m.tasks_down {
            sim.rec.gauge_set_count(g, now, svc.n_crashed as u64);
        }
        sim.rec.incr(svc.m.errors);
        self.live_requests -= 1;
        self.schedule_restart(s, server, sim);
        self.on_reply(req.caller, Outcome::Error, req.arrived, req.key, sim);
    }

    /// Schedules crashed server `server`'s next restart attempt after its backoff delay.
    pub(super) fn schedule_restart(&mut self, s: usize, server: u32, sim: &mut Sim<Event>) {
        let svc = &mut self.services[s];
        let k = server as usize;
        let Some(cl) = &svc.crash_loop else {
            return;
        };
        svc.restarts[k] += 1;
        let delay = cl
            .backoff
            .delay_ns(svc.restarts[k], svc.prev_delay[k], &mut svc.restart_rng);
        svc.prev_delay[k] = delay;
        let generation = svc.server_gen[k];
        sim.schedule_in(
            SimDuration(delay),
            Event::RestartDue {
                service: s as u32,
                server,
                generation,
            },
        );
    }

    /// A crashed server's restart delay is over: take a restart token (or wait for one), then
    /// load state from the backing store.
    pub(super) fn on_restart_due(
        &mut self,
        s: usize,
        server: u32,
        generation: u32,
        sim: &mut Sim<Event>,
    ) {
        let now = sim.now();
        let svc = &mut self.services[s];
        if svc.server_gen.get(server as usize) != Some(&generation)
            || !svc.crashed.get(server as usize).copied().unwrap_or(false)
        {
            return;
        }
        if !svc.token_reserved[server as usize] {
            let wait = svc.restart_token_wait(now);
            if wait > 0 {
                svc.token_reserved[server as usize] = true;
                sim.schedule_in(
                    SimDuration(wait),
                    Event::RestartDue {
                        service: s as u32,
                        server,
                        generation,
                    },
                );
                return;
            }
        }
        svc.token_reserved[server as usize] = false;
        if let Some(r) = svc.m.restarts {
            sim.rec.incr(r);
        }
        let Some(store) = svc.crash_loop.as_ref().map(|c| c.store) else {
            return;
        };
        let parent = Parent {
            service: s as u32,
            server,
            generation,
            restart: true,
        };
        self.start_call(store, parent, sim);
    }

    /// A restart's store load ended: the task is up (and takes work), or waits to retry.
    pub(super) fn restart_done(&mut self, s: usize, server: u32, ok: bool, sim: &mut Sim<Event>) {
        let now = sim.now();
        if !ok {
            self.schedule_restart(s, server, sim);
            return;
        }
        let svc = &mut self.services[s];
        let k = server as usize;
        if !svc.crashed[k] {
            return;
        }
        svc.crashed[k] = false;
        svc.n_crashed -= 1;
        if let Some(g) = svc.m.tasks_down {
            sim.rec.gauge_set_count(g, now, svc.n_crashed as u64);
        }
        if server < svc.servers && !self.serve_next(s, server, sim) {
            self.services[s].idle.push(server);
        }
    }
}
