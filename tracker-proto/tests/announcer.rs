//! The UDP announcer's timing with a fake clock: BEP 15 retransmission at 15·2ⁿ s,
//! connection ids used for one minute, and its handling of replies.

use std::time::{Duration, Instant};

use metainfo::PeerId;
use shoal_tracker_proto::{
    AnnounceOutcome, AnnouncerOptions, Error, Limits, PROTOCOL_ID, UdpAnnounceRequest,
    UdpAnnounceResponse, UdpAnnouncer, UdpConnection, UdpPeers, UdpRequest, UdpResponse,
};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn request() -> UdpAnnounceRequest {
    UdpAnnounceRequest {
        connection_id: 123,
        transaction_id: 456,
        info_hash: [9; 20],
        peer_id: PeerId([b'q'; 20]),
        downloaded: 1,
        left: 2,
        uploaded: 3,
        event: None,
        ip: None,
        key: 4,
        num_want: Some(30),
        port: 6881,
    }
}

fn parse(packet: &[u8]) -> UdpRequest {
    UdpRequest::parse(packet, &Limits::default()).expect("announcer sends valid packets")
}

fn connect_reply(tid: u32, connection_id: u64) -> Vec<u8> {
    UdpResponse::Connect {
        transaction_id: tid,
        connection_id,
    }
    .to_bytes()
}

fn announce_reply(tid: u32) -> UdpAnnounceResponse {
    UdpAnnounceResponse {
        transaction_id: tid,
        interval: 900,
        leechers: 3,
        seeders: 4,
        peers: UdpPeers::V4(vec!["127.0.0.1:7001".parse().unwrap()]),
    }
}

#[test]
fn gives_up_after_nine_sends_at_15_times_2_to_the_n() {
    let t0 = Instant::now();
    let mut a = UdpAnnouncer::new(request(), AnnouncerOptions::default(), t0);
    let mut now = t0;
    let mut sent_at = Vec::new();
    let mut tids = Vec::new();
    loop {
        while let Some(packet) = a.poll_transmit(now) {
            let UdpRequest::Connect { transaction_id } = parse(&packet) else {
                panic!("expected a connect");
            };
            sent_at.push(now.duration_since(t0).as_secs());
            tids.push(transaction_id);
        }
        let deadline = a.poll_timeout().expect("waiting for a reply");
        // Nothing happens a moment before the deadline.
        assert_eq!(a.handle_timeout(deadline - Duration::from_millis(1)), None);
        assert_eq!(a.poll_transmit(deadline - Duration::from_millis(1)), None);
        now = deadline;
        if let Some(outcome) = a.handle_timeout(now) {
            assert_eq!(outcome, AnnounceOutcome::TimedOut { attempts: 9 });
            break;
        }
        assert!(sent_at.len() < 20, "must give up");
    }
    assert_eq!(sent_at, [0, 15, 45, 105, 225, 465, 945, 1905, 3825]);
    assert_eq!(
        now.duration_since(t0),
        secs(15 * 511),
        "last wait is 3840 s"
    );
    assert!(
        tids.iter().all(|&t| t == tids[0]),
        "retransmits reuse the id"
    );
    assert!(a.is_done());
    assert_eq!(a.poll_timeout(), None);
    assert_eq!(a.poll_transmit(now), None);
}

#[test]
fn max_retransmits_is_configurable() {
    let t0 = Instant::now();
    let options = AnnouncerOptions {
        max_retransmits: 1,
        ..AnnouncerOptions::default()
    };
    let mut a = UdpAnnouncer::new(request(), options, t0);
    assert!(a.poll_transmit(t0).is_some());
    assert_eq!(a.handle_timeout(t0 + secs(15)), None);
    assert!(a.poll_transmit(t0 + secs(15)).is_some());
    assert_eq!(a.poll_timeout(), Some(t0 + secs(45)));
    assert_eq!(
        a.handle_timeout(t0 + secs(45)),
        Some(AnnounceOutcome::TimedOut { attempts: 2 })
    );
}

#[test]
fn connect_then_announce_then_peers() {
    let t0 = Instant::now();
    let options = AnnouncerOptions {
        seed: 7,
        ..AnnouncerOptions::default()
    };
    let mut a = UdpAnnouncer::new(request(), options, t0);
    let UdpRequest::Connect {
        transaction_id: ctid,
    } = parse(&a.poll_transmit(t0).unwrap())
    else {
        panic!("expected a connect");
    };
    assert_eq!(a.poll_transmit(t0), None, "one packet per wait");

    // A reply to another transaction and a garbage datagram change nothing.
    let t1 = t0 + secs(2);
    assert_eq!(a.handle_datagram(&connect_reply(ctid ^ 1, 5), t1), Ok(None));
    assert_eq!(
        a.handle_datagram(&[0, 0, 0], t1),
        Err(Error::Truncated {
            what: "udp response",
            len: 3,
            expected: 8
        })
    );
    assert_eq!(a.poll_transmit(t1), None);
    assert_eq!(a.poll_timeout(), Some(t0 + secs(15)));

    assert_eq!(a.handle_datagram(&connect_reply(ctid, 555), t1), Ok(None));
    assert_eq!(
        a.connection(),
        Some(UdpConnection {
            id: 555,
            received: t1
        })
    );
    let UdpRequest::Announce(sent) = parse(&a.poll_transmit(t1).unwrap()) else {
        panic!("expected an announce");
    };
    assert_eq!(sent.connection_id, 555);
    assert_ne!(
        sent.transaction_id, ctid,
        "a new transaction for the announce"
    );
    let expected = UdpAnnounceRequest {
        connection_id: 555,
        transaction_id: sent.transaction_id,
        ..request()
    };
    assert_eq!(sent, expected);
    // The retry counter starts again after a reply: the first wait is 15 s.
    assert_eq!(a.poll_timeout(), Some(t1 + secs(15)));

    // A connect reply now is of the wrong kind: ignored.
    let t2 = t1 + secs(1);
    assert_eq!(
        a.handle_datagram(&connect_reply(sent.transaction_id, 1), t2),
        Ok(None)
    );
    let reply = announce_reply(sent.transaction_id);
    let outcome = a.handle_datagram(&UdpResponse::Announce(reply.clone()).to_bytes(), t2);
    assert_eq!(outcome, Ok(Some(AnnounceOutcome::Announced(reply))));
    assert!(a.is_done());
    assert_eq!(a.connection().map(|c| c.id), Some(555));
}

