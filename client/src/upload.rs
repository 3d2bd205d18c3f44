//! The upload side of a peer connection: the writer task that owns the socket's write
//! half, and the disk stage that reads requested blocks in batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use wire::{BlockRequest, Message};

use crate::peer::Out;
use crate::picker::BLOCK_LEN;
use crate::ratelimit::acquire;
use crate::torrent::{PeerCounters, Torrent};

/// Most requests of one peer waiting to be served: what we advertise as `reqq` (BEP 10).
/// Past it a request is refused (rejected with the fast extension), so a peer that asks
/// faster than it reads cannot grow our queue.
pub(crate) const MAX_QUEUED_REQUESTS: usize = crate::peer::OUR_REQQ;

/// The peer's requests that wait to be served, each with how many times it was asked
/// and how many of those the peer cancelled. A cancel counts only against a request
/// still waiting: one that comes after its block went out (they crossed on the wire)
/// is ignored, and does not refuse the same block asked for again later.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    /// Block → (times queued, times cancelled), cancelled ≤ queued.
    waiting: HashMap<BlockRequest, (u32, u32)>,
    /// Sum of the queued counts.
    total: usize,
}

impl Requests {
    /// Notes a request before it is queued; false (refuse it) if the queue is full.
    pub(crate) fn queue(&mut self, r: BlockRequest) -> bool {
        if self.total >= MAX_QUEUED_REQUESTS {
            return false;
        }
        self.waiting.entry(r).or_default().0 += 1;
        self.total += 1;
        true
    }

    /// The peer cancelled `r`: counted if a request for it still waits.
    pub(crate) fn cancel(&mut self, r: &BlockRequest) {
        if let Some((queued, cancelled)) = self.waiting.get_mut(r)
            && *cancelled < *queued
        {
            *cancelled += 1;
        }
    }

    /// One waiting request for `r` leaves the queue; true if it was a cancelled one (not
    /// to be served). With `cancelled_only`, only a cancelled one leaves.
    fn leave(&mut self, r: &BlockRequest, cancelled_only: bool) -> bool {
        let Some((queued, cancelled)) = self.waiting.get_mut(r) else {
            return false;
        };
        let was_cancelled = *cancelled > 0;
        if cancelled_only && !was_cancelled {
            return false;
        }
        *queued -= 1;
        if was_cancelled {
            *cancelled -= 1;
        }
        self.total -= 1;
        if *queued == 0 {
            self.waiting.remove(r);
        }
        was_cancelled
    }

    /// `r` was served (or refused): it no longer waits.
    fn served(&mut self, r: &BlockRequest) {
        if let Some((queued, cancelled)) = self.waiting.get_mut(r) {
            *queued -= 1;
            *cancelled = (*cancelled).min(*queued);
            self.total -= 1;
            if *queued == 0 {
                self.waiting.remove(r);
            }
        }
    }
}

/// Owns the write half: sends control messages as they come and block data as the disk
/// stage ([`server_task`]) produces it, so reading the next blocks overlaps sending the
/// previous ones. The data channel is bounded: a slow peer does not pile up memory.
pub(crate) async fn writer_task(
    torrent: Arc<Torrent>,
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Out>,
    counters: Arc<PeerCounters>,
    fast: bool,
) {
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (data_tx, mut data_rx) = mpsc::channel::<Bytes>(4);
    let server = tokio::spawn(server_task(torrent, req_rx, data_tx, counters, fast));
    let mut keepalive = tokio::time::interval(Duration::from_secs(90));
    keepalive.tick().await;
    let mut small = BytesMut::new();
    loop {
        let chunk = tokio::select! {
            biased;
            m = rx.recv() => match m {
                Some(Out::Msg(b)) => {
                    // Coalesce control messages already queued into one write.
                    small.extend_from_slice(&b);
                    while small.len() < 64 * 1024 {
                        match rx.try_recv() {
                            Ok(Out::Msg(b)) => small.extend_from_slice(&b),
                            Ok(Out::Serve(r, a)) => { let _ = req_tx.send((r, a)); }
                            Err(_) => break,
                        }
                    }
                    small.split().freeze()
                }
                Some(Out::Serve(r, a)) => {
                    let _ = req_tx.send((r, a));
                    continue;
                }
                None => break,
            },
            d = data_rx.recv() => match d {
                Some(d) => d,
                None => break,
            },
            _ = keepalive.tick() => Bytes::from_static(&[0, 0, 0, 0]),
        };
        if wr.write_all(&chunk).await.is_err() {
            break;
        }
    }
    server.abort();
}

