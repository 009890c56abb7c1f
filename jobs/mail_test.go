package jobs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports"
	"github.com/flowlake/flowlake/storage/meta"
)

// mustGate skips a test whose external dependency is missing, unless CI=true
// in which case the missing dependency fails it.
func mustGate(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// mailpit is a real SMTP server started for a test: STARTTLS required,
// authentication by a password file; API is its REST address.
type mailpit struct {
	smtpPort int
	api      string
	caFile   string
}

func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	bin, err := exec.LookPath("mailpit")
	if err != nil {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, "go", "bin", "mailpit")
		if _, err := os.Stat(bin); err != nil {
			mustGate(t, "mailpit not installed (go install github.com/axllent/mailpit@v1.33.1)")
		}
	}
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	auth := filepath.Join(dir, "auth")
	if err := os.WriteFile(auth, []byte("flowlake:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &mailpit{smtpPort: freePort(t), caFile: cert}
	httpPort := freePort(t)
	m.api = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--smtp", fmt.Sprintf("127.0.0.1:%d", m.smtpPort), "--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--database", filepath.Join(dir, "mailpit.db"), "--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls",
		"--smtp-auth-file", auth, "--disable-version-check", "--smtp-disable-rdns", "--quiet")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start mailpit: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	// Ready when its API answers; bounded, and stops at once if it died.
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(m.api + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("mailpit exited: %v: %s", err, stderr.String())
		case <-deadline:
			t.Fatalf("mailpit not ready within 20s: %s", stderr.String())
		case <-tick.C:
		}
	}
}

func (m *mailpit) get(t *testing.T, path string, v any) []byte {
	t.Helper()
	resp, err := http.Get(m.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v: %s", path, resp.StatusCode, err, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return b
}

func (m *mailpit) config() MailConfig {
	return MailConfig{Host: "127.0.0.1", Port: m.smtpPort, TLS: "starttls", CAFile: m.caFile, Username: "flowlake", Password: "s3cret",
		From: "Flowlake <reports@flowlake.example>", Timeout: 10 * time.Second}
}

// fireOnce moves the fake clock to the schedule's next fire (n timers
// armed first) and returns the outcome on rep.
func fireOnce(t *testing.T, env *reportEnv, rep *replica, timers int, at time.Time) RunOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := env.clock.BlockUntilContext(ctx, timers); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(at.Sub(env.clock.Now()))
	return rep.waitOutcome(t)
}

// TestReportMailedThroughMailpit: a scheduled run mails its CSV, attached,
// to the schedule's two recipients through a real SMTP server that
// requires STARTTLS and authentication; the message, its recipients and
// the attachment's bytes are read back from mailpit's API.
func TestReportMailedThroughMailpit(t *testing.T) {
	mp := startMailpit(t)
	smtp, err := NewSMTP(mp.config())
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	env := newReportEnv(t, time.Date(2026, 10, 25, 12, 0, 0, 0, berlin))
	setup := env.openStore(t)
	def := savedQuery(t, setup, "Bytes by protocol")
	schedule(t, setup, "daily", def.ID, "daily", "noc@example.com", "Chef <chef@example.com>")
	rep := env.startReplica(t, "a", testReportConfig(), nil, smtp)
	o := fireOnce(t, env, rep, 1, time.Date(2026, 10, 26, 0, 15, 0, 0, berlin))
	if o.Err != nil || !o.Claimed || o.Run.Status != meta.RunSucceeded {
		t.Fatalf("run %+v: %v", o.Run, o.Err)
	}
	if got := strings.Join(o.Run.MailedTo, ","); got != "noc@example.com,chef@example.com" {
		t.Fatalf("mailed to %q", got)
	}
	var list struct {
		Messages []struct {
			ID          string
			Subject     string
			To          []struct{ Address string }
			From        struct{ Address string }
			Attachments int
		} `json:"messages"`
	}
	mp.get(t, "/api/v1/messages", &list)
	if len(list.Messages) != 1 {
		t.Fatalf("%d messages in mailpit, want 1", len(list.Messages))
	}
	msg := list.Messages[0]
	var to []string
	for _, a := range msg.To {
		to = append(to, a.Address)
	}
	slices.Sort(to)
	if msg.Subject != "Flowlake report: Bytes by protocol 2026-10-25" || strings.Join(to, ",") != "chef@example.com,noc@example.com" ||
		msg.From.Address != "reports@flowlake.example" || msg.Attachments != 1 {
		t.Fatalf("message %+v", msg)
	}
	var full struct {
		Text        string
		Attachments []struct {
			PartID, FileName, ContentType string
			Size                          int
		}
	}
	mp.get(t, "/api/v1/message/"+msg.ID, &full)
	if len(full.Attachments) != 1 || full.Attachments[0].FileName != "Bytes by protocol 2026-10-25.csv" ||
		!strings.HasPrefix(full.Attachments[0].ContentType, "text/csv") {
		t.Fatalf("attachments %+v", full.Attachments)
	}
	if !strings.Contains(full.Text, "2026-10-25 00:00 CEST to 2026-10-26 00:00 CET (Europe/Berlin)") {
		t.Fatalf("text %q does not name the local period", full.Text)
	}
	got := mp.get(t, "/api/v1/message/"+msg.ID+"/part/"+full.Attachments[0].PartID, nil)
	_, want, err := env.archive.Read(t.Context(), o.Run.ArchiveKeys[0])
	if err != nil || string(got) != string(want) {
		t.Fatalf("attachment %q, archived %q (%v)", got, want, err)
	}
}

