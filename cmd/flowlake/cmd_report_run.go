package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/reports"
	"github.com/flowlake/flowlake/reports/render"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
)

// ReportRun is what `flowlake report run --json` prints: the period the
// report covers, the files written and the answer's warnings.
type ReportRun struct {
	Type     string          `json:"type"`
	Period   reports.Period  `json:"period"`
	Previous reports.Period  `json:"previous"`
	Files    []ReportRunFile `json:"files"`
	Warnings []string        `json:"warnings,omitempty"`
}

// ReportRunFile is one file `flowlake report run` wrote.
type ReportRunFile struct {
	Format string `json:"format"`
	Path   string `json:"path"`
	Size   int    `json:"size"`
}

func (a *app) reportRunCommand() *cobra.Command {
	var (
		typ, period, at, zone, formats, out, defFile, baseURL string
		n, maxRows                                            int
	)
	cmd := &cobra.Command{
		Use:   "run --type TYPE [--period KIND] [--at PERIOD] --format FORMATS -o DIR",
		Short: "Build one report now and write it as HTML, PDF and/or Excel",
		Long: `Builds one report of the lake over a calendar period and writes one file per
format into DIR, named TYPE-LABEL.FORMAT. Types: ` + strings.Join(reports.Types(), ", ") + `.
Periods: daily, weekly, monthly, quarterly, yearly or custom, cut in --zone
(an IANA name; calendar days, so a DST day has 23 or 25 hours); --at names
the period as people do (2026-10-25, 2026-W44, 2026-10, 2026-Q3, 2026,
2026-10-01..2026-10-15) and defaults to the last complete one.
--definition reads a report definition (JSON, docs/reports.md
"Definitions": links and capacities, sections, N, a custom query); the
flags given override it. An answer missing rows (unreadable files) is
written with its warnings and exits with status 3.`,
		Example: "  flowlake report run --type link --period monthly --at 2026-10 --format pdf,html,xlsx -o reports/\n" +
			"  flowlake report run --type summary --period weekly --zone Europe/Berlin --format html -o /tmp\n" +
			"  flowlake report run --definition uplinks.json --period daily --format xlsx -o out/",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var def reports.Definition
			if defFile != "" {
				b, err := os.ReadFile(defFile)
				if err != nil {
					return usageError{fmt.Errorf("--definition: %w", err)}
				}
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&def); err != nil {
					return usageError{fmt.Errorf("--definition %s: %w", defFile, err)}
				}
			}
			if typ != "" {
				def.Type = typ
			}
			if n != 0 {
				def.N = n
			}
			if zone != "" || def.Zone == "" {
				def.Zone = zone
			}
			if baseURL != "" {
				def.BaseURL = baseURL
			}
			if def.Type == "" {
				return usageError{fmt.Errorf("--type is required (one of %s)", strings.Join(reports.Types(), ", "))}
			}
			if err := def.Validate(); err != nil {
				return usageError{err}
			}
			fs := query.SplitList(formats)
			for _, f := range fs {
				if !slices.Contains(render.Formats(), f) {
					return usageError{fmt.Errorf("--format %q: want %s", f, strings.Join(render.Formats(), ", "))}
				}
			}
			if len(fs) == 0 {
				return usageError{fmt.Errorf("--format: name at least one of %s", strings.Join(render.Formats(), ", "))}
			}
			if out == "" {
				return usageError{fmt.Errorf("-o DIR is required")}
			}
			p, err := reports.ParsePeriod(period, at, def.Zone, time.Now())
			if err != nil {
				return usageError{err}
			}
			return a.withLake(func(l *lake.Lake) error {
				doc, err := reports.Build(cmd.Context(), query.New(l, query.Config{}, a.logger), def, p)
				if err != nil {
					return err
				}
				if err := os.MkdirAll(out, 0o755); err != nil {
					return err
				}
				run := ReportRun{Type: def.Type, Period: doc.Period, Previous: doc.Previous, Warnings: doc.Warnings}
				opts := render.Options{MaxRows: maxRows, BaseURL: def.BaseURL}
				for _, f := range fs {
					b, err := render.Render(doc, f, opts)
					if err != nil {
						return fmt.Errorf("%s: %w", f, err)
					}
					path := filepath.Join(out, def.Type+"-"+fileLabel(p.Label)+"."+f)
					if err := writeFileAtomic(path, b); err != nil {
						return err
					}
					run.Files = append(run.Files, ReportRunFile{Format: f, Path: path, Size: len(b)})
				}
				if a.json {
					err = a.printJSON(run)
				} else {
					fmt.Fprintf(a.stdout, "%s report for %s (%s to %s, %s)\n", def.Type, p.Label,
						p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), p.Zone)
					for _, f := range run.Files {
						fmt.Fprintf(a.stdout, "  %s\t%d bytes\n", f.Path, f.Size)
					}
				}
				if err == nil && len(doc.Warnings) > 0 {
					for _, w := range doc.Warnings {
						fmt.Fprintf(a.stderr, "flowlake: warning: %s\n", w)
					}
					fmt.Fprintf(a.stderr, "flowlake: report run: the report is incomplete (exit status %d)\n", exitIncomplete)
					return incompleteError{fmt.Errorf("%d warnings", len(doc.Warnings))}
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&typ, "type", "", "report type: "+strings.Join(reports.Types(), ", "))
	f.StringVar(&period, "period", "daily", "period kind: daily, weekly, monthly, quarterly, yearly or custom")
	f.StringVar(&at, "at", "", "the period, e.g. 2026-10-25, 2026-W44, 2026-10, 2026-Q3, 2026 (default: the last complete one)")
	f.StringVar(&zone, "zone", "", "IANA time zone the period is cut and times printed in (default UTC)")
	f.StringVar(&formats, "format", "html", "comma-separated formats: "+strings.Join(render.Formats(), ", "))
	f.StringVarP(&out, "output", "o", "", "directory the files are written to")
	f.StringVar(&defFile, "definition", "", "a report definition file (JSON, docs/reports.md)")
	f.StringVar(&baseURL, "base-url", "", "API or console address links in the report open")
	f.IntVar(&n, "n", 0, fmt.Sprintf("rows of each ranking and objects given detail (default %d)", reports.DefaultN))
	f.IntVar(&maxRows, "max-rows", 0, fmt.Sprintf("rows of each table in the HTML and PDF; the XLSX has all (default %d, -1 all)", render.DefaultMaxRows))
	return cmd
}

// fileLabel makes a period label usable in a file name.
func fileLabel(label string) string {
	return strings.NewReplacer("/", "-", ":", "", "..", "_", " ", "_").Replace(label)
}

// writeFileAtomic writes b to path (mode 0644) through a temporary file
// renamed into place, so a failure leaves no half-written file.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
