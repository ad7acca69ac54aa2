package logship

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"syscall"
)

// FingerprintSize is how many leading bytes of a file make its
// fingerprint. A file shorter than that when first read is fingerprinted
// on what it has, and keeps that fingerprint for good.
const FingerprintSize = 1024

// fileID is where a file lives: its device and inode.
type fileID struct {
	Dev, Ino uint64
}

// fileIDOf returns the device and inode of fi.
func fileIDOf(fi os.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)} //nolint:unconvert // Dev is int32 on some systems
}

// fingerprint identifies one generation of a file's content: a hash of
// its first Len bytes. A truncated and rewritten file, or a reused inode,
// has another; a copy (copytruncate's) has the same.
type fingerprint struct {
	Sum uint64 `json:"sum"`
	Len int    `json:"len"`
}

// key is the fingerprint as a checkpoint key.
func (fp fingerprint) key() string {
	return fmt.Sprintf("%016x-%d", fp.Sum, fp.Len)
}

// readFingerprint hashes the first n bytes of f (fewer when f is
// shorter; Len tells how many).
func readFingerprint(f *os.File, n int, buf []byte) (fingerprint, error) {
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	got, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fingerprint{}, fmt.Errorf("reading fingerprint of %s: %w", f.Name(), err)
	}
	h := fnv.New64a()
	h.Write(buf[:got])
	return fingerprint{Sum: h.Sum64(), Len: got}, nil
}

// eventID is the deterministic id of the bytes at off in the generation
// fp: the hex of a hash of both, so that a line sent again after a
// restart, or read from a copy of its file, carries the same id.
func eventID(fp fingerprint, off int64) string {
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], fp.Sum)
	binary.LittleEndian.PutUint64(b[8:], uint64(fp.Len))
	binary.LittleEndian.PutUint64(b[16:], uint64(off))
	h := fnv.New128a()
	h.Write(b[:])
	var sum [16]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}
