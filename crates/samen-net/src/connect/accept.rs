//! The listening side: accept the peers whose names sort lower, identified by their client
//! certificates; refuse everyone else and keep listening.

use super::*;

impl Setup<'_> {
    pub(super) fn accept_all(
        &self,
        listener: &TcpListener,
        expected: &[String],
        notify: Option<&Abort>,
    ) -> Result<Vec<(String, TlsChannel)>, NetError> {
        let mut got: BTreeMap<String, TlsChannel> = BTreeMap::new();
        let mut notified: BTreeSet<String> = BTreeSet::new();
        let mut last_refusal: Option<Refusal> = None;
        let mut last_problem: Option<String> = None;
        let (tx, rx) = mpsc::channel::<Result<(String, TlsChannel), Attempt>>();
        let pending = Arc::new(AtomicUsize::new(0));
        let mut next_notice = Instant::now() + WAIT_NOTICE_EVERY;
        let abort_got = |got: BTreeMap<String, TlsChannel>, reason: Option<StopReason>| {
            let message = reason.map_or_else(|| Abort::own(COULD_NOT_CONNECT), |r| Abort::from(&r));
            for (_, mut ch) in got {
                ch.abort(&message);
            }
        };
        loop {
            while let Ok(done) = rx.try_recv() {
                match done {
                    Ok((name, ch)) => {
                        got.insert(name, ch);
                    }
                    Err(Attempt::Notified(name)) => {
                        notified.insert(name);
                    }
                    Err(Attempt::Refused(refusal)) => {
                        tracing::warn!(me = %self.cfg.me, "{refusal}");
                        last_refusal = Some(refusal);
                    }
                    Err(Attempt::Retry(problem)) => {
                        tracing::debug!(me = %self.cfg.me, problem = %problem, "incoming connection failed");
                        last_problem = Some(problem);
                    }
                    Err(Attempt::Fatal(e)) => {
                        let peer = net_error_peer(&e).unwrap_or_default();
                        let e = self.fail(&peer, e);
                        abort_got(got, self.hs.stop.reason());
                        return Err(e);
                    }
                }
            }
            let missing = expected
                .iter()
                .find(|p| !got.contains_key(*p) && !notified.contains(*p));
            let Some(missing) = missing else {
                return Ok(got.into_iter().collect());
            };
            if let Some(e) = self.cancelled(missing, notify) {
                abort_got(got, self.hs.stop.reason());
                return Err(e);
            }
            if self.hs.remaining().is_zero() {
                let secs = self.cfg.connect_timeout.as_secs();
                let e = match last_refusal {
                    Some(refusal) => NetError::Refused {
                        peer: missing.clone(),
                        secs,
                        refusal,
                    },
                    None => NetError::ConnectTimeout {
                        peer: missing.clone(),
                        secs,
                        last_problem,
                    },
                };
                let e = self.fail(&missing.clone(), e);
                abort_got(got, self.hs.stop.reason());
                return Err(e);
            }
            match listener.accept() {
                Ok((sock, from)) => {
                    if pending.load(Ordering::SeqCst) >= MAX_PENDING_HANDSHAKES {
                        last_problem = Some(format!(
                            "dropped a connection from {from}: too many handshakes at once"
                        ));
                        continue;
                    }
                    pending.fetch_add(1, Ordering::SeqCst);
                    let (hs, tx, in_flight) = (self.hs.clone(), tx.clone(), Arc::clone(&pending));
                    let expected = expected.to_vec();
                    let notify = notify.cloned();
                    let spawned = thread::Builder::new()
                        .name("samen-net-accept".to_string())
                        .spawn(move || {
                            let r = hs.accept_one(sock, from, &expected, notify.as_ref());
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                            // After set-up ended nobody listens; the channel is dropped.
                            let _ = tx.send(r);
                        });
                    if spawned.is_err() {
                        pending.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= next_notice {
                        tracing::warn!(
                            "still waiting for party '{missing}' to connect; waiting for up to \
                             {} s in total (--connect-timeout)",
                            self.cfg.connect_timeout.as_secs()
                        );
                        next_notice = Instant::now() + WAIT_NOTICE_EVERY;
                    }
                    thread::sleep(ACCEPT_POLL.min(self.hs.remaining()));
                }
                Err(e) => {
                    last_problem = Some(format!("accept failed: {e}"));
                    thread::sleep(ACCEPT_POLL.min(self.hs.remaining()));
                }
            }
        }
    }
}

