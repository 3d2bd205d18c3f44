//! Types shared by the HTTP and UDP protocols.

/// What an announce tells the tracker about the client's state (absent: a regular update).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// The first announce of a download.
    Started,
    /// The download completed (sent once, not when starting as a seeder).
    Completed,
    /// The client is leaving the swarm.
    Stopped,
}

impl Event {
    /// The HTTP query value (`started`, `completed`, `stopped`).
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Started => "started",
            Event::Completed => "completed",
            Event::Stopped => "stopped",
        }
    }

    /// The BEP 15 event code of an optional event (0 none, 1 completed, 2 started, 3 stopped).
    pub(crate) fn to_udp(event: Option<Event>) -> u32 {
        match event {
            None => 0,
            Some(Event::Completed) => 1,
            Some(Event::Started) => 2,
            Some(Event::Stopped) => 3,
        }
    }

    /// The event of a BEP 15 event code; `None` for codes above 3.
    pub(crate) fn from_udp(code: u32) -> Option<Option<Event>> {
        match code {
            0 => Some(None),
            1 => Some(Some(Event::Completed)),
            2 => Some(Some(Event::Started)),
            3 => Some(Some(Event::Stopped)),
            _ => None,
        }
    }
}

/// The counts a tracker reports for one torrent in a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SwarmStats {
    /// Peers with the whole torrent (`complete`, UDP `seeders`).
    pub seeders: u32,
    /// Times the torrent was downloaded to completion (`downloaded`, UDP `completed`).
    pub completed: u32,
    /// Peers still downloading (`incomplete`, UDP `leechers`).
    pub leechers: u32,
}