/// Reads requested blocks from disk in batches (in `spawn_blocking`) for the writer.
async fn server_task(
    torrent: Arc<Torrent>,
    mut rx: mpsc::UnboundedReceiver<(BlockRequest, bool)>,
    data_tx: mpsc::Sender<Bytes>,
    counters: Arc<PeerCounters>,
    fast: bool,
) {
    let mut serve = Vec::new();
    let mut chunks = Vec::new();
    while let Some(first) = rx.recv().await {
        serve.push(first);
        // About 1 MiB per batch: big enough to amortise, small enough to pipeline. Under
        // an upload limit, about 1/8 s of data: a batch waits for its tokens as a whole,
        // and cancels that come meanwhile (a stream that seeked) only reach later batches.
        let cap = match [&torrent.up_limit, &torrent.session.up_limit]
            .iter()
            .filter_map(|l| l.rate())
            .min()
        {
            Some(rate) => (rate / 8 / u64::from(BLOCK_LEN)).clamp(1, 64) as usize,
            None => 64,
        };
        while serve.len() < cap {
            match rx.try_recv() {
                Ok(r) => serve.push(r),
                Err(_) => break,
            }
        }
        if serve_blocks(&torrent, &mut serve, &counters, fast, &mut chunks)
            .await
            .is_err()
        {
            return;
        }
        for c in chunks.drain(..) {
            if data_tx.send(c).await.is_err() {
                return;
            }
        }
    }
}

async fn serve_blocks(
    torrent: &Arc<Torrent>,
    serve: &mut Vec<(BlockRequest, bool)>,
    counters: &PeerCounters,
    fast: bool,
    chunks: &mut Vec<Bytes>,
) -> Result<(), ()> {
    let choking = counters.am_choking.load(Ordering::Relaxed);
    let (reqs, void): (Vec<_>, Vec<_>) = std::mem::take(serve)
        .into_iter()
        .partition(|(_, allowed_fast)| !choking || *allowed_fast);
    let mut reqs: Vec<BlockRequest> = reqs.into_iter().map(|(r, _)| r).collect();
    drop_cancelled(&mut reqs, counters, fast, chunks);
    if !void.is_empty() {
        let mut requests = counters.requests.lock().unwrap_or_else(|e| e.into_inner());
        for (r, _) in &void {
            requests.served(r);
        }
    }
    if fast && !void.is_empty() {
        // Choked meanwhile: those requests are void; with the fast extension say so.
        let mut out = BytesMut::new();
        for (r, _) in void {
            Message::Reject(r).encode(&mut out);
        }
        chunks.push(out.freeze());
    }
    if reqs.is_empty() {
        return Ok(());
    }
    let store = {
        let st = torrent.lock();
        match st.active.as_ref() {
            Some(a) => a.store.clone(),
            None => return Ok(()),
        }
    };
    let total: u64 = reqs.iter().map(|r| u64::from(r.length)).sum();
    acquire(&[&torrent.up_limit, &torrent.session.up_limit], total).await;
    // Waiting for upload tokens can take a while: cancels that came meanwhile count too.
    drop_cancelled(&mut reqs, counters, fast, chunks);
    let total: u64 = reqs.iter().map(|r| u64::from(r.length)).sum();
    if reqs.is_empty() {
        return Ok(());
    }
    let read = move || {
        let mut out = BytesMut::with_capacity(reqs.len() * (BLOCK_LEN as usize + 13));
        for r in &reqs {
            let mut header = BytesMut::with_capacity(13);
            Message::encode_piece_header(r.index, r.begin, r.length as usize, &mut header);
            out.extend_from_slice(&header);
            let start = out.len();
            out.resize(start + r.length as usize, 0);
            store.read_into(r.index, r.begin, &mut out[start..])?;
        }
        Ok::<_, crate::Error>((out, reqs))
    };
    // Reads mostly hit the page cache: on a multi-thread runtime, read in place (the
    // runtime moves other tasks away) rather than pay two thread hand-offs per batch.
    let result = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => Ok(tokio::task::block_in_place(read)),
        _ => tokio::task::spawn_blocking(read).await,
    };
    match result {
        Ok(Ok((data, reqs))) => {
            let mut requests = counters.requests.lock().unwrap_or_else(|e| e.into_inner());
            for r in &reqs {
                requests.served(r);
            }
            drop(requests);
            counters.uploaded.fetch_add(total, Ordering::Relaxed);
            torrent.lock().uploaded += total;
            chunks.push(data.freeze());
            Ok(())
        }
        Ok(Err(e)) => {
            torrent.emit(crate::types::Event::Error {
                message: format!("could not read data to upload: {e}"),
            });
            Err(())
        }
        Err(_) => Err(()),
    }
}

