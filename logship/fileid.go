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
// fp: 128 bits of a hash of both, in hex, so that a line sent again after
// a restart, or read from a copy of its file, carries the same id.
func eventID(fp fingerprint, off int64) string {
	lo := mix64(fp.Sum ^ mix64(uint64(off)+0x9e3779b97f4a7c15))
	hi := mix64(lo ^ uint64(fp.Len) ^ 0xc2b2ae3d27d4eb4f)
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	var out [32]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// mix64 is the splitmix64 finalizer: a fast, well-mixed 64-bit bijection.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
