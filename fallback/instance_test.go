package fallback

import (
	"net"
	"testing"
)

// TestNewInstanceFailsUnbound: an instance whose admin address is in use
// fails to start and leaves the fallback's address unbound.
func TestNewInstanceFailsUnbound(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	m := testManifest(addr, "http://127.0.0.1:1")
	m.Global.Admin.Listen = busy.Addr().String()
	if _, err := NewInstance(InstanceOptions{Manifest: m, App: "shop", ID: "fb1"}); err == nil {
		t.Fatal("NewInstance() succeeded with its admin address in use")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the fallback's address is still bound after NewInstance failed: %v", err)
	}
	ln.Close()
}
