"""The peer for benches/parse.rs: how long libtorrent 2.0 takes to load the same 20,000-piece,
5,000-file .torrent (built the same way, 675,110 bytes). Run with Debian's /usr/bin/python3.
"""
import libtorrent as lt, time, hashlib
FILES, PIECES, PL = 5000, 20000, 16384
per = PIECES * PL // FILES
files = [{b'length': per, b'path': [b'dir%02d' % (i // 500), b'sub%d' % (i // 50 % 10), b'file-%05d.bin' % i]} for i in range(FILES)]
pieces = bytes((i * 7 % 251) for i in range(PIECES * 20))
t = {b'announce': b'http://127.0.0.1:6969/announce', b'info': {b'files': files, b'name': b'big', b'piece length': PL, b'pieces': pieces}}
data = lt.bencode(t)
print(len(data), "bytes")
for _ in range(3):
    n = 50
    s = time.perf_counter()
    for _ in range(n):
        ti = lt.torrent_info(data)
    print("libtorrent torrent_info: %.2f ms" % ((time.perf_counter() - s) / n * 1000))
