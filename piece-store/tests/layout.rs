//! Layout: pieces and ranges to file spans, v1 and v2.

use proptest::prelude::*;
use shoal_piece_store::{Error, FileEntry, Layout, Span};

fn span(file_index: usize, file_offset: u64, len: u64, buf_offset: u64, pad: bool) -> Span {
    Span {
        file_index,
        file_offset,
        len,
        buf_offset,
        pad,
    }
}

#[test]
fn v1_pieces_cross_files_pad_and_empty() {
    let l = Layout::new(
        vec![
            FileEntry::new("a", 10),
            FileEntry::new("empty", 0),
            FileEntry::pad(6),
            FileEntry::new("b/c", 20),
        ],
        16,
    )
    .unwrap();
    assert_eq!(l.num_pieces(), 3);
    assert_eq!(l.total_length(), 36);
    assert_eq!(
        (0..3).map(|p| l.piece_size(p).unwrap()).collect::<Vec<_>>(),
        vec![16, 16, 4]
    );
    let s: Vec<_> = l.piece_spans(0).unwrap().collect();
    assert_eq!(s, vec![span(0, 0, 10, 0, false), span(2, 0, 6, 10, true)]);
    let s: Vec<_> = l.spans(1, 2, 14).unwrap().collect();
    assert_eq!(s, vec![span(3, 2, 14, 0, false)]);
    let s: Vec<_> = l.spans_for_range(8, 20).unwrap().collect();
    assert_eq!(
        s,
        vec![
            span(0, 8, 2, 0, false),
            span(2, 0, 6, 2, true),
            span(3, 0, 12, 8, false)
        ]
    );
    assert_eq!(l.files_of_piece(0).unwrap(), 0..3);
    assert_eq!(l.pieces_of_file(3).unwrap(), 1..3);
    assert_eq!(l.pieces_of_file(1).unwrap(), 0..0);
    assert_eq!(
        l.v2_piece(1).unwrap(),
        Some((3, 0)),
        "b/c starts on a piece boundary"
    );
    assert_eq!(l.v2_piece(0).unwrap(), Some((0, 0)));
}

#[test]
fn v2_files_start_on_piece_boundaries() {
    let k = 16 * 1024;
    let l = Layout::new_v2(
        vec![
            FileEntry::new("x", k + 5),
            FileEntry::new("empty", 0),
            FileEntry::new("y", 3),
            FileEntry::new("z", 2 * k),
        ],
        k,
    )
    .unwrap();
    assert_eq!(l.num_pieces(), 5);
    assert_eq!(l.file_start(2).unwrap(), 2 * k);
    assert_eq!(l.file_start(3).unwrap(), 3 * k);
    let sizes: Vec<_> = (0..5).map(|p| l.piece_size(p).unwrap()).collect();
    assert_eq!(sizes, vec![k as u32, 5, 3, k as u32, k as u32]);
    assert_eq!(l.v2_piece(4).unwrap(), Some((3, 1)));
    assert_eq!(l.v2_piece(1).unwrap(), Some((0, 1)));
    // A piece never crosses into the next file.
    assert!(l.spans(1, 0, 6).is_err());
    // Absolute ranges over the gap skip it (buf_offset jumps).
    let s: Vec<_> = l.spans_for_range(k + 4, k).unwrap().collect();
    assert_eq!(
        s,
        vec![span(0, k + 4, 1, 0, false), span(2, 0, 3, k - 4, false)]
    );
    assert!(Layout::new_v2(vec![FileEntry::new("x", 1)], 1000).is_err());
}

#[test]
fn unsafe_or_conflicting_paths_are_refused() {
    for bad in ["../x", "/etc/passwd", "a/../../b", "./a", ""] {
        let err = Layout::new(vec![FileEntry::new(bad, 1)], 16).unwrap_err();
        assert!(matches!(err, Error::UnsafePath { .. }), "{bad}: {err}");
    }
    let err = Layout::new(vec![FileEntry::new("a", 1), FileEntry::new("a/b", 1)], 16).unwrap_err();
    assert!(
        err.to_string().contains("both a file and the folder"),
        "{err}"
    );
    let err = Layout::new(vec![FileEntry::new("a", 1), FileEntry::new("a", 1)], 16).unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");
    assert!(Layout::new(vec![FileEntry::new("a", 1)], 0).is_err());
    assert!(
        Layout::new(
            vec![FileEntry::new("a", u64::MAX), FileEntry::new("b", 2)],
            16
        )
        .is_err()
    );
    assert!(
        Layout::new(vec![FileEntry::new("a", u64::MAX / 2)], 1).is_err(),
        "too many pieces"
    );
}

#[test]
fn out_of_range_requests_are_errors() {
    let l = Layout::new(vec![FileEntry::new("a", 10)], 4).unwrap();
    assert!(matches!(
        l.spans(3, 0, 1),
        Err(Error::PieceOutOfRange {
            piece: 3,
            num_pieces: 3
        })
    ));
    assert!(l.spans(2, 1, 2).is_err());
    assert!(l.spans_for_range(9, 2).is_err());
    assert!(l.spans_for_range(u64::MAX, 2).is_err());
    assert_eq!(l.spans(2, 2, 0).unwrap().count(), 0);
}

proptest! {
    /// Spans of any range cover it exactly once, in order, each inside its file.
    #[test]
    fn spans_tile_any_range(
        lens in prop::collection::vec(0u64..100, 1..10),
        pl in 1u64..70,
        a in 0u64..1000,
        b in 0u64..1000,
    ) {
        let files = lens.iter().enumerate().map(|(i, &n)| FileEntry::new(format!("f{i}"), n)).collect();
        let l = Layout::new(files, pl).unwrap();
        let total = l.total_length();
        let (start, end) = (a.min(b) % (total + 1), a.max(b) % (total + 1));
        let (start, end) = (start.min(end), start.max(end));
        let spans: Vec<_> = l.spans_for_range(start, end - start).unwrap().collect();
        let mut pos = 0;
        for s in &spans {
            prop_assert_eq!(s.buf_offset, pos);
            prop_assert!(s.len > 0);
            prop_assert!(s.file_offset + s.len <= lens[s.file_index]);
            prop_assert_eq!(l.file_start(s.file_index).unwrap() + s.file_offset, start + pos);
            pos += s.len;
        }
        prop_assert_eq!(pos, end - start);
        // Piece sizes add up to the total.
        let sum: u64 = (0..l.num_pieces()).map(|p| u64::from(l.piece_size(p).unwrap())).sum();
        prop_assert_eq!(sum, total);
    }
}