#[test]
fn connection_id_expires_after_a_minute_while_retransmitting() {
    let t0 = Instant::now();
    let mut a = UdpAnnouncer::new(request(), AnnouncerOptions::default(), t0);
    let ctid = parse(&a.poll_transmit(t0).unwrap()).transaction_id();
    let t1 = t0 + secs(1);
    a.handle_datagram(&connect_reply(ctid, 42), t1).unwrap();

    let mut kinds = Vec::new();
    let mut now = t1;
    for _ in 0..4 {
        let packet = a.poll_transmit(now).expect("a packet is due");
        let req = parse(&packet);
        kinds.push((now.duration_since(t1).as_secs(), req.connection_id()));
        now = a.poll_timeout().unwrap();
        assert_eq!(a.handle_timeout(now), None);
    }
    // Announces at +0, +15, +45 use id 42 (less than 60 s old); at +105 it has expired
    // and the retransmission is a connect, still on the 15·2ⁿ schedule.
    assert_eq!(kinds, [(0, 42), (15, 42), (45, 42), (105, PROTOCOL_ID)]);
    assert_eq!(now.duration_since(t1), secs(225));
    let again = parse(&a.poll_transmit(now).unwrap());
    assert_eq!(
        again.connection_id(),
        PROTOCOL_ID,
        "the connect is retransmitted next"
    );
}

#[test]
fn reuses_a_connection_id_given_for_up_to_60_seconds() {
    let t0 = Instant::now();
    let connection = UdpConnection {
        id: 99,
        received: t0,
    };
    let options = AnnouncerOptions {
        connection: Some(connection),
        ..AnnouncerOptions::default()
    };
    let at = t0 + Duration::from_millis(59_999);
    let mut a = UdpAnnouncer::new(request(), options, at);
    assert_eq!(parse(&a.poll_transmit(at).unwrap()).connection_id(), 99);

    let at = t0 + secs(60);
    let mut a = UdpAnnouncer::new(request(), options, at);
    assert!(matches!(
        parse(&a.poll_transmit(at).unwrap()),
        UdpRequest::Connect { .. }
    ));
    assert!(connection.is_valid(t0 + secs(59)));
    assert!(!connection.is_valid(t0 + secs(60)));
}

#[test]
fn late_reply_to_a_retransmitted_announce_counts() {
    let t0 = Instant::now();
    let options = AnnouncerOptions {
        connection: Some(UdpConnection {
            id: 1,
            received: t0,
        }),
        ipv6: true,
        ..AnnouncerOptions::default()
    };
    let mut a = UdpAnnouncer::new(request(), options, t0);
    let tid = parse(&a.poll_transmit(t0).unwrap()).transaction_id();
    a.handle_timeout(t0 + secs(15));
    assert_eq!(
        parse(&a.poll_transmit(t0 + secs(15)).unwrap()).transaction_id(),
        tid
    );
    let reply = UdpAnnounceResponse {
        peers: UdpPeers::V6(vec!["[::1]:7000".parse().unwrap()]),
        ..announce_reply(tid)
    };
    let outcome = a.handle_datagram(
        &UdpResponse::Announce(reply.clone()).to_bytes(),
        t0 + secs(16),
    );
    assert_eq!(outcome, Ok(Some(AnnounceOutcome::Announced(reply))));
}

#[test]
fn tracker_error_ends_the_announce() {
    let t0 = Instant::now();
    let mut a = UdpAnnouncer::new(request(), AnnouncerOptions::default(), t0);
    let tid = parse(&a.poll_transmit(t0).unwrap()).transaction_id();
    let error = UdpResponse::Error {
        transaction_id: tid,
        message: "go away".into(),
    };
    assert_eq!(
        a.handle_datagram(&error.to_bytes(), t0),
        Ok(Some(AnnounceOutcome::TrackerError("go away".into())))
    );
    assert!(a.is_done());
    assert_eq!(a.handle_timeout(t0 + secs(1000)), None);
}

#[test]
fn transaction_ids_come_from_the_seed() {
    let t0 = Instant::now();
    let first_tid = |seed| {
        let options = AnnouncerOptions {
            seed,
            ..AnnouncerOptions::default()
        };
        let mut a = UdpAnnouncer::new(request(), options, t0);
        parse(&a.poll_transmit(t0).unwrap()).transaction_id()
    };
    assert_eq!(first_tid(1), first_tid(1), "deterministic");
    assert_ne!(first_tid(1), first_tid(2));
}
