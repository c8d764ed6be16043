package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/drydock/drydock/internal/configfile"
)

// One mechanism, applied to every command once they are all built, so
// that no command can forget it:
//
//   - every flag can be set from the environment, DRYDOCK_ and the flag's
//     name in upper case with dashes as underscores (--fail-on:
//     DRYDOCK_FAIL_ON); a flag given on the command line wins;
//   - every duration flag also takes days ("30d", "1d12h"), as the
//     policy's durations do.

// envName is the environment variable of a flag.
func envName(flag string) string {
	return "DRYDOCK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// dayDuration wraps a pflag duration value so that it accepts days.
type dayDuration struct{ pflag.Value }

func (d dayDuration) Set(s string) error {
	v, err := parseDayDuration(s)
	if err != nil {
		return err
	}
	return d.Value.Set(v.String())
}

// parseDayDuration is configfile.ParseDuration: flags and files take the
// same durations.
func parseDayDuration(s string) (time.Duration, error) { return configfile.ParseDuration(s) }

// prepareFlags wraps every duration flag of cmd and its subcommands, and
// notes the environment variable in each flag's help.
func prepareFlags(cmd *cobra.Command) {
	visit := func(f *pflag.Flag) {
		if f.Value.Type() == "duration" {
			if _, ok := f.Value.(dayDuration); !ok {
				f.Value = dayDuration{f.Value}
			}
		}
		if f.Name != "help" && f.Name != "version" && !strings.Contains(f.Usage, "(env ") {
			f.Usage += " (env " + envName(f.Name) + ")"
		}
	}
	cmd.LocalFlags().VisitAll(visit)
	cmd.PersistentFlags().VisitAll(visit)
	for _, c := range cmd.Commands() {
		prepareFlags(c)
	}
}

// applyEnv sets every flag of cmd not given on the command line from its
// environment variable, if set. An invalid value is an error naming the
// variable.
func applyEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" || f.Name == "version" {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok || v == "" {
			return
		}
		if e := cmd.Flags().Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q (for --%s): %v", envName(f.Name), v, f.Name, e)
		}
	})
	return err
}

// useColor says whether to colour stdout: a terminal, and NO_COLOR unset
// (no-color.org: any non-empty value disables colour).
func useColor() bool {
	return os.Getenv("NO_COLOR") == "" && stdoutIsTerminal()
}

// enumFlags are flags whose values are the same closed set wherever they
// appear; validateEnums rejects anything else before a command runs.
var enumFlags = map[string][]string{
	"progress":  {"auto", "always", "never"},
	"log-level": {"debug", "info", "warn", "error"},
}

func validateEnums(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		allowed, ok := enumFlags[f.Name]
		if !ok || err != nil {
			return
		}
		v := strings.ToLower(f.Value.String())
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		err = fmt.Errorf("--%s %q: want one of %s", f.Name, f.Value.String(), strings.Join(allowed, ", "))
	})
	return err
}

// configFlag names the flag that points at a file of flag values (a scan
// configuration for CI): its keys are the command's flag names, its values
// what the flags take (a list for list flags). The command line and the
// environment win over it.
const configFlag = "scan-config"

func applyConfigFile(cmd *cobra.Command) error {
	cf := cmd.Flags().Lookup(configFlag)
	if cf == nil || cf.Value.String() == "" {
		return nil
	}
	path := cf.Value.String()
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--%s: %w", configFlag, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: line %d: want a mapping of flag names to values", path, top.Line)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		f := cmd.Flags().Lookup(k.Value)
		if f == nil || k.Value == configFlag || k.Value == "help" {
			return fmt.Errorf("%s: line %d: %q is not a flag of drydock %s", path, k.Line, k.Value, cmd.Name())
		}
		if seen[k.Value] {
			return fmt.Errorf("%s: line %d: %q is set twice", path, k.Line, k.Value)
		}
		seen[k.Value] = true
		if f.Changed {
			continue
		}
		var val string
		switch v.Kind {
		case yaml.ScalarNode:
			val = v.Value
		case yaml.SequenceNode:
			var items []string
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					return fmt.Errorf("%s: line %d: %s: want a list of values", path, it.Line, k.Value)
				}
				items = append(items, it.Value)
			}
			val = strings.Join(items, ",")
		default:
			return fmt.Errorf("%s: line %d: %s: want a value or a list", path, v.Line, k.Value)
		}
		if err := cmd.Flags().Set(k.Value, val); err != nil {
			return fmt.Errorf("%s: line %d: %s: %v", path, v.Line, k.Value, err)
		}
	}
	return nil
}