impl Handshaker {
    pub(super) fn accept_one(
        &self,
        sock: TcpStream,
        from: SocketAddr,
        expected: &[String],
        notify: Option<&Abort>,
    ) -> Result<(String, TlsChannel), Attempt> {
        let refused = |detail: String| Attempt::Refused(Refusal::Handshake { from, detail });
        self.prepare(&sock)
            .map_err(|e| refused(format!("socket set-up failed: {e}")))?;
        let conn = rustls::ServerConnection::new(Arc::clone(&self.tls.server))
            .map_err(|e| refused(e.to_string()))?;
        let mut io = SetupIo {
            conn: conn.into(),
            sock,
            decoder: FrameDecoder::new(),
        };
        if let Err(e) = io.handshake() {
            return Err(Attempt::Refused(server_refusal(from, e)));
        }
        let peer = match self.identify(&io, expected) {
            Ok(peer) => peer,
            Err(()) => {
                let pinned_party = self.tls.pinned.as_ref().and_then(|v| {
                    io.conn
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| v.party_of(c))
                });
                let (r, checked_by) = match (&self.tls.pinned, pinned_party) {
                    (Some(_), party) => (
                        Refusal::UnpinnedKey {
                            from,
                            detail: format!(
                                "the key pinned for party '{}', which is not expected to \
                                 connect here ({})",
                                party.unwrap_or_default(),
                                expected.join(", ")
                            ),
                        },
                        "pinned key",
                    ),
                    (None, _) => (
                        Refusal::NotAnExpectedParty {
                            from,
                            expected: expected.join(", "),
                        },
                        "certificate name",
                    ),
                };
                io.send_abort(&Abort::own(&format!(
                    "party '{}' accepts connections only from {} (checked by {checked_by})",
                    self.me,
                    expected.join(", ")
                )));
                return Err(Attempt::Refused(r));
            }
        };
        if self.abort_instead_of_hello(&mut io, notify) {
            return Err(Attempt::Notified(peer));
        }
        let fresh = self
            .claimed
            .lock()
            .map(|mut c| c.insert(peer.clone()))
            .unwrap_or(false);
        if !fresh {
            let r = Refusal::Duplicate { from, party: peer };
            io.send_abort(&Abort::own(&r.to_string()));
            return Err(Attempt::Refused(r));
        }
        let unclaim = |peer: &str| {
            if let Ok(mut c) = self.claimed.lock() {
                c.remove(peer);
            }
        };
        let ours = self.hello_to(&peer);
        match io.exchange_hello(&peer, &ours) {
            Ok(()) => {}
            Err(SetupError::Hello(e)) => return Err(Attempt::Fatal(e.into())),
            Err(SetupError::Aborted(reason)) => {
                return Err(Attempt::Fatal(aborted_by(&peer, reason)))
            }
            Err(e) => {
                unclaim(&peer);
                return Err(Attempt::Refused(server_refusal(from, e)));
            }
        }
        TlsChannel::start(
            peer.clone(),
            io.conn,
            io.sock,
            io.decoder,
            self.io_timeout,
            self.stop.clone(),
        )
        .map(|ch| (peer, ch))
        .map_err(|e| Attempt::Fatal(e.into()))
    }

    /// The expected party the verified client certificate is issued to (pinned mode: the
    /// expected party whose pin is the certificate's key).
    pub(super) fn identify(&self, io: &SetupIo, expected: &[String]) -> Result<String, ()> {
        let cert: &CertificateDer<'_> = io
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or(())?;
        if let Some(pinned) = &self.tls.pinned {
            return pinned
                .party_of(cert)
                .filter(|p| expected.contains(p))
                .ok_or(());
        }
        let parsed = ParsedCertificate::try_from(cert).map_err(|_| ())?;
        expected
            .iter()
            .find(|name| {
                ServerName::try_from(name.as_str())
                    .ok()
                    .is_some_and(|sn| rustls::client::verify_server_name(&parsed, &sn).is_ok())
            })
            .cloned()
            .ok_or(())
    }
}

pub(super) fn server_refusal(from: SocketAddr, e: SetupError) -> Refusal {
    match e {
        SetupError::Tls(rustls::Error::NoCertificatesPresented) => {
            Refusal::NoClientCertificate { from }
        }
        SetupError::Tls(rustls::Error::InvalidCertificate(ce)) => match pin_mismatch(&ce) {
            Some(detail) => Refusal::UnpinnedKey { from, detail },
            None => Refusal::UntrustedCertificate {
                from,
                detail: format!("{ce:?}"),
            },
        },
        other => Refusal::Handshake {
            from,
            detail: other.to_string(),
        },
    }
}