/// Takes out of `reqs` the requests the peer cancelled; with the fast extension each gets
/// a `reject`, as BEP 6 asks.
fn drop_cancelled(
    reqs: &mut Vec<BlockRequest>,
    counters: &PeerCounters,
    fast: bool,
    chunks: &mut Vec<Bytes>,
) {
    let mut requests = counters.requests.lock().unwrap_or_else(|e| e.into_inner());
    let mut rejects = BytesMut::new();
    reqs.retain(|r| {
        let dropped = requests.leave(r, true);
        if dropped && fast {
            Message::Reject(*r).encode(&mut rejects);
        }
        !dropped
    });
    if !rejects.is_empty() {
        chunks.push(rejects.freeze());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(index: u32) -> BlockRequest {
        BlockRequest {
            index,
            begin: 0,
            length: BLOCK_LEN,
        }
    }

    /// What `serve_blocks` serves of `reqs` (after cancels), and the rejects it sends.
    fn serve(counters: &PeerCounters, reqs: &[BlockRequest]) -> (Vec<u32>, usize) {
        let mut reqs = reqs.to_vec();
        let mut chunks = Vec::new();
        drop_cancelled(&mut reqs, counters, true, &mut chunks);
        let mut requests = counters.requests.lock().unwrap();
        for r in &reqs {
            requests.served(r);
        }
        let rejects = chunks.iter().map(|c| c.len()).sum::<usize>() / 17;
        (reqs.iter().map(|r| r.index).collect(), rejects)
    }

    fn queue(counters: &PeerCounters, r: BlockRequest) -> bool {
        counters.requests.lock().unwrap().queue(r)
    }

    fn cancel(counters: &PeerCounters, r: BlockRequest) {
        counters.requests.lock().unwrap().cancel(&r);
    }

    #[test]
    fn a_cancel_drops_the_waiting_request_with_a_reject() {
        let c = PeerCounters::default();
        assert!(queue(&c, req(1)));
        assert!(queue(&c, req(2)));
        cancel(&c, req(1));
        assert_eq!(serve(&c, &[req(1), req(2)]), (vec![2], 1));
        assert_eq!(c.requests.lock().unwrap().total, 0);
    }

    #[test]
    fn a_cancel_that_crossed_its_block_does_not_refuse_the_block_asked_again() {
        let c = PeerCounters::default();
        assert!(queue(&c, req(7)));
        assert_eq!(serve(&c, &[req(7)]), (vec![7], 0));
        // The cancel comes after the block went out, then the peer asks again.
        cancel(&c, req(7));
        assert!(queue(&c, req(7)));
        assert_eq!(serve(&c, &[req(7)]), (vec![7], 0));
    }

    #[test]
    fn each_cancel_drops_one_of_the_requests_for_a_block() {
        let c = PeerCounters::default();
        assert!(queue(&c, req(3)));
        assert!(queue(&c, req(3)));
        cancel(&c, req(3));
        assert_eq!(serve(&c, &[req(3), req(3)]), (vec![3], 1));

        assert!(queue(&c, req(4)));
        assert!(queue(&c, req(4)));
        cancel(&c, req(4));
        cancel(&c, req(4));
        // A third cancel has no request left to count against.
        cancel(&c, req(4));
        assert_eq!(serve(&c, &[req(4), req(4)]), (vec![], 2));
        assert!(c.requests.lock().unwrap().waiting.is_empty());
    }

    #[test]
    fn cancels_of_what_was_never_asked_are_not_kept() {
        let c = PeerCounters::default();
        for i in 0..10_000 {
            cancel(&c, req(i));
        }
        assert!(c.requests.lock().unwrap().waiting.is_empty());
    }

    #[test]
    fn a_full_queue_refuses_requests_until_some_are_served() {
        let c = PeerCounters::default();
        let all: Vec<BlockRequest> = (0..MAX_QUEUED_REQUESTS as u32).map(req).collect();
        for r in &all {
            assert!(queue(&c, *r));
        }
        assert!(!queue(&c, req(u32::MAX)));
        serve(&c, &all[..1]);
        assert!(queue(&c, req(u32::MAX)));
    }
}
