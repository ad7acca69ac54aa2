package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// writePlanManifest writes a manifest of "shop", with the plan
// [5, 50, 100], and "blog", without one.
func writePlanManifest(t *testing.T, listen, adminAddr, oldURL, newURL string) string {
	t.Helper()
	data := fmt.Sprintf(`defaults:
  listen: %s
  admin: {listen: %s}
apps:
  shop:
    hosts: [shop.test]
    old: {backends: [%s]}
    new: {backends: [%s]}
    shadow: {sample: 0%%}
    cutover: {plan: [5, 50, 100], step_min: 10m}
  blog:
    hosts: [blog.test]
    old: {backends: [%s]}
    new: {backends: [%s]}
    shadow: {sample: 0%%}
`, listen, adminAddr, oldURL, newURL, oldURL, newURL)
	return writeConfig(t, t.TempDir(), data)
}

func TestCutoverPlanUsage(t *testing.T) {
	cfg := writePlanManifest(t, freeAddr(t), freeAddr(t), "http://127.0.0.1:1", "http://127.0.0.1:2")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "plan and weight", args: []string{"--config", cfg, "cutover", "shop", "--plan", "--weight", "5"}, want: "not several"},
		{name: "promote and plan", args: []string{"--config", cfg, "cutover", "shop", "--plan", "--promote"}, want: "not several"},
		{name: "full alone", args: []string{"--config", cfg, "cutover", "shop", "--weight", "5", "--full"}, want: "--full goes with --promote"},
		{name: "app without a plan", args: []string{"--config", cfg, "cutover", "blog", "--plan"}, want: "blog has no cutover.plan"},
		{name: "promote an app without a plan", args: []string{"--config", cfg, "cutover", "blog", "--promote"}, want: "blog has no cutover.plan"},
		{name: "neither", args: []string{"--config", cfg, "cutover", "shop"}, want: "--weight N (0-100), --plan or --promote"},
		{name: "from-step alone", args: []string{"--config", cfg, "cutover", "shop", "--weight", "5", "--from-step", "2"}, want: "--from-step goes with --plan"},
		{name: "from-step 0", args: []string{"--config", cfg, "cutover", "shop", "--plan", "--from-step", "0"}, want: "steps count from 1"},
		{name: "from-step past the plan", args: []string{"--config", cfg, "cutover", "shop", "--plan", "--from-step", "4"}, want: "has 3 steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tt.args...)
			if code != exitUsage || !strings.Contains(errs, tt.want) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errs, exitUsage, tt.want)
			}
		})
	}
}

// TestCutoverPlan starts a plan on a running migrate serve and sees it in
// migrate status.
func TestCutoverPlan(t *testing.T) {
	oldSrv, newSrv := textServer(t, "old"), textServer(t, "new")
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writePlanManifest(t, listen, adminAddr, oldSrv.URL, newSrv.URL)
	t.Setenv("MIGRATE_ADMIN_TOKEN", "s3cret")
	stop := startServe(t, cfg, t.TempDir(), adminAddr)
	defer stop()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "start", args: []string{"--config", cfg, "cutover", "shop", "--plan"}, want: "shop: plan holding at step 1/3, weight 5% on new; each step needs 10m0s of pass"},
		{name: "status", args: []string{"--config", cfg, "status", "shop"}, want: "plan step 1/3 (5%)  holding"},
		{name: "again", args: []string{"--config", cfg, "cutover", "shop", "--plan"}, want: "shop: plan holding at step 1/3"},
		{name: "promote", args: []string{"--config", cfg, "cutover", "shop", "--promote"}, want: "shop: plan holding at step 2/3, weight 50% on new"},
		{name: "status promoted", args: []string{"--config", cfg, "status", "shop"}, want: "plan step 2/3 (50%)  holding"},
		{name: "promote full", args: []string{"--config", cfg, "cutover", "shop", "--promote", "--full"}, want: "shop: plan done at step 3/3, weight 100% on new"},
		{name: "rollback at the last step", args: []string{"--config", cfg, "rollback", "shop"}, want: "shop: rolled back, weight 0% on new (phase rolled_back)"},
		{name: "resumed at the first step", args: []string{"--config", cfg, "cutover", "shop", "--plan"}, want: "shop: plan holding at step 1/3, weight 5% on new"},
		{name: "rolled back again", args: []string{"--config", cfg, "rollback", "shop"}, want: "weight 0% on new"},
		{name: "resumed at the step given", args: []string{"--config", cfg, "cutover", "shop", "--plan", "--from-step", "2"}, want: "shop: plan holding at step 2/3, weight 50% on new"},
		{name: "by hand", args: []string{"--config", cfg, "cutover", "shop", "--weight", "20"}, want: "shop: weight 20% on new"},
		{name: "status after", args: []string{"--config", cfg, "status", "shop"}, want: "plan of 3 steps  not running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tt.args...)
			if code != exitOK || !strings.Contains(out, tt.want) {
				t.Errorf("code %d, stdout %q, stderr %q; want %d and %q", code, out, errs, exitOK, tt.want)
			}
		})
	}
	// The weight set by hand ended the plan: there is nothing to promote.
	code, _, errs := runCLI(t, "--config", cfg, "cutover", "shop", "--promote")
	if want := "the plan is not running"; code != exitRuntime || !strings.Contains(errs, want) {
		t.Errorf("promoting an ended plan: code %d, stderr %q; want %d and %q", code, errs, exitRuntime, want)
	}
}

