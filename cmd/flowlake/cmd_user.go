package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/storage/meta"
)

// openMeta opens (and migrates) the configured metadata store. For a
// SQLite file it creates the directory first, so `user add` works before
// the lake exists.
func (a *app) openMeta(ctx context.Context) (*meta.Store, error) {
	cfg := a.cfg.MetaConfig()
	if cfg.Driver == meta.DriverSQLite {
		path, _, _ := strings.Cut(strings.TrimPrefix(cfg.DSN, "file:"), "?")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("metadata store directory: %w", err)
		}
	}
	st, err := meta.Open(ctx, cfg, meta.WithLogger(a.logger))
	if err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}
	return st, nil
}

// UserAdded is what `flowlake user add --json` prints. Secret is set with
// --token; it is shown this once.
type UserAdded struct {
	User   meta.User   `json:"user"`
	Token  *meta.Token `json:"token,omitempty"`
	Secret string      `json:"secret,omitempty"`
}

func (a *app) userCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage API users in the metadata store",
		Long: `Create and list the users of the API directly in the metadata store
(meta.dsn, by default _meta.db in the data directory). This is how the first
administrator is made; after that, users can be managed over the API.`,
	}
	cmd.AddCommand(a.userAddCommand(), a.userListCommand())
	return cmd
}

func (a *app) userAddCommand() *cobra.Command {
	var name, role, display, tokenName string
	var passwordStdin, token bool
	var expires string
	var edges []string
	cmd := &cobra.Command{
		Use:   "add --name NAME --role ROLE [--password-stdin] [--token [--edges A,B]]",
		Short: "Create a user, with a password read from stdin and/or an API token",
		Long: `Create a user of a role (admin, analyst, viewer, report-recipient or a
custom role). --password-stdin reads the password from the first line of
standard input, so it never appears in the process list or shell history.
--token issues an API token and prints it once: store it, it cannot be
shown again. A user needs at least one of the two. --edges binds the token
to the edges it may upload segments for (an edge's id, as in edge.id);
without it the token may upload only for the edge named like its user.
The creation is written to the audit log with the actor "cli".`,
		Example: `  printf '%s\n' "$PASSWORD" | flowlake user add --name alice --role admin --password-stdin
  flowlake user add --name grafana --role viewer --token --token-expires 365d
  flowlake user add --name pops --role admin --token --token-name uploads --edges pop-ams,pop-fra`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || role == "" {
				return usageError{errors.New("--name and --role are required")}
			}
			if len(edges) > 0 && !token {
				return usageError{errors.New("--edges binds a token: give --token too")}
			}
			if !passwordStdin && !token {
				return usageError{errors.New("give --password-stdin, --token or both: the user needs a way to authenticate")}
			}
			for _, e := range edges {
				if err := meta.ValidEdgeName(e); err != nil {
					return usageError{fmt.Errorf("--edges: %w", err)}
				}
			}
			var exp time.Time
			if expires != "" {
				d, err := meta.ParseDuration(expires)
				if err != nil || d <= 0 {
					return usageError{fmt.Errorf("--token-expires %q: want a positive duration such as 90d", expires)}
				}
				exp = time.Now().Add(time.Duration(d))
			}
			var password string
			if passwordStdin {
				pw, err := readPassword(cmd.InOrStdin())
				if err != nil {
					return err
				}
				password = pw
			}
			st, err := a.openMeta(cmd.Context())
			if err != nil {
				return err
			}
			out, err := a.addUser(cmd.Context(), st, meta.NewUser{Name: name, DisplayName: display, Role: role, Password: password},
				token, meta.NewToken{Name: tokenName, Edges: edges, ExpiresAt: exp})
			if cerr := st.Close(); cerr != nil && err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(out)
			}
			fmt.Fprintf(a.stdout, "Created user %s (%s) with role %s.\n", out.User.Name, out.User.ID, out.User.Role)
			if out.Token != nil {
				if len(out.Token.Edges) > 0 {
					fmt.Fprintf(a.stdout, "The token may upload for the edges %s.\n", strings.Join(out.Token.Edges, ", "))
				}
				fmt.Fprintf(a.stdout, "API token (shown once; keep it secret):\n%s\n", out.Secret)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "login name")
	f.StringVar(&role, "role", "", "role: admin, analyst, viewer, report-recipient or a custom role")
	f.StringVar(&display, "display-name", "", "name shown in user interfaces")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	f.BoolVar(&token, "token", false, "issue an API token and print it")
	f.StringVar(&tokenName, "token-name", "cli", "what the token is for")
	f.StringVar(&expires, "token-expires", "", "token lifetime, e.g. 90d (default: never expires)")
	f.StringSliceVar(&edges, "edges", nil, "bind the token to these edges (comma-separated edge ids) for uploads")
	return cmd
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, meta.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", usageError{errors.New("--password-stdin: stdin holds no password")}
	}
	return pw, nil
}

// addUser creates the user and, if asked, a token (nt without its UserID),
// auditing both as the actor "cli".
func (a *app) addUser(ctx context.Context, st *meta.Store, nu meta.NewUser, token bool, nt meta.NewToken) (UserAdded, error) {
	audit := func(action, target, outcome, detail string) error {
		_, err := st.AppendAudit(ctx, meta.AuditEntry{Actor: "cli", Action: action, Target: target, Outcome: outcome, Detail: detail})
		return err
	}
	u, err := st.CreateUser(ctx, nu)
	if err != nil {
		err = errors.Join(err, audit("user.create", nu.Name, meta.OutcomeFailure, err.Error()))
		if errors.Is(err, meta.ErrInvalid) {
			return UserAdded{}, usageError{err}
		}
		return UserAdded{}, err
	}
	if err := audit("user.create", u.ID, meta.OutcomeSuccess, "name "+u.Name+", role "+u.Role); err != nil {
		return UserAdded{}, err
	}
	out := UserAdded{User: u}
	if token {
		nt.UserID = u.ID
		tok, secret, err := st.CreateToken(ctx, nt)
		if err != nil {
			return out, errors.Join(fmt.Errorf("user %s created, but its token: %w", u.Name, err),
				audit("token.create", u.ID, meta.OutcomeFailure, err.Error()))
		}
		if err := audit("token.create", tok.ID, meta.OutcomeSuccess, tokenDetail(u.ID, tok)); err != nil {
			return out, err
		}
		out.Token, out.Secret = &tok, secret
	}
	return out, nil
}

// UserList is what `flowlake user list --json` prints.
type UserList struct {
	Users []meta.User `json:"users"`
}

func (a *app) userListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openMeta(cmd.Context())
			if err != nil {
				return err
			}
			users, err := st.ListUsers(cmd.Context())
			if cerr := st.Close(); cerr != nil && err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(UserList{Users: users})
			}
			tw := newTable(a.stdout, "NAME", "ROLE", "PASSWORD", "DISABLED", "LAST LOGIN", "ID")
			for _, u := range users {
				last := "-"
				if !u.LastLoginAt.IsZero() {
					last = u.LastLoginAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%s\t%s\n", u.Name, u.Role, u.HasPassword, u.Disabled, last, u.ID)
			}
			return tw.Flush()
		},
	}
}

// tokenDetail is the audit detail of a token created by the CLI: its user,
// its name and the edges it is bound to, if any.
func tokenDetail(userID string, tok meta.Token) string {
	d := fmt.Sprintf("user %s, name %q", userID, tok.Name)
	if len(tok.Edges) > 0 {
		d += ", edges " + strings.Join(tok.Edges, ",")
	}
	return d
}
