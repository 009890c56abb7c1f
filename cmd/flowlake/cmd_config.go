package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func (a *app) configCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration",
		Long: `Print the configuration after merging defaults, the YAML file, FLOWLAKE_*
environment variables and flags. The YAML output is a valid --config file.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			tree := settingsOf(a.cfg)
			if a.json {
				return a.printJSON(tree)
			}
			enc := yaml.NewEncoder(a.stdout)
			enc.SetIndent(2)
			if err := enc.Encode(tree); err != nil {
				return fmt.Errorf("encode configuration: %w", err)
			}
			return enc.Close()
		},
	}
}
