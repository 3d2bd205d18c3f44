//! Real sockets: a loopback server that serves at most K connections at once
//! across many ports and silently ignores the rest (no welcome byte: a
//! connection counts only once served, as after a protocol handshake) or
//! resets them. A tokio driver dials through the pool and must end up holding
//! K, and fill again to K after closing some.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shoal_conn_pool::{CloseReason, ClosedInfo, FailReason, Pool, PoolConfig, Source};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, sleep_until, timeout};

const K: usize = 8;
const PORTS: usize = 30;

/// What the server does with a connection beyond its `K` slots.
#[derive(Clone, Copy, PartialEq)]
enum Extra {
    /// Says nothing until the client gives up (a silent drop, as from a
    /// full router table).
    Ignore,
    /// Resets it at once.
    Reset,
}

/// Starts `PORTS` listeners sharing `K` service slots. A served connection
/// gets one welcome byte and is held until the client closes it.
async fn start_server(extra: Extra) -> Vec<SocketAddr> {
    let slots = Arc::new(Semaphore::new(K));
    let mut addrs = Vec::new();
    for _ in 0..PORTS {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        let slots = slots.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let permit = slots.clone().try_acquire_owned().ok();
                if permit.is_none() && extra == Extra::Reset {
                    let _ = stream.set_zero_linger();
                    drop(stream);
                    continue;
                }
                tokio::spawn(async move {
                    if permit.is_some() && stream.write_all(b"W").await.is_err() {
                        return;
                    }
                    // hold (served or not) until the client closes
                    let mut buf = [0u8; 64];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                    drop(permit);
                });
            }
        });
    }
    addrs
}

enum Event {
    Connected(SocketAddr, TcpStream),
    Failed(SocketAddr, FailReason),
}

/// Connects and waits for the welcome byte: a connection counts only once
/// the server serves it.
async fn attempt(addr: SocketAddr, limit: Duration, tx: mpsc::UnboundedSender<Event>) {
    let result = timeout(limit, async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await?;
        Ok::<_, std::io::Error>(stream)
    })
    .await;
    let event = match result {
        Ok(Ok(stream)) => Event::Connected(addr, stream),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Event::Failed(addr, FailReason::Refused)
        }
        Ok(Err(_)) => Event::Failed(addr, FailReason::Reset),
        Err(_) => Event::Failed(addr, FailReason::TimedOut),
    };
    let _ = tx.send(event);
}

struct Driver {
    pool: Pool<SocketAddr>,
    held: HashMap<SocketAddr, TcpStream>,
    tx: mpsc::UnboundedSender<Event>,
    rx: mpsc::UnboundedReceiver<Event>,
    connect_timeout: Duration,
}

impl Driver {
    /// Runs the pool until it has held `K` connections for two connect
    /// timeouts in a row; panics at `deadline`.
    async fn run_until_settled(&mut self, deadline: Instant) {
        let mut settled_since: Option<Instant> = None;
        loop {
            let now = Instant::now();
            assert!(
                now < deadline,
                "not settled: holding {}, {:?}",
                self.held.len(),
                self.pool.stats()
            );
            while let Some(addr) = self.pool.poll_dial(now.into_std()) {
                tokio::spawn(attempt(addr, self.connect_timeout, self.tx.clone()));
            }
            assert!(self.held.len() <= K, "the server serves only {K}");
            if self.held.len() == K {
                let since = *settled_since.get_or_insert(now);
                if now - since >= 2 * self.connect_timeout {
                    return;
                }
            } else {
                settled_since = None;
            }
            let cap = now + Duration::from_millis(200);
            let wake = self
                .pool
                .next_timeout()
                .map_or(cap, |t| Instant::from_std(t).min(cap));
            tokio::select! {
                Some(event) = self.rx.recv() => {
                    let now = Instant::now().into_std();
                    match event {
                        Event::Connected(addr, stream) => {
                            if self.pool.on_connected(&addr, now) {
                                self.held.insert(addr, stream);
                            }
                        }
                        Event::Failed(addr, reason) => self.pool.on_failed(&addr, reason, now),
                    }
                }
                () = sleep_until(wake) => self.pool.handle_timeout(Instant::now().into_std()),
            }
        }
    }
}

#[tokio::test]
async fn a_tokio_driver_holds_k_connections_of_a_silent_server() {
    holds_k_connections(Extra::Ignore).await;
}

#[tokio::test]
async fn a_tokio_driver_holds_k_connections_of_a_resetting_server() {
    holds_k_connections(Extra::Reset).await;
}

async fn holds_k_connections(extra: Extra) {
    let addrs = start_server(extra).await;
    let mut config = PoolConfig::default();
    config.max_connections = 100;
    config.max_half_open = 32;
    config.connect_timeout = Duration::from_millis(1000);
    config.backoff_base = Duration::from_millis(200);
    config.backoff_max = Duration::from_secs(2);
    config.max_dials_per_sec = 200;
    let connect_timeout = config.connect_timeout;
    let mut pool = Pool::new(config, 99);
    let start = Instant::now();
    for &a in &addrs {
        pool.add_candidate(a, Source::User, start.into_std());
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let mut driver = Driver {
        pool,
        held: HashMap::new(),
        tx,
        rx,
        connect_timeout,
    };
    driver
        .run_until_settled(start + Duration::from_secs(30))
        .await;
    let stats = driver.pool.stats();
    println!("settled after {:?}: {stats:?}", start.elapsed());
    assert_eq!(stats.connected(), K);
    assert!(stats.half_open <= 32);

    // Close three: the server frees their slots, the pool fills them again.
    let closing: Vec<SocketAddr> = driver.held.keys().take(3).copied().collect();
    for addr in closing {
        drop(driver.held.remove(&addr));
        let info = ClosedInfo {
            bytes_up: 0,
            bytes_down: 1,
            reason: CloseReason::Local,
        };
        driver
            .pool
            .on_closed(&addr, info, Instant::now().into_std());
    }
    assert_eq!(driver.pool.stats().connected(), K - 3);
    let again = Instant::now();
    driver
        .run_until_settled(again + Duration::from_secs(30))
        .await;
    let stats = driver.pool.stats();
    println!("refilled after {:?}: {stats:?}", again.elapsed());
    assert_eq!(stats.connected(), K);
    assert!(stats.connects >= K as u64 + 3);
}
