//go:build linux

package evloop

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket,
// made without telling the Go scheduler (syscall.RawSyscall). A loop's socket
// never blocks, so the P need not be handed off while the kernel works:
// through unix.Read and unix.Write every call went through entersyscall and
// exitsyscall, sysmon retook the loop's P from calls that ran past 20 µs
// (loopback writes do: the kernel runs the receiver's TCP stack in the
// call), and the P's hand-off and return cost futex calls and wake-ups on
// every few requests (strace -c of a saturated loop: 0.2 futex and 1.3
// nanosleep calls per request, none with raw calls). Blocking calls
// (epoll_wait) still go through the scheduler.
func rawRead(fd int, p []byte) (int, error) {
	ptr := bufPtr(p)
	n, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, unix.Errno(e)
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	ptr := bufPtr(p)
	n, _, e := syscall.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, unix.Errno(e)
	}
	return int(n), nil
}

var zeroByte byte

// bufPtr is the address of p's first byte, or of a byte of its own for an
// empty p, as the syscall package does.
func bufPtr(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return unsafe.Pointer(&zeroByte)
	}
	return unsafe.Pointer(&p[0])
}
