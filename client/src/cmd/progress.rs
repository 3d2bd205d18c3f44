//! Progress display shared by `download`, `seed` and `demo`: an indicatif bar for people,
//! JSON lines for machines.

use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use shoal::{Event, Stats};

/// Parses a rate such as `500k`, `10M`, `2MiB`, `1000` (bytes per second).
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a rate (try 500k or 10M)"))?;
    let mult = match unit.trim().to_ascii_lowercase().trim_end_matches("/s") {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{s:?} has an unknown unit (use k, M or G)")),
    };
    let v = n * mult;
    if v.is_nan() || !(1.0..=1e15).contains(&v) {
        return Err(format!("{s:?} is not a usable rate"));
    }
    Ok(v as u64)
}

/// Progress output.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    json: bool,
    quiet: bool,
}

impl Progress {
    /// A bar (unless `json` or `quiet`).
    pub fn new(json: bool, quiet: bool) -> Self {
        let bar = (!json && !quiet).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, json, quiet }
    }

    /// Shows the latest stats.
    pub fn update(&mut self, s: &Stats) {
        if let Some(bar) = &self.bar {
            bar.set_length(s.total_len);
            bar.set_position(s.have_len);
            bar.set_prefix(s.name.clone().unwrap_or_else(|| "fetching metadata".into()));
            let eta = s
                .eta()
                .map_or("?".to_string(), |d| format!("{}s", d.as_secs()));
            bar.set_message(format!(
                "↓ {}/s ↑ {}/s peers {} eta {eta}",
                HumanBytes(s.down_rate),
                HumanBytes(s.up_rate),
                s.peers
            ));
        } else if self.json {
            println!("{}", stats_json(s));
        }
    }

    /// Reports an event (JSON mode prints every event; the bar shows only some).
    pub fn event(&mut self, e: &Event) {
        if self.json {
            println!("{}", event_json(e));
        }
    }

    /// Prints a line above the bar (or to stderr in JSON/quiet mode).
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if self.json => println!("{}", serde_json::json!({ "message": text })),
            None => {
                if !self.quiet {
                    eprintln!("{text}");
                }
            }
        }
    }

    /// Final state.
    pub fn finish(&mut self, s: &Stats) {
        self.update(s);
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}

fn stats_json(s: &Stats) -> serde_json::Value {
    serde_json::json!({
        "event": "progress",
        "info_hash": s.info_hash.to_string(),
        "name": s.name,
        "state": format!("{:?}", s.state),
        "total_len": s.total_len,
        "have_len": s.have_len,
        "pieces_have": s.pieces_have,
        "pieces_total": s.pieces_total,
        "peers": s.peers,
        "down_rate": s.down_rate,
        "up_rate": s.up_rate,
        "downloaded": s.downloaded,
        "uploaded": s.uploaded,
        "complete": s.complete,
    })
}

fn event_json(e: &Event) -> serde_json::Value {
    use serde_json::json;
    match e {
        Event::MetadataReceived {
            name,
            pieces,
            total_len,
        } => {
            json!({"event": "metadata_received", "name": name, "pieces": pieces, "total_len": total_len})
        }
        Event::PieceVerified { piece } => json!({"event": "piece_verified", "piece": piece}),
        Event::PieceFailed { piece } => json!({"event": "piece_failed", "piece": piece}),
        Event::PeerConnected { addr } => {
            json!({"event": "peer_connected", "addr": addr.to_string()})
        }
        Event::PeerDisconnected { addr, reason } => {
            json!({"event": "peer_disconnected", "addr": addr.to_string(), "reason": reason})
        }
        Event::PeerBanned { addr } => json!({"event": "peer_banned", "addr": addr.to_string()}),
        Event::TrackerReply { url, peers, error } => {
            json!({"event": "tracker_reply", "url": url, "peers": peers, "error": error})
        }
        Event::Completed => json!({"event": "completed"}),
        Event::Error { message } => json!({"event": "error", "message": message}),
        Event::Warning { message } => json!({"event": "warning", "message": message}),
        other => json!({"event": format!("{other:?}")}),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(parse_rate("1000"), Ok(1000));
        assert_eq!(parse_rate("500k"), Ok(500_000));
        assert_eq!(parse_rate("10M"), Ok(10_000_000));
        assert_eq!(parse_rate("2MiB"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_rate("1.5m"), Ok(1_500_000));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10X").is_err());
        assert!(parse_rate("0").is_err());
    }
}
