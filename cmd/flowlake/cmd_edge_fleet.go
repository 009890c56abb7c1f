package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/api"
)

// fleetTimeout bounds one call of a core's fleet API: a listing pulls
// each edge's status (5 s each, 64 at a time), so it may take a while on
// a large fleet.
const fleetTimeout = 2 * time.Minute

// maxFleetAnswer bounds what the CLI reads of a core's answer.
const maxFleetAnswer = 64 << 20

// coreClient calls a running core's REST API with a token.
type coreClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

// coreFlags adds --url and --token-file to cmd and returns how to build a
// client from them once the configuration is loaded.
func (a *app) coreFlags(cmd *cobra.Command) func() (*coreClient, error) {
	var base, tokenFile string
	cmd.Flags().StringVar(&base, "url", "", "the core's API base URL (default http://<serve.listen>)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding an API token of a user with the permission the call needs (required)")
	return func() (*coreClient, error) {
		if base == "" {
			base = "http://" + a.cfg.Serve.Listen
		}
		u, err := url.Parse(strings.TrimRight(base, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError{fmt.Errorf("--url %q: want http(s)://host:port", base)}
		}
		if tokenFile == "" {
			return nil, usageError{errors.New("--token-file: required (a token of a user with config.read, config.write for commands)")}
		}
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return nil, fmt.Errorf("--token-file %s: empty", tokenFile)
		}
		return &coreClient{base: u, token: tok, http: &http.Client{Timeout: fleetTimeout}}, nil
	}
}

// call sends method path with body (JSON, nil for none) and returns the
// answer's body; an error status is an error carrying the problem's
// detail.
func (c *coreClient) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base.String() + path
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w (is `flowlake serve` running there?)", method, c.base.Redacted()+path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxFleetAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if len(b) > maxFleetAnswer {
		return nil, fmt.Errorf("%s %s: answer over %d bytes", method, path, maxFleetAnswer)
	}
	if res.StatusCode/100 != 2 {
		var p struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal(b, &p) == nil && p.Detail != "" {
			return nil, fmt.Errorf("%s %s: %s: %s", method, path, res.Status, p.Detail)
		}
		return nil, fmt.Errorf("%s %s: %s", method, path, res.Status)
	}
	return b, nil
}

// edgeFleetCommands are the commands that manage the fleet through a
// running core: list the edges holding a tunnel to it, run a remote
// command on one.
func (a *app) edgeFleetCommands() []*cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List the edges holding a tunnel to a running core, with their state",
		Long: `Ask the core at --url (GET /api/v1/edges, permission config.read) for the
edges holding a tunnel to it, each with the status it pulled over the tunnel:
connection state, since when, last message, version, rows per second, spool,
drops and upload failures, or why the edge did not answer. --json prints the
core's answer.`,
		Args: noArgs,
	}
	listClient := a.coreFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := listClient()
		if err != nil {
			return err
		}
		b, err := c.call(cmd.Context(), http.MethodGet, api.PathEdges, nil)
		if err != nil {
			return err
		}
		var fleet api.EdgesResponse
		if err := json.Unmarshal(b, &fleet); err != nil {
			return fmt.Errorf("GET %s: the core answered something else than a fleet: %w", api.PathEdges, err)
		}
		if a.json {
			return a.printJSON(fleet)
		}
		return printFleet(a.stdout, fleet.Edges)
	}

	var args string
	command := &cobra.Command{
		Use:   "command SERIAL COMMAND",
		Short: "Run a remote command on an edge through a running core",
		Long: `Send COMMAND (state, reconnect, dhcp-bindings, flush-spool, restart-receiver;
docs/tunnel.md "Remote commands") with --args (a JSON object) to the edge
SERIAL over its tunnel to the core at --url (POST
/api/v1/edges/{serial}/commands, permission config.write, audited) and print
the edge's answer. The edge's refusal is an error with its reason.`,
		Args: func(_ *cobra.Command, a []string) error {
			if len(a) != 2 {
				return usageError{errors.New("want SERIAL COMMAND")}
			}
			return nil
		},
	}
	commandClient := a.coreFlags(command)
	command.Flags().StringVar(&args, "args", "", `the command's arguments, a JSON object (restart-receiver: {"kind":"netflow"})`)
	command.RunE = func(cmd *cobra.Command, pos []string) error {
		c, err := commandClient()
		if err != nil {
			return err
		}
		req := api.EdgeCommandRequest{Command: pos[1]}
		if args != "" {
			if !json.Valid([]byte(args)) || !strings.HasPrefix(strings.TrimSpace(args), "{") {
				return usageError{fmt.Errorf("--args %q: want a JSON object", args)}
			}
			req.Args = json.RawMessage(args)
		}
		b, err := c.call(cmd.Context(), http.MethodPost, api.PathEdges+"/"+url.PathEscape(pos[0])+"/commands", req)
		if err != nil {
			return err
		}
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "  "); err != nil {
			return fmt.Errorf("the edge answered something that is not JSON: %w", err)
		}
		out.WriteByte('\n')
		_, err = a.stdout.Write(out.Bytes())
		return err
	}
	return []*cobra.Command{list, command}
}

// printFleet prints one line per edge.
func printFleet(w io.Writer, edges []api.ConnectedEdge) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tSTATE\tSINCE\tLAST SEEN\tVERSION\tROWS/S\tSPOOL\tDROPS\tUPLOAD FAILURES\tERROR")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, e := range edges {
		var st struct {
			ConnState string `json:"conn_state"`
		}
		_ = json.Unmarshal(e.State, &st) // absent or odd: shown as -
		rate, spool, drops, fails := "-", "-", "-", "-"
		if e.Rates != nil {
			rate = fmt.Sprintf("%.1f", e.Rates.RowsPerSecond)
		}
		if e.SpoolSegments != nil && e.SpoolBytes != nil {
			spool = fmt.Sprintf("%d (%d B)", *e.SpoolSegments, *e.SpoolBytes)
		}
		if e.DropsTotal != nil {
			drops = fmt.Sprint(*e.DropsTotal)
		}
		if e.UploadFailures != nil {
			fails = fmt.Sprint(*e.UploadFailures)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Serial, dash(st.ConnState), e.Since.UTC().Format(time.RFC3339),
			e.LastSeen.UTC().Format(time.RFC3339), dash(e.Version), rate, spool, drops, fails, dash(e.StateError))
	}
	return tw.Flush()
}
