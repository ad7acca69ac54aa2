package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// read lets loopback clients through and asks the others for the token.
func (s *Server) read(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isLoopback(r.RemoteAddr) && !s.authorized(r) {
			unauthorized(w, "reading from a non-loopback address needs the admin token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// write asks every client for the token.
func (s *Server) write(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token == "" {
			unauthorized(w, s.noTokenMsg())
			return
		}
		if !s.authorized(r) {
			unauthorized(w, "this request needs the admin token (Authorization: Bearer <token>)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// noTokenMsg is the 401 of a write when no token is configured: it names
// the variable to set when the server knows it.
func (s *Server) noTokenMsg() string {
	if s.opts.TokenEnv == "" {
		return "writes are disabled: no admin token is configured (set admin.token_env's variable)"
	}
	return fmt.Sprintf("writes are disabled: no admin token is configured (start this process with %s set: admin.token_env names it)", s.opts.TokenEnv)
}

// authorized compares the bearer token in constant time. Both sides are
// hashed first so that the comparison does not leak the token's length.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return false
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	want := sha256.Sum256([]byte(s.opts.Token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="migrate"`)
	writeError(w, http.StatusUnauthorized, msg)
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
