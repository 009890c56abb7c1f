package jobs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// MailConfig configures SMTP delivery of scheduled reports.
type MailConfig struct {
	// Host is the SMTP server; empty disables mail (a schedule with
	// recipients then fails its runs with a clear error).
	Host string `koanf:"host" yaml:"host" json:"host"`
	// Port is the server's port; 0 means 587 (465 with TLS "tls").
	Port int `koanf:"port" yaml:"port" json:"port"`
	// TLS is "starttls" (STARTTLS required, the default), "tls"
	// (implicit TLS, port 465), "opportunistic" (STARTTLS when offered)
	// or "none".
	TLS string `koanf:"tls" yaml:"tls" json:"tls"`
	// CAFile, when set, is a PEM file of the CAs the server's certificate
	// is checked against instead of the system's.
	CAFile string `koanf:"ca_file" yaml:"ca_file" json:"ca_file"`
	// Username and Password authenticate (PLAIN or LOGIN, whichever the
	// server offers); an empty Username sends without authentication.
	Username string `koanf:"username" yaml:"username" json:"username"`
	Password string `koanf:"password" yaml:"-" json:"-"` // never printed by config show
	// From is the sender address, e.g. "Flowlake <flowlake@example.com>".
	From string `koanf:"from" yaml:"from" json:"from"`
	// Timeout bounds connecting and each SMTP command.
	Timeout time.Duration `koanf:"timeout" yaml:"timeout" json:"timeout"`
}

// Validate reports every invalid mail setting at once; an empty Host is
// valid (mail disabled).
func (c MailConfig) Validate() error {
	if c.Host == "" {
		return nil
	}
	var errs []error
	switch c.TLS {
	case "", "starttls", "tls", "opportunistic", "none":
	default:
		errs = append(errs, fmt.Errorf("mail.tls %q: want starttls, tls, opportunistic or none", c.TLS))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("mail.port %d: out of range", c.Port))
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		errs = append(errs, fmt.Errorf("mail.from %q: %w", c.From, err))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("mail.timeout: negative duration %s", c.Timeout))
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, errors.New("mail.password: set without mail.username"))
	}
	return errors.Join(errs...)
}

// Mail is one message to send.
type Mail struct {
	To          []string
	Subject     string
	Text        string
	Attachments []Attachment
}

// Attachment is one file attached to a Mail.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Mailer sends mail. SMTP implements it.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// SMTP sends mail through an SMTP server with go-mail.
type SMTP struct {
	cfg  MailConfig
	opts []gomail.Option
}

var _ Mailer = (*SMTP)(nil)

// NewSMTP validates cfg and prepares a mailer; it connects on each Send.
func NewSMTP(cfg MailConfig) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail: no host")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mail config: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	tlsConf := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mail.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mail.ca_file %s: no PEM certificate", cfg.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout), gomail.WithTLSConfig(tlsConf)}
	port := cfg.Port
	switch cfg.TLS {
	case "", "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "opportunistic":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "tls":
		opts = append(opts, gomail.WithSSL())
		if port == 0 {
			port = 465
		}
	}
	if port == 0 {
		port = 587
	}
	opts = append(opts, gomail.WithPort(port))
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	return &SMTP{cfg: cfg, opts: opts}, nil
}

// Send delivers m to its recipients in one SMTP transaction.
func (s *SMTP) Send(ctx context.Context, m Mail) error {
	if len(m.To) == 0 {
		return errors.New("mail: no recipients")
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("mail from %q: %w", s.cfg.From, err)
	}
	if err := msg.To(m.To...); err != nil {
		return fmt.Errorf("mail to %v: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	for _, a := range m.Attachments {
		err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType)))
		if err != nil {
			return fmt.Errorf("mail attachment %s: %w", a.Name, err)
		}
	}
	c, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail client for %s: %w", s.cfg.Host, err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send mail via %s: %w", s.cfg.Host, err)
	}
	return nil
}
