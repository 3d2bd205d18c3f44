//! HTML pages and the RSS 2.0 feed, written by hand (they are small and fixed).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::published::PublishedTorrent;
use crate::stats::StatsSnapshot;

/// Escapes text for HTML and XML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 forbids most control characters even when escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value (unreserved characters stay).
pub(crate) fn url_encode(s: &str) -> String {
    metainfo::percent_encode(s.as_bytes())
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A time as RFC 822/2822 text in GMT, as RSS 2.0 `pubDate` wants:
/// `Sat, 21 Nov 2026 10:27:56 GMT`.
pub(crate) fn rfc2822(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A size in bytes for people: `1.5 MiB`.
pub(crate) fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// What the pages need to know about the tracker.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// `http://host:port` as the client reached us (no trailing slash).
    pub(crate) base: String,
    pub(crate) announce_http: Option<String>,
    pub(crate) announce_udp: Option<String>,
    pub(crate) uploads: bool,
}

impl Site {
    fn trackers(&self) -> impl Iterator<Item = &String> {
        self.announce_http.iter().chain(self.announce_udp.iter())
    }

    fn magnet(&self, t: &PublishedTorrent) -> String {
        let mut m = format!("magnet:?xt=urn:btih:{}", metainfo::to_hex(&t.wire_hash()));
        if let Some(v2) = t.info_hash_v2 {
            let _ = write!(m, "&xt=urn:btmh:1220{}", metainfo::to_hex(&v2));
        }
        let _ = write!(m, "&dn={}", url_encode(&t.name));
        for tr in self.trackers() {
            let _ = write!(m, "&tr={}", url_encode(tr));
        }
        m
    }

    fn torrent_url(&self, t: &PublishedTorrent) -> String {
        format!("{}/torrents/{}", self.base, url_encode(&t.file_name))
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}\
td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}code{font-size:.9em}";

/// The front page: announce URLs and the list of published torrents.
pub(crate) fn index_html(site: &Site, torrents: Option<&[PublishedTorrent]>) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>shoal tracker</title>\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"Published torrents\" href=\"/feed.xml\">\
         <style>{STYLE}</style></head><body>\n<h1>shoal tracker</h1>\n<p>Announce URLs:</p><ul>"
    );
    for tr in site.trackers() {
        let _ = write!(h, "<li><code>{}</code></li>", escape(tr));
    }
    h.push_str("</ul>\n<p><a href=\"/stats\">Statistics</a>");
    match torrents {
        None => h.push_str("</p>\n<p>No torrents are published here.</p>\n"),
        Some(list) => {
            h.push_str(" · <a href=\"/feed.xml\">RSS feed</a></p>\n<h2>Published torrents</h2>\n");
            if list.is_empty() {
                h.push_str("<p>None yet.</p>\n");
            } else {
                h.push_str("<table><tr><th>Name</th><th>Size</th><th>Published</th><th>Info-hash</th><th></th></tr>\n");
                for t in list {
                    let _ = writeln!(
                        h,
                        "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td><code>{}</code></td>\
                         <td><a href=\"{}\">magnet</a></td></tr>",
                        escape(&t.torrent_url_path()),
                        escape(&t.name),
                        human_size(t.total_size),
                        rfc2822(t.modified),
                        metainfo::to_hex(&t.wire_hash()),
                        escape(&site.magnet(t)),
                    );
                }
                h.push_str("</table>\n");
            }
            if site.uploads {
                h.push_str(
                    "<p>Publishers upload with <code>curl -H 'Authorization: Bearer TOKEN' \
                     --data-binary @file.torrent URL/upload</code>.</p>\n",
                );
            }
        }
    }
    h.push_str("</body></html>\n");
    h
}

impl PublishedTorrent {
    /// The path of the .torrent on this server.
    pub(crate) fn torrent_url_path(&self) -> String {
        format!("/torrents/{}", url_encode(&self.file_name))
    }
}

/// The RSS 2.0 feed of published torrents, newest first (the list is already sorted).
pub(crate) fn feed_xml(site: &Site, torrents: &[PublishedTorrent]) -> String {
    let mut x = String::new();
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n\
         <title>shoal tracker: published torrents</title>\n<link>{}/</link>\n\
         <description>Torrents published on this tracker, newest first.</description>\n",
        escape(&site.base)
    );
    if let Some(newest) = torrents.first() {
        let _ = writeln!(
            x,
            "<lastBuildDate>{}</lastBuildDate>",
            rfc2822(newest.modified)
        );
    }
    for t in torrents {
        let url = site.torrent_url(t);
        let hash = metainfo::to_hex(&t.wire_hash());
        let _ = write!(
            x,
            "<item>\n<title>{}</title>\n<link>{}</link>\n<description>{} · info-hash {} · {}</description>\n\
             <guid isPermaLink=\"false\">urn:btih:{}</guid>\n<pubDate>{}</pubDate>\n\
             <enclosure url=\"{}\" length=\"{}\" type=\"application/x-bittorrent\"/>\n</item>\n",
            escape(&t.name),
            escape(&url),
            human_size(t.total_size),
            hash,
            escape(&site.magnet(t)),
            hash,
            rfc2822(t.modified),
            escape(&url),
            t.file_size,
        );
    }
    x.push_str("</channel>\n</rss>\n");
    x
}

/// The statistics page for people.
pub(crate) fn stats_html(s: &StatsSnapshot) -> String {
    let mut h = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"5\">\
         <title>shoal tracker statistics</title><style>{STYLE}</style></head><body>\n\
         <h1>Statistics</h1>\n<p><a href=\"/\">Home</a> · <a href=\"/stats.json\">JSON</a> · \
         <a href=\"/metrics\">Prometheus</a></p>\n<table>\n"
    );
    let rows: [(&str, String); 9] = [
        ("Uptime", format!("{} s", s.uptime_secs)),
        ("Swarms", s.swarms.to_string()),
        ("Peers", s.peers.to_string()),
        ("Seeders", s.seeders.to_string()),
        ("Leechers", s.leechers.to_string()),
        (
            "Announces per second",
            format!("{:.1}", s.announces_per_sec),
        ),
        ("Scrapes per second", format!("{:.1}", s.scrapes_per_sec)),
        ("Errors per second", format!("{:.1}", s.errors_per_sec)),
        ("Published torrents", s.published_torrents.to_string()),
    ];
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    h.push_str(
        "</table>\n<h2>Since start</h2>\n<table><tr><th></th><th>UDP</th><th>HTTP</th></tr>\n",
    );
    let totals: [(&str, u64, u64); 5] = [
        ("Connects", s.udp.connects, s.http.connects),
        ("Announces", s.udp.announces, s.http.announces),
        ("Scrapes", s.udp.scrapes, s.http.scrapes),
        ("Errors", s.udp.errors, s.http.errors),
        ("Ignored", s.udp.ignored, s.http.ignored),
    ];
    for (k, u, t) in totals {
        let _ = writeln!(h, "<tr><th>{k}</th><td>{u}</td><td>{t}</td></tr>");
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_rfc2822() {
        assert_eq!(rfc2822(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            rfc2822(UNIX_EPOCH + Duration::from_secs(1_795_256_876)),
            "Sat, 21 Nov 2026 10:27:56 GMT"
        );
        assert_eq!(
            rfc2822(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }

    #[test]
    fn escaping_and_sizes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(escape("a\u{1}b"), "a\u{fffd}b");
        assert_eq!(url_encode("a b/é"), "a%20b%2F%C3%A9");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
    }
}