// TestUnauthorizedNamesTheVariable: a write refused with 401 says which
// environment variable the token was read from, whether it was empty or
// held a wrong token, as does the same for --admin (the default name).
func TestUnauthorizedNamesTheVariable(t *testing.T) {
	oldSrv, newSrv := textServer(t, "old"), textServer(t, "new")
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeManifest(t, listen, adminAddr, oldSrv.URL, newSrv.URL)
	p := startBinaryEnv(t, []string{"MIGRATE_ADMIN_TOKEN=s3cret"}, "--config", cfg, "--data-dir", t.TempDir(), "serve")
	p.waitFor(t, "healthy", func() bool { return answers("http://" + adminAddr + "/healthz") })

	t.Setenv("MIGRATE_ADMIN_TOKEN", "")
	for _, args := range [][]string{
		{"--config", cfg, "cutover", "shop", "--weight", "5"},
		{"cutover", "shop", "--weight", "5", "--admin", adminAddr},
		{"--config", cfg, "rollback", "shop"},
	} {
		code, _, errs := runCLI(t, args...)
		if want := "the admin token is read from $MIGRATE_ADMIN_TOKEN, which is empty here: export MIGRATE_ADMIN_TOKEN="; code != exitRuntime || !strings.Contains(errs, "401") || !strings.Contains(errs, want) {
			t.Errorf("%v with no token: code %d, stderr %q; want %d and %q", args, code, errs, exitRuntime, want)
		}
	}
	t.Setenv("MIGRATE_ADMIN_TOKEN", "wrong")
	code, _, errs := runCLI(t, "--config", cfg, "cutover", "shop", "--weight", "5")
	if want := "the admin token in $MIGRATE_ADMIN_TOKEN was refused"; code != exitRuntime || !strings.Contains(errs, want) {
		t.Errorf("cutover with a wrong token: code %d, stderr %q; want %q", code, errs, want)
	}
	t.Setenv("MIGRATE_ADMIN_TOKEN", "s3cret")
	if code, _, errs := runCLI(t, "--config", cfg, "cutover", "shop", "--weight", "5"); code != exitOK {
		t.Errorf("cutover with the token: code %d, stderr %q", code, errs)
	}
}

// TestBearerClient: the client dnscheck watch reads a fallback's admin API
// with sends the token of admin.token_env, and a 401 names the variable.
func TestBearerClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "needs the admin token", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	t.Setenv("SHOP_TOKEN", "")
	_, err := bearerClient("SHOP_TOKEN").Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "the admin token is read from $SHOP_TOKEN, which is empty here") {
		t.Errorf("without the token: %v, want an error naming SHOP_TOKEN", err)
	}
	t.Setenv("SHOP_TOKEN", "s3cret")
	resp, err := bearerClient("SHOP_TOKEN").Get(srv.URL)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("with the token: %v %v", resp, err)
	}
	resp.Body.Close()
}
