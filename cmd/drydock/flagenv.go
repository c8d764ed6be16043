package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
