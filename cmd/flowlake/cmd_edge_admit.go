package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/storage/meta"
)

// EdgeAdmitted is what `flowlake edge admit --json` prints; Enroll is
// shown this once.
type EdgeAdmitted struct {
	Serial string `json:"serial"`
	Enroll string `json:"enroll"`
}

// EdgeUnbindCode is what `flowlake edge unbind-code --json` prints; Code
// is shown this once.
type EdgeUnbindCode struct {
	Serial  string    `json:"serial"`
	Code    string    `json:"code"`
	Expires time.Time `json:"expires"`
}

// edgeAdminCommands are the administrator's commands of the tunnel's
// allow-list (docs/tunnel.md), each audited as the actor "cli".
func (a *app) edgeAdminCommands() []*cobra.Command {
	one := func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError{errors.New("want one SERIAL")}
		}
		return nil
	}
	admit := &cobra.Command{
		Use:   "admit SERIAL",
		Short: "Admit an edge's serial number to the tunnel's allow-list",
		Long: `Add SERIAL to the allow-list of the metadata store (or renew the enrolment of
an admitted serial not yet bound) and print its one-time enrolment secret:
configure it on the edge, which presents it with its serial on its first
registration and gets its own tunnel credential in exchange. The serial
alone, printed on the box, never admits an edge.`,
		Args: one,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withMeta(cmd.Context(), "edge.admit", args[0], func(ctx context.Context, st *meta.Store) (string, error) {
				enroll, err := st.AdmitEdge(ctx, args[0], "cli")
				if err != nil {
					return "", err
				}
				if a.json {
					return "", a.printJSON(EdgeAdmitted{Serial: args[0], Enroll: enroll})
				}
				_, err = fmt.Fprintf(a.stdout, "admitted %s; its enrolment secret (shown once): %s\n", args[0], enroll)
				return "", err
			})
		},
	}
	var ttl time.Duration
	unbind := &cobra.Command{
		Use:   "unbind-code SERIAL",
		Short: "Issue the code that unbinds a bound edge when it presents it",
		Long: `Issue an unbinding code for the bound edge SERIAL, valid for --ttl: the edge
presents it with its credential (the device documents' 'cloud-management
unbinding-code'); the binding and the admission are then removed, and the
edge must be admitted again. A new code replaces one not yet used.`,
		Args: one,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl < time.Minute || ttl > 7*24*time.Hour {
				return usageError{fmt.Errorf("--ttl %v: want 1m to 168h", ttl)}
			}
			return a.withMeta(cmd.Context(), "edge.unbind_code", args[0], func(ctx context.Context, st *meta.Store) (string, error) {
				code, err := st.IssueUnbindCode(ctx, args[0], ttl)
				if err != nil {
					return "", err
				}
				out := EdgeUnbindCode{Serial: args[0], Code: code, Expires: time.Now().Add(ttl).UTC().Truncate(time.Second)}
				if a.json {
					return "expires " + out.Expires.Format(time.RFC3339), a.printJSON(out)
				}
				_, err = fmt.Fprintf(a.stdout, "unbinding code for %s (shown once, valid until %s): %s\n", args[0], out.Expires.Format(time.RFC3339), code)
				return "expires " + out.Expires.Format(time.RFC3339), err
			})
		},
	}
	unbind.Flags().DurationVar(&ttl, "ttl", 15*time.Minute, "how long the code is valid (1m to 168h)")
	revoke := &cobra.Command{
		Use:   "revoke SERIAL",
		Short: "Remove an edge from the allow-list, bound or not",
		Args:  one,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withMeta(cmd.Context(), "edge.revoke", args[0], func(ctx context.Context, st *meta.Store) (string, error) {
				if err := st.RevokeAdmission(ctx, args[0]); err != nil {
					return "", err
				}
				_, err := fmt.Fprintf(a.stdout, "revoked %s\n", args[0])
				return "", err
			})
		},
	}
	list := &cobra.Command{
		Use:   "admissions",
		Short: "List the tunnel's allow-list: serials, whether bound, pending unbinding",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openMeta(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			adm, err := st.ListAdmissions(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"admissions": adm})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERIAL\tADMITTED\tBY\tBOUND\tUNBIND PENDING")
			for _, x := range adm {
				bound := "no"
				if x.Bound {
					bound = x.BoundAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", x.Serial, x.AdmittedAt.Format(time.RFC3339), x.AdmittedBy, bound, x.UnbindPending)
			}
			return tw.Flush()
		},
	}
	return []*cobra.Command{admit, unbind, revoke, list}
}

// withMeta opens the metadata store, runs fn and audits its outcome as
// action on target by the actor "cli"; an invalid serial is a usage error.
func (a *app) withMeta(ctx context.Context, action, target string, fn func(context.Context, *meta.Store) (string, error)) error {
	st, err := a.openMeta(ctx)
	if err != nil {
		return err
	}
	detail, err := fn(ctx, st)
	outcome := meta.OutcomeSuccess
	if err != nil {
		outcome, detail = meta.OutcomeFailure, err.Error()
	}
	_, aerr := st.AppendAudit(ctx, meta.AuditEntry{Actor: "cli", Action: action, Target: target, Outcome: outcome, Detail: detail})
	err = errors.Join(err, aerr, st.Close())
	if errors.Is(err, meta.ErrInvalid) {
		return usageError{err}
	}
	return err
}