// refusingSMTP is a real SMTP listener that refuses every session with
// 554, as a server out of service does.
func refusingSMTP(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "554 5.3.2 flowlake-test: service refused\r\n")
			_ = c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// countingGen counts calls to a real generator.
type countingGen struct {
	Generator
	calls atomic.Int32
}

func (g *countingGen) Generate(ctx context.Context, def meta.ReportDefinition, p reports.Period, formats []string) (map[string][]byte, error) {
	g.calls.Add(1)
	return g.Generator.Generate(ctx, def, p, formats)
}

// TestReportMailRefused: an SMTP server that refuses makes the attempt
// fail; the run is recorded "retrying" with the error, tried again after
// the back-off without rendering again, and ends "failed" with the error
// after its last attempt. The archived report stays.
func TestReportMailRefused(t *testing.T) {
	port := refusingSMTP(t)
	smtp, err := NewSMTP(MailConfig{Host: "127.0.0.1", Port: port, TLS: "none", From: "reports@flowlake.example", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	env := newReportEnv(t, time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	setup := env.openStore(t)
	def := savedQuery(t, setup, "q")
	sc, err := setup.CreateReportSchedule(t.Context(), meta.ReportScheduleInput{Name: "daily", DefinitionID: def.ID, Period: "daily",
		Zone: "UTC", Recipients: []string{"noc@example.com"}, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	gen := &countingGen{Generator: Reporter{Engine: env.engine}}
	cfg := testReportConfig()
	cfg.RetryBackoff = 5 * time.Minute
	rep := env.startReplica(t, "a", cfg, gen, smtp)
	at := time.Date(2026, 11, 3, 0, 15, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := env.clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(at.Sub(env.clock.Now()))
	// The first attempt fails and waits for its back-off: the cron timer
	// and the back-off timer are armed.
	if err := env.clock.BlockUntilContext(ctx, 2); err != nil {
		t.Fatal(err)
	}
	runs, err := setup.ListReportRuns(t.Context(), sc.ID, 0)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %+v, %v", runs, err)
	}
	if r := runs[0]; r.Status != meta.RunRetrying || r.Attempt != 1 || !strings.Contains(r.Error, "554") || !r.FinishedAt.IsZero() {
		t.Fatalf("after the first attempt: %+v", r)
	}
	env.clock.Advance(cfg.RetryBackoff)
	o := rep.waitOutcome(t)
	if o.Err == nil || !strings.Contains(o.Err.Error(), "554") {
		t.Fatalf("outcome error %v, want the server's refusal", o.Err)
	}
	if r := o.Run; r.Status != meta.RunFailed || r.Attempt != 2 || !strings.Contains(r.Error, "service refused") ||
		!r.FinishedAt.Equal(at.Add(cfg.RetryBackoff)) || len(r.MailedTo) != 0 || len(r.ArchiveKeys) != 1 {
		t.Fatalf("failed run %+v", r)
	}
	if a, f := counter(t, rep.reg, "flowlake_reports_attempts_failed_total"), counter(t, rep.reg, "flowlake_reports_runs_failed_total"); a != 2 || f != 1 {
		t.Fatalf("metrics: %v failed attempts, %v failed runs; want 2 and 1", a, f)
	}
	if n := gen.calls.Load(); n != 1 {
		t.Fatalf("generator called %d times, want once (a retry only mails again)", n)
	}
}

// TestReportBadInput: a run whose report cannot be made fails with a clear
// error on its record and leaves nothing in the archive.
func TestReportBadInput(t *testing.T) {
	env := newReportEnv(t, time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	setup := env.openStore(t)
	def, err := setup.CreateReportDefinition(t.Context(), meta.ReportDefinitionInput{Name: "misspelt", Type: "link", Formats: []string{"html"},
		Params: json.RawMessage(`{"treshold": 0.9}`)})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := setup.CreateReportDefinition(t.Context(), meta.ReportDefinitionInput{Name: "bad", Type: "custom", Formats: []string{"csv"},
		Params: json.RawMessage(`{"query": {"query": {"dataset": "nope"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	link, err := setup.CreateReportDefinition(t.Context(), meta.ReportDefinitionInput{Name: "link", Type: "link", Formats: []string{"csv"}})
	if err != nil {
		t.Fatal(err)
	}
	one := 1
	for _, d := range []meta.ReportDefinition{def, bad, link} {
		if _, err := setup.CreateReportSchedule(t.Context(), meta.ReportScheduleInput{Name: d.Name, DefinitionID: d.ID, Period: "daily",
			Zone: "UTC", MaxAttempts: one}); err != nil {
			t.Fatal(err)
		}
	}
	rep := env.startReplica(t, "a", testReportConfig(), nil, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := env.clock.BlockUntilContext(ctx, 3); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(time.Date(2026, 11, 3, 0, 15, 0, 0, time.UTC).Sub(env.clock.Now()))
	want := map[string]string{def.ID: `params: json: unknown field "treshold"`, bad.ID: `"nope"`,
		link.ID: `csv is made for custom reports (a saved query), not for link reports`}
	for range 3 {
		o := rep.waitOutcome(t)
		w := want[o.Run.DefinitionID]
		if o.Run.Status != meta.RunFailed || !strings.Contains(o.Run.Error, w) || o.Err == nil {
			t.Fatalf("run %+v (err %v): want failed with %q", o.Run, o.Err, w)
		}
	}
	files, err := env.archive.List(t.Context(), "")
	if err != nil || len(files) != 0 {
		t.Fatalf("archive after failed runs: %+v, %v", files, err)
	}
}

// TestReportMailedLinks: a schedule with attach false mails links to the
// archive under reports.base_url, and no attachment; without a base URL
// the run fails saying so.
func TestReportMailedLinks(t *testing.T) {
	mp := startMailpit(t)
	smtp, err := NewSMTP(mp.config())
	if err != nil {
		t.Fatal(err)
	}
	env := newReportEnv(t, time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	setup := env.openStore(t)
	def := savedQuery(t, setup, "q")
	off := false
	for _, name := range []string{"links", "links again"} {
		if _, err := setup.CreateReportSchedule(t.Context(), meta.ReportScheduleInput{Name: name, DefinitionID: def.ID, Period: "daily",
			Zone: "UTC", Recipients: []string{"noc@example.com"}, Attach: &off, MaxAttempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testReportConfig()
	cfg.BaseURL = "https://flowlake.example.com/"
	withURL := env.startReplica(t, "with-url", cfg, nil, smtp)
	o := fireOnce(t, env, withURL, 2, time.Date(2026, 11, 3, 0, 15, 0, 0, time.UTC))
	o2 := withURL.waitOutcome(t)
	if o.Err != nil || o2.Err != nil {
		t.Fatalf("runs: %v / %v", o.Err, o2.Err)
	}
	var list struct {
		Messages []struct {
			ID          string
			Attachments int
		} `json:"messages"`
	}
	mp.get(t, "/api/v1/messages", &list)
	if len(list.Messages) != 2 || list.Messages[0].Attachments != 0 {
		t.Fatalf("messages %+v", list.Messages)
	}
	var full struct{ Text string }
	mp.get(t, "/api/v1/message/"+list.Messages[0].ID, &full)
	link := "https://flowlake.example.com" + ArchiveDownloadPath + def.ID + "/daily/2026-11-02.csv"
	if !strings.Contains(full.Text, link) {
		t.Fatalf("text %q lacks the link %s", full.Text, link)
	}

	// Another store file, another replica without a base URL: the run
	// fails with the reason.
	env2 := newReportEnv(t, time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	setup2 := env2.openStore(t)
	def2 := savedQuery(t, setup2, "q")
	if _, err := setup2.CreateReportSchedule(t.Context(), meta.ReportScheduleInput{Name: "links", DefinitionID: def2.ID, Period: "daily",
		Zone: "UTC", Recipients: []string{"noc@example.com"}, Attach: &off, MaxAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	noURL := env2.startReplica(t, "no-url", testReportConfig(), nil, smtp)
	o = fireOnce(t, env2, noURL, 1, time.Date(2026, 11, 3, 0, 15, 0, 0, time.UTC))
	if o.Run.Status != meta.RunFailed || !strings.Contains(o.Run.Error, "no base URL configured (reports.base_url)") {
		t.Fatalf("run without a base URL: %+v", o.Run)
	}
}
